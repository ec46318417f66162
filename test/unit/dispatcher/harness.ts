// Several managers' dispatchers in one process: real gRPC servers on loopback ports (and a unix
// socket each), one shared in-memory store, and a leader the test moves at will. What the
// tests wait on are events (log records, dispatcher callbacks), each with a bound.
import * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { afterEach } from 'vitest';
import type { SessionWorker } from '../../../agent/session.js';
import { Dispatcher } from '../../../manager/dispatcher/dispatcher.js';
import { Store } from '../../../manager/store/store.js';
import { dispatcherProto } from '../../../proto/load.js';
import type { AgentMessage } from '../../../proto/gen/tsswarm/dispatcher/v1/AgentMessage.js';
import type { ManagerMessage__Output } from '../../../proto/gen/tsswarm/dispatcher/v1/ManagerMessage.js';
import { memoryLog } from '../store/memory-log.js';

export type LogRecord = Record<string, unknown> & { msg?: string; level: number };

/** A logger whose records are kept and can be waited for. */
export class LogTap {
  readonly records: LogRecord[] = [];
  private readonly waiters = new Set<{ pred: (r: LogRecord) => boolean; resolve: (r: LogRecord) => void }>();
  readonly log: Logger;

  constructor(level: pino.Level = 'debug') {
    const stream = new Writable({
      write: (chunk, _enc, cb) => {
        const r = JSON.parse(String(chunk)) as LogRecord;
        this.records.push(r);
        for (const w of [...this.waiters]) if (w.pred(r)) { this.waiters.delete(w); w.resolve(r); }
        cb();
      },
    });
    this.log = pino({ level }, stream);
  }

  /** The first record from index `from` on (already logged or to come) matching `pred`; fails after `timeoutMs`. */
  waitFor(what: string, pred: (r: LogRecord) => boolean, timeoutMs = 10_000, from = 0): Promise<LogRecord> {
    const seen = this.records.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (r: LogRecord) => { clearTimeout(timer); resolve(r); } };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; records: ${JSON.stringify(this.records.map((r) => r.msg))}`));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  count(pred: (r: LogRecord) => boolean): number { return this.records.filter(pred).length; }
}

export interface Managers {
  store: Store;
  dispatchers: Dispatcher[];
  /** Each dispatcher's TCP address (127.0.0.1:port). */
  addrs: string[];
  /** Each dispatcher's unix socket address (unix:///path). */
  sockets: string[];
  taps: LogTap[];
  /** The leader's index (undefined: none elected); what every dispatcher's leader() reports. */
  leader: number | undefined;
  /** What every dispatcher's managers() reports (default: every TCP address). */
  managers?: string[];
  /** Overrides what dispatcher i's leader() reports (managers that disagree). */
  leaderOf?: (i: number) => { isLeader: boolean; leaderAddr?: string };
  /** Closes dispatcher i (a manager that died); close() skips it. */
  kill(i: number): Promise<void>;
  close(): Promise<void>;
}

/** `n` dispatchers sharing one store; `leader` is the index of the first leader (or none). */
export async function startManagers(n: number, leader: number | undefined): Promise<Managers> {
  const dir = mkdtempSync(join(tmpdir(), 'tsswarm-managers-'));
  const store = new Store(memoryLog());
  await store.open();
  const dead = new Set<number>();
  const m: Managers = {
    store, dispatchers: [], addrs: [], sockets: [], taps: [], leader,
    async kill(i) {
      dead.add(i);
      await m.dispatchers[i].close();
    },
    async close() {
      for (const [i, d] of m.dispatchers.entries()) if (!dead.has(i)) await d.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  for (let i = 0; i < n; i++) {
    const tap = new LogTap();
    const d = new Dispatcher({
      store,
      log: tap.log,
      heartbeatPeriodMs: 60_000,
      leader: () => m.leaderOf?.(i) ?? { isLeader: m.leader === i, leaderAddr: m.leader === undefined ? undefined : m.addrs[m.leader] },
      managers: () => m.managers ?? m.addrs,
    });
    const socket = `unix://${join(dir, `d${i}.sock`)}`;
    const [port] = await d.listen(['127.0.0.1:0', socket]);
    m.dispatchers.push(d);
    m.taps.push(tap);
    m.addrs.push(`127.0.0.1:${port}`);
    m.sockets.push(socket);
  }
  return m;
}

/** A worker that runs nothing: it has `taskIds`, and counts connection attempts and full sets. */
export class FakeWorker implements SessionWorker {
  /** When each connection attempt asked for the local tasks (one call per attempt). */
  readonly attempts: number[] = [];
  fullSets = 0;
  private readonly ev = new EventEmitter();
  constructor(readonly taskIds: string[]) {}
  async localTaskIds(): Promise<string[]> {
    this.attempts.push(performance.now());
    this.ev.emit('change');
    return [...this.taskIds];
  }
  assign(full: boolean): void {
    if (!full) return;
    this.fullSets++;
    this.ev.emit('change');
  }
  /** Resolves once `what()` holds (checked now and on each attempt or full set); fails after `timeoutMs`. */
  until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const on = () => { if (cond()) { clearTimeout(timer); this.ev.off('change', on); resolve(); } };
      const timer = setTimeout(() => {
        this.ev.off('change', on);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (attempts: ${this.attempts.length}, full sets: ${this.fullSets})`));
      }, timeoutMs);
      this.ev.on('change', on);
    });
  }
  logs(_req: unknown, _onLine: unknown, onEnd: () => void): () => void { onEnd(); return () => undefined; }
  async applied(): Promise<void> {}
}

/** Records of the session established with `addr` (the agent's log). */
export const establishedAt = (addr: string) => (r: LogRecord): boolean => r.msg === 'session established' && r.manager === addr;

/** A dispatcher's record of `node` registering with `tasks` local tasks. */
export const registered = (node: string, tasks: number) => (r: LogRecord): boolean => r.msg === 'agent registered' && r.node === node && r.tasks === tasks;

/**
 * What a test file needs around the dispatchers: `cleanup` (run in reverse after each test) and
 * `managers(n, leader)`, dispatchers closed after the test.
 */
export function dispatcherFixture(): { cleanup: (() => Promise<void> | void)[]; managers: (n: number, leader: number | undefined) => Promise<Managers> } {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  return {
    cleanup,
    managers: async (n, leader) => {
      const m = await startManagers(n, leader);
      cleanup.push(() => m.close());
      return m;
    },
  };
}

/** Resolves when `pred` holds, checked on each event of `subscribe`; fails after `ms`. */
export function until(what: string, subscribe: (cb: () => void) => () => void, pred: () => boolean, ms = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (pred()) { resolve(); return; }
    const timer = setTimeout(() => { off(); reject(new Error(`timed out after ${ms} ms waiting for ${what}`)); }, ms);
    const off = subscribe(() => { if (pred()) { clearTimeout(timer); off(); resolve(); } });
  });
}

/** A bare agent session (no agent code): send messages, wait for the welcome, end it. */
export function rawSession(addr: string, cleanup: (() => Promise<void> | void)[]) {
  const client = new (dispatcherProto().tsswarm.dispatcher.v1.Dispatcher)(addr, grpc.credentials.createInsecure());
  const call = client.Session();
  const welcomed = new Promise<void>((resolve) => call.on('data', (m: ManagerMessage__Output) => { if (m.welcome) resolve(); }));
  call.on('error', () => undefined);
  const end = () => { call.cancel(); client.close(); };
  cleanup.push(end);
  return { send: (m: AgentMessage) => call.write(m), welcomed, end };
}
