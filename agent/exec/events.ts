// The engine's event stream for this node's containers, reconnected with backoff when it breaks.
// After every (re)connect `onConnect` fires: events may have been missed, so the caller resyncs.
// A broken stream (or a failed subscription) is passed to `onLost`: the engine may be gone.
// While the engine is known not to answer, no retries: `reconnectNow` (the engine answers
// again) subscribes at once.

import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import { LABEL } from './container.js';

export interface ContainerEvent {
  action: string; // die, start, health_status: healthy, oom, destroy, ...
  containerId: string;
  taskId: string;
  attributes: Record<string, string>;
}

export class EngineEvents {
  private stream?: NodeJS.ReadableStream & { destroy?: () => void };
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private backoffMs = 100;
  private connecting = false;

  constructor(
    private readonly docker: Dockerode,
    private readonly nodeId: string,
    private readonly log: Logger,
    private readonly onEvent: (e: ContainerEvent) => void,
    private readonly onConnect: () => void,
    private readonly onLost: (err: unknown) => void = () => undefined,
    /** Whether the engine answers: while it does not, retries wait for `reconnectNow`. */
    private readonly engineUp: () => boolean = () => true,
  ) {}

  /** Resolves once the first subscription is up (or failed: it keeps retrying in the background). */
  async start(): Promise<void> {
    await this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.stream?.destroy?.();
    this.stream = undefined;
  }

  /** Subscribe at once if no stream is open (the engine answers again): no backoff. */
  reconnectNow(): void {
    if (this.stopped) return;
    // An attempt in flight that fails retries after the shortest wait.
    this.backoffMs = 100;
    if (this.stream || this.connecting) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped || this.connecting || this.stream) return;
    this.connecting = true;
    try {
      await this.subscribe();
    } finally {
      this.connecting = false;
    }
  }

  private async subscribe(): Promise<void> {
    let stream: NodeJS.ReadableStream & { destroy?: () => void };
    try {
      stream = (await this.docker.getEvents({
        filters: {
          type: ['container'],
          label: [`${LABEL.nodeId}=${this.nodeId}`],
          event: ['create', 'start', 'die', 'oom', 'health_status', 'destroy', 'stop', 'kill', 'pause', 'unpause'],
        } as never,
      })) as typeof stream;
    } catch (err) {
      this.log[this.engineUp() ? 'warn' : 'debug']({ err: (err as Error).message }, 'cannot subscribe to engine events; retrying');
      this.retry();
      this.onLost(err);
      return;
    }
    if (this.stopped) {
      stream.destroy?.();
      return;
    }
    this.stream = stream;
    this.backoffMs = 100;
    let buf = '';
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        try {
          const ev = JSON.parse(line) as { Action?: string; status?: string; id?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
          const attrs = ev.Actor?.Attributes ?? {};
          const taskId = attrs[LABEL.taskId];
          if (!taskId) continue;
          this.onEvent({ action: ev.Action ?? ev.status ?? '', containerId: ev.Actor?.ID ?? ev.id ?? '', taskId, attributes: attrs });
        } catch (err) {
          this.log.debug({ err: (err as Error).message }, 'bad engine event');
        }
      }
    });
    const lost = (err?: Error) => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      if (this.stopped) return;
      this.log.warn({ err: err?.message }, 'engine event stream lost; reconnecting');
      this.retry();
      this.onLost(err ?? new Error('engine event stream ended'));
    };
    stream.on('error', lost);
    stream.on('end', () => lost());
    stream.on('close', () => lost());
    this.onConnect();
  }

  private retry(): void {
    if (this.stopped) return;
    // The engine is known to be down: it answering again calls reconnectNow.
    if (!this.engineUp()) return;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 5_000);
    this.timer = setTimeout(() => void this.connect(), wait);
  }
}
