// Wires a manager process: data dir, store, dispatcher (gRPC), control loops, HTTP API, and
// the embedded agent (a manager is a worker too). Tests wire the same parts differently.

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ControlLoops } from './control/loops.js';
import { buildApi, listenUnix } from './controlapi/server.js';
import { listenHttps, type HttpsListener } from './controlapi/tls.js';
import { lockDataDir, newRaftId, openDataDir, saveIdentity, secureDataDir, type ClusterIdentity } from './datadir.js';
import { caDigest, caPaths, loadClusterCA } from './ca/ca.js';
import { createRootCA } from './ca/x509.js';
import { ClusterControl } from './cluster/control.js';
import { committedState, readBackup } from './cluster/start.js';
import { Authorizer } from './auth/authz.js';
import { CA_KEY_AAD, Issuer } from './auth/issuer.js';
import { ClusterKeys } from './auth/cluster-keys.js';
import { Keyring } from './keys/keyring.js';
import { certPaths, loadManagerCerts, saveManagerCerts, selfIssue, waitForUnlock } from './identity.js';
import { NodeCredentials, refusal as refusalOf, type TlsMaterial } from '../proto/credentials.js';
import { joinCluster } from '../proto/identity-client.js';
import { RenewalTimer, validity } from '../common/renewal.js';
import type { ClusterApi } from './controlapi/context.js';
import { ErrorCodes, TsswarmError } from '../common/errors.js';
import { newId } from '../common/ids.js';
import { formatJoinToken, newJoinSecret } from '../common/token.js';
import { DEFAULT_HEARTBEAT_MS, Dispatcher, newGrpcServer } from './dispatcher/dispatcher.js';
import { legacyStoreDir, readLegacyStore, retireLegacyStore } from './store/migrate.js';
import { StoreMachine, type MachineSnapshot } from './store/machine.js';
import { RaftBackend } from './store/raft-backend.js';
import { Store } from './store/store.js';
import { VERSION } from '../common/version.js';
import { apiSocketPath, dispatcherSocketPath } from '../common/api/datadir.js';
import { DEFAULT_CERT_EXPIRY_MS, defaultClusterSpec, newClusterObj, patchClusterSpec, type ClusterObj, type ClusterSpec, type ManagerMember, type NodeObj } from './store/types.js';

export interface ManagerOptions {
  dataDir: string;
  init: boolean;
  log: Logger;
  /** Starts the embedded agent (a manager is a worker too), wired by the launcher; none: --no-agent. It reaches other managers with this manager's credentials. */
  embeddedAgent?: (a: { manager: string; managers: string[]; nodeId: string; credentials: NodeCredentials }) => Promise<{ close(): Promise<void> }>;
  /** Autolock: the unlock key (else a locked manager waits for `tsswarm manager unlock`). */
  unlockKey?: string;
  /** The HTTPS API for remote CLIs (host:port; client certificates from `tsswarm cluster client-cert`). Default: what the data dir recorded, else none. */
  apiAddr?: string;
  /** The gRPC address managers and agents reach (host:port; port 0: any). Default: what the data dir recorded, else 0.0.0.0:4242. */
  listenAddr?: string;
  /** The address others reach this manager at (default: the first non-loopback address, with the bound port). */
  advertiseAddr?: string;
  /** Join the cluster of the manager at `addr` with a manager join token (a new data dir). */
  join?: { addr: string; token: string };
  /** With init: start the new cluster from a backup file (`tsswarm cluster backup`). */
  restore?: string;
  /** Restart this survivor as a one-manager cluster with the state it committed. */
  forceNewCluster?: boolean;
  /** Extra gRPC listen addresses for remote agents (host:port). */
  listen?: string[];
  heartbeatPeriodMs?: number;
  /** With init: the cluster's initial settings (e.g. taskHistoryLimit). */
  cluster?: Partial<ClusterSpec>;
  /** Raft timing (tests): tick length and election timeout in ticks. */
  raftTickMs?: number;
  electionTicks?: number;
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
  if ([opts.init, !!opts.join, !!opts.forceNewCluster].filter(Boolean).length > 1) {
    throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, '--init, --join and --force-new-cluster exclude each other');
  }
  if (opts.restore && !opts.init) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, '--restore FILE starts a new cluster: use it with --init');
  const backup = opts.restore ? readBackup(opts.restore) : undefined;
  const restored = backup?.state;
  // The backup's data key opens before the data dir is touched: a refusal (autolock, no key)
  // leaves nothing behind, and the same command with the key works.
  const restoredKey = backup?.keys ? Keyring.importDataKey(backup.keys, opts.unlockKey) : undefined;
  const identity = opts.join ? joiningIdentity(opts.dataDir) : openDataDir(opts.dataDir, opts.init);
  // This host's agent (the embedded one) adopts what it ran before the backup: same node id.
  if (restored && opts.embeddedAgent) adoptRestoredNodeId(identity, restored);
  // Private whatever it was before (an existing dir given to --init, files restored from a backup).
  for (const t of secureDataDir(opts.dataDir)) {
    log.warn({ path: t.path, from: t.from.toString(8), to: t.to.toString(8) }, 'data dir permissions tightened');
  }
  const unlock = lockDataDir(opts.dataDir);
  try {
    return await run(opts, identity, restored, unlock, restoredKey);
  } catch (e) {
    unlock();
    throw e;
  }
}

