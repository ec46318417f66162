// The replicated in-memory store (swarmkit's manager/state/store, in small).
//
//   store.view(tx => tx.list('service'))            consistent read of applied state
//   await store.update(tx => { tx.create(obj) })     one atomic, durable batch
//   store.watch(events => ...)                       change events after apply
//
// Every batch goes through the StoreLog before it is applied, so what readers see has been
// made durable (and, once the log is Raft, committed by a quorum). Objects carry
// meta.version = the log index that last wrote them; `update` is compare-and-set on it.

import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import type { StoreLog } from './log.js';
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

export interface StoreEvent {
  op: 'create' | 'update' | 'delete';
  obj: StoreObj; // the new object, or the deleted one
  prev?: StoreObj;
}

type Listener = (events: StoreEvent[]) => void;

const KINDS: ObjKind[] = ['node', 'service', 'task', 'network', 'volume', 'cluster'];

export class Store {
  private readonly objects = new Map<ObjKind, Map<string, StoreObj>>(KINDS.map((k) => [k, new Map()]));
  private readonly listeners = new Set<Listener>();
  private queue: Promise<unknown> = Promise.resolve();
  private lastIndex = 0;
  private sinceSnapshot = 0;

  constructor(
    private readonly log: StoreLog,
    private readonly opts: { snapshotEvery?: number; now?: () => number } = {},
  ) {}

  /** Load what the log holds. */
  async open(): Promise<void> {
    const { snapshot, entries } = await this.log.recover();
    if (snapshot) {
      for (const o of snapshot.objects) this.map(o.kind).set(o.id, o);
      this.lastIndex = snapshot.index;
    }
    for (const e of entries) {
      this.applyOps(e.ops);
      this.lastIndex = e.index;
    }
    this.sinceSnapshot = entries.length;
  }

  get index(): number { return this.lastIndex; }

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
    }));
  }

  watch(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Run `fn` against the current state and commit what it wrote as one batch. */
  update<T>(fn: (tx: WriteTx) => T): Promise<T> {
    const run = async (): Promise<T> => {
      const ops: StoreOp[] = [];
      const overlay = new Map<string, StoreObj | null>();
      const key = (kind: ObjKind, id: string) => `${kind}/${id}`;
      const base = this.readTx();
      const tx: WriteTx = {
        get: (kind, id) => {
          const k = key(kind, id);
          if (overlay.has(k)) return (overlay.get(k) ?? undefined) as any;
          return base.get(kind, id);
        },
        list: (kind, filter) => {
          const out = new Map<string, StoreObj>();
          for (const o of base.list(kind)) out.set(o.id, o);
          for (const [k, v] of overlay) {
            const [kk, id] = [k.slice(0, k.indexOf('/')), k.slice(k.indexOf('/') + 1)];
            if (kk !== kind) continue;
            if (v === null) out.delete(id);
            else out.set(id, v);
          }
          const all = [...out.values()] as any[];
          return filter ? all.filter(filter) : all;
        },
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
          ops.push({ op: 'update', obj });
          overlay.set(key(obj.kind, obj.id), obj);
        },
        delete: (kind, id) => {
          if (!tx.get(kind, id)) return;
          ops.push({ op: 'delete', kind, id });
          overlay.set(key(kind, id), null);
        },
      };
      const result = fn(tx);
      if (ops.length > 0) await this.commit(ops);
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

  private async commit(ops: StoreOp[]): Promise<void> {
    const index = this.lastIndex + 1;
    const now = this.opts.now?.() ?? Date.now();
    // Versions and timestamps are fixed before the entry is logged: replay reproduces them.
    const stamped = ops.map((op): StoreOp => {
      if (op.op === 'delete') return op;
      const prev = this.map(op.obj.kind).get(op.obj.id);
      const createdAt = op.op === 'create' ? now : (prev?.meta.createdAt ?? now);
      return { op: op.op, obj: { ...op.obj, meta: { version: index, createdAt, updatedAt: now } } as StoreObj };
    });
    await this.log.append({ index, ops: stamped });
    const events = this.applyOps(stamped);
    this.lastIndex = index;
    this.sinceSnapshot++;
    if (this.sinceSnapshot >= (this.opts.snapshotEvery ?? 1000)) {
      await this.log.snapshot({ index, objects: KINDS.flatMap((k) => [...this.map(k).values()]) });
      this.sinceSnapshot = 0;
    }
    for (const l of this.listeners) {
      try { l(events); } catch { /* a listener's failure is its own */ }
    }
  }

  private applyOps(ops: StoreOp[]): StoreEvent[] {
    const events: StoreEvent[] = [];
    for (const op of ops) {
      if (op.op === 'delete') {
        const prev = this.map(op.kind).get(op.id);
        if (prev) {
          this.map(op.kind).delete(op.id);
          events.push({ op: 'delete', obj: prev });
        }
        continue;
      }
      const prev = this.map(op.obj.kind).get(op.obj.id);
      const obj = op.obj;
      this.map(obj.kind).set(obj.id, obj);
      events.push({ op: op.op, obj, prev });
    }
    return events;
  }

  private map(kind: ObjKind): Map<string, StoreObj> {
    return this.objects.get(kind)!;
  }

  private readTx(): ReadTx {
    return {
      get: (kind, id) => this.map(kind).get(id) as any,
      list: (kind, filter) => {
        const all = [...this.map(kind).values()] as any[];
        return filter ? all.filter(filter) : all;
      },
    };
  }
}
