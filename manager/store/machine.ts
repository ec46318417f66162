// The store as a replicated state machine: what every manager applies, in log order, for each
// committed entry. Pure and deterministic — no clock, no I/O: the entry carries the proposer's
// time, and the result depends only on the state and the entry — so managers that apply the
// same entries hold the same objects, byte for byte.
//
// A batch is all or nothing, and compare-and-set at apply time: an update names the version
// (the log index that last wrote the object) it was computed from, and is refused if the object
// changed since, so a deposed leader's stale decision can never overwrite a newer one. Every
// object a batch writes gets the entry's index as its version.
//
// Snapshots are the sorted objects with a checksum: an edited or truncated snapshot is refused
// with the reason, never applied.
//
// The manager's store (store.ts) applies every committed Raft entry through this module.

import { crc32 } from '../../common/crc32.js';
import type { ObjKind, StoreObj } from './types.js';

/** One change in a batch, as the proposer computed it. */
export type BatchOp =
  | { op: 'create'; obj: StoreObj }
  /** `expect`: the version the proposer read; the update applies only if it is still current. */
  | { op: 'update'; obj: StoreObj; expect: number }
  /** `expect` (optional): refuse the batch if the object changed since; absent = delete if present. */
  | { op: 'delete'; kind: ObjKind; id: string; expect?: number };

/** What a log entry of the store holds. */
export interface Batch {
  ops: BatchOp[];
  /** The proposer's clock (ms): createdAt/updatedAt of what the batch writes. */
  now: number;
}

export interface ChangeEvent {
  op: 'create' | 'update' | 'delete';
  obj: StoreObj;
  prev?: StoreObj;
}

export type ApplyResult =
  | { ok: true; events: ChangeEvent[] }
  /** Nothing was applied; `reason` names the object and the versions. */
  | { ok: false; reason: string };

export interface MachineSnapshot {
  index: number;
  objects: StoreObj[];
}

const KINDS: readonly ObjKind[] = ['cluster', 'node', 'service', 'task', 'network', 'volume', 'secret', 'config'];
const SNAPSHOT_MAGIC = 'tsswarm-store-snapshot/1';

export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

export class StoreMachine {
  private readonly objects = new Map<ObjKind, Map<string, StoreObj>>(KINDS.map((k) => [k, new Map()]));
  private applied = 0;

  /** The index of the last entry applied (or restored from a snapshot). */
  get index(): number { return this.applied; }

  get<K extends ObjKind>(kind: K, id: string): Extract<StoreObj, { kind: K }> | undefined {
    return this.objects.get(kind)!.get(id) as Extract<StoreObj, { kind: K }> | undefined;
  }

  list<K extends ObjKind>(kind: K): Extract<StoreObj, { kind: K }>[] {
    return [...this.objects.get(kind)!.values()] as Extract<StoreObj, { kind: K }>[];
  }

  /**
   * Applies the entry at `index` (which must follow the last one applied). Either every op
   * applies, or none does and the result says why; the index advances in both cases, as the
   * entry is consumed either way.
   */
  apply(index: number, batch: Batch): ApplyResult {
    if (index <= this.applied) throw new Error(`entry ${index} applied out of order (last applied ${this.applied})`);
    this.applied = index;
    // Check everything first against the state as the batch changes it: all or nothing.
    const overlay = new Map<string, StoreObj | null>();
    const key = (kind: ObjKind, id: string) => `${kind}/${id}`;
    const current = (kind: ObjKind, id: string): StoreObj | undefined => {
      const k = key(kind, id);
      return overlay.has(k) ? (overlay.get(k) ?? undefined) : this.objects.get(kind)!.get(id);
    };
    for (const op of batch.ops) {
      if (op.op === 'delete') {
        const cur = current(op.kind, op.id);
        if (op.expect !== undefined && cur && cur.meta.version !== op.expect) {
          return { ok: false, reason: `${op.kind} ${op.id} changed meanwhile (version ${cur.meta.version}, not ${op.expect})` };
        }
        overlay.set(key(op.kind, op.id), null);
        continue;
      }
      if (!KINDS.includes(op.obj.kind)) return { ok: false, reason: `unknown object kind ${JSON.stringify(op.obj.kind)}` };
      const cur = current(op.obj.kind, op.obj.id);
      if (op.op === 'create' && cur) return { ok: false, reason: `${op.obj.kind} ${op.obj.id} already exists` };
      if (op.op === 'update') {
        if (!cur) return { ok: false, reason: `${op.obj.kind} ${op.obj.id} no longer exists` };
        if (cur.meta.version !== op.expect) {
          return { ok: false, reason: `${op.obj.kind} ${op.obj.id} changed meanwhile (version ${cur.meta.version}, not ${op.expect})` };
        }
      }
      overlay.set(key(op.obj.kind, op.obj.id), op.obj);
    }
    const events: ChangeEvent[] = [];
    for (const op of batch.ops) {
      if (op.op === 'delete') {
        const m = this.objects.get(op.kind)!;
        const prev = m.get(op.id);
        if (prev) {
          m.delete(op.id);
          events.push({ op: 'delete', obj: prev });
        }
        continue;
      }
      const m = this.objects.get(op.obj.kind)!;
      const prev = m.get(op.obj.id);
      const createdAt = prev && op.op === 'update' ? prev.meta.createdAt : batch.now;
      const obj = { ...op.obj, meta: { version: index, createdAt, updatedAt: batch.now } } as StoreObj;
      m.set(obj.id, obj);
      events.push({ op: prev ? 'update' : 'create', obj, prev });
    }
    return { ok: true, events };
  }

