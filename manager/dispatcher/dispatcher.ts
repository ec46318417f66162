// The manager's end of agent sessions (swarmkit's dispatcher, in small): registers nodes,
// streams each node its assignments (full set, then changes), takes task status batches and
// heartbeats, and relays log requests. It records what it hears (heartbeats and sessions, in
// memory) and exposes it; deciding that a node is down or back is the node monitor's
// (manager/nodemonitor), run by the control loops. Statuses from agents are validated before
// they reach the store (status.ts).
//
// Every manager runs one, but only the Raft leader's keeps sessions (what agents report is
// written to the store, and only the leader writes): elsewhere a Session ends at once with
// FAILED_PRECONDITION and the leader's address (trailing metadata `tsswarm-leader`), and the
// leader ends its sessions the same way when it steps down (leadershipChanged(false)).
//
// Who an agent is comes from its certificate (mutual TLS, manager/auth): a session over the
// network registers the node its certificate names and no other, and is cut when that node is
// removed. The manager's own embedded agent comes through the unix socket (0600), served by a
// separate local server, and is trusted as the manager's own process.

import type { LogLine, LogRequest } from '../../common/api/logs.js';
import * as grpc from '@grpc/grpc-js';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import type { Logger } from 'pino';
import { newId } from '../../common/ids.js';
import { dispatcherProto } from '../../proto/load.js';
import type { AgentMessage__Output } from '../../proto/gen/tsswarm/dispatcher/v1/AgentMessage.js';
import type { Assignment } from '../../proto/gen/tsswarm/dispatcher/v1/Assignment.js';
import type { LogChunk__Output } from '../../proto/gen/tsswarm/dispatcher/v1/LogChunk.js';
import type { ManagerMessage } from '../../proto/gen/tsswarm/dispatcher/v1/ManagerMessage.js';
import type { NodeDescription__Output } from '../../proto/gen/tsswarm/dispatcher/v1/NodeDescription.js';
import type { Store } from '../store/store.js';
import { isTerminal, taskStateIndex, type ConfigObj, type NodeObj, type SecretObj, type StoreObj, type TaskStatus } from '../store/types.js';
import type { Sealer } from '../keys/sealer.js';
import { parseTaskStatus } from './status.js';
import { withStatus } from '../objects/task.js';
import { assignmentsFor } from '../objects/assignments.js';
import type { Authorizer, AuthorizedPeer } from '../auth/authz.js';
import type { EngineDown } from '../objects/node.js';
import { BuildRelay, type BuildCall } from './builds.js';
import { ImageRelay, type FetchCall, type PushCall } from './images.js';

export interface DispatcherOptions {
  store: Store;
  log: Logger;
  /** The node id of the manager's own host: it registers with role manager. */
  managerNodeId?: string;
  heartbeatPeriodMs?: number;
  now?: () => number;
  /** The manager's gRPC server, shared with Raft's transport (one listen address); the dispatcher binds and closes it. */
  server?: grpc.Server;
  /**
   * Whether this manager leads the Raft group, and the leader's gRPC address (host:port as
   * other hosts reach it; undefined while unknown). Only the leader keeps sessions. Absent:
   * this dispatcher always leads (a lone manager, tests).
   */
  leader?: () => { isLeader: boolean; leaderAddr?: string };
  /** Every manager's advertised gRPC address: sent in Welcome, and as a ManagerList when it changes. Absent: none. */
  managers?: () => string[];
  /**
   * Checks network peers' certificates (absent: every peer is trusted, as on the local socket;
   * unit tests). With it, unix:// addresses are served by a server of their own, trusted.
   */
  authorizer?: Authorizer;
  /**
   * Opens secrets (sealed in the store) when they are sent to a node that needs them. Absent: no
   * secret value is sent; the node is told why and fails the tasks that need one.
   */
  sealer?: Sealer;
  /** The roots agents must trust and the digest of the one new certificates come from (absent: not sent). */
  trust?: () => { issuer: string; caPems: string[] } | undefined;
}

type AssignmentKind = 'TASK' | 'NETWORK' | 'VOLUME' | 'SECRET' | 'CONFIG';

/** Trailing metadata of a refused Session: the leader's address (see proto/dispatcher.proto). */
export const LEADER_METADATA = 'tsswarm-leader';

