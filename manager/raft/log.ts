// The Raft log as the core sees it: the storage's stable prefix plus an unstable tail
// (entries or a snapshot not yet persisted), with the committed and applied cursors.
import { limitSize, type Storage } from './storage.js';
import { CompactedError, RaftError, UnavailableError, type Entry, type Snapshot } from './types.js';

export class Unstable {
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];
  constructor(public offset: number) {}

  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.meta.index + 1 : undefined;
  }
  maybeLastIndex(): number | undefined {
    if (this.entries.length) return this.offset + this.entries.length - 1;
    if (this.snapshot) return this.snapshot.meta.index;
    return undefined;
  }
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.meta.index === i) return this.snapshot.meta.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === undefined) return;
    if (gt === t && i >= this.offset) {
      this.entries = this.entries.slice(i + 1 - this.offset);
      this.offset = i + 1;
    }
  }
  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.meta.index === i) this.snapshot = undefined;
  }
  restore(s: Snapshot): void {
    this.offset = s.meta.index + 1;
    this.entries = [];
    this.snapshot = s;
  }
  truncateAndAppend(ents: readonly Entry[]): void {
    const after = ents[0]!.index;
    if (after === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      this.offset = after;
      this.entries = [...ents];
    } else {
      this.entries = [...this.entries.slice(0, after - this.offset), ...ents];
    }
  }
  slice(lo: number, hi: number): Entry[] {
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}

export class RaftLog {
  unstable: Unstable;
  committed: number;
  applied: number;

  constructor(
    readonly storage: Storage,
    readonly maxNextEntsSize = Number.MAX_SAFE_INTEGER,
  ) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }
  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }
  /** Index of the last entry known durable (everything before the unstable tail). */
  stableLastIndex(): number {
    if (this.unstable.snapshot) return 0;
    return this.unstable.offset - 1;
  }

  /** Term of entry i: 0 past the end, undefined if compacted away or unavailable. */
  term(i: number): number | undefined {
    const dummy = this.firstIndex() - 1;
    if (i < dummy) return undefined;
    if (i > this.lastIndex()) return 0;
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    try {
      return this.storage.term(i);
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return undefined;
      throw e;
    }
  }
  lastTerm(): number {
    const t = this.term(this.lastIndex());
    if (t === undefined) throw new RaftError('unexpected error when getting the last term');
    return t;
  }
  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }
  isUpToDate(lasti: number, term: number): boolean {
    const lt = this.lastTerm();
    return term > lt || (term === lt && lasti >= this.lastIndex());
  }

  /** Follower side of AppendEntries: undefined if the previous entry does not match. */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastnewi = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) throw new RaftError(`entry ${ci} conflict with committed entry [committed(${this.committed})]`);
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastnewi));
    return lastnewi;
  }

  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    if (after < this.committed) throw new RaftError(`after(${after}) is out of range [committed(${this.committed})]`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /** The largest index <= `index` whose term is <= `term` (fast log back-off), and that term. */
  findConflictByTerm(index: number, term: number): [number, number] {
    for (; index > 0; index--) {
      const t = this.term(index);
      if (t === undefined) return [index, 0];
      if (t <= term) return [index, t];
    }
    return [0, 0];
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries;
  }

  hasNextCommittedEnts(): boolean {
    const off = Math.max(this.applied + 1, this.firstIndex());
    return this.committed + 1 > off && !this.unstable.snapshot;
  }
  nextCommittedEnts(): Entry[] {
    if (this.unstable.snapshot) return [];
    const off = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed + 1 > off) return this.slice(off, this.committed + 1, this.maxNextEntsSize);
    return [];
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  commitTo(tocommit: number): void {
    if (this.committed < tocommit) {
      if (this.lastIndex() < tocommit) throw new RaftError(`tocommit(${tocommit}) is out of range [lastIndex(${this.lastIndex()})]. Was the raft log corrupted, truncated, or lost?`);
      this.committed = tocommit;
    }
  }
  appliedTo(i: number): void {
    if (i === 0) return;
    if (this.committed < i || i < this.applied) throw new RaftError(`applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    this.applied = i;
  }
  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }
  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }
  restore(s: Snapshot): void {
    this.committed = s.meta.index;
    this.unstable.restore(s);
  }

  /** Entries from i on, at most maxSize bytes (at least one). */
  entries(i: number, maxSize: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxSize);
  }

  /** Entries [lo, hi); throws CompactedError if lo was compacted away. */
  slice(lo: number, hi: number, maxSize: number): Entry[] {
    if (lo > hi) throw new RaftError(`invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw new CompactedError(lo);
    const length = this.lastIndex() + 1 - fi;
    if (hi > fi + length) throw new RaftError(`slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`);
    if (lo === hi) return [];
    let ents: Entry[] = [];
    if (lo < this.unstable.offset) {
      const stored = this.storage.entries(lo, Math.min(hi, this.unstable.offset), maxSize);
      if (stored.length < Math.min(hi, this.unstable.offset) - lo) return stored;
      ents = stored;
    }
    if (hi > this.unstable.offset) {
      const u = this.unstable.slice(Math.max(lo, this.unstable.offset), hi);
      ents = ents.length ? [...ents, ...u] : u;
    }
    return limitSize(ents, maxSize);
  }

  allEntries(): Entry[] {
    return this.entries(this.firstIndex(), Number.MAX_SAFE_INTEGER);
  }
}
