// Durable Raft storage: a write-ahead log of checksummed records in segment files, plus
// snapshot files written atomically. A MemoryStorage mirrors what is durable; the core reads
// only from it.
//
// Layout under `dir`:
//   wal/<seq:16x>-<startIndex:16x>.wal   records: [len u32][crc32 u32][type u8][payload]
//   snap/<index:16x>-<term:16x>.snap     [crc32 u32][index u64][term u64][confState][data]
// Each segment starts with a segment record (its capacity, see below; segments written before
// 2026-12 lack it) and the hard state.
//
// Durability: save() writes all records of a Ready in one write and fsyncs before returning
// (the acknowledgement). Segments are preallocated: the next one is zero-filled and synced in
// the background while the current one fills, so that appends overwrite blocks that already
// exist and fdatasync has no file metadata to commit (as etcd preallocates). A segment ends at
// its first record position followed only by zero bytes.
// Recovery: a record cut short or failing its checksum at the very end of the last segment is
// a torn write of an unacknowledged append and is cut away (zeroed inside a preallocated
// segment). A bad record followed by any valid record, or in an older segment, is corruption
// of data that was acknowledged: opening fails with WalCorruptionError instead of dropping it.
//
// A WAL cut short (by a copy, a restore, a repair tool) must not start from an older state:
// - the last segment's first record gives the length its file had when it was started, i.e.
//   its preallocated capacity. Nothing of ours shortens the last segment below that (a torn
//   tail is zeroed inside it, a sealed segment's unused space is cut off only once the next
//   segment exists), so a last segment shorter than its capacity was cut. A growing segment
//   has capacity 0: a cut at one of its record boundaries looks like an earlier state of it
//   and is caught only by the next check;
// - the hard state's commit index beyond the last entry the log holds (never written so:
//   entries go before the hard state that commits them).
// A failed save (a full disk) may be retried with the same Ready: records go at explicit
// offsets and the end of the records moves only once they are written (and synced).
import { crc32, Reader, Writer } from './codec.js';
import { join, writeFileAtomic, type FileHandle, type FileSystem } from './fs.js';
import { bootstrapEntries, MemoryStorage } from './storage.js';
import { emptyConfState, RaftError, type ConfState, type Entry, type HardState, type Snapshot } from './types.js';

const REC_ENTRY = 1;
const REC_HARDSTATE = 2;
/** A snapshot installed from the leader: the log restarts after (index, term). */
const REC_SNAPSHOT = 3;
/** A segment's first record: [capacity u64], its file's length when it was started (0: growing). */
const REC_SEGMENT = 4;

export class WalCorruptionError extends RaftError {
  override name = 'WalCorruptionError';
}

export interface DiskStorageOptions {
  /** Rotate to a new segment once the current one exceeds this size (default 64 MiB). */
  segmentBytes?: number;
  /**
   * Zero-fill each segment to segmentBytes ahead of use (default true). The first segment of
   * a new member grows as it is written, and is cut as soon as a preallocated one is ready.
   */
  preallocate?: boolean;
  /** Snapshot files kept (newest first). */
  keepSnapshots?: number;
}

interface Segment {
  name: string;
  startIndex: number;
}

interface OpenSegment {
  h: FileHandle;
  /** Where the next record goes: the end of the records written so far (0: the segment's header is still to be written). */
  size: number;
  /** The file's length (beyond `size`: preallocated zeros). */
  capacity: number;
  seq: number;
  /** A write (or its fsync) failed: part of it may lie past `size`, for the retry to overwrite here. */
  failed?: boolean;
}

/** The segment being started (kept across a failed attempt, so that a retry finishes the same one). */
interface NewSegment {
  seq: number;
  name?: string;
  /** The sealed segment before it, to be cut to the end of its records once this one exists. */
  shorten?: { path: string; len: number };
}

/**
 * The next segment: zero-filled in the background under a temporary name, renamed once its
 * zeros are durable (so a restart can still use it), then renamed again into place at the cut.
 */
const NEXT_FILLING = 'next.wal.tmp';
const NEXT_READY = 'next.wal.ready';

const hex = (n: number): string => n.toString(16).padStart(16, '0');