/**
 * The HTTP/2 receive window of the manager's gRPC server, per stream and per connection. Images
 * arrive on it (PushImage, relayed to the fetching node): with HTTP/2's default of 64 KiB a
 * stream moves one window per round trip, a few MB/s. Memory stays bounded by it per stream.
 */
export const SERVER_WINDOW_BYTES = 8 << 20;

export const newGrpcServer = (): grpc.Server => widenWindows(new grpc.Server({ 'grpc.max_receive_message_length': 64 << 20 }), SERVER_WINDOW_BYTES);

/**
 * grpc-js's Server takes no window option (its client does: 'grpc-node.flow_control_window'):
 * announce `bytes` as the initial window of each stream (the settings its http2 servers are made
 * with) and widen each session's connection window as it opens (its session hook). Where this
 * grpc-js is made otherwise, the server keeps HTTP/2's defaults: slower, still correct.
 */
export function widenWindows(server: grpc.Server, bytes: number): grpc.Server {
  type Hook = (h2: unknown) => (session: { setLocalWindowSize?(n: number): void }) => void;
  const inner = server as unknown as { commonServerOptions?: { settings?: Record<string, unknown> }; _sessionHandler?: Hook; _channelzSessionHandler?: Hook };
  if (inner.commonServerOptions) inner.commonServerOptions.settings = { ...inner.commonServerOptions.settings, initialWindowSize: bytes };
  for (const key of ['_sessionHandler', '_channelzSessionHandler'] as const) {
    const make = inner[key];
    if (typeof make !== 'function') continue;
    inner[key] = function (this: unknown, h2: unknown) {
      const handle = make.call(this, h2);
      return (session) => {
        try { session.setLocalWindowSize?.(bytes); } catch { /* a session already closing */ }
        handle(session);
      };
    };
  }
  return server;
}

interface Session {
  nodeId: string;
  call: grpc.ServerDuplexStream<AgentMessage__Output, ManagerMessage>;
  sent: Map<string, string>; // `${kind}/${id}` -> version sent
  managersSent: string; // JSON of the manager list the agent was last sent
  trustSent?: string; // JSON of the trust the agent was last sent
  timer?: NodeJS.Timeout;
}

export type { LogLine } from '../../common/api/logs.js';

/** A secret or config as a node receives it (proto/dispatcher.proto, Assignment.object_json). */
interface FileDoc {
  id: string;
  name: string;
  revision: number;
  /** The value, base64. */
  data?: string;
  /** Why there is no value. */
  error?: string;
}

const configDoc = (x: ConfigObj): FileDoc => ({ id: x.id, name: x.name, revision: x.revision, data: x.data });

interface LogSubscriber {
  nodeId: string;
  pendingTasks: Set<string>;
  onLine: (l: LogLine) => void;
  onEnd: () => void;
  onUnreachable: (nodeId: string, taskIds: string[]) => void;
}

/**
 * How often agents heartbeat by default. A node is down after 3 silent periods (1.5 s), so a
 * lost host's tasks run elsewhere within about 2 s; a heartbeat is one small message on an open
 * stream and is only recorded in memory, so even hundreds of nodes cost little.
 */
export const DEFAULT_HEARTBEAT_MS = 500;

export class Dispatcher {
  private readonly sessions = new Map<string, Session>();
  /** Every open Session call, registered or not yet: the ones leadershipChanged(false) ends. */
  private readonly calls = new Set<Session['call']>();
  private readonly lastHeartbeat = new Map<string, number>();
  /** Nodes whose session ended and that have not been heard from since: when it ended. */
  private readonly lostSessions = new Map<string, number>();
  private readonly lostListeners = new Set<(nodeId: string) => void>();
  /** Nodes whose agent reports that its Docker engine does not answer: why, and since when (this manager's clock). */
  private readonly enginesDown = new Map<string, EngineDown>();
  private readonly engineListeners = new Set<(nodeId: string) => void>();
  private readonly logSubs = new Map<string, LogSubscriber>();
  private readonly server: grpc.Server;
  /** Serves the unix socket (the embedded agent) when network peers are checked. */
  private readonly localServer?: grpc.Server;
  private unwatch?: () => void;
  private pushScheduled = false;
  private readonly period: number;
  private readonly heardListeners = new Set<(nodeId: string) => void>();
  /** Images shipped between nodes (and uploaded through the API), relayed here (images.ts). */
  readonly images: ImageRelay;
  /** Builds the CLI runs on a node (`--builder-node`), relayed here (builds.ts). */
  readonly builds: BuildRelay;

