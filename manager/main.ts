// Wires a manager process: data dir, store, dispatcher (gRPC), control loops, HTTP API, and
// the embedded agent (a manager is a worker too). Tests wire the same parts differently.

import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ControlLoops } from './control/loops.js';
import { buildApi, listenUnix } from './controlapi/server.js';
import { lockDataDir, newRaftId, openDataDir, saveIdentity, secureDataDir } from './datadir.js';
import { Dispatcher, newGrpcServer } from './dispatcher/dispatcher.js';
import { legacyStoreDir, readLegacyStore, retireLegacyStore } from './store/migrate.js';
import { StoreMachine } from './store/machine.js';
import { RaftBackend, type RaftBackendOptions } from './store/raft-backend.js';
import { Store } from './store/store.js';
import { VERSION } from '../common/version.js';
import { apiSocketPath, dispatcherSocketPath } from '../common/api/datadir.js';
import { defaultClusterSpec, newClusterObj, patchClusterSpec, type ClusterSpec } from './store/types.js';

export interface ManagerOptions {
  dataDir: string;
  init: boolean;
  log: Logger;
  /** Starts the embedded agent (a manager is a worker too), wired by the launcher; none: --no-agent. */
  embeddedAgent?: (a: { manager: string; nodeId: string }) => Promise<{ close(): Promise<void> }>;
  /** The gRPC address managers and agents reach (host:port; port 0: any). Default: what the data dir recorded, else 0.0.0.0:4242. */
  listenAddr?: string;
  /** The address others reach this manager at (default: the first non-loopback address, with the bound port). */
  advertiseAddr?: string;
  /** Extra gRPC listen addresses for remote agents (host:port). */
  listen?: string[];
  heartbeatPeriodMs?: number;
  /** With init: the cluster's initial settings (e.g. taskHistoryLimit). */
  cluster?: Partial<ClusterSpec>;
}

export interface RunningManager {
  socket: string;
  /** The gRPC address others reach this manager at. */
  addr: string;
  close(): Promise<void>;
}

export { VERSION } from '../common/version.js';

export const DEFAULT_LISTEN_ADDR = '0.0.0.0:4242';