export class DiskStorage {
  readonly mem = new MemoryStorage();
  private readonly walDir: string;
  private readonly snapDir: string;
  private segments: Segment[] = [];
  private current: OpenSegment | undefined;
  private newSegment: NewSegment | undefined;
  /** The last segment as recovery left it: where its records end (writing resumes there) and its length. */
  private recoveredLast = { tail: 0, length: 0 };
  private readonly preallocate: boolean;
  private next: { state: 'filling' | 'ready'; cancel: { cancelled: boolean }; done: Promise<void> } | undefined;
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private readonly segmentBytes: number;
  private readonly keepSnapshots: number;
  /** What recovery found (for logs and tests). */
  recovery = { truncatedBytes: 0, records: 0, snapshotIndex: 0 };

  private constructor(
    private readonly fs: FileSystem,
    readonly dir: string,
    opts: DiskStorageOptions,
  ) {
    this.walDir = join(dir, 'wal');
    this.snapDir = join(dir, 'snap');
    this.segmentBytes = opts.segmentBytes ?? 64 << 20;
    this.keepSnapshots = opts.keepSnapshots ?? 2;
    this.preallocate = opts.preallocate ?? true;
  }

  /** Opens (and recovers) the storage in `dir`, creating it if empty. */
  static open(fsys: FileSystem, dir: string, opts: DiskStorageOptions = {}): DiskStorage {
    const d = new DiskStorage(fsys, dir, opts);
    d.recover();
    return d;
  }

  /** True if nothing was ever written (a new member: bootstrap or join). */
  isEmpty(): boolean {
    return this.mem.lastIndex() === 0 && this.hardState.term === 0 && this.recovery.snapshotIndex === 0 && !this.hasBootstrapSnapshot;
  }
  private hasBootstrapSnapshot = false;

  /** Initial configuration of a brand-new cluster (see MemoryStorage.bootstrap). */
  bootstrap(voters: number[], learners: number[] = []): void {
    if (!this.isEmpty()) throw new RaftError('storage is not empty: cannot bootstrap');
    const cs: ConfState = { ...emptyConfState(), voters: [...voters], learners: [...learners] };
    this.writeSnapshotFile({ meta: { index: 0, term: 0, confState: cs }, data: new Uint8Array() });
    this.hasBootstrapSnapshot = true;
    this.mem.restoreSnapshot({ meta: { index: 0, term: 0, confState: cs }, data: new Uint8Array() });
    const ents = bootstrapEntries(voters, learners);
    this.save({ entries: ents, hardState: { term: 1, vote: 0, commit: ents.length } });
  }

  /**
   * A brand-new cluster whose state machine starts from `data` (a migrated or restored state)
   * at `index`: a snapshot at (index, term 1) naming the voters, and a hard state committing it.
   */
  bootstrapWithState(voters: number[], index: number, data: Uint8Array): void {
    if (!this.isEmpty()) throw new RaftError('storage is not empty: cannot bootstrap');
    const snap: Snapshot = { meta: { index, term: 1, confState: { ...emptyConfState(), voters: [...voters] } }, data };
    this.writeSnapshotFile(snap);
    this.recovery.snapshotIndex = index;
    this.mem.restoreSnapshot(snap);
    this.save({ entries: [], hardState: { term: 1, vote: 0, commit: index } });
  }