  constructor(private readonly opts: DispatcherOptions) {
    this.period = opts.heartbeatPeriodMs ?? DEFAULT_HEARTBEAT_MS;
    this.server = opts.server ?? newGrpcServer();
    const proto = dispatcherProto().tsswarm.dispatcher.v1;
    const serve = (server: grpc.Server, local: boolean): void => server.addService(proto.Dispatcher.service, {
      Session: (call: Session['call']) => this.onSession(call, local),
      PublishLogs: (call: grpc.ServerReadableStream<LogChunk__Output, unknown>, cb: grpc.sendUnaryData<unknown>) => this.onPublishLogs(call, cb, local),
      FetchImage: (call: FetchCall) => this.onFetchImage(call, local),
      PushImage: (call: PushCall, cb: grpc.sendUnaryData<unknown>) => this.onPushImage(call, cb, local),
      Build: (call: BuildCall) => this.onBuild(call, local),
    });
    // Both relays talk to nodes over their sessions and name them by hostname.
    const send = (nodeId: string, msg: Parameters<Session['call']['write']>[0]): boolean => {
      const s = this.sessions.get(nodeId);
      if (!s) return false;
      s.call.write(msg);
      return true;
    };
    const hostname = (nodeId: string): string => this.opts.store.view((tx) => tx.get('node', nodeId))?.description.hostname || nodeId.slice(0, 12);
    this.images = new ImageRelay({
      log: opts.log, send, hostname,
      connected: () => [...this.sessions.keys()],
      tasks: () => this.opts.store.view((tx) => tx.list('task')),
    });
    this.builds = new BuildRelay({ log: opts.log, send, hostname });
    serve(this.server, !opts.authorizer);
    if (opts.authorizer) {
      this.localServer = newGrpcServer();
      serve(this.localServer, true);
    }
  }

  private get now(): number { return this.opts.now?.() ?? Date.now(); }

  /**
   * Listen on each address (unix:///path or host:port): network addresses with `credentials`
   * (the manager's TLS), unix sockets without (on the local server when there is one).
   */
  async listen(addresses: string[], credentials = grpc.ServerCredentials.createInsecure()): Promise<number[]> {
    const ports: number[] = [];
    for (const addr of addresses) {
      // A socket file left by a killed manager: the data dir lock says it is ours to replace.
      const path = addr.startsWith('unix://') ? addr.slice(7) : undefined;
      if (path && existsSync(path)) unlinkSync(path);
      const server = path && this.localServer ? this.localServer : this.server;
      const creds = path && this.localServer ? grpc.ServerCredentials.createInsecure() : credentials;
      ports.push(await new Promise<number>((resolve, reject) =>
        server.bindAsync(addr, creds, (err, port) => (err ? reject(err) : resolve(port)))));
      // Only this user may talk to the manager through its socket (as the API socket).
      if (path) chmodSync(path, 0o600);
    }
    this.unwatch = this.opts.store.watch(() => this.schedulePush());
    return ports;
  }

  async close(): Promise<void> {
    this.unwatch?.();
    for (const s of this.sessions.values()) if (s.timer) clearTimeout(s.timer);
    for (const call of [...this.calls]) this.endCall(call);
    for (const server of [this.server, this.localServer]) {
      if (!server) continue;
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      server.forceShutdown();
    }
  }

  /**
   * This manager won or lost the Raft leadership. Lost: every open session ends as a Session
   * opened on a follower would (the agents go to the new leader; their containers keep
   * running) and the heartbeats heard so far are forgotten. Won: nothing to do (sessions come
   * as agents find this manager; the node monitor gives every node a grace period).
   */
  leadershipChanged(isLeader: boolean): void {
    if (isLeader) return;
    const open = this.calls.size;
    for (const call of [...this.calls]) this.refuse(call);
    this.lastHeartbeat.clear();
    this.lostSessions.clear();
    this.enginesDown.clear();
    if (open > 0) this.opts.log.info({ sessions: open, leader: this.leaderState().leaderAddr }, 'no longer the leader: agent sessions ended');
  }

