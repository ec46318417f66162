// The replicated in-memory store (swarmkit's manager/state/store, in small).
//
//   store.view(tx => tx.list('service'))            read of this manager's applied state
//   await store.update(tx => { tx.create(obj) })     one atomic batch, committed through Raft
//   await store.barrier()                            linearizable read point (ReadIndex)
//   store.watch(events => ...)                       change events after apply
//
// The store's log is the Raft log: `update` proposes a batch (machine.ts) and resolves once it
// is committed and applied here. Every manager applies every committed batch in log order
// through the same StoreMachine, so all hold the same objects; `watch` fires for batches
// proposed anywhere, and for the difference a snapshot installed from the leader makes.
// Objects carry meta.version = the log index that last wrote them; updates are compare-and-set
// on it at apply time, so a decision computed on an old state is refused, not applied.

import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import { StoreMachine, type ApplyResult, type Batch, type BatchOp, type ChangeEvent } from './machine.js';
import type { ClusterState, ObjKind, ObjOf, StoreObj, StoreOp } from './types.js';

export interface ReadTx {
  get<K extends ObjKind>(kind: K, id: string): ObjOf<K> | undefined;
  list<K extends ObjKind>(kind: K, filter?: (o: ObjOf<K>) => boolean): ObjOf<K>[];
}

export interface WriteTx extends ReadTx {
  /** Adds a new object (its meta.version is ignored). */
  create(obj: StoreObj): void;
  /** Replaces an object; fails the whole batch if it changed since `obj.meta.version`. */
  update(obj: StoreObj): void;
  delete(kind: ObjKind, id: string): void;
}

export type StoreEvent = ChangeEvent;

type Listener = (events: StoreEvent[]) => void;

/** What the store needs from the log under it (raft-backend.ts: a RaftNode). */
export interface StoreLog {
  /** Starts the log; it drives `sm` (restore, apply) from then on. */
  open(sm: ReplicatedMachine): Promise<void>;
  /** Proposes an entry; resolves with what `sm.apply` returned for it, once applied here. */
  propose(data: Uint8Array): Promise<unknown>;
  /** Resolves once this manager has applied everything committed before the call. */
  readIndex(): Promise<void>;
  close(): Promise<void>;
}

/** The state machine as the log drives it. */
export interface ReplicatedMachine {
  apply(data: Uint8Array, index: number): unknown;
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
}

