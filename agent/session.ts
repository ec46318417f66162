// The agent's end of the session with a manager: registers, feeds assignments to the worker,
// sends heartbeats and batched task statuses, answers log requests. Reconnects with backoff;
// while no manager is reachable the worker keeps its containers running.
//
// Sessions are kept with the Raft leader's dispatcher only. A manager that is not the leader
// ends the call with FAILED_PRECONDITION and, when it knows the leader, its address in the
// trailing metadata `tsswarm-leader`: the agent goes there at once (a few times in a row at
// most, then with backoff). A session lost otherwise (the manager died, the stream ended, no
// leader known) moves to the next known manager with backoff, cycling through them all. The
// known managers are the ones it was started with plus the list the leader sends (Welcome,
// then ManagerList). A new session re-registers with the node id and the local task ids; the
// worker and its containers are not touched.

import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { dispatcherProto } from '../proto/load.js';
import { MANAGER_CHANNEL_OPTIONS, type NodeCredentials } from '../proto/credentials.js';
import type { DispatcherClient } from '../proto/gen/tsswarm/dispatcher/v1/Dispatcher.js';
import type { AgentMessage } from '../proto/gen/tsswarm/dispatcher/v1/AgentMessage.js';
import type { ManagerMessage__Output } from '../proto/gen/tsswarm/dispatcher/v1/ManagerMessage.js';
import type { NodeDescription } from '../proto/gen/tsswarm/dispatcher/v1/NodeDescription.js';
import type { TaskStatus } from '../common/api/objects.js';
import type { LogLine, LogRequest } from '../common/api/logs.js';
import type { ImageFetchRequest } from '../proto/gen/tsswarm/dispatcher/v1/ImageFetchRequest.js';
import type { FetchStream, ImageAnswer, ImageWire, PushStream } from './exec/images.js';
import type { BuildStream } from './exec/build.js';

/** What the session needs from the worker (agent/worker implements it). */
export interface SessionWorker {
  localTaskIds(): Promise<string[]>;
  assign(full: boolean, changes: { action: 'update' | 'remove'; kind: AssignmentKind; id: string; obj?: any }[]): void;
  logs(req: LogRequest, onLine: (l: LogLine) => void, onEnd: () => void): () => void;
  /** Resolves once the assignments received so far have been acted on. */
  applied(): Promise<void>;
  /** Why the node's Docker engine does not answer ('' while it does); sent with every heartbeat. */
  readonly engineError?: string;
}

export interface SessionOptions {
  /** Manager address to try first: unix:///path/dispatcher.sock or host:port. */
  manager: string;
  /** More manager addresses to fall back to (same forms); the leader's list is added to them. */
  managers?: string[];
  nodeId?: string;
  describe: () => Promise<NodeDescription>;
  log: Logger;
  /**
   * This node's certificate: sessions to managers over the network are mutual TLS with it
   * (a unix socket, the embedded agent's way to its own manager, needs none).
   */
  credentials?: NodeCredentials;
  /** Called when the manager assigns or confirms this node's id (persist it). */
  onNodeId?: (id: string) => void;
  /** Called with the cluster's roots when the leader sends them (at registration, and on a CA rotation). */
  onTrust?: (t: { issuer: string; caPems: string[] }) => void;
  /** Images the cluster asks of this node, or sends it (agent/exec/images.ts); absent: it holds none. */
  images?: SessionImages;
  /** Builds the CLI asks of this node (`--builder-node`, agent/exec/build.ts); absent: it builds none. */
  builds?: { run(requestId: string, call: BuildStream): Promise<void> };
}

/** What the session needs of the node's image shipper. */
export interface SessionImages {
  query(ref: string): Promise<ImageAnswer>;
  send(requestId: string, ref: string, haveChains: string[], push: PushStream): Promise<void>;
  receiveUpload(uploadId: string, ref: string): Promise<ImageAnswer>;
}

export type AssignmentKind = 'task' | 'network' | 'volume' | 'secret' | 'config';

/** The wire's assignment kinds (proto/dispatcher.proto) as the worker names them. */
const KINDS: Record<string, AssignmentKind> = { TASK: 'task', NETWORK: 'network', VOLUME: 'volume', SECRET: 'secret', CONFIG: 'config' };