  /**
   * Persists one Ready: an installed snapshot (file first, then a WAL marker), entries and
   * hard state, then fsyncs. When this returns, the data is durable. When it throws, nothing
   * of the Ready counts (the in-memory view is unchanged): after a full disk (isNoSpace) the
   * same Ready is to be saved again (before any other), and goes to the same place.
   */
  save(rd: { hardState?: HardState; entries: Entry[]; snapshot?: Snapshot }, sync = true): void {
    const installs = !!rd.snapshot && rd.snapshot.meta.index > 0;
    if (installs) this.writeSnapshotFile(rd.snapshot!);
    const w = new Writer(64 + rd.entries.length * 64);
    const cur = this.hasRecords(rd) ? this.ensureSegment(rd.entries[0]?.index ?? this.mem.lastIndex() + 1) : undefined;
    // A new segment starts with its header, written with its first records.
    if (cur && cur.size === 0) this.segmentHeader(w, cur);
    if (installs) {
      record(w, REC_SNAPSHOT, (p) => p.u64(rd.snapshot!.meta.index).u64(rd.snapshot!.meta.term));
    }
    for (const e of rd.entries) {
      record(w, REC_ENTRY, (p) => p.u64(e.term).u64(e.index).u8(e.type === 'confChange' ? 1 : 0).bytes(e.data));
    }
    if (rd.hardState) {
      const hs = rd.hardState;
      record(w, REC_HARDSTATE, (p) => p.u64(hs.term).u64(hs.vote).u64(hs.commit));
    }
    if (cur) {
      try {
        this.fs.writeAt(cur.h, w.finish(), cur.size);
        if (sync) this.fs.fsync(cur.h);
      } catch (e) {
        cur.failed = true;
        throw e;
      }
      // Only now: a failed write or fsync leaves the end where it was, for a retry to rewrite.
      cur.failed = false;
      cur.size += w.len;
      cur.capacity = Math.max(cur.capacity, cur.size);
    }
    if (installs) this.mem.applySnapshot(rd.snapshot!);
    if (rd.entries.length) this.mem.append(rd.entries);
    if (rd.hardState) {
      this.hardState = { ...rd.hardState };
      this.mem.setHardState(rd.hardState);
    }
    // An installed snapshot (durable, with its marker) supersedes the log before it, as our own
    // do. The Ready is durable: a failure here must not make it look unsaved (a retry would
    // write it twice); what is not released now is at the next snapshot.
    if (sync && installs) {
      try {
        this.releaseSegments(rd.snapshot!.meta.index);
        this.releaseSnapshots();
      } catch (e) {
        this.snapshotError = e as Error;
      }
    }
  }

  private hasRecords(rd: { hardState?: HardState; entries: Entry[]; snapshot?: Snapshot }): boolean {
    return rd.entries.length > 0 || !!rd.hardState || (!!rd.snapshot && rd.snapshot.meta.index > 0);
  }

  /** A segment's first records: its capacity (see recovery), then the hard state, so that older segments can be dropped. */
  private segmentHeader(w: Writer, seg: OpenSegment): void {
    record(w, REC_SEGMENT, (p) => p.u64(seg.capacity));
    const hs = this.hardState;
    record(w, REC_HARDSTATE, (p) => p.u64(hs.term).u64(hs.vote).u64(hs.commit));
  }

  /**
   * Records a snapshot of the application at `index` (already applied) and compacts the log
   * behind it, keeping `keepEntries` entries for slow followers. The in-memory log is compacted
   * at once; the snapshot file is written off the event loop where the file system can
   * (`snapshotting` meanwhile), and only once it is durable are the WAL segments it covers and
   * older snapshot files removed. A crash before that recovers from the previous snapshot and
   * the WAL, which still hold everything.
   */
  compact(index: number, confState: ConfState, data: Uint8Array, keepEntries = 0): Snapshot {
    const snap = this.mem.createSnapshot(index, confState, data);
    const compactTo = Math.max(this.mem.firstIndex() - 1, index - keepEntries);
    if (compactTo > this.mem.firstIndex() - 1) this.mem.compact(compactTo);
    const release = (): void => {
      this.releaseSegments(compactTo);
      this.releaseSnapshots();
    };
    const write = this.fs.writeFileAtomicAsync?.bind(this.fs);
    if (!write) {
      this.writeSnapshotFile(snap);
      release();
      return snap;
    }
    const [path, parts] = this.encodeSnapshotFile(snap);
    const start = (): Promise<void> => write(path, parts);
    const p: Promise<void> = (this.snapshotWrite ? this.snapshotWrite.then(start) : start())
      .then(release)
      .catch((err: Error) => {
        // Nothing is lost (the WAL still holds the entries); the next snapshot tries again.
        this.snapshotError = err;
      })
      .finally(() => {
        if (this.snapshotWrite === p) this.snapshotWrite = undefined;
      });
    this.snapshotWrite = p;
    return snap;
  }

  /** A snapshot file is being written in the background. */
  get snapshotting(): boolean {
    return this.snapshotWrite !== undefined;
  }
  private snapshotWrite: Promise<void> | undefined;
  /** Why the last background snapshot write (or a release of old files) failed, if it did (cleared by the caller). */
  snapshotError: Error | undefined;

