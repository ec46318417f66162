// The agent's end of the session with a manager: registers, feeds assignments to the worker,
// sends heartbeats and batched task statuses, answers log requests. Reconnects with backoff;
// while no manager is reachable the worker keeps its containers running.

import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { dispatcherProto } from '../proto/load.js';
import type { DispatcherClient } from '../proto/gen/tsswarm/dispatcher/v1/Dispatcher.js';
import type { AgentMessage } from '../proto/gen/tsswarm/dispatcher/v1/AgentMessage.js';
import type { ManagerMessage__Output } from '../proto/gen/tsswarm/dispatcher/v1/ManagerMessage.js';
import type { NodeDescription } from '../proto/gen/tsswarm/dispatcher/v1/NodeDescription.js';
import type { TaskStatus } from '../common/api/objects.js';
import type { LogLine, LogRequest } from '../common/api/logs.js';

/** What the session needs from the worker (agent/worker implements it). */
export interface SessionWorker {
  localTaskIds(): Promise<string[]>;
  assign(full: boolean, changes: { action: 'update' | 'remove'; kind: 'task' | 'network' | 'volume'; id: string; obj?: any }[]): void;
  logs(req: LogRequest, onLine: (l: LogLine) => void, onEnd: () => void): () => void;
  /** Resolves once the assignments received so far have been acted on. */
  applied(): Promise<void>;
}

export interface SessionOptions {
  /** Manager address: unix:///path/dispatcher.sock or host:port. */
  manager: string;
  nodeId?: string;
  describe: () => Promise<NodeDescription>;
  log: Logger;
  credentials?: grpc.ChannelCredentials;
  /** Called when the manager assigns or confirms this node's id (persist it). */
  onNodeId?: (id: string) => void;
}

export class AgentSession {
  private client: DispatcherClient;
  private call?: grpc.ClientDuplexStream<AgentMessage, ManagerMessage__Output>;
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
    const proto = dispatcherProto().tsswarm.dispatcher.v1;
    this.client = new proto.Dispatcher(opts.manager, opts.credentials ?? grpc.credentials.createInsecure(), {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.max_receive_message_length': 64 << 20,
    });
    this.nodeId = opts.nodeId;
    this.connected = new Promise((resolve) => { this.connectedOnce = resolve; });
  }

  get id(): string | undefined { return this.nodeId; }

  start(worker: SessionWorker): void {
    this.worker = worker;
    void this.connect();
  }

  /** Queue a task status; statuses are sent in batches. */
  report(taskId: string, status: TaskStatus): void {
    this.pending.set(taskId, status);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setTimeout(() => this.flush(), 20);
  }

  close(): void {
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    for (const c of this.logCancels.values()) c();
    this.call?.end();
    this.client.close();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (!this.call || this.pending.size === 0) return;
    const updates = [...this.pending].map(([task_id, s]) => ({ task_id, status_json: JSON.stringify(s) }));
    this.pending.clear();
    this.call.write({ statuses: { updates } });
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
    const call = this.client.Session();
    this.call = call;
    let welcomed = false;
    call.on('data', (msg: ManagerMessage__Output) => {
      if (msg.welcome) {
        welcomed = true;
        this.backoffMs = 100;
        this.nodeId = msg.welcome.node_id;
        this.opts.onNodeId?.(this.nodeId);
        if (this.heartbeat) clearInterval(this.heartbeat);
        this.heartbeat = setInterval(() => this.call?.write({ heartbeat: {} }), Math.max(100, msg.welcome.heartbeat_period_ms || 1000));
        this.opts.log.info({ node: this.nodeId, manager: this.opts.manager }, 'session established');
        this.connectedOnce?.();
        this.flush();
      } else if (msg.assignments) {
        const a = msg.assignments;
        this.worker!.assign(a.full, a.changes.map((c) => ({
          action: c.action === 'REMOVE' ? 'remove' : 'update',
          kind: c.kind === 'NETWORK' ? 'network' : c.kind === 'VOLUME' ? 'volume' : 'task',
          id: c.id,
          obj: c.object_json ? JSON.parse(c.object_json) : undefined,
        })));
        // Tell the manager once the full set was acted on (statuses first): `node inspect`
        // shows it as status.syncedAt, and it is what proves a restarted node adopted its tasks.
        if (a.full) {
          void this.worker!.applied().then(() => {
            if (this.call !== call) return;
            this.flush();
            call.write({ heartbeat: { full_set_applied: true } });
          }, (err: Error) => this.opts.log.warn({ err: err.message }, 'could not settle the full assignment set'));
        }
      } else if (msg.logs) {
        this.serveLogs(msg.logs.request_id, msg.logs.task_ids, msg.logs.follow, msg.logs.tail, msg.logs.timestamps);
      } else if (msg.logs_cancel) {
        this.logCancels.get(msg.logs_cancel.request_id)?.();
        this.logCancels.delete(msg.logs_cancel.request_id);
      }
    });
    const lost = (err?: Error) => {
      if (this.call !== call) return;
      this.call = undefined;
      if (this.heartbeat) clearInterval(this.heartbeat);
      if (!this.stopped) {
        this.opts.log[welcomed ? 'warn' : 'debug']({ err: err?.message, manager: this.opts.manager }, 'session lost; reconnecting');
        this.retry();
      }
    };
    call.on('error', (err) => lost(err));
    call.on('end', () => lost());
    call.write({ register: { node_id: this.nodeId ?? '', description, task_ids: taskIds } });
  }

  private retry(): void {
    if (this.stopped) return;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 5000);
    this.reconnectTimer = setTimeout(() => void this.connect(), wait);
  }

  private serveLogs(requestId: string, taskIds: string[], follow: boolean, tail: number, timestamps: boolean): void {
    const stream = this.client.PublishLogs(() => undefined);
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