/** Trailing metadata of a refused Session: the leader's address (proto/dispatcher.proto). */
const LEADER_METADATA = 'tsswarm-leader';
/** Redirects followed at once in a row (then with backoff): two managers that each name the other cannot spin the agent. */
const MAX_REDIRECTS = 3;

type SessionCall = grpc.ClientDuplexStream<AgentMessage, ManagerMessage__Output>;

export class AgentSession implements ImageWire {
  private readonly clients = new Map<string, DispatcherClient>();
  /** The addresses the agent was started with, then the leader's list (replaced by each new one). */
  private readonly initial: string[];
  private learned: string[] = [];
  /** The address being tried (or the session's). */
  private addr: string;
  private redirects = 0;
  private call?: SessionCall;
  /** The call once welcomed: statuses and heartbeats go only there. */
  private live?: SessionCall;
  private worker?: SessionWorker;
  private nodeId: string | undefined;
  private stopped = false;
  private backoffMs = 100;
  private heartbeat?: NodeJS.Timeout;
  private reconnectTimer?: NodeJS.Timeout;
  private pending = new Map<string, TaskStatus>();
  private flushScheduled = false;
  private readonly logCancels = new Map<string, () => void>();
  private connectedOnce?: () => void;
  readonly connected: Promise<void>;

  constructor(private readonly opts: SessionOptions) {
    this.initial = unique([opts.manager, ...(opts.managers ?? [])]);
    this.addr = opts.manager;
    this.nodeId = opts.nodeId;
    this.connected = new Promise((resolve) => { this.connectedOnce = resolve; });
  }

  get id(): string | undefined { return this.nodeId; }

  /** The address of the manager the session is established with (undefined between sessions). */
  get manager(): string | undefined { return this.live ? this.addr : undefined; }

  /** The managers this agent knows of, in the order it tries them. */
  knownManagers(): string[] { return unique([...this.initial, ...this.learned]); }

  /** One gRPC client per manager address, made when first needed. */
  private client(addr: string): DispatcherClient {
    let c = this.clients.get(addr);
    if (!c) {
      const proto = dispatcherProto().tsswarm.dispatcher.v1;
      const tls = !addr.startsWith('unix:') && this.opts.credentials;
      c = new proto.Dispatcher(addr, tls ? tls.channelCredentials() : grpc.credentials.createInsecure(), {
        ...(tls ? MANAGER_CHANNEL_OPTIONS : {}),
        // A connection of its own, closed with this client: a renewed certificate then takes
        // a new handshake (a shared one would keep presenting the old certificate).
        'grpc.use_local_subchannel_pool': 1,
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        'grpc.max_receive_message_length': 64 << 20,
        // Images arrive on this connection (FetchImage): a window wider than HTTP/2's 64 KiB
        // keeps a busy host's event loop from throttling them.
        'grpc-node.flow_control_window': 8 << 20,
      });
      this.clients.set(addr, c);
    }
    return c;
  }

  start(worker: SessionWorker): void {
    this.worker = worker;
    void this.connect();
  }

  /**
   * New credentials (a renewed certificate, new roots): the connections made with the old ones
   * are closed and the session is established again on a new one, at once (the manager would
   * cut it when the old certificate expires). The worker and its containers are not touched.
   */
  credentialsChanged(): void {
    const old = [...this.clients.values()];
    this.clients.clear();
    const call = this.call;
    if (call) {
      this.call = this.live = undefined;
      if (this.heartbeat) clearInterval(this.heartbeat);
      call.cancel();
    }
    for (const c of old) c.close();
    if (call && !this.stopped) void this.connect();
  }

  /**
   * The engine's state changed: a heartbeat (which carries it) goes at once, not at the next
   * period, so the manager stops placing tasks here (or starts again) without delay.
   */
  engineChanged(): void {
    this.live?.write({ heartbeat: this.beat() });
  }

  private beat(extra: { full_set_applied?: boolean } = {}): { full_set_applied?: boolean; engine_error: string } {
    return { ...extra, engine_error: this.worker?.engineError ?? '' };
  }

  /** Queue a task status; statuses are sent in batches. */
  report(taskId: string, status: TaskStatus): void {
    this.pending.set(taskId, status);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setTimeout(() => this.flush(), 20);
  }

  /** FetchImage on the manager the session is established with (undefined between sessions). */
  fetchImage(req: ImageFetchRequest): FetchStream | undefined {
    if (!this.live) return undefined;
    return this.client(this.addr).FetchImage(req) as unknown as FetchStream;
  }