export class Store {
  readonly machine = new StoreMachine();
  private readonly listeners = new Set<Listener>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly log: StoreLog,
    private readonly opts: { now?: () => number } = {},
  ) {}

  /** Starts the log; resolves once what it held is applied. */
  async open(): Promise<void> {
    await this.log.open({
      apply: (data, index) => this.applyEntry(data, index),
      snapshot: () => this.machine.snapshot(),
      restore: (data) => this.restore(data),
    });
  }

  /** The index of the last entry applied here. */
  get index(): number { return this.machine.index; }

  view<T>(fn: (tx: ReadTx) => T): T {
    return fn(this.readTx());
  }

  /** The whole state, as the pure control-loop functions take it. */
  state(): ClusterState {
    return this.view((tx) => ({
      nodes: tx.list('node'),
      services: tx.list('service'),
      tasks: tx.list('task'),
      networks: tx.list('network'),
      volumes: tx.list('volume'),
      cluster: tx.get('cluster', 'default'),
      secrets: tx.list('secret'),
      configs: tx.list('config'),
    }));
  }

  watch(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Waits until this manager has applied every write committed before the call (ReadIndex). */
  barrier(): Promise<void> {
    return this.log.readIndex().catch((e: unknown) => { throw storeError(e); });
  }

  /**
   * Runs `fn` against the applied state and commits what it wrote as one batch. Updates are
   * serialised here, so each sees the previous one applied.
   */
  update<T>(fn: (tx: WriteTx) => T): Promise<T> {
    const run = async (): Promise<T> => {
      const ops: BatchOp[] = [];
      const overlay = new Map<string, StoreObj | null>();
      const key = overlayKey;
      const base = this.readTx();
      const tx: WriteTx = {
        ...overlayReader(base, overlay),
        create: (obj) => {
          if (tx.get(obj.kind, obj.id)) throw new TsswarmError(ErrorCodes.CONFLICT, `${obj.kind} ${obj.id} already exists`, [], 409);
          ops.push({ op: 'create', obj });
          overlay.set(key(obj.kind, obj.id), obj);
        },
        update: (obj) => {
          const cur = tx.get(obj.kind, obj.id);
          if (!cur) throw new TsswarmError(ErrorCodes.CONFLICT, `${obj.kind} ${obj.id} no longer exists`, [], 409);
          if (cur.meta.version !== obj.meta.version) {
            throw new TsswarmError(ErrorCodes.CONFLICT, `${obj.kind} ${obj.id} changed meanwhile (version ${cur.meta.version}, not ${obj.meta.version})`, [], 409);
          }
          // Against the stored version: an object written earlier in this batch keeps its first expectation.
          const stored = base.get(obj.kind, obj.id);
          ops.push(stored ? { op: 'update', obj, expect: stored.meta.version } : { op: 'create', obj });
          overlay.set(key(obj.kind, obj.id), obj);
        },
        delete: (kind, id) => {
          if (!tx.get(kind, id)) return;
          const stored = base.get(kind, id);
          ops.push({ op: 'delete', kind, id, expect: stored?.meta.version });
          overlay.set(key(kind, id), null);
        },
      };
      const result = fn(tx);
      if (ops.length > 0) await this.commit(compact(ops));
      return result;
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Commit ops computed elsewhere (the pure control loops), checking versions at commit time. */
  apply(ops: StoreOp[]): Promise<void> {
    return this.update((tx) => {
      for (const op of ops) {
        if (op.op === 'create') tx.create(op.obj);
        else if (op.op === 'update') tx.update(op.obj);
        else tx.delete(op.kind, op.id);
      }
    });
  }

  async close(): Promise<void> {
    await this.queue;
    await this.log.close();
  }

  private async commit(ops: BatchOp[]): Promise<void> {
    const batch: Batch = { ops, now: this.opts.now?.() ?? Date.now() };
    let result: ApplyResult;
    try {
      result = (await this.log.propose(encodeBatch(batch))) as ApplyResult;
    } catch (e) {
      throw storeError(e);
    }
    if (!result.ok) throw new TsswarmError(ErrorCodes.CONFLICT, result.reason, [], 409);
  }

  private applyEntry(data: Uint8Array, index: number): ApplyResult {
    let batch: Batch;
    try {
      batch = decodeBatch(data);
    } catch (e) {
      // Every manager refuses it alike: the entry is consumed, nothing changes.
      this.machine.apply(index, { ops: [], now: 0 });
      return { ok: false, reason: `unreadable store entry ${index}: ${(e as Error).message}` };
    }
    const r = this.machine.apply(index, batch);
    if (r.ok && r.events.length) this.emit(r.events);
    return r;
  }

  /** A snapshot from the leader replaces the state: watchers get the difference as events. */
  private restore(data: Uint8Array): void {
    const before = new Map<string, StoreObj>();
    for (const o of this.machine.state().objects) before.set(`${o.kind}/${o.id}`, o);
    this.machine.restore(data);
    const events: StoreEvent[] = [];
    for (const o of this.machine.state().objects) {
      const k = `${o.kind}/${o.id}`;
      const prev = before.get(k);
      before.delete(k);
      if (!prev) events.push({ op: 'create', obj: o });
      else if (prev.meta.version !== o.meta.version) events.push({ op: 'update', obj: o, prev });
    }
    for (const prev of before.values()) events.push({ op: 'delete', obj: prev });
    if (events.length) this.emit(events);
  }

  private emit(events: StoreEvent[]): void {
    for (const l of this.listeners) {
      try { l(events); } catch { /* a listener's failure is its own */ }
    }
  }

  private readTx(): ReadTx {
    const m = this.machine;
    return {
      get: (kind, id) => m.get(kind, id) as any,
      list: (kind, filter) => {
        const all = m.list(kind) as any[];
        return filter ? all.filter(filter) : all;
      },
    };
  }
}

/** One op per object: a later op on the same object in the batch replaces the earlier one. */
function compact(ops: BatchOp[]): BatchOp[] {
  const byKey = new Map<string, BatchOp>();
  for (const op of ops) {
    const k = op.op === 'delete' ? `${op.kind}/${op.id}` : `${op.obj.kind}/${op.obj.id}`;
    const prev = byKey.get(k);
    byKey.delete(k);
    if (!prev) { byKey.set(k, op); continue; }
    // create then update → create; create then delete → nothing; update then update → first expect.
    if (prev.op === 'create') {
      if (op.op === 'delete') continue;
      byKey.set(k, { op: 'create', obj: op.obj });
    } else {
      const expect = prev.expect;
      if (op.op === 'delete') byKey.set(k, { op: 'delete', kind: op.kind, id: op.id, expect });
      else if (expect === undefined) byKey.set(k, { op: 'create', obj: op.obj });
      else byKey.set(k, { op: 'update', obj: op.obj, expect });
    }
  }
  return [...byKey.values()];
}

export function encodeBatch(b: Batch): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(b));
}