  /** The manager addresses to send agents now; call managersChanged() when it changes outside the store. */
  managersChanged(): void {
    const list = this.managerList();
    for (const s of this.sessions.values()) this.sendManagers(s, list);
  }

  private leaderState(): { isLeader: boolean; leaderAddr?: string } {
    return this.opts.leader?.() ?? { isLeader: true };
  }

  private managerList(): string[] {
    return [...(this.opts.managers?.() ?? [])];
  }

  /** The cluster's roots, when they changed since this session was last told (CA rotation). */
  private sendTrust(s: Session): void {
    const t = this.opts.trust?.();
    if (!t) return;
    const key = JSON.stringify(t);
    if (s.trustSent === key) return;
    s.trustSent = key;
    s.call.write({ trust: { issuer_digest: t.issuer, ca_pems: t.caPems } });
  }

  private sendManagers(s: Session, list: string[]): void {
    const key = JSON.stringify(list);
    if (s.managersSent === key) return;
    s.managersSent = key;
    s.call.write({ managers: { managers: list } });
  }

  /** End a Session call (status OK): this side ends it, so it is forgotten now. */
  private endCall(call: Session['call']): void {
    this.calls.delete(call);
    call.end();
  }

  /** End a Session call: not the leader (FAILED_PRECONDITION, with the leader's address when known). */
  private refuse(call: Session['call']): void {
    this.calls.delete(call);
    const { leaderAddr } = this.leaderState();
    const metadata = new grpc.Metadata();
    if (leaderAddr) metadata.set(LEADER_METADATA, leaderAddr);
    const details = leaderAddr ? `not the leader; the leader is at ${leaderAddr}` : 'no leader elected yet';
    // grpc-js ends a server stream with the status of an 'error' it is given.
    call.emit('error', Object.assign(new Error(details), { code: grpc.status.FAILED_PRECONDITION, details, metadata }));
  }

  /** When each node was last heard from (a heartbeat, a status batch, its registration). */
  heartbeats(): ReadonlyMap<string, number> { return this.lastHeartbeat; }

  /** Nodes whose session ended (its connection broke, or the agent closed it) and that were not heard from since: when. */
  lost(): ReadonlyMap<string, number> { return this.lostSessions; }