  close(): void {
    if (this.current) {
      this.fs.close(this.current.h);
      this.current = undefined;
    }
    if (this.next) this.next.cancel.cancelled = true;
  }

  /** The segment being written and where its records end (diagnostics, tests). */
  tail(): { segment: string; offset: number; capacity: number } | undefined {
    const c = this.current;
    return c && { segment: c.h.path, offset: c.size, capacity: c.capacity };
  }

  /** Resolves once no background work (segment preallocation, a snapshot file) touches the directory. */
  async idle(): Promise<void> {
    await this.next?.done;
    await this.snapshotWrite;
  }

  // ------------------------------------------------------------------ recovery

  private recover(): void {
    const fs = this.fs;
    fs.mkdirp(this.walDir);
    fs.mkdirp(this.snapDir);
    for (const f of fs.list(this.snapDir)) if (f.endsWith('.tmp')) fs.unlink(join(this.snapDir, f));
    // A preallocation that a crash interrupted is dropped; a finished one is used.
    for (const f of fs.list(this.walDir)) if (f.endsWith('.tmp')) fs.unlink(join(this.walDir, f));
    const ready = join(this.walDir, NEXT_READY);
    if (fs.exists(ready)) {
      if (this.preallocate && fs.size(ready) === this.segmentBytes) this.next = { state: 'ready', cancel: { cancelled: false }, done: Promise.resolve() };
      else fs.unlink(ready);
    }
    const snap = this.loadNewestSnapshot();
    if (snap) {
      this.mem.restoreSnapshot(snap);
      this.recovery.snapshotIndex = snap.meta.index;
      if (snap.meta.index === 0) this.hasBootstrapSnapshot = true;
    }
    const names = fs.list(this.walDir).filter((f) => f.endsWith('.wal'));
    this.segments = names.map((name) => ({ name, startIndex: parseInt(name.slice(17, 33), 16) }));
    let ents: Entry[] = [];
    /** The segment each entry was read from (to name a file in errors). */
    const from = new Map<number, string>();
    let hs: HardState | undefined;
    /** Where the log ends: the segment of the last entry or installed-snapshot record. */
    let logEnd = names.length ? join(this.walDir, names[names.length - 1]!) : this.walDir;
    names.forEach((name, i) => {
      const path = join(this.walDir, name);
      const buf = fs.readFile(path);
      const last = i === names.length - 1;
      let length = buf.length;
      /** The segment record's capacity (undefined: a segment written before it existed). */
      let capacity: number | undefined;
      let pos = 0;
      while (pos < buf.length) {
        const r = readRecord(buf, pos);
        if (r === undefined) {
          const end = endOfData(buf, pos);
          // Nothing but zeros from here: the unused, preallocated rest of the segment.
          if (end === pos) break;
          if (!last) throw new WalCorruptionError(`WAL ${path}: bad record at offset ${pos}${zerosNote(buf, pos, end)} in a sealed segment; refusing to start (data was acknowledged)`);
          const after = findValidRecordAfter(buf, pos + 1, end);
          if (after !== undefined) {
            throw new WalCorruptionError(
              `WAL ${path}: corrupted record at offset ${pos}${zerosNote(buf, pos, after)} followed by a valid record at ${after}; refusing to start rather than drop acknowledged entries`,
            );
          }
          // Torn write at the tail: the append was never acknowledged. Cut it away; inside
          // preallocated space, zero it so that the segment again ends where its records do.
          // Never shorten the segment below its recorded capacity (that is how a cut is told).
          this.recovery.truncatedBytes = end - pos;
          const keep = capacity !== undefined ? Math.max(pos, capacity) : end < buf.length ? buf.length : pos;
          const zeroTo = Math.min(end, keep);
          if (zeroTo > pos) {
            const h = fs.openWrite(path);
            fs.writeAt(h, new Uint8Array(zeroTo - pos), pos);
            fs.fsync(h);
            fs.close(h);
          }
          if (keep < buf.length) {
            fs.truncate(path, keep);
            length = keep;
          }
          break;
        }
        this.recovery.records++;
        const rd = new Reader(r.payload);
        if (r.type === REC_ENTRY) {
          const e: Entry = { term: rd.u64(), index: rd.u64(), type: rd.u8() === 1 ? 'confChange' : 'normal', data: rd.bytes() };
          while (ents.length && ents[ents.length - 1]!.index >= e.index) ents.pop();
          ents.push(e);
          from.set(e.index, path);
          logEnd = path;
        } else if (r.type === REC_HARDSTATE) {
          hs = { term: rd.u64(), vote: rd.u64(), commit: rd.u64() };
        } else if (r.type === REC_SNAPSHOT) {
          rd.u64();
          ents = [];
          logEnd = path;
        } else if (r.type === REC_SEGMENT && pos === 0) {
          capacity = rd.u64();
          // Checked before anything here is repaired: a cut file is left as it was found.
          if (last && buf.length < capacity) {
            throw new WalCorruptionError(
              `WAL ${path}: the last segment is ${buf.length} bytes long but was started with ${capacity} (preallocated): the WAL was cut; refusing to start (restore from a backup, or remove the data dir and rejoin)`,
            );
          }
        }
        pos = r.next;
      }
      if (last) this.recoveredLast = { tail: pos, length };
    });
    const base = this.mem.lastIndex();
    ents = ents.filter((e) => e.index > base);
    if (ents.length && ents[0]!.index !== base + 1) {
      throw new WalCorruptionError(`WAL ${from.get(ents[0]!.index)}: entries start at ${ents[0]!.index} but the snapshot ends at ${base}; missing segment?`);
    }
    for (let i = 1; i < ents.length; i++) {
      const [a, b] = [ents[i - 1]!.index, ents[i]!.index];
      if (b !== a + 1) throw new WalCorruptionError(`WAL ${from.get(a)}: entries end at ${a}, and the next, in ${from.get(b)}, is ${b}: the WAL was cut or a segment is missing; refusing to start`);
    }
    this.mem.append(ents);
    // Entries are written before the hard state that commits them: a commit beyond the log
    // means records that were written (and acknowledged) are gone.
    if (hs && hs.commit > this.mem.lastIndex()) {
      throw new WalCorruptionError(
        `WAL ${logEnd}: log ends at entry ${this.mem.lastIndex()} but its hard state recorded commit ${hs.commit}: the WAL was cut; refusing to start (restore from a backup, or remove the data dir and rejoin)`,
      );
    }
    if (hs) {
      this.hardState = hs;
      this.mem.setHardState(hs);
    }
    if (hs && hs.commit < base) this.mem.setHardState({ ...hs, commit: base });
  }