async function run(opts: ManagerOptions, identity: ClusterIdentity, restored: MachineSnapshot | undefined, unlock: () => void, restoredKey?: Buffer): Promise<RunningManager> {
  const log = opts.log;
  if (identity.raftId === undefined) identity.raftId = newRaftId();
  // Data dirs from before membership existed were made by --init: their manager founded the cluster.
  if (identity.founder === undefined && !opts.join) identity.founder = true;
  const raftId = identity.raftId;
  const raftDir = join(opts.dataDir, 'raft');

  // The keyring (the cluster's data key): a joiner gets the key from the cluster; a locked
  // manager waits for its unlock key before anything else starts.
  let keyring: Keyring | undefined;
  // Autolock: the unlock key this manager was opened with (its keyring is wrapped by it already).
  let unlockedWith: string | undefined;
  if (!opts.join) {
    if (Keyring.exists(opts.dataDir)) {
      if (Keyring.isLocked(opts.dataDir) && !opts.unlockKey) {
        ({ keyring, key: unlockedWith } = await waitForUnlock(opts.dataDir, apiSocketPath(opts.dataDir), log));
      } else {
        keyring = Keyring.open(opts.dataDir, opts.unlockKey);
        unlockedWith = Keyring.isLocked(opts.dataDir) ? opts.unlockKey : undefined;
      }
    } else if (identity.founder) {
      // A restored cluster keeps its data key (its secrets and CA key are sealed with it).
      keyring = Keyring.create(opts.dataDir, restoredKey);
    } else {
      throw new TsswarmError(ErrorCodes.DATA_DIR, `${opts.dataDir} holds no keyring: this manager joined under an older release; remove it (\`tsswarm node rm\` on the leader) and join it again with a new data dir`);
    }
  }
  const sealer = (): Keyring => {
    if (!keyring) throw new TsswarmError(ErrorCodes.UNAVAILABLE, 'this manager has not joined yet');
    return keyring;
  };
  // This manager's certificate: absent on a founder's first start (made once the store is open)
  // and on a joiner's (given by the cluster): servers bound meanwhile accept no TLS connection.
  const credentials = new NodeCredentials(keyring ? loadManagerCerts(opts.dataDir, keyring) : undefined, identity.clusterId);

  // Where the store starts when the Raft log is empty: a legacy store dir, a backup, or (forced)
  // what this survivor had committed.
  let seed: MachineSnapshot | undefined = restored;
  const legacy = legacyStoreDir(opts.dataDir);
  if (legacy) seed = readLegacyStore(legacy);
  if (opts.forceNewCluster) {
    const c = committedState(raftDir);
    seed = c.state;
    log.warn({ index: c.state.index, objects: c.state.objects.length, droppedUncommitted: c.dropped, oldLog: c.movedTo }, 'forcing a new one-manager cluster from the state this manager committed');
    identity.founder = true;
  }

  const server = newGrpcServer();
  const listenAddr = opts.listenAddr ?? identity.listenAddr ?? DEFAULT_LISTEN_ADDR;
  // Filled in as the parts come up (the dispatcher may be asked before the others exist).
  const late: { control?: ClusterControl; leadership?: Leadership; authorizer?: Authorizer } = {};
  const backend = new RaftBackend({
    id: raftId,
    dir: raftDir,
    peers: new Map(),
    bootstrap: identity.founder ? [raftId] : undefined,
    bootstrapState: seed && { index: seed.index, data: StoreMachine.encodeSnapshot(seed) },
    transport: {
      server,
      channelCredentials: credentials.channelCredentials(),
      // Only managers of this cluster speak Raft here, each for itself.
      admit: (call, cut) => {
        const peer = late.authorizer!.check(call, 'manager', 'a Raft stream');
        if (peer.raftId === undefined) throw refusalOf('denied', `${peer.nodeId} has no Raft id in this cluster`);
        return { raftId: peer.raftId, done: late.authorizer!.track(call, peer, 'manager', cut) };
      },
    },
    tickMs: opts.raftTickMs,
    electionTick: opts.electionTicks,
    onRoleChange: (role) => late.leadership?.role(role === 'leader'),
    onStorageError: (err?: Error) => {
      if (err) log.error({ err: err.message }, 'data dir full: changes are refused until space is freed (nothing committed is lost)');
      else log.info('data dir writable again: accepting changes');
    },
  });
  const store = new Store(backend);
  const authorizer = new Authorizer({ store, clusterId: () => identity.clusterId, log: log.child({ component: 'auth' }) });
  late.authorizer = authorizer;
  const issuer = new Issuer({ store, sealer, clusterId: () => identity.clusterId });
  const dispatcher = new Dispatcher({
    store, server, log: log.child({ component: 'dispatcher' }), managerNodeId: identity.nodeId, heartbeatPeriodMs: opts.heartbeatPeriodMs,
    leader: () => ({ isLeader: backend.node?.role === 'leader', leaderAddr: late.control?.leaderAddr() }),
    managers: () => late.control?.managerAddrs() ?? [],
    authorizer,
    trust: () => {
      const c = store.view((tx) => tx.get('cluster', 'default'));
      if (!c?.ca) return undefined;
      return { issuer: caDigest((c.ca.next ?? c.ca).certPem), caPems: c.ca.next ? [c.ca.certPem, c.ca.next.certPem] : [c.ca.certPem] };
    },
    // Secrets are opened with the keyring when sent (a joiner has it once it joined).
    sealer: { seal: (p, aad) => sealer().seal(p, aad), open: (v, aad) => sealer().open(v, aad) },
  });
  // Bind first: the address (and port, when 0 was asked) is what others are told.
  const dispatcherSocket = `unix://${dispatcherSocketPath(opts.dataDir)}`;
  const [, port] = await dispatcher.listen([dispatcherSocket, listenAddr, ...(opts.listen ?? [])], credentials.serverCredentials());
  const bound = withPort(listenAddr, port!);
  const advertise = opts.advertiseAddr ?? (opts.listenAddr ? undefined : identity.advertiseAddr) ?? advertised(bound);

  const control = new ClusterControl({
    clusterId: identity.clusterId, nodeId: identity.nodeId, raftId, addr: advertise, apiSocket: apiSocketPath(opts.dataDir),
    store, raft: () => backend.node, log: log.child({ component: 'cluster' }),
    credentials, authorizer, issuer, dataKey: () => sealer().dataKey(),
  });
  control.register(server);
  late.control = control;
  // A renewed certificate or new roots: connections to other managers are made again with them
  // (an open one keeps the certificate of its handshake, and is cut when that one expires).
  const unwatchCredentials = credentials.onUpdate(() => {
    backend.node?.transport?.resetConnections?.();
    control.resetClients();
  });

  // A joiner asks the cluster for its certificate and the data key before its store starts.
  let joinedPeers: { raftId: number; addr: string }[] = [];
  if (opts.join) {
    const r = await joinCluster(opts.join.addr, { token: opts.join.token, role: 'manager', nodeId: identity.nodeId, raftId, addr: advertise, hostname: hostname() });
    if (!r.dataKey || r.dataKey.length !== 32) throw new TsswarmError(ErrorCodes.INTERNAL, `the manager at ${opts.join.addr} did not hand over the cluster's data key`);
    identity.clusterId = r.clusterId;
    control.setClusterId(r.clusterId);
    keyring = Keyring.exists(opts.dataDir) ? Keyring.open(opts.dataDir) : Keyring.create(opts.dataDir, r.dataKey);
    saveManagerCerts(opts.dataDir, keyring, r);
    credentials.update(r, r.clusterId);
    joinedPeers = r.managers;
    authorizer.trustJoinedManagers(r.managers);
  }

  const loops = new ControlLoops({
    store,
    log: log.child({ component: 'orchestrator' }),
    heartbeats: () => dispatcher.heartbeats(),
    engines: () => dispatcher.engines(),
    // A node is down after 3 missed heartbeat periods (decided by the node monitor).
    nodeGraceMs: (opts.heartbeatPeriodMs ?? DEFAULT_HEARTBEAT_MS) * 3,
    // ... or once its session ended (its connection broke) and it did not come back within a period.
    lost: () => dispatcher.lost(),
    lostGraceMs: opts.heartbeatPeriodMs ?? DEFAULT_HEARTBEAT_MS,
    // After an election (or a restart) agents first find the new leader: 10 s before one is down.
    startGraceMs: Math.max((opts.heartbeatPeriodMs ?? DEFAULT_HEARTBEAT_MS) * 3, 10_000),
    onPurgeVolumes: (vols) => dispatcher.purgeVolumes(vols.map((v) => ({ id: v.id, json: JSON.stringify(v) }))),
  });
  // The control loops run on the leader only: started when it is elected, stopped when it is not.
  const leadership = new Leadership(loops, control, dispatcher, log);
  late.leadership = leadership;

  await store.open();
  control.connectPeers();
  if (legacy) {
    const to = retireLegacyStore(legacy);
    log.warn({ from: legacy, to, index: seed!.index }, 'store migrated onto the Raft log; the old store dir is kept aside and no longer read');
  }

  if (opts.join) {
    for (const m of joinedPeers) if (m.raftId !== raftId) backend.node.addPeer(m.raftId, m.addr);
    saveIdentity(opts.dataDir, { ...identity, listenAddr: bound, advertiseAddr: advertise });
    removeJoining(opts.dataDir);
    log.info({ cluster: identity.clusterId, via: opts.join.addr }, 'joined: catching up from the leader');
    await waitFor(store, (st) => !!st.cluster?.managers?.some((m) => m.raftId === raftId), 120_000, 'the cluster state to arrive from the leader');
  } else if (identity.founder && (opts.init || opts.forceNewCluster || !store.state().cluster?.managers || !store.state().cluster?.ca || !credentials.ready)) {
    await founderSetup(opts, store, identity, raftId, advertise, sealer(), credentials, log);
  }
  if (!credentials.ready) {
    throw new TsswarmError(ErrorCodes.DATA_DIR, `${certPaths(opts.dataDir).dir} holds no certificate for this manager: it joined under an older release; remove it (\`tsswarm node rm\` on the leader) and join it again with a new data dir`);
  }
  if (identity.listenAddr !== bound || identity.advertiseAddr !== advertise) {
    saveIdentity(opts.dataDir, { ...identity, listenAddr: bound, advertiseAddr: advertise });
  }
  log.info({ dataDir: opts.dataDir, cluster: identity.clusterId, node: identity.nodeId, raftId, listen: bound, advertise, storeIndex: store.index, init: opts.init }, 'manager starting');

  // A manager renews its own certificate with the CA (every manager holds its key, sealed).
  const renewer = new RenewalTimer({
    current: () => validity(credentials.material.certPem),
    renew: async () => {
      const c = store.view((tx) => tx.get('cluster', 'default'));
      if (!c?.ca) throw new TsswarmError(ErrorCodes.UNAVAILABLE, 'the cluster CA is not in the store yet');
      const m = await selfIssueFrom(c, sealer(), identity);
      saveManagerCerts(opts.dataDir, sealer(), m);
      credentials.update(m);
      log.info({ notAfter: new Date(validity(m.certPem).notAfter).toISOString() }, 'certificate renewed');
    },
    onError: (e, wait) => log.warn({ err: e.message, retryInMs: wait }, 'could not renew this manager\'s certificate; retrying'),
  });
  renewer.start();
  // Autolock and CA rotations, as the cluster object says.
  const keys = new ClusterKeys({
    store, dataDir: opts.dataDir, keyring: sealer, unlockedWith, credentials, clusterId: () => identity.clusterId, isLeader: () => control.isLeader,
    managerRoots: () => control.memberRoots(), renewSelf: () => renewer.renewSoon(), log: log.child({ component: 'keys' }),
  });
  keys.start();

  const unheard = dispatcher.onHeard((nodeId) => loops.nodeHeard(nodeId));
  const unwatchEngines = dispatcher.onEngineChange(() => loops.engineChanged());
  const unwatchLost = dispatcher.onLost(() => loops.sessionLost());

  let apiAdvertised: string | undefined;
  const api = buildApi({
    store, dispatcher, log, cluster: clusterApi(control, store, keys, issuer), sealer: sealer(),
    info: () => ({ version: VERSION, clusterId: identity.clusterId, nodeId: identity.nodeId, dataDir: opts.dataDir, pid: process.pid, ...(apiAdvertised ? { apiAddr: apiAdvertised } : {}) }),
  });
  const socket = apiSocketPath(opts.dataDir);
  await listenUnix(api, socket);
  log.info({ socket }, 'API listening');
  // Remote CLIs: HTTPS with this manager's certificate, client certificates required per request.
  const apiAddr = opts.apiAddr ?? identity.apiAddr;
  let https: HttpsListener | undefined;
  let unwatchTls: (() => void) | undefined;
  if (apiAddr) {
    const tlsOf = (m: TlsMaterial) => ({ certPem: m.certPem, keyPem: m.keyPem, caPems: m.caPems, clusterId: identity.clusterId });
    https = await listenHttps(api, apiAddr, tlsOf(credentials.material));
    unwatchTls = credentials.onUpdate((m) => https!.update(tlsOf(m)));
    apiAdvertised = withPort(advertised(withPort(apiAddr, https.port)), https.port);
    // The port bound is what a restart asks for again (bundles written meanwhile keep working).
    const apiBound = withPort(apiAddr, https.port);
    if (identity.apiAddr !== apiBound) {
      identity.apiAddr = apiBound;
      saveIdentity(opts.dataDir, { ...identity, listenAddr: bound, advertiseAddr: advertise });
    }
    log.info({ listen: withPort(apiAddr, https.port), advertise: apiAdvertised }, 'HTTPS API listening (client certificates required)');
  }

  const agent = await opts.embeddedAgent?.({ manager: dispatcherSocket, managers: control.managerAddrs(), nodeId: identity.nodeId, credentials });

  return {
    socket,
    addr: advertise,
    async close() {
      renewer.stop();
      unwatchCredentials();
      keys.close();
      unwatchTls?.();
      await https?.close();
      await agent?.close();
      await api.close();
      unheard();
      unwatchEngines();
      unwatchLost();
      await leadership.close();
      control.close();
      authorizer.close();
      await dispatcher.close();
      await store.close();
      unlock();
    },
  };
}