  /** The applied state, objects sorted by kind and id (so equal states serialise equally). */
  state(): MachineSnapshot {
    const objects: StoreObj[] = [];
    for (const k of KINDS) {
      const m = this.objects.get(k)!;
      for (const id of [...m.keys()].sort()) objects.push(m.get(id)!);
    }
    return { index: this.applied, objects };
  }

  /** A snapshot's bytes: a header line (magic, index, length, CRC-32 of the body), then the body. */
  snapshot(): Uint8Array {
    return StoreMachine.encodeSnapshot(this.state());
  }

  /** The bytes of a snapshot of state `s` (a migrated or restored state, or this machine's). */
  static encodeSnapshot(s: MachineSnapshot): Uint8Array {
    const body = new TextEncoder().encode(JSON.stringify(s));
    const header = new TextEncoder().encode(`${SNAPSHOT_MAGIC} ${s.index} ${body.length} ${crc32(body).toString(16).padStart(8, '0')}\n`);
    const out = new Uint8Array(header.length + body.length);
    out.set(header, 0);
    out.set(body, header.length);
    return out;
  }

  /** Replaces the state with a snapshot's; throws SnapshotError (and changes nothing) if it is not intact. */
  restore(bytes: Uint8Array): void {
    this.load(StoreMachine.decodeSnapshot(bytes));
  }

  /** Replaces the state with `s` (already checked). */
  load(s: MachineSnapshot): void {
    for (const m of this.objects.values()) m.clear();
    for (const o of s.objects) this.objects.get(o.kind)!.set(o.id, o);
    this.applied = s.index;
  }

  static decodeSnapshot(bytes: Uint8Array): MachineSnapshot {
    const nl = bytes.indexOf(0x0a);
    if (nl < 0 || nl > 200) throw new SnapshotError('not a store snapshot (no header line)');
    const header = new TextDecoder().decode(bytes.subarray(0, nl)).split(' ');
    if (header.length !== 4 || header[0] !== SNAPSHOT_MAGIC) throw new SnapshotError(`not a store snapshot (header ${JSON.stringify(header.join(' ').slice(0, 60))})`);
    const [, idx, len, sum] = header;
    const body = bytes.subarray(nl + 1);
    if (body.length !== Number(len)) throw new SnapshotError(`store snapshot truncated or padded: ${body.length} bytes of body, the header says ${len}`);
    const actual = crc32(body).toString(16).padStart(8, '0');
    if (actual !== sum) throw new SnapshotError(`store snapshot checksum mismatch (crc32 ${actual}, the header says ${sum}): it was changed or damaged`);
    let s: MachineSnapshot;
    try {
      s = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) as MachineSnapshot;
    } catch (e) {
      throw new SnapshotError(`store snapshot body unreadable: ${(e as Error).message}`);
    }
    if (s.index !== Number(idx) || !Array.isArray(s.objects)) throw new SnapshotError('store snapshot body does not match its header');
    for (const o of s.objects) {
      if (!o || !KINDS.includes(o.kind) || typeof o.id !== 'string') throw new SnapshotError(`store snapshot holds an object of unknown kind ${JSON.stringify((o as { kind?: unknown })?.kind)}`);
    }
    return s;
  }
}