export function decodeBatch(data: Uint8Array): Batch {
  const b = JSON.parse(new TextDecoder().decode(data)) as Batch;
  if (!b || !Array.isArray(b.ops) || typeof b.now !== 'number') throw new Error('not a store batch');
  return b;
}

/** What a log error means to the store's callers (the API, the loops). */
export function storeError(e: unknown): Error {
  if (e instanceof TsswarmError) return e;
  const name = (e as Error)?.name;
  const msg = (e as Error)?.message ?? String(e);
  if (name === 'LeadershipLostError') {
    return new TsswarmError(ErrorCodes.OUTCOME_UNKNOWN, `${msg}: the change may or may not have been applied; check with a read before retrying`);
  }
  if (name === 'NotLeaderError') return new TsswarmError(ErrorCodes.NO_QUORUM, `this manager is not the leader (${msg})`);
  if (name === 'DiskFullError') return new TsswarmError(ErrorCodes.DISK_FULL, /not durable/.test(msg) ? msg : `${msg}: nothing was changed; free space in the data dir and retry`);
  return e instanceof Error ? e : new Error(msg);
}


/** The key of an object in a transaction's overlay. */
export const overlayKey = (kind: ObjKind, id: string): string => `${kind}/${id}`;

/**
 * Reads through `overlay` (writes of a transaction not yet committed; null: deleted) to `base`:
 * what a transaction sees of its own writes (Store.update, and a deploy's dry run).
 */
export function overlayReader(base: ReadTx, overlay: Map<string, StoreObj | null>): Pick<WriteTx, 'get' | 'list'> {
  return {
    get: (kind, id) => {
      const k = overlayKey(kind, id);
      return (overlay.has(k) ? (overlay.get(k) ?? undefined) : base.get(kind, id)) as any;
    },
    list: (kind, filter) => {
      const out = new Map<string, StoreObj>();
      for (const o of base.list(kind)) out.set(o.id, o);
      for (const [k, v] of overlay) {
        const slash = k.indexOf('/');
        if (k.slice(0, slash) !== kind) continue;
        if (v === null) out.delete(k.slice(slash + 1));
        else out.set(k.slice(slash + 1), v);
      }
      const all = [...out.values()] as any[];
      return filter ? all.filter(filter) : all;
    },
  };
}