/** A fresh manager certificate signed with the store's CA (the new root during a rotation). */
async function selfIssueFrom(c: ClusterObj, keyring: Keyring, identity: ClusterIdentity): Promise<TlsMaterial> {
  const ca = c.ca!;
  const signing = ca.next ?? ca;
  return selfIssue({ certPem: signing.certPem, keyPem: keyring.open(signing.keySealed, CA_KEY_AAD).toString('utf8') }, {
    nodeId: identity.nodeId, clusterId: identity.clusterId, validMs: c.spec.certExpiryMs ?? DEFAULT_CERT_EXPIRY_MS,
    caPems: ca.next ? [ca.certPem, ca.next.certPem] : [ca.certPem], intermediatePem: ca.next?.crossSignedPem,
  });
}

/**
 * The founder's cluster object: settings, itself as the one manager, join tokens and the CA.
 * On --init (or an older data dir seen for the first time) the CA is created (or taken from
 * the data dir of an older release) and its key sealed into the store; this manager issues
 * itself its certificate. A restored or forced cluster gets itself as the only manager and
 * fresh tokens; a restored one whose CA key this keyring cannot open gets a new CA.
 */
async function founderSetup(opts: ManagerOptions, store: Store, identity: ClusterIdentity, raftId: number, advertise: string, keyring: Keyring, credentials: NodeCredentials, log: Logger): Promise<void> {
  const cur0 = store.view((tx) => tx.get('cluster', 'default'));
  let ca = cur0?.ca && opensWith(keyring, cur0.ca.keySealed) ? cur0.ca : undefined;
  if (!ca) {
    const legacy = existsSync(caPaths(opts.dataDir).key) ? await loadClusterCA(opts.dataDir) : undefined;
    const pair = legacy ? { certPem: legacy.certPem, keyPem: legacy.keyPem } : await createRootCA({ clusterId: identity.clusterId, validDays: 7300 });
    if (cur0?.ca) log.warn('the restored CA key cannot be opened with this manager\'s data key: a new cluster CA is made (nodes join again)');
    ca = { certPem: pair.certPem, keySealed: keyring.seal(Buffer.from(pair.keyPem), CA_KEY_AAD) };
  }
  const digest = caDigest(ca.certPem);
  const me: ManagerMember = { raftId, nodeId: identity.nodeId, addr: advertise, desired: 'voter' };
  const tokens = { worker: formatJoinToken({ caDigest: digest, secret: newJoinSecret() }), manager: formatJoinToken({ caDigest: digest, secret: newJoinSecret() }) };
  await store.update((tx) => {
    const cur = tx.get('cluster', 'default');
    const spec = cur?.spec ?? patchClusterSpec(defaultClusterSpec(), opts.cluster ?? {});
    const keep = cur?.joinTokens && cur.caDigest === digest && !opts.forceNewCluster && !opts.restore;
    const next: ClusterObj = { ...(cur ?? newClusterObj(spec)), spec, managers: [me], caDigest: digest, ca, joinTokens: keep ? cur!.joinTokens : tokens };
    if (cur) tx.update(next);
    else tx.create(next);
  });
  if (!credentials.ready || !credentials.material.caPems.includes(ca.certPem)) {
    const c = store.view((tx) => tx.get('cluster', 'default'))!;
    const m = await selfIssueFrom(c, keyring, identity);
    saveManagerCerts(opts.dataDir, keyring, m);
    credentials.update(m);
  }
  // The CA's key now lives sealed in the store: the copy in clear goes.
  if (existsSync(caPaths(opts.dataDir).key)) rmSync(caPaths(opts.dataDir).dir, { recursive: true, force: true });
}