  close(): void {
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    for (const c of this.logCancels.values()) c();
    this.call?.end();
    this.call = this.live = undefined;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private flush(): void {
    this.flushScheduled = false;
    // Not before Welcome: a manager that refuses the session would drop them.
    if (!this.live || this.pending.size === 0) return;
    const updates = [...this.pending].map(([task_id, s]) => ({ task_id, status_json: JSON.stringify(s) }));
    this.pending.clear();
    this.live.write({ statuses: { updates } });
  }

  private async connect(): Promise<void> {
    if (this.stopped || !this.worker) return;
    let description: NodeDescription;
    let taskIds: string[];
    try {
      [description, taskIds] = await Promise.all([this.opts.describe(), this.worker.localTaskIds()]);
    } catch (err) {
      this.opts.log.warn({ err }, 'cannot describe this node (is the Docker engine up?); retrying');
      return this.retry();
    }
    if (this.stopped) return;
    const addr = this.addr;
    const call = this.client(addr).Session();
    this.call = call;
    let welcomed = false;
    call.on('data', (msg: ManagerMessage__Output) => {
      if (this.call !== call) return;
      if (msg.welcome) {
        welcomed = true;
        this.live = call;
        this.backoffMs = 100;
        this.redirects = 0;
        this.nodeId = msg.welcome.node_id;
        this.opts.onNodeId?.(this.nodeId);
        this.learn(msg.welcome.managers);
        if (this.heartbeat) clearInterval(this.heartbeat);
        this.heartbeat = setInterval(() => this.live?.write({ heartbeat: this.beat() }), Math.max(100, msg.welcome.heartbeat_period_ms || 1000));
        this.opts.log.info({ node: this.nodeId, manager: addr, managers: this.knownManagers() }, 'session established');
        this.connectedOnce?.();
        this.flush();
      } else if (msg.trust) {
        this.opts.onTrust?.({ issuer: msg.trust.issuer_digest, caPems: msg.trust.ca_pems ?? [] });
      } else if (msg.managers) {
        this.learn(msg.managers.managers);
        this.opts.log.debug({ managers: this.knownManagers() }, 'manager list updated');
      } else if (msg.assignments) {
        const a = msg.assignments;
        // A kind this agent does not know (a newer manager) is skipped, never taken for a task.
        this.worker!.assign(a.full, a.changes.filter((c) => KINDS[c.kind] !== undefined).map((c) => ({
          action: c.action === 'REMOVE' ? 'remove' : 'update',
          kind: KINDS[c.kind],
          id: c.id,
          obj: c.object_json ? JSON.parse(c.object_json) : undefined,
        })));
        // Tell the manager once the full set was acted on (statuses first): `node inspect`
        // shows it as status.syncedAt, and it is what proves a restarted node adopted its tasks.
        if (a.full) {
          void this.worker!.applied().then(() => {
            if (this.call !== call) return;
            this.flush();
            call.write({ heartbeat: this.beat({ full_set_applied: true }) });
          }, (err: Error) => this.opts.log.warn({ err: err.message }, 'could not settle the full assignment set'));
        }
      } else if (msg.logs) {
        this.serveLogs(addr, msg.logs.request_id, msg.logs.task_ids, msg.logs.follow, msg.logs.tail, msg.logs.timestamps);
      } else if (msg.image_query) {
        const q = msg.image_query;
        const answer = this.opts.images ? this.opts.images.query(q.ref) : Promise.resolve({ has: false, image_id: '', error: 'no image shipper' });
        void answer.then((a) => { if (this.call === call) call.write({ image_have: { query_id: q.query_id, ...a } }); });
      } else if (msg.image_send) {
        const m = msg.image_send;
        // To the manager whose session asked: it holds the relay.
        // The manager ends the call early (the receiver went away): the sender stops on 'error'.
        const push = this.client(addr).PushImage((err: grpc.ServiceError | null) => { const ee = push as unknown as NodeJS.EventEmitter; if (err && ee.listenerCount('error')) ee.emit('error', err); }) as unknown as PushStream;
        if (this.opts.images) void this.opts.images.send(m.request_id, m.ref, m.have_chains ?? [], push);
        else { push.write({ request_id: m.request_id, error: 'this agent ships no images' }); push.end(); }
      } else if (msg.image_receive) {
        const m = msg.image_receive;
        const answer = this.opts.images ? this.opts.images.receiveUpload(m.upload_id, m.ref) : Promise.resolve({ has: false, image_id: '', error: 'this agent takes no images' });
        void answer.then((a) => this.live?.write({ image_have: { query_id: m.upload_id, ...a } }));
      } else if (msg.build_start) {
        // To the manager whose session asked: it holds the build.
        const id = msg.build_start.request_id;
        const build = this.client(addr).Build() as unknown as BuildStream;
        if (this.opts.builds) void this.opts.builds.run(id, build);
        else {
          build.on('error', () => undefined);
          build.write({ request_id: id });
          build.write({ result: { error: 'this agent runs no builds' } });
          build.end();
        }
      } else if (msg.logs_cancel) {
        this.logCancels.get(msg.logs_cancel.request_id)?.();
        this.logCancels.delete(msg.logs_cancel.request_id);
      }
    });
    // The call's end, seen once: an error or a status says how (a refusal names the leader);
    // a bare end of the stream (after which grpc-js still reports a status) waits a turn.
    const ended = (how?: { code?: number; details?: string; metadata?: grpc.Metadata }) => {
      if (this.call !== call) return;
      this.call = this.live = undefined;
      if (this.heartbeat) clearInterval(this.heartbeat);
      if (this.stopped) return;
      const leader = how?.code === grpc.status.FAILED_PRECONDITION ? String(how.metadata?.get(LEADER_METADATA)[0] ?? '') : '';
      if (leader && leader !== addr) return this.redirect(addr, leader, welcomed);
      this.addr = this.next(addr);
      this.opts.log[welcomed ? 'warn' : 'debug']({ err: how?.details, code: how?.code, manager: addr, next: this.addr }, 'session lost; trying the next manager');
      this.retry();
    };
    call.on('error', (err: grpc.ServiceError) => ended(err));
    call.on('status', (status: grpc.StatusObject) => ended(status));
    call.on('end', () => setImmediate(() => ended()));
    call.write({ register: { node_id: this.nodeId ?? '', description, task_ids: taskIds, engine_error: this.worker.engineError ?? '' } });
  }

  /** A manager that is not the leader named it: go there at once, unless that keeps happening. */
  private redirect(from: string, leader: string, wasWelcomed: boolean): void {
    if (!this.knownManagers().includes(leader)) this.learned.push(leader);
    this.addr = leader;
    if (this.redirects < MAX_REDIRECTS) {
      this.redirects++;
      this.opts.log[wasWelcomed ? 'info' : 'debug']({ manager: from, leader }, wasWelcomed ? 'the manager is no longer the leader; going to the leader' : 'not the leader; going to the leader');
      void this.connect();
    } else {
      this.opts.log.debug({ manager: from, leader }, 'redirected too often in a row; backing off');
      this.retry();
    }
  }

  /** The known manager after `addr` (the first when `addr` is no longer known). */
  private next(addr: string): string {
    const list = this.knownManagers();
    return list[(list.indexOf(addr) + 1) % list.length];
  }

  /** The leader's list of managers replaces the previous one (the initial addresses stay). */
  private learn(managers: string[] | undefined): void {
    this.learned = unique((managers ?? []).filter((m) => typeof m === 'string' && m.length > 0));
  }

  private retry(): void {
    if (this.stopped) return;
    this.redirects = 0;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 5000);
    this.reconnectTimer = setTimeout(() => void this.connect(), wait);
  }

  private serveLogs(addr: string, requestId: string, taskIds: string[], follow: boolean, tail: number, timestamps: boolean): void {
    // To the manager whose session asked: it holds the request.
    const stream = this.client(addr).PublishLogs(() => undefined);
    const cancel = this.worker!.logs({ taskIds, follow, tail, timestamps },
      (c) => stream.write({ request_id: requestId, task_id: c.taskId, stream: c.stream, data: c.data, timestamp_ms: c.timestampMs, eof: false }),
      () => {
        this.logCancels.delete(requestId);
        stream.write({ request_id: requestId, task_id: '', stream: '', data: Buffer.alloc(0), timestamp_ms: Date.now(), eof: true });
        stream.end();
      });
    this.logCancels.set(requestId, () => { cancel(); stream.end(); });
  }
}

const unique = (xs: string[]): string[] => [...new Set(xs)];
