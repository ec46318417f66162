// The storage the core reads from (etcd's Storage), and an in-memory implementation. The
// disk runner keeps a MemoryStorage filled from the WAL on start-up and appended to after
// every durable write, so the core never touches the disk.
import {
  CompactedError,
  encodeConfChange,
  emptyConfState,
  entrySize,
  RaftError,
  SnapshotTemporarilyUnavailableError,
  UnavailableError,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
} from './types.js';

export interface Storage {
  /** The persisted hard state and the configuration of the latest snapshot. */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries [lo, hi), at most `maxSize` bytes but at least one entry. */
  entries(lo: number, hi: number, maxSize: number): Entry[];
  /** Term of entry `i`; i may be firstIndex()-1 (the snapshot's). */
  term(i: number): number;
  firstIndex(): number;
  lastIndex(): number;
  /** The latest snapshot (may throw SnapshotTemporarilyUnavailableError). */
  snapshot(): Snapshot;
}

export class MemoryStorage implements Storage {
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot = { meta: { index: 0, term: 0, confState: emptyConfState() }, data: new Uint8Array() };
  /** ents[0] is a dummy holding the snapshot's index and term. */
  private ents: Entry[] = [{ term: 0, index: 0, type: 'normal', data: new Uint8Array() }];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: this.snap.meta.confState };
  }
  /**
   * A brand-new cluster (etcd's Bootstrap): the initial configuration both as the index-0
   * snapshot's ConfState and as committed ConfChange entries 1..n at term 1, so that a member
   * added later rebuilds the configuration by replaying the log from the start.
   */
  bootstrap(voters: number[], learners: number[] = []): void {
    if (this.lastIndex() !== 0) throw new RaftError('can only bootstrap an empty storage');
    const cs: ConfState = { ...emptyConfState(), voters: [...voters], learners: [...learners] };
    this.snap = { meta: { index: 0, term: 0, confState: cs }, data: new Uint8Array() };
    this.append(bootstrapEntries(voters, learners));
    this.hardState = { term: 1, vote: 0, commit: voters.length + learners.length };
  }
  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }
  private offset(): number {
    return this.ents[0]!.index;
  }
  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const off = this.offset();
    if (lo <= off) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new RaftError(`entries' hi(${hi}) is out of bound lastindex(${this.lastIndex()})`);
    if (this.ents.length === 1) throw new UnavailableError(lo);
    // Not a slice of the whole range first: a follower far behind asks for everything since its match.
    return limitSize(this.ents, maxSize, lo - off, hi - off);
  }
  term(i: number): number {
    const off = this.offset();
    if (i < off) throw new CompactedError(i);
    if (i - off >= this.ents.length) throw new UnavailableError(i);
    return this.ents[i - off]!.term;
  }
  firstIndex(): number {
    return this.offset() + 1;
  }
  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }
  snapshot(): Snapshot {
    return this.snap;
  }
  /** Replaces everything with the snapshot (a follower installing one). */
  applySnapshot(s: Snapshot): void {
    if (this.snap.meta.index >= s.meta.index) throw new RaftError('snapshot out of date');
    this.snap = s;
    this.ents = [{ term: s.meta.term, index: s.meta.index, type: 'normal', data: new Uint8Array() }];
  }
  /** Resets to a snapshot loaded from disk on start-up (no ordering check). */
  restoreSnapshot(s: Snapshot): void {
    this.snap = s;
    this.ents = [{ term: s.meta.term, index: s.meta.index, type: 'normal', data: new Uint8Array() }];
  }
  /** Records a snapshot of the application at index `i` (<= applied); does not compact. */
  createSnapshot(i: number, cs: ConfState, data: Uint8Array): Snapshot {
    if (i <= this.snap.meta.index) throw new RaftError('snapshot out of date');
    if (i > this.lastIndex()) throw new RaftError(`snapshot ${i} is out of bound lastindex(${this.lastIndex()})`);
    this.snap = { meta: { index: i, term: this.term(i), confState: cs }, data };
    return this.snap;
  }
  /** Discards entries before `compactIndex`. */
  compact(compactIndex: number): void {
    const off = this.offset();
    if (compactIndex <= off) return;
    if (compactIndex > this.lastIndex()) throw new RaftError(`compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    const i = compactIndex - off;
    const head: Entry = { term: this.ents[i]!.term, index: compactIndex, type: 'normal', data: new Uint8Array() };
    this.ents = this.ents.slice(i);
    this.ents[0] = head;
  }
  /** Appends entries, truncating any conflicting tail. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    let es = entries;
    if (first > es[0]!.index) es = es.slice(first - es[0]!.index);
    const off = es[0]!.index - this.offset();
    if (off > this.ents.length) throw new RaftError(`missing log entry [last: ${this.lastIndex()}, append at: ${es[0]!.index}]`);
    // In place: the log since the last snapshot can hold hundreds of thousands of entries, and
    // a copy per append made every write cost O(log length).
    if (off < this.ents.length) this.ents.length = off;
    for (const e of es) this.ents.push(e);
  }
}

/** ents[lo, hi) up to maxSize bytes (at least one entry), copying no more than it returns; `ents` itself when all of it fits. */
export function limitSize(ents: Entry[], maxSize: number, lo = 0, hi = ents.length): Entry[] {
  if (hi <= lo) return lo === 0 && hi === ents.length ? ents : [];
  let size = entrySize(ents[lo]!);
  let n = lo + 1;
  while (n < hi) {
    size += entrySize(ents[n]!);
    if (size > maxSize) break;
    n++;
  }
  return lo === 0 && n === ents.length ? ents : ents.slice(lo, n);
}

export { SnapshotTemporarilyUnavailableError };

/** Persists one Ready into a MemoryStorage (snapshot, entries, hard state) - tests and runners. */
export function persistToMemory(ms: MemoryStorage, rd: { hardState?: HardState; entries: Entry[]; snapshot?: Snapshot }): void {
  if (rd.snapshot && rd.snapshot.meta.index > 0) ms.applySnapshot(rd.snapshot);
  ms.append(rd.entries);
  if (rd.hardState) ms.setHardState(rd.hardState);
}

export function bootstrapEntries(voters: number[], learners: number[] = []): Entry[] {
  const ccs = [...voters.map((nodeId) => ({ type: 'addNode' as const, nodeId })), ...learners.map((nodeId) => ({ type: 'addLearner' as const, nodeId }))];
  return ccs.map((c, i) => ({ term: 1, index: i + 1, type: 'confChange' as const, data: encodeConfChange({ changes: [c] }) }));
}