function opensWith(keyring: Keyring, sealed: string): boolean {
  try { keyring.open(sealed, CA_KEY_AAD); return true; } catch { return false; }
}

function clusterApi(control: ClusterControl, store: Store, keys: ClusterKeys, issuer: Issuer): ClusterApi {
  return Object.assign(Object.create(control) as ClusterControl, {
    signClientCert: async (name: string, csrPem: string, validSeconds: number) => {
      const c = await issuer.sign(csrPem, name, 'client', validSeconds * 1000);
      return { certPem: c.certPem, caPems: c.caPems, serial: c.serial, notAfter: c.notAfter };
    },
    setAutolock: (enabled: boolean) => keys.setAutolock(enabled),
    unlockKey: () => keys.unlockKey(),
    rotateUnlockKey: () => keys.rotateUnlockKey(),
    caStatus: () => keys.caStatus(),
    backupKeys: () => keys.backupKeys(),
    rotateCA: () => keys.rotateCA(),
    rotateToken: async (role: 'worker' | 'manager'): Promise<string> => store.update((tx) => {
      const c = tx.get('cluster', 'default');
      if (!c?.caDigest) throw new TsswarmError(ErrorCodes.UNAVAILABLE, 'this cluster has no CA digest yet');
      const token = formatJoinToken({ caDigest: c.caDigest, secret: newJoinSecret() });
      const cur = c.joinTokens ?? { worker: token, manager: token };
      const joinTokens = { ...cur, [role]: token };
      if (joinTokens.worker === joinTokens.manager) joinTokens[role === 'worker' ? 'manager' : 'worker'] = formatJoinToken({ caDigest: c.caDigest, secret: newJoinSecret() });
      tx.update({ ...c, joinTokens });
      return token;
    }),
  });
}