  // ------------------------------------------------------------------ segments

  /**
   * The segment the next records go to, started (or the recovered last one reopened) when
   * needed. After a failure (a full disk) it may be called again: a segment sealed stays
   * sealed, a segment being started is finished under the same name.
   */
  private ensureSegment(nextIndex: number): OpenSegment {
    const cur = this.current;
    // A failed write is retried where it went (never left, part written, in a sealed segment).
    if (cur?.failed) return cur;
    // A segment that grows (no preallocated one was ready) is cut as soon as one is.
    if (cur && cur.size < this.segmentBytes && (cur.capacity >= this.segmentBytes || this.next?.state !== 'ready')) return cur;
    if (cur) {
      // Seal the old segment: its records durable (unsynced saves included), closed. Its unused
      // space is cut off only once the next segment exists: the last segment is never one that
      // we shortened.
      this.fs.fsync(cur.h);
      this.current = undefined;
      this.newSegment = { seq: cur.seq + 1, shorten: cur.capacity > cur.size ? { path: cur.h.path, len: cur.size } : undefined };
      this.fs.close(cur.h);
    } else if (!this.newSegment) {
      if (this.segments.length) {
        const lastName = this.segments[this.segments.length - 1]!.name;
        const path = join(this.walDir, lastName);
        const { tail, length } = this.recoveredLast;
        const seq = parseInt(lastName.slice(0, 16), 16);
        if (tail < this.segmentBytes) {
          // Writing resumes after its records (a segment left empty by a crash gets its header then).
          this.current = { h: this.fs.openWrite(path), size: tail, capacity: length, seq };
          this.prepareNext();
          return this.ensureSegment(nextIndex);
        }
        this.newSegment = { seq: seq + 1, shorten: tail < length ? { path, len: tail } : undefined };
      } else {
        this.newSegment = { seq: 0 };
      }
    }
    const ns = this.newSegment!;
    const name = (ns.name ??= `${hex(ns.seq)}-${hex(nextIndex)}.wal`);
    const path = join(this.walDir, name);
    if (this.next?.state === 'ready') {
      this.fs.rename(join(this.walDir, NEXT_READY), path);
      this.next = undefined;
    }
    const h = this.fs.openWrite(path);
    let capacity: number;
    try {
      // Its zeros, if it was prepared, are durable: that length goes into its header.
      capacity = this.fs.size(path);
      this.fs.fsyncDir(this.walDir);
    } catch (e) {
      this.fs.close(h);
      throw e;
    }
    this.segments.push({ name, startIndex: parseInt(name.slice(17, 33), 16) });
    this.current = { h, size: 0, capacity, seq: ns.seq };
    this.newSegment = undefined;
    if (ns.shorten) {
      // Best effort: a sealed segment's zeros after its records are read as its end anyway.
      try {
        this.fs.truncate(ns.shorten.path, ns.shorten.len);
      } catch {
        // kept as it is
      }
    }
    this.prepareNext();
    return this.current;
  }

