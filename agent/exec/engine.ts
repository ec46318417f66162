// Whether the node's Docker engine answers. A ping with a short timeout, run when something
// suggests the engine is gone (the event stream broke, an engine call failed), every second
// while it is down, and now and then while it is up. The worker waits instead of failing tasks
// while the engine is down, the session tells the manager (Heartbeat.engine_error), and when
// the engine answers again the worker resyncs at once.

import { request } from 'node:http';
import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import { AgentErrorCodes, TaskError, isEngineUnavailable } from '../errors.js';
import { engineMessage } from './container.js';

export interface EngineWatchOptions {
  /** One ping of the engine; must give up when `signal` aborts. */
  ping: (signal: AbortSignal) => Promise<unknown>;
  log: Logger;
  /** A ping not answered within this is a failure (default 2 s). */
  timeoutMs?: number;
  /** Pings while the engine is down (default 1 s). */
  downIntervalMs?: number;
  /** Pings while it is up (default 5 s): events and failed calls usually tell first. */
  upIntervalMs?: number;
  /**
   * A ping that timed out (the engine may only be busy) is confirmed by this many more, this
   * far apart, before the engine counts as down (default 2, 500 ms). A refused connection or a
   * missing socket counts at once.
   */
  confirmTimeouts?: number;
  confirmIntervalMs?: number;
}

/** Whether an error from an engine call may mean the engine itself is gone (then it is probed). */
export function mayBeEngineGone(err: unknown): boolean {
  if (err instanceof TaskError) return err.code === AgentErrorCodes.ENGINE_UNAVAILABLE || err.code === AgentErrorCodes.IMAGE_NOT_FOUND;
  if (isEngineUnavailable(err)) return true;
  const e = err as { name?: string; code?: string; statusCode?: number };
  // An answer with an HTTP status came from the engine; anything else (a dropped socket, an
  // aborted or timed-out call) may be its absence. A server error too: an engine shutting down
  // still answers, with 500s ("failed to update store for object type *libnetwork.endpoint").
  return e?.statusCode === undefined || e.statusCode >= 500;
}

/**
 * `GET /_ping` on a connection of its own, never a kept-alive one: an engine shutting down closes
 * its listening socket first and goes on answering the connections it already has (it stops
 * the containers meanwhile), so only a new connection tells that it is going away.
 */
export function pingEngine(docker: Dockerode, signal: AbortSignal): Promise<void> {
  // The agent's engine is a unix socket or plain tcp (common/docker-host.ts).
  const m = docker.modem as { socketPath?: string; host?: string; port?: number | string };
  return new Promise((resolve, reject) => {
    const req = request({
      ...(m.socketPath ? { socketPath: m.socketPath } : { host: m.host, port: Number(m.port ?? 2375) }),
      path: '/_ping', method: 'GET', agent: false, signal,
    }, (res) => {
      res.resume();
      res.on('end', () => {
        if ((res.statusCode ?? 0) < 400) resolve();
        else reject(Object.assign(new Error(`the engine answered its ping with HTTP ${res.statusCode}`), { statusCode: res.statusCode }));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** What a failed ping says, as shown to users ("waiting for the Docker engine: …", `node ls`). */
export function pingError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string };
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return `no answer within ${timeoutMs < 1000 ? `${timeoutMs}ms` : `${Math.round(timeoutMs / 100) / 10}s`}`;
  return engineMessage(err) || 'no answer';
}

export class EngineWatch {
  private error = '';
  private since = 0;
  private timer?: NodeJS.Timeout;
  private probing?: Promise<boolean>;
  /** Pings on a timer only between start() and stop(). */
  private started = false;
  private stopped = false;
  private readonly listeners = new Set<(error: string) => void>();
  private readonly timeoutMs: number;

  constructor(private readonly opts: EngineWatchOptions) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
  }

  /** '' while the engine answers; otherwise why it does not. */
  get lastError(): string { return this.error; }
  get up(): boolean { return this.error === ''; }

  /** Called with the new error ('' = answers again) each time the engine's state changes. */
  onChange(listener: (error: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Probe now, then on the timer. Resolves with whether the engine answered. */
  start(): Promise<boolean> {
    this.started = true;
    return this.check();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * An engine call failed with `err`: if that may mean the engine is gone, probe it now.
   * Resolves with whether the engine is down (the caller then waits for it instead of failing).
   */
  async suspect(err: unknown): Promise<boolean> {
    if (!mayBeEngineGone(err)) return false;
    return !(await this.check());
  }

  /** Ping the engine now (one ping at a time: callers share it). Resolves with whether it answered. */
  check(): Promise<boolean> {
    if (!this.probing) {
      const p = this.probe().finally(() => { if (this.probing === p) this.probing = undefined; });
      this.probing = p;
    }
    return this.probing;
  }

  private async probe(): Promise<boolean> {
    let error = '';
    for (let i = 0; ; i++) {
      const r = await this.ping();
      error = r.error;
      // Down at once unless the engine was up and only timed out: then confirmed first.
      if (!error || !r.timedOut || !this.up || i >= (this.opts.confirmTimeouts ?? 2) || this.stopped) break;
      await new Promise((resolve) => setTimeout(resolve, this.opts.confirmIntervalMs ?? 500));
    }
    this.set(error);
    this.arm();
    return error === '';
  }

  private async ping(): Promise<{ error: string; timedOut: boolean }> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), this.timeoutMs);
    try {
      await this.opts.ping(ac.signal);
      return { error: '', timedOut: false };
    } catch (err) {
      const timedOut = ac.signal.aborted;
      return { error: pingError(timedOut ? Object.assign(new Error('timeout'), { name: 'AbortError' }) : err, this.timeoutMs), timedOut };
    } finally {
      clearTimeout(timer);
    }
  }

  private set(error: string): void {
    const was = this.error;
    this.error = error;
    if ((was === '') === (error === '')) return;
    if (error) {
      this.since = Date.now();
      this.opts.log.warn({ err: error }, 'the Docker engine does not answer: tasks wait for it');
    } else {
      this.opts.log.info({ downMs: Date.now() - this.since }, 'the Docker engine answers again');
    }
    for (const l of this.listeners) l(error);
  }

  private arm(): void {
    if (!this.started || this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const every = this.error ? this.opts.downIntervalMs ?? 1000 : this.opts.upIntervalMs ?? 5000;
    this.timer = setTimeout(() => { this.timer = undefined; void this.check(); }, every);
    this.timer.unref();
  }
}