/** Resolves once `pred` holds on the store (checked at every change), or fails after `ms`. */
function waitFor(store: Store, pred: (s: ReturnType<Store['state']>) => boolean, ms: number, what: string): Promise<void> {
  if (pred(store.state())) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { stop(); reject(new TsswarmError(ErrorCodes.UNAVAILABLE, `timed out after ${ms / 1000}s waiting for ${what}`)); }, ms);
    const stop = store.watch(() => {
      if (!pred(store.state())) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}

/** Starts and stops the leader's work as leadership comes and goes, one transition at a time. */
class Leadership {
  private chain: Promise<void> = Promise.resolve();
  private leading = false;
  private closed = false;

  constructor(private readonly loops: ControlLoops, private readonly control: ClusterControl, private readonly dispatcher: Dispatcher, private readonly log: Logger) {}

  role(leader: boolean): void {
    if (this.closed || leader === this.leading) return;
    this.leading = leader;
    this.chain = this.chain.then(async () => {
      if (leader && !this.closed) {
        this.log.info('elected leader: control loops start');
        this.dispatcher.leadershipChanged(true);
        this.loops.start();
        this.control.startLeading();
      } else if (!leader) {
        this.log.info('no longer the leader: control loops stop');
        this.control.stopLeading();
        this.dispatcher.leadershipChanged(false);
        await this.loops.stop();
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
    this.control.stopLeading();
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

/** A data dir about to join: new, or left by a join that did not finish (same ids, so a retried join is recognised). */
function joiningIdentity(dir: string): ClusterIdentity {
  if (existsSync(join(dir, 'cluster.json'))) {
    throw new TsswarmError(ErrorCodes.DATA_DIR, `${dir} already holds a cluster member: start it without --join (or choose an empty --data-dir)`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pending = join(dir, 'joining.json');
  if (existsSync(pending)) return JSON.parse(readFileSync(pending, 'utf8')) as ClusterIdentity;
  const id: ClusterIdentity = { clusterId: '', nodeId: newId(), role: 'manager', createdAt: new Date().toISOString(), raftId: newRaftId(), founder: false };
  writeFileSync(pending, JSON.stringify(id), { mode: 0o600 });
  return id;
}

function removeJoining(dir: string): void {
  rmSync(join(dir, 'joining.json'), { force: true });
}

/**
 * A cluster restored on a host that ran it: this host keeps the node id it had in the backup
 * (matched by hostname), so its agent adopts the containers it still runs instead of starting
 * duplicates.
 */
function adoptRestoredNodeId(identity: ClusterIdentity, state: MachineSnapshot): void {
  const mine = state.objects.filter((o): o is NodeObj => o.kind === 'node' && o.description.hostname === hostname());
  if (mine.length === 1) identity.nodeId = mine[0]!.id;
}