  /** Starts zero-filling the next segment, unless one is ready or being filled. */
  private prepareNext(): void {
    if (!this.preallocate || this.next) return;
    const cancel = { cancelled: false };
    const filling = join(this.walDir, NEXT_FILLING);
    const next: NonNullable<DiskStorage['next']> = { state: 'filling', cancel, done: Promise.resolve() };
    this.next = next;
    const ready = (): void => {
      if (cancel.cancelled) return;
      this.fs.rename(filling, join(this.walDir, NEXT_READY));
      this.fs.fsyncDir(this.walDir);
      next.state = 'ready';
    };
    const failed = (): void => {
      // A full disk, say: the WAL goes on with growing segments, and tries again at the next cut.
      if (this.next !== next) return;
      this.next = undefined;
      try {
        if (this.fs.exists(filling)) this.fs.unlink(filling);
      } catch {
        // removed at the next start
      }
    };
    try {
      const r = this.fs.createZeroed(filling, this.segmentBytes, cancel);
      if (r) next.done = r.then(ready).catch(failed);
      else ready();
    } catch {
      failed();
    }
  }

  private releaseSegments(compactedTo: number): void {
    // Segment k holds only entries below segment k+1's start index.
    while (this.segments.length > 1 && this.segments[1]!.startIndex - 1 <= compactedTo) {
      this.fs.unlink(join(this.walDir, this.segments[0]!.name));
      this.segments.shift();
    }
    this.fs.fsyncDir(this.walDir);
  }

  // ------------------------------------------------------------------ snapshots

  private writeSnapshotFile(s: Snapshot): void {
    const [path, parts] = this.encodeSnapshotFile(s);
    writeFileAtomic(this.fs, path, ...parts);
  }

  /**
   * The snapshot file as [crc32][index][term][confState][data]: a small header and the state
   * machine's bytes as they are (no copy of a large state), the checksum chained over both.
   */
  private encodeSnapshotFile(s: Snapshot): [string, Uint8Array[]] {
    const w = new Writer(64);
    const crcAt = w.reserve32();
    w.u64(s.meta.index).u64(s.meta.term).bytes(new TextEncoder().encode(JSON.stringify(s.meta.confState))).u32(s.data.length);
    const head = w.finish();
    w.set32(crcAt, crc32(s.data, 0, s.data.length, crc32(head, 4)));
    return [join(this.snapDir, `${hex(s.meta.index)}-${hex(s.meta.term)}.snap`), [head, s.data]];
  }

  private loadNewestSnapshot(): Snapshot | undefined {
    const files = this.fs
      .list(this.snapDir)
      .filter((f) => f.endsWith('.snap'))
      .sort();
    const newest = files[files.length - 1];
    if (!newest) return undefined;
    const path = join(this.snapDir, newest);
    const buf = this.fs.readFile(path);
    if (buf.length < 24 || new Reader(buf).u32() !== crc32(buf, 4)) {
      throw new WalCorruptionError(`snapshot ${path} fails its checksum (${snapshotDamage(buf)}); refusing to start`);
    }
    const r = new Reader(buf, 4);
    const index = r.u64();
    const term = r.u64();
    const confState = JSON.parse(new TextDecoder().decode(r.bytes())) as ConfState;
    return { meta: { index, term, confState }, data: r.bytes() };
  }