  /** Called with a node's id when its session ends while it is the node's current one; returns the unsubscribe. */
  onLost(listener: (nodeId: string) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** Nodes with an open session. */
  connectedNodes(): string[] { return [...this.sessions.keys()]; }

  /** Nodes whose Docker engine does not answer, as their agents last said (heartbeats, registration). */
  engines(): ReadonlyMap<string, EngineDown> { return this.enginesDown; }

  /** Called with a node's id when its engine stops or starts answering; returns the unsubscribe. */
  onEngineChange(listener: (nodeId: string) => void): () => void {
    this.engineListeners.add(listener);
    return () => this.engineListeners.delete(listener);
  }

  /** What an agent says of its engine: '' answers. Only a change (down, or up again) is passed on. */
  private engineReport(nodeId: string, error: string): void {
    const cur = this.enginesDown.get(nodeId);
    const err = String(error ?? '').slice(0, 512);
    if (err) {
      if (cur) { cur.error = err; return; }
      this.enginesDown.set(nodeId, { error: err, since: this.now });
      this.opts.log.warn({ node: nodeId, err }, 'the node\'s Docker engine does not answer');
    } else {
      if (!cur) return;
      this.enginesDown.delete(nodeId);
      this.opts.log.info({ node: nodeId, downMs: this.now - cur.since }, 'the node\'s Docker engine answers again');
    }
    for (const l of this.engineListeners) l(nodeId);
  }

  /** Called with a node's id each time it is heard from; returns the unsubscribe. */
  onHeard(listener: (nodeId: string) => void): () => void {
    this.heardListeners.add(listener);
    return () => this.heardListeners.delete(listener);
  }

  private heard(nodeId: string): void {
    this.lastHeartbeat.set(nodeId, this.now);
    this.lostSessions.delete(nodeId);
    for (const l of this.heardListeners) l(nodeId);
  }

  /**
   * Ask nodes for task logs; lines arrive through onLine until every task's stream ended (or
   * cancel()). A node with no session (or whose session ends before its streams do) is reported
   * through onUnreachable with the tasks whose logs it could not give; the others stream on.
   */
  logs(
    byNode: Map<string, string[]>, req: Omit<LogRequest, 'taskIds'>, onLine: (l: LogLine) => void, onEnd: () => void,
    onUnreachable: (nodeId: string, taskIds: string[]) => void,
  ): () => void {
    const ids: string[] = [];
    let open = 0;
    const endOne = () => { if (--open === 0) onEnd(); };
    for (const [nodeId, taskIds] of byNode) {
      const s = this.sessions.get(nodeId);
      if (!s) {
        onUnreachable(nodeId, taskIds);
        continue;
      }
      const requestId = newId();
      ids.push(requestId);
      open++;
      this.logSubs.set(requestId, { nodeId, pendingTasks: new Set(taskIds), onLine, onEnd: endOne, onUnreachable });
      s.call.write({ logs: { request_id: requestId, task_ids: taskIds, follow: req.follow, tail: req.tail, timestamps: req.timestamps } });
    }
    if (open === 0) setImmediate(onEnd);
    return () => {
      for (const id of ids) {
        const sub = this.logSubs.get(id);
        if (!sub) continue;
        this.logSubs.delete(id);
        this.sessions.get(sub.nodeId)?.call.write({ logs_cancel: { request_id: id } });
      }
    };
  }

  private onSession(call: Session['call'], local: boolean): void {
    let peer: AuthorizedPeer | undefined;
    if (!local && this.opts.authorizer) {
      try {
        peer = this.opts.authorizer.check(call, 'node', 'an agent session');
      } catch (e) {
        call.on('error', () => undefined);
        call.emit('error', e);
        return;
      }
    }
    if (!this.leaderState().isLeader) {
      call.on('error', () => undefined);
      this.refuse(call);
      return;
    }
    this.calls.add(call);
    // Cut when the node is removed or its certificate stops passing (expired, replaced).
    const untrack = peer ? this.opts.authorizer!.track(call, peer, 'node', (e) => { this.calls.delete(call); call.emit('error', e); }) : () => undefined;
    let session: Session | undefined;
    call.on('data', (msg: AgentMessage__Output) => {
      if (!this.calls.has(call)) return; // ended (leadership lost): nothing more is recorded
      void (async () => {
        try {
          if (msg.register) {
            session = await this.register(call, msg.register.node_id, msg.register.description, msg.register.task_ids ?? [], peer, msg.register.engine_error ?? '');
          } else if (!session) {
            call.destroy(new Error('register first'));
          } else if (msg.heartbeat) {
            this.engineReport(session.nodeId, msg.heartbeat.engine_error ?? '');
            this.heard(session.nodeId);
            if (msg.heartbeat.full_set_applied) await this.markSynced(session.nodeId);
          } else if (msg.statuses) {
            this.heard(session.nodeId);
            await this.updateStatuses(session.nodeId, this.validStatuses(session.nodeId, msg.statuses.updates));
          } else if (msg.image_have) {
            this.images.onHave(session.nodeId, msg.image_have);
          }
        } catch (err) {
          this.opts.log.warn({ err, node: session?.nodeId }, 'session message failed');
          // What the agent sent was not recorded (a registration, statuses): it sends each only
          // once per session, so the session ends and the agent comes back and reports again.
          if ((msg.register || msg.statuses) && this.calls.has(call)) {
            const details = `the manager could not record what this agent sent (${(err as Error).message}); reconnect and report again`;
            this.calls.delete(call);
            call.emit('error', Object.assign(new Error(details), { code: grpc.status.UNAVAILABLE, details }));
          }
        }
      })();
    });
    const end = () => {
      untrack();
      this.calls.delete(call);
      if (session && this.sessions.get(session.nodeId) === session) {
        this.sessions.delete(session.nodeId);
        this.opts.log.info({ node: session.nodeId }, 'agent session ended');
        this.images.sessionEnded(session.nodeId);
        this.builds.sessionEnded(session.nodeId);
        // On the leader only (a deposed leader ends every session and forgets them).
        if (this.leaderState().isLeader) {
          this.lostSessions.set(session.nodeId, this.now);
          for (const l of this.lostListeners) l(session.nodeId);
        }
        for (const [id, sub] of this.logSubs) {
          if (sub.nodeId !== session.nodeId) continue;
          this.logSubs.delete(id);
          if (sub.pendingTasks.size > 0) sub.onUnreachable(sub.nodeId, [...sub.pendingTasks]);
          sub.onEnd();
        }
      }
    };
    call.on('end', () => { end(); call.end(); });
    call.on('error', end);
    call.on('cancelled', end);
  }

  private async register(call: Session['call'], wantedId: string, d: NodeDescription__Output | null, taskIds: string[], peer?: AuthorizedPeer, engineError = ''): Promise<Session | undefined> {
    if (!this.leaderState().isLeader) { this.refuse(call); return undefined; }
    // Over the network a node is who its certificate says, and registers as nobody else.
    if (peer && wantedId && wantedId !== peer.nodeId) {
      this.opts.log.warn({ node: peer.nodeId, wanted: String(wantedId).slice(0, 64) }, 'refused a registration as another node');
      this.calls.delete(call);
      const details = `this certificate is node ${peer.nodeId}'s: it cannot register as ${String(wantedId).slice(0, 64)}`;
      call.emit('error', Object.assign(new Error(details), { code: grpc.status.PERMISSION_DENIED, details }));
      return undefined;
    }
    const nodeId = peer?.nodeId ?? (wantedId || newId());
    const role = peer ? (peer.role === 'manager' ? 'manager' : 'worker') : nodeId === this.opts.managerNodeId ? 'manager' : 'worker';
    await this.opts.store.update((tx) => {
      const cur = tx.get('node', nodeId);
      const description: NodeObj['description'] = {
        hostname: d?.hostname ?? '',
        platform: { os: d?.os ?? 'linux', arch: d?.arch ?? '' },
        resources: { nanoCpus: Number(d?.nano_cpus ?? 0), memoryBytes: Number(d?.memory_bytes ?? 0) },
        engine: { version: d?.engine_version ?? '', labels: { ...(d?.engine_labels ?? {}) } },
      };
      if (d?.runtimes?.length) description.engine.runtimes = [...d.runtimes];
      // With its engine down a node stays down if it was (the node monitor decides on the rest).
      const status: NodeObj['status'] = engineError
        ? cur?.status.state === 'down'
          ? { ...cur.status, addr: d?.addr ?? '', engine: 'down' }
          : { state: 'ready', addr: d?.addr ?? '', message: `engine down: ${engineError.slice(0, 512)}`, lastHeartbeat: this.now, engine: 'down' }
        : { state: 'ready', addr: d?.addr ?? '', message: '', lastHeartbeat: this.now };
      if (cur) tx.update({ ...cur, description, status });
      else tx.create({ kind: 'node', id: nodeId, meta: { version: 0, createdAt: 0, updatedAt: 0 }, spec: { role, availability: 'active', labels: {} }, description, status });
    });
    // Leadership lost (or the agent gone) while the node was written: no session to keep.
    if (!this.calls.has(call)) return undefined;
    const old = this.sessions.get(nodeId);
    if (old && old.call !== call) this.endCall(old.call);
    const managers = this.managerList();
    const session: Session = { nodeId, call, sent: new Map(), managersSent: JSON.stringify(managers) };
    this.sessions.set(nodeId, session);
    this.engineReport(nodeId, engineError);
    this.heard(nodeId);
    this.opts.log.info({ node: nodeId, hostname: d?.hostname, tasks: taskIds.length }, 'agent registered');
    call.write({ welcome: { node_id: nodeId, heartbeat_period_ms: this.period, managers } });
    this.sendTrust(session);
    this.push(session, true);
    return session;
  }

  /** The node's agent acted on its full assignment set: recorded on the node (status.syncedAt). */
  private async markSynced(nodeId: string): Promise<void> {
    await this.opts.store.update((tx) => {
      const n = tx.get('node', nodeId);
      if (n) tx.update({ ...n, status: { ...n.status, syncedAt: this.now } });
    });
  }

  /** The updates whose status is well-formed; the others are logged and dropped. */
  private validStatuses(nodeId: string, updates: { task_id: string; status_json: string }[]): { taskId: string; status: TaskStatus }[] {
    const out: { taskId: string; status: TaskStatus }[] = [];
    for (const u of updates) {
      const p = typeof u.task_id === 'string' && u.task_id.length > 0 && u.task_id.length <= 256
        ? parseTaskStatus(u.status_json ?? '')
        : { ok: false as const, error: 'task id is missing or too long' };
      if (p.ok) out.push({ taskId: u.task_id, status: p.status });
      else this.opts.log.warn({ node: nodeId, task: String(u.task_id).slice(0, 64), reason: p.error }, 'invalid task status dropped');
    }
    return out;
  }

  /** Apply task statuses reported by a node; a status never moves a task backwards. */
  private async updateStatuses(nodeId: string, updates: { taskId: string; status: TaskStatus }[]): Promise<void> {
    await this.opts.store.update((tx) => {
      for (const { taskId, status } of updates) {
        const t = tx.get('task', taskId);
        if (!t) continue; // deleted meanwhile
        if (t.nodeId !== nodeId) {
          this.opts.log.warn({ node: nodeId, task: taskId, owner: t.nodeId }, 'status for a task of another node dropped');
          continue;
        }
        const cur = t.status;
        if (isTerminal(cur.state) && cur.state !== status.state) continue;
        if (taskStateIndex(status.state) < taskStateIndex(cur.state)) continue;
        if (JSON.stringify({ ...cur, timestamp: 0 }) === JSON.stringify({ ...status, timestamp: 0 })) continue;
        tx.update(withStatus(t, status, this.now));
      }
    });
  }

  private schedulePush(): void {
    if (this.pushScheduled) return;
    this.pushScheduled = true;
    setImmediate(() => {
      this.pushScheduled = false;
      // The manager list may live in the store (and is cheap to compare): sent when it changed.
      const managers = this.sessions.size > 0 ? this.managerList() : [];
      for (const s of this.sessions.values()) {
        // One node's set that cannot be built (a malformed object) must not starve the others.
        try {
          this.sendManagers(s, managers);
          this.sendTrust(s);
          this.push(s, false);
        } catch (err) {
          this.opts.log.error({ err, node: s.nodeId }, 'pushing assignments failed');
        }
      }
    });
  }

  /** Send a node what changed in its assignment set since the last push (or everything). */
  private push(s: Session, full: boolean): void {
    const set = assignmentsFor(this.opts.store.state(), s.nodeId);
    const changes: Assignment[] = [];
    const want = new Map<string, string>();
    // The document is made only for what is sent: a secret is opened only when it goes out.
    const add = <O extends StoreObj>(kind: AssignmentKind, m: Map<string, O>, doc: (o: O) => unknown = (o) => o) => {
      for (const [id, obj] of m) {
        const k = `${kind}/${id}`;
        const v = String(obj.meta.version);
        want.set(k, v);
        if (full || s.sent.get(k) !== v) changes.push({ action: 'UPDATE', kind, id, object_json: JSON.stringify(doc(obj)) });
      }
    };
    // Order matters for the agent: networks, volumes, secrets and configs before the tasks that use them.
    add('NETWORK', set.networks);
    add('VOLUME', set.volumes);
    add('SECRET', set.secrets, (x) => this.secretDoc(s.nodeId, x));
    add('CONFIG', set.configs, configDoc);
    add('TASK', set.tasks);
    if (!full) {
      // Removals: tasks first, then what they used.
      // Volumes hold data: leaving the set never deletes one; only purgeVolumes() does.
      const removed = [...s.sent.keys()].filter((k) => !want.has(k) && !k.startsWith('VOLUME/')).sort((a, b) => (a.startsWith('TASK') ? -1 : 0) - (b.startsWith('TASK') ? -1 : 0));
      for (const k of removed) {
        const [kind, id] = k.split('/') as [AssignmentKind, string];
        changes.push({ action: 'REMOVE', kind, id, object_json: '' });
      }
    }
    s.sent = want;
    if (full || changes.length > 0) s.call.write({ assignments: { full, changes } });
  }

  /**
   * What a node gets of a secret: its value opened with the cluster's key (the session runs on
   * mutual TLS), or, when it cannot be opened, why: the agent fails the tasks that need it with
   * that reason. Only the secret's name and id are ever logged.
   */
  private secretDoc(nodeId: string, x: SecretObj): FileDoc {
    const head = { id: x.id, name: x.name, revision: x.revision };
    if (!this.opts.sealer) return { ...head, error: `the manager holds no key to open secrets, so secret ${x.name} cannot be delivered` };
    let value: Buffer;
    try {
      value = this.opts.sealer.open(x.sealed, `secret/${x.id}`);
    } catch (err) {
      this.opts.log.error({ node: nodeId, secret: x.name, secretId: x.id, err: (err as Error).message }, 'cannot open a secret to send it');
      return { ...head, error: `secret ${x.name} cannot be opened with the cluster's key` };
    }
    const data = value.toString('base64');
    value.fill(0);
    this.opts.log.debug({ node: nodeId, secret: x.name, secretId: x.id, revision: x.revision }, 'sending secret');
    return { ...head, data };
  }

  /** Explicitly tell nodes to delete volumes (stack rm --volumes): the full set never implies it. */
  purgeVolumes(volumes: { id: string; json: string }[]): void {
    for (const s of this.sessions.values()) {
      s.call.write({ assignments: { full: false, changes: volumes.map((v) => ({ action: 'REMOVE' as const, kind: 'VOLUME' as const, id: v.id, object_json: v.json })) } });
    }
  }

  /** The node a call comes from: its certificate's, or (the local socket) the manager's own. */
  private callerNode(call: Parameters<Authorizer['check']>[0], local: boolean, what: string): string | grpc.ServiceError {
    if (local || !this.opts.authorizer) return this.opts.managerNodeId ?? '';
    try {
      return this.opts.authorizer.check(call, 'node', what).nodeId;
    } catch (e) {
      return e as grpc.ServiceError;
    }
  }

  private onFetchImage(call: FetchCall, local: boolean): void {
    const who = this.callerNode(call, local, 'fetching an image');
    if (typeof who !== 'string') { call.on('error', () => undefined); call.emit('error', who); return; }
    if (!this.leaderState().isLeader) {
      const details = 'not the leader: images are relayed by the leader';
      call.on('error', () => undefined);
      call.emit('error', Object.assign(new Error(details), { code: grpc.status.FAILED_PRECONDITION, details }));
      return;
    }
    void this.images.onFetch(call, who);
  }

  private onBuild(call: BuildCall, local: boolean): void {
    const who = this.callerNode(call, local, 'building an image');
    if (typeof who !== 'string') { call.on('error', () => undefined); call.emit('error', who); return; }
    this.builds.onCall(call, who);
  }

  private onPushImage(call: PushCall, cb: grpc.sendUnaryData<unknown>, local: boolean): void {
    const who = this.callerNode(call, local, 'sending an image');
    if (typeof who !== 'string') { cb(who); return; }
    this.images.onPush(call, cb, local ? undefined : who, this.opts.managerNodeId);
  }

  private onPublishLogs(call: grpc.ServerReadableStream<LogChunk__Output, unknown>, cb: grpc.sendUnaryData<unknown>, local: boolean): void {
    let peer: AuthorizedPeer | undefined;
    if (!local && this.opts.authorizer) {
      try {
        peer = this.opts.authorizer.check(call, 'node', 'publishing logs');
      } catch (e) {
        cb(e as grpc.ServiceError);
        return;
      }
    }
    call.on('data', (c: LogChunk__Output) => {
      const sub = this.logSubs.get(c.request_id);
      if (!sub) return;
      // A node answers only the log requests sent to it.
      if (peer && sub.nodeId !== peer.nodeId) return;
      if (c.data && c.data.length) sub.onLine({ taskId: c.task_id, stream: c.stream === 'stderr' ? 'stderr' : 'stdout', data: Buffer.from(c.data), timestampMs: Number(c.timestamp_ms) });
      if (c.eof) {
        if (c.task_id) sub.pendingTasks.delete(c.task_id);
        if (!c.task_id || sub.pendingTasks.size === 0) { this.logSubs.delete(c.request_id); sub.onEnd(); }
      }
    });
    call.on('end', () => cb(null, {}));
    call.on('error', () => undefined);
  }
}