export async function startManager(opts: ManagerOptions): Promise<RunningManager> {
  const log = opts.log;
  const identity = openDataDir(opts.dataDir, opts.init);
  // Private whatever it was before (an existing dir given to --init, files restored from a backup).
  for (const t of secureDataDir(opts.dataDir)) {
    log.warn({ path: t.path, from: t.from.toString(8), to: t.to.toString(8) }, 'data dir permissions tightened');
  }
  const unlock = lockDataDir(opts.dataDir);
  if (identity.raftId === undefined) identity.raftId = newRaftId();
  const raftId = identity.raftId;

  // A data dir of the release before the store moved onto Raft: its state seeds the Raft log.
  const legacy = legacyStoreDir(opts.dataDir);
  const legacyState = legacy ? readLegacyStore(legacy) : undefined;

  const server = newGrpcServer();
  const listenAddr = opts.listenAddr ?? identity.listenAddr ?? DEFAULT_LISTEN_ADDR;
  const backend = new RaftBackend({
    id: raftId,
    dir: join(opts.dataDir, 'raft'),
    peers: new Map([[raftId, identity.advertiseAddr ?? listenAddr]]),
    bootstrap: [raftId],
    bootstrapState: legacyState && { index: legacyState.index, data: StoreMachine.encodeSnapshot(legacyState) },
    transport: { server },
    onRoleChange: (role) => leadership.role(role === 'leader'),
    onStorageError: (err?: Error) => {
      if (err) log.error({ err: err.message }, 'data dir full: changes are refused until space is freed (nothing committed is lost)');
      else log.info('data dir writable again: accepting changes');
    },
  } as RaftBackendOptions);
  const store = new Store(backend);
  const dispatcher = new Dispatcher({ store, server, log: log.child({ component: 'dispatcher' }), managerNodeId: identity.nodeId, heartbeatPeriodMs: opts.heartbeatPeriodMs });
  const loops = new ControlLoops({
    store,
    log: log.child({ component: 'orchestrator' }),
    heartbeats: () => dispatcher.heartbeats(),
    // A node is down after 3 missed heartbeat periods (decided by the node monitor).
    nodeGraceMs: (opts.heartbeatPeriodMs ?? 1000) * 3,
    onPurgeVolumes: (vols) => dispatcher.purgeVolumes(vols.map((v) => ({ id: v.id, json: JSON.stringify(v) }))),
  });
  // The control loops run on the leader only: started when it is elected, stopped when it is not.
  const leadership = new Leadership(loops, log);
  await store.open();
  if (legacy) {
    const to = retireLegacyStore(legacy);
    log.warn({ from: legacy, to, index: legacyState!.index, objects: legacyState!.objects.length }, 'store migrated onto the Raft log; the old store dir is kept aside and no longer read');
  }
  if (opts.init) {
    const spec = patchClusterSpec(defaultClusterSpec(), opts.cluster ?? {});
    await store.update((tx) => { if (!tx.get('cluster', 'default')) tx.create(newClusterObj(spec)); });
  }

  const dispatcherSocket = `unix://${dispatcherSocketPath(opts.dataDir)}`;
  const [, port] = await dispatcher.listen([dispatcherSocket, listenAddr, ...(opts.listen ?? [])]);
  const bound = withPort(listenAddr, port!);
  const advertise = opts.advertiseAddr ?? identity.advertiseAddr ?? advertised(bound);
  if (identity.listenAddr !== bound || identity.advertiseAddr !== advertise) {
    saveIdentity(opts.dataDir, { ...identity, listenAddr: bound, advertiseAddr: advertise });
  }
  log.info({ dataDir: opts.dataDir, cluster: identity.clusterId, node: identity.nodeId, raftId, listen: bound, advertise, storeIndex: store.index, init: opts.init }, 'manager starting');

  const unheard = dispatcher.onHeard((nodeId) => loops.nodeHeard(nodeId));

  const api = buildApi({
    store, dispatcher, log,
    info: () => ({ version: VERSION, clusterId: identity.clusterId, nodeId: identity.nodeId, dataDir: opts.dataDir, pid: process.pid }),
  });
  const socket = apiSocketPath(opts.dataDir);
  await listenUnix(api, socket);
  log.info({ socket }, 'API listening');

  const agent = await opts.embeddedAgent?.({ manager: dispatcherSocket, nodeId: identity.nodeId });

  return {
    socket,
    addr: advertise,
    async close() {
      await agent?.close();
      await api.close();
      unheard();
      await leadership.close();
      await dispatcher.close();
      await store.close();
      unlock();
    },
  };
}

/** Starts and stops the control loops as leadership comes and goes, one transition at a time. */
class Leadership {
  private chain: Promise<void> = Promise.resolve();
  private leading = false;
  private closed = false;

  constructor(private readonly loops: ControlLoops, private readonly log: Logger) {}

  role(leader: boolean): void {
    if (this.closed || leader === this.leading) return;
    this.leading = leader;
    this.chain = this.chain.then(async () => {
      if (leader && !this.closed) {
        this.log.info('elected leader: control loops start');
        this.loops.start();
      } else if (!leader) {
        this.log.info('no longer the leader: control loops stop');
        await this.loops.stop();
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
    await this.loops.stop();
  }
}

function withPort(addr: string, port: number): string {
  const i = addr.lastIndexOf(':');
  return `${addr.slice(0, i)}:${port}`;
}

/** host:port as others reach it: an unspecified host becomes the first non-loopback IPv4 address. */
function advertised(addr: string): string {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i);
  if (host !== '0.0.0.0' && host !== '::' && host !== '[::]') return addr;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return `${a.address}:${addr.slice(i + 1)}`;
  }
  return `127.0.0.1:${addr.slice(i + 1)}`;
}