  private releaseSnapshots(): void {
    const files = this.fs
      .list(this.snapDir)
      .filter((f) => f.endsWith('.snap'))
      .sort();
    for (const f of files.slice(0, Math.max(0, files.length - this.keepSnapshots))) this.fs.unlink(join(this.snapDir, f));
  }
}

function record(w: Writer, type: number, fill: (p: Writer) => void): void {
  const lenAt = w.reserve32();
  const crcAt = w.reserve32();
  const start = w.len;
  w.u8(type);
  fill(w);
  const end = w.len;
  w.set32(lenAt, end - start);
  w.set32(crcAt, crc32(w.view32(), start, end));
}

function readRecord(buf: Uint8Array, pos: number): { type: number; payload: Uint8Array; next: number } | undefined {
  if (pos + 9 > buf.length) return undefined;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const len = v.getUint32(pos);
  const crc = v.getUint32(pos + 4);
  if (len < 1 || pos + 8 + len > buf.length) return undefined;
  const type = buf[pos + 8]!;
  if (type < REC_ENTRY || type > REC_SEGMENT) return undefined;
  if (crc32(buf, pos + 8, pos + 8 + len) !== crc) return undefined;
  return { type, payload: buf.subarray(pos + 9, pos + 8 + len), next: pos + 8 + len };
}

/** The offset of a whole valid record starting in [from, end), if any. */
function findValidRecordAfter(buf: Uint8Array, from: number, end: number): number | undefined {
  for (let p = from; p < end && p + 9 <= buf.length; p++) {
    if (readRecord(buf, p)) return p;
  }
  return undefined;
}

const ZEROS = new Uint8Array(64 << 10);

/** A run of zero bytes this long is no record's, nor a snapshot header's: a zeroed block (a disk sector is 512 bytes). */
const ZERO_RUN = 512;

/** The first run of at least ZERO_RUN zero bytes in buf[from, to), as [start, end). */
function zeroRun(buf: Uint8Array, from: number, to: number): [number, number] | undefined {
  for (let p = from; p < to; p++) {
    if (buf[p] !== 0) continue;
    let q = p;
    while (q < to && buf[q] === 0) q++;
    if (q - p >= ZERO_RUN) return [p, q];
    p = q;
  }
  return undefined;
}

/** ", bytes A-B zeroed" when bad data in buf[from, to) holds a zeroed block. */
function zerosNote(buf: Uint8Array, from: number, to: number): string {
  const z = zeroRun(buf, from, to);
  return z ? ` (bytes ${z[0]}-${z[1] - 1} are zeros: a zeroed block?)` : '';
}

/** Why a snapshot file fails its checksum, as far as can be told: cut, zeroed where, or changed. */
function snapshotDamage(buf: Uint8Array): string {
  if (buf.length < 24) return `${buf.length} bytes: too short for its header`;
  const found: string[] = [];
  const z = zeroRun(buf, 0, buf.length);
  if (z) found.push(`bytes ${z[0]}-${z[1] - 1} (from offset ${z[0]}) are zeros: a zeroed block?`);
  // The lengths in the header (when they can be read) against the file's.
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const confLen = v.getUint32(20);
  if (24 + confLen + 4 <= buf.length) {
    const want = 24 + confLen + 4 + v.getUint32(24 + confLen);
    if (want !== buf.length) found.push(`${buf.length} bytes long where its header says ${want}`);
  }
  return found.length ? found.join('; ') : 'some bytes changed; the checksum does not say where';
}

/** One past the last non-zero byte at or after `from` (`from` itself if there is none). */
function endOfData(buf: Uint8Array, from: number): number {
  let end = buf.length;
  // Whole zero chunks first (native compare), then byte by byte in the last non-zero one.
  while (end > from) {
    const start = Math.max(from, end - ZEROS.length);
    if (Buffer.compare(Buffer.from(buf.buffer, buf.byteOffset + start, end - start), ZEROS.subarray(0, end - start)) !== 0) break;
    end = start;
  }
  while (end > from && buf[end - 1] === 0) end--;
  return end;
}
