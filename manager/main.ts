// Wires a manager process: data dir, store, dispatcher (gRPC), control loops, HTTP API, and
// the embedded agent (a manager is a worker too). Tests wire the same parts differently.

import { join } from 'node:path';
import type { Logger } from 'pino';
import { ControlLoops } from './control/loops.js';
import { buildApi, listenUnix } from './controlapi/server.js';
import { lockDataDir, openDataDir, secureDataDir } from './datadir.js';
import { Dispatcher } from './dispatcher/dispatcher.js';
import { FileLog } from './store/file-log.js';
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
  /** Extra gRPC listen addresses for remote agents (host:port). */
  listen?: string[];
  heartbeatPeriodMs?: number;
  /** With init: the cluster's initial settings (e.g. taskHistoryLimit). */
  cluster?: Partial<ClusterSpec>;
}

export interface RunningManager {
  socket: string;
  close(): Promise<void>;
}

export { VERSION } from '../common/version.js';

export async function startManager(opts: ManagerOptions): Promise<RunningManager> {
  const log = opts.log;
  const identity = openDataDir(opts.dataDir, opts.init);
  // Private whatever it was before (an existing dir given to --init, files restored from a backup).
  for (const t of secureDataDir(opts.dataDir)) {
    log.warn({ path: t.path, from: t.from.toString(8), to: t.to.toString(8) }, 'data dir permissions tightened');
  }
  const unlock = lockDataDir(opts.dataDir);
  const store = new Store(new FileLog(join(opts.dataDir, 'store')));
  await store.open();
  if (opts.init) {
    const spec = patchClusterSpec(defaultClusterSpec(), opts.cluster ?? {});
    await store.update((tx) => { if (!tx.get('cluster', 'default')) tx.create(newClusterObj(spec)); });
  }
  log.info({ dataDir: opts.dataDir, cluster: identity.clusterId, node: identity.nodeId, storeIndex: store.index, init: opts.init }, 'manager starting');

  const dispatcher = new Dispatcher({ store, log: log.child({ component: 'dispatcher' }), managerNodeId: identity.nodeId, heartbeatPeriodMs: opts.heartbeatPeriodMs });
  const dispatcherSocket = `unix://${dispatcherSocketPath(opts.dataDir)}`;
  await dispatcher.listen([dispatcherSocket, ...(opts.listen ?? [])]);

  const loops = new ControlLoops({
    store,
    log: log.child({ component: 'orchestrator' }),
    heartbeats: () => dispatcher.heartbeats(),
    // A node is down after 3 missed heartbeat periods (decided by the node monitor).
    nodeGraceMs: (opts.heartbeatPeriodMs ?? 1000) * 3,
    onPurgeVolumes: (vols) => dispatcher.purgeVolumes(vols.map((v) => ({ id: v.id, json: JSON.stringify(v) }))),
  });
  loops.start();
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
    async close() {
      await agent?.close();
      await api.close();
      unheard();
      await loops.stop();
      await dispatcher.close();
      await store.close();
      unlock();
    },
  };
}
