// Crash safety of the WAL and snapshot files, on a simulated disk with crash semantics.
import { describe, expect, it } from 'vitest';
import { DiskStorage, WalCorruptionError } from '../../manager/raft/wal.js';
import type { Entry } from '../../manager/raft/types.js';
import { SimFS } from './simfs.js';
import { enc, seededRand } from './harness.js';
import { isNoSpace, NodeFileSystem, writeFileAtomic, type FileHandle } from '../../manager/raft/fs.js';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const e = (index: number, term: number, s = `v${index}`): Entry => ({ index, term, type: 'normal', data: enc(s) });
/** Small segments (the SimFS keeps whole files in memory), preallocated unless said otherwise. */
const SMALL = { segmentBytes: 1 << 14, preallocate: true };
const GROWING = { segmentBytes: 1 << 14, preallocate: false };
const segments = (fs: SimFS, dir = '/d'): string[] => fs.list(`${dir}/wal`).filter((f) => f.endsWith('.wal'));
const walFile = (fs: SimFS): string => `/d/wal/${segments(fs).at(-1)}`;

/** Writes N single-entry acknowledged saves; returns where the records end after each. */
function writeN(fs: SimFS, n: number, opts = SMALL): number[] {
  const d = DiskStorage.open(fs, '/d', opts);
  d.bootstrap([1, 2, 3]);
  const ends: number[] = [];
  for (let i = 4; i < 4 + n; i++) {
    d.save({ entries: [e(i, 1)] }); // one record per acknowledged save
    ends.push(d.tail()!.offset);
  }
  expect(d.tail()!.segment).toBe(walFile(fs));
  d.close();
  return ends;
}

describe('WAL', () => {
  it('round-trips entries, hard state and a conflicting overwrite', () => {
    const fs = new SimFS();
    const d = DiskStorage.open(fs, '/d', SMALL);
    d.bootstrap([1]);
    d.save({ entries: [e(2, 1), e(3, 1), e(4, 1)], hardState: { term: 1, vote: 1, commit: 2 } });
    d.save({ entries: [e(3, 2, 'new')], hardState: { term: 2, vote: 1, commit: 2 } });
    d.close();
    const r = DiskStorage.open(fs, '/d', SMALL);
    expect(r.mem.lastIndex()).toBe(3);
    expect(r.mem.term(3)).toBe(2);
    expect(r.mem.hardState).toEqual({ term: 2, vote: 1, commit: 2 });
    expect(r.mem.initialState().confState.voters).toEqual([1]);
  });

  it('every save is durable when it returns (fsync before acknowledging)', () => {
    const fs = new SimFS(seededRand(1));
    const d = DiskStorage.open(fs, '/d', SMALL);
    d.bootstrap([1]);
    for (let i = 2; i < 50; i++) {
      d.save({ entries: [e(i, 1)], hardState: { term: 1, vote: 1, commit: i - 1 } });
      expect(fs.unsyncedBytes()).toBe(0);
    }
    fs.crash();
    const r = DiskStorage.open(fs, '/d', SMALL);
    expect(r.mem.lastIndex()).toBe(49);
  });

  it('a failed fsync is not an acknowledgement', () => {
    const fs = new SimFS(seededRand(2));
    const d = DiskStorage.open(fs, '/d', SMALL);
    d.bootstrap([1]);
    fs.failFsyncIn = 1;
    expect(() => d.save({ entries: [e(2, 1)] })).toThrow(/EIO/);
    expect(d.mem.lastIndex()).toBe(1); // the in-memory view never saw it
  });

  for (const [kind, opts] of [
    ['a growing segment', GROWING],
    ['a preallocated segment', SMALL],
  ] as const) {
    // A torn write leaves what was there before: nothing past the end of a growing file, zeros
    // in a preallocated one.
    const tear = (fs: SimFS, file: string, at: number, end: number): void => {
      if (opts.preallocate === false) fs.cut(file, at);
      else for (let o = at; o < end; o++) fs.zero(file, o);
    };

    it(`recovers exactly the acknowledged prefix when the tail of ${kind} is cut at every byte offset`, () => {
      const base = new SimFS();
      const ends = writeN(base, 6, opts);
      const file = walFile(base);
      const last = ends[ends.length - 1]!;
      const from = ends[ends.length - 4]!;
      expect(base.size(file)).toBe(opts.preallocate === false ? last : opts.segmentBytes);
      for (let cut = from; cut <= last; cut++) {
        const fs = new SimFS();
        writeN(fs, 6, opts);
        tear(fs, file, cut, last);
        const r = DiskStorage.open(fs, '/d', opts);
        const whole = ends.filter((x) => x <= cut).length;
        expect(r.mem.lastIndex(), `cut at ${cut}`).toBe(3 + whole);
        r.close();
        // the recovered WAL accepts new appends, right after the last whole record, that survive another restart
        const again = DiskStorage.open(fs, '/d', opts);
        again.save({ entries: [e(4 + whole, 2, 'after')], hardState: { term: 2, vote: 1, commit: 3 } });
        again.close();
        const third = DiskStorage.open(fs, '/d', opts);
        expect(third.mem.lastIndex()).toBe(4 + whole);
        expect(third.mem.term(4 + whole)).toBe(2);
        expect(third.recovery.truncatedBytes).toBe(0);
      }
    });

    it(`a corrupted byte in the last record of ${kind} is a torn write; anywhere earlier it stops the node`, () => {
      const base = new SimFS();
      const ends = writeN(base, 6, opts);
      const file = walFile(base);
      const lastStart = ends[ends.length - 2]!;
      const from = ends[ends.length - 4]!;
      for (let off = from; off < ends[ends.length - 1]!; off++) {
        const fs = new SimFS();
        writeN(fs, 6, opts);
        fs.corrupt(file, off);
        if (off >= lastStart) {
          const r = DiskStorage.open(fs, '/d', opts);
          expect(r.mem.lastIndex(), `corrupt at ${off}`).toBe(3 + 5);
        } else {
          expect(() => DiskStorage.open(fs, '/d', opts), `corrupt at ${off}`).toThrow(WalCorruptionError);
        }
      }
    });
  }

  it('a preallocated segment: appends overwrite zeros, its length never changes, a growing first segment is cut once one is ready', () => {
    const fs = new SimFS();
    const d = DiskStorage.open(fs, '/d', SMALL);
    d.bootstrap([1, 2, 3]);
    // The bootstrap went to a growing segment; the next one was prepared meanwhile (at once on
    // this disk) and the next save moves to it.
    expect(fs.size(`/d/wal/${segments(fs)[0]}`)).toBeLessThan(SMALL.segmentBytes);
    for (let i = 4; i < 40; i++) d.save({ entries: [e(i, 1)], hardState: { term: 1, vote: 1, commit: i - 1 } });
    expect(segments(fs)).toHaveLength(2);
    const file = walFile(fs);
    expect(fs.size(file)).toBe(SMALL.segmentBytes);
    const end = d.tail()!.offset;
    const bytes = fs.readFile(file);
    expect(bytes.subarray(end).every((b) => b === 0)).toBe(true);
    // the next segment is already prepared
    expect(fs.list('/d/wal')).toContain('next.wal.ready');
    d.close();
    const r = DiskStorage.open(fs, '/d', SMALL);
    expect(r.mem.lastIndex()).toBe(39);
    expect(r.mem.hardState.commit).toBe(38);
    expect(r.recovery.truncatedBytes).toBe(0);
    expect(fs.list('/d/wal')).toContain('next.wal.ready'); // a finished preparation is kept for later
    r.save({ entries: [e(40, 1)] });
    // it resumes right after the last record, in the same segment
    expect(r.tail()!.segment).toBe(file);
    expect(findLastRecordStart(fs.readFile(file), r.tail()!.offset)).toBe(end);
    expect(fs.readFile(file).subarray(0, end)).toEqual(bytes.subarray(0, end));
    r.close();
    expect(DiskStorage.open(fs, '/d', SMALL).mem.lastIndex()).toBe(40);
  });

  it('segments fill up and are sealed at the end of their records; a full disk falls back to growing segments', () => {
    const fs = new SimFS();
    const opts = { segmentBytes: 2048 };
    const d = DiskStorage.open(fs, '/d', opts);
    d.bootstrap([1]);
    for (let i = 2; i < 200; i++) d.save({ entries: [e(i, 1)], hardState: { term: 1, vote: 1, commit: i } });
    const segs = segments(fs);
    expect(segs.length).toBeGreaterThan(5);
    // sealed segments end exactly with their last record
    for (const s of segs.slice(1, -1)) {
      const b = fs.readFile(`/d/wal/${s}`);
      expect(b.length).toBeLessThan(opts.segmentBytes + 200);
      expect(b[b.length - 1]).not.toBe(0);
    }
    // preparing the next segment fails (no space): writing goes on in a growing segment
    fs.failZeroed = true;
    for (let i = 200; i < 400; i++) d.save({ entries: [e(i, 1)], hardState: { term: 1, vote: 1, commit: i } });
    expect(fs.size(walFile(fs))).toBe(d.tail()!.offset);
    d.close();
    fs.crash();
    const r = DiskStorage.open(fs, '/d', opts);
    expect(r.mem.lastIndex()).toBe(399);
    expect(r.mem.firstIndex()).toBe(1);
  });

  it('in a preallocated segment, stray bytes in the zeros are a torn write, a valid record there is corruption', () => {
    const make = (): { fs: SimFS; end: number } => {
      const fs = new SimFS();
      const d = DiskStorage.open(fs, '/d', SMALL);
      d.bootstrap([1]);
      for (let i = 2; i < 10; i++) d.save({ entries: [e(i, 1)], hardState: { term: 1, vote: 1, commit: i } });
      const end = d.tail()!.offset;
      d.close();
      return { fs, end };
    };
    // garbage far into the zeros (part of an append that never completed): cut away, zeroed
    const a = make();
    a.fs.corrupt(walFile(a.fs), a.end + 5000);
    const ra = DiskStorage.open(a.fs, '/d', SMALL);
    expect(ra.mem.lastIndex()).toBe(9);
    expect(ra.recovery.truncatedBytes).toBe(5001);
    expect(a.fs.readFile(walFile(a.fs)).subarray(a.end).every((b) => b === 0)).toBe(true);
    expect(a.fs.size(walFile(a.fs))).toBe(SMALL.segmentBytes);
    // a whole valid record after a hole of zeros: acknowledged data may be missing
    const b = make();
    const file = walFile(b.fs);
    const bytes = b.fs.readFile(file);
    const lastRecordStart = findLastRecordStart(bytes, b.end);
    b.fs.writeBytes(file, b.end + 100, bytes.subarray(lastRecordStart, b.end));
    expect(() => DiskStorage.open(b.fs, '/d', SMALL)).toThrow(WalCorruptionError);
  });

  it('random crashes with torn tails never lose an acknowledged entry', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const rand = seededRand(seed);
      const fs = new SimFS(rand);
      const opts = { segmentBytes: 300, preallocate: seed % 2 === 0 };
      let d = DiskStorage.open(fs, '/d', opts);
      d.bootstrap([1]);
      let acked = 1;
      for (let round = 0; round < 5; round++) {
        const n = 1 + Math.floor(rand() * 8);
        for (let i = 0; i < n; i++) {
          const idx = d.mem.lastIndex() + 1;
          d.save({ entries: [e(idx, 1)], hardState: { term: 1, vote: 1, commit: idx - 1 } }, rand() < 0.8);
          if (fs.unsyncedBytes() === 0) acked = idx;
        }
        // (a snapshot may cover entries saved unsynced, which a crash then loses: it must be newer)
        if (rand() < 0.3 && d.mem.lastIndex() > 3 && d.mem.lastIndex() - 1 > d.mem.snapshot().meta.index) d.compact(d.mem.lastIndex() - 1, { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }, enc('s'));
        fs.crash();
        d = DiskStorage.open(fs, '/d', opts);
        expect(d.mem.lastIndex(), `seed ${seed}`).toBeGreaterThanOrEqual(acked);
        acked = Math.max(acked, d.mem.lastIndex());
      }
    }
  });

  it('snapshot files are atomic: a crash mid-write leaves the previous snapshot', () => {
    const fs = new SimFS(seededRand(3));
    const d = DiskStorage.open(fs, '/d', { segmentBytes: 200 });
    d.bootstrap([1]);
    for (let i = 2; i < 30; i++) d.save({ entries: [e(i, 1)], hardState: { term: 1, vote: 1, commit: i } });
    const cs = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    d.compact(20, cs, enc('state@20'));
    expect(fs.unsyncedBytes()).toBe(0);
    fs.failFsyncIn = 1; // the temp file's fsync fails: no rename happens
    expect(() => d.compact(25, cs, enc('state@25'))).toThrow(/EIO/);
    fs.crash();
    const r = DiskStorage.open(fs, '/d', { segmentBytes: 200 });
    expect(r.mem.snapshot().meta.index).toBe(20);
    expect(new TextDecoder().decode(r.mem.snapshot().data)).toBe('state@20');
    expect(r.mem.lastIndex()).toBe(29);
    expect(fs.list('/d/wal').length).toBeLessThan(10); // old segments were released
  });

  it('a snapshot file written in the background: segments are released only once it is durable', async () => {
    // A simulated disk whose background snapshot writes complete when the test says so.
    class DeferredFS extends SimFS {
      pending: (() => void)[] = [];
      writeFileAtomicAsync(path: string, parts: Uint8Array[]): Promise<void> {
        return new Promise((resolve) =>
          this.pending.push(() => {
            writeFileAtomic(this, path, ...parts);
            resolve();
          }),
        );
      }
    }
    const cs = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    const fs = new DeferredFS(seededRand(4));
    const opts = { segmentBytes: 400 };
    const d = DiskStorage.open(fs, '/d', opts);
    d.bootstrap([1]);
    for (let i = 2; i < 60; i++) d.save({ entries: [e(i, 1)], hardState: { term: 1, vote: 1, commit: i } });
    const before = segments(fs).length;
    d.compact(50, cs, enc('state@50'));
    expect(d.snapshotting).toBe(true);
    expect(d.mem.firstIndex()).toBe(51); // memory is compacted at once
    expect(segments(fs)).toHaveLength(before); // ...the disk is not
    expect(fs.list('/d/snap').filter((f) => f.endsWith('.snap'))).toHaveLength(1); // only the bootstrap one
    // writes go on meanwhile
    for (let i = 60; i < 70; i++) d.save({ entries: [e(i, 1)], hardState: { term: 1, vote: 1, commit: i } });
    // power loss before the snapshot file is durable: the old snapshot and the WAL hold everything
    expect(fs.pending).toHaveLength(1);
    fs.crash();
    fs.pending = []; // that process is gone, and its write with it
    const r1 = DiskStorage.open(fs, '/d', opts);
    expect(r1.mem.snapshot().meta.index).toBe(0);
    expect(r1.mem.lastIndex()).toBe(69);
    r1.close();
    // again, and this time the write completes
    const d2 = DiskStorage.open(fs, '/d', opts);
    d2.compact(60, cs, enc('state@60'));
    fs.pending.shift()!();
    await d2.idle();
    expect(d2.snapshotting).toBe(false);
    expect(segments(fs).length).toBeLessThan(before);
    d2.save({ entries: [e(70, 1)], hardState: { term: 1, vote: 1, commit: 70 } });
    fs.crash();
    const r2 = DiskStorage.open(fs, '/d', opts);
    expect(r2.mem.snapshot().meta.index).toBe(60);
    expect(new TextDecoder().decode(r2.mem.snapshot().data)).toBe('state@60');
    expect(r2.mem.lastIndex()).toBe(70);
  });

  it('an installed snapshot replaces a divergent log across restarts, and the segments before it go', () => {
    const fs = new SimFS();
    const opts = { segmentBytes: 256 };
    const d = DiskStorage.open(fs, '/d', opts);
    d.bootstrap([1, 2, 3]);
    d.save({ entries: [e(4, 1), e(5, 1), e(6, 1)], hardState: { term: 1, vote: 1, commit: 4 } });
    for (let i = 7; i < 20; i++) d.save({ entries: [e(i, 1)] });
    for (let i = 7; i < 20; i++) d.save({ entries: [e(i, 1)] }); // rewrites: more segments, same entries
    const before = segments(fs);
    expect(before.length).toBeGreaterThan(3);
    const cs = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    d.save({ snapshot: { meta: { index: 5, term: 2, confState: cs }, data: enc('S') }, entries: [], hardState: { term: 2, vote: 0, commit: 5 } });
    expect(segments(fs).length).toBeLessThan(before.length);
    expect(segments(fs)).toContain(before.at(-1)); // the one holding the marker stays
    d.save({ entries: [e(6, 2, 'x'), e(7, 2)], hardState: { term: 2, vote: 0, commit: 6 } });
    d.close();
    const r = DiskStorage.open(fs, '/d', opts);
    expect(r.mem.snapshot().meta.index).toBe(5);
    expect(r.mem.firstIndex()).toBe(6);
    expect(r.mem.lastIndex()).toBe(7);
    expect(r.mem.term(6)).toBe(2);
  });

  it('works on the real file system (fsync, rename, reopen)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'raft-wal-'));
    try {
      const fs = new NodeFileSystem();
      const d = DiskStorage.open(fs, dir, { segmentBytes: 1024 });
      d.bootstrap([1]);
      for (let i = 2; i < 100; i++) d.save({ entries: [e(i, 1)], hardState: { term: 1, vote: 1, commit: i } });
      d.compact(50, { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }, enc('s50'));
      d.close();
      await d.idle(); // the background preparation of a segment is done with the directory
      const r = DiskStorage.open(fs, dir, { segmentBytes: 1024 });
      expect(r.mem.lastIndex()).toBe(99);
      expect(r.mem.snapshot().meta.index).toBe(50);
      expect(r.mem.hardState.commit).toBe(99);
      r.close();
      await r.idle();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('on the real file system the next segment is zero-filled in the background, then written in place', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'raft-wal-'));
    try {
      const fs = new NodeFileSystem();
      const opts = { segmentBytes: 1 << 20 };
      const d = DiskStorage.open(fs, dir, opts);
      d.bootstrap([1]);
      expect(d.tail()!.capacity).toBeLessThan(opts.segmentBytes); // the first segment grows
      await d.idle(); // ...while the next one is prepared
      expect(statSync(join(dir, 'wal', 'next.wal.ready')).size).toBe(opts.segmentBytes);
      d.save({ entries: [e(2, 1)], hardState: { term: 1, vote: 1, commit: 2 } });
      const seg = d.tail()!.segment;
      expect(readdirSync(join(dir, 'wal')).filter((f) => f.endsWith('.wal'))).toHaveLength(2);
      for (let i = 3; i < 200; i++) d.save({ entries: [e(i, 1)], hardState: { term: 1, vote: 1, commit: i } });
      expect(d.tail()!.segment).toBe(seg);
      expect(statSync(seg).size).toBe(opts.segmentBytes); // written in place: the length never changed
      d.close();
      await d.idle();
      const r = DiskStorage.open(fs, dir, opts);
      expect(r.mem.lastIndex()).toBe(199);
      expect(r.mem.hardState.commit).toBe(199);
      r.close();
      await r.idle();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const CS = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

/** The records of a segment file up to its first zero length: [start, end, type]. */
function recordsOf(buf: Uint8Array): [number, number, number][] {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: [number, number, number][] = [];
  for (let pos = 0; pos + 9 <= buf.length; ) {
    const len = v.getUint32(pos);
    if (len === 0 || pos + 8 + len > buf.length) break;
    out.push([pos, pos + 8 + len, buf[pos + 8]!]);
    pos += 8 + len;
  }
  return out;
}

/** Saves entries (each committed at once) until the segment being written holds `fill` bytes of records. */
function fillSegment(d: DiskStorage, fill: number): number {
  let idx = d.mem.lastIndex();
  do {
    idx++;
    d.save({ entries: [e(idx, 1)], hardState: { term: 1, vote: 1, commit: idx } });
  } while (d.tail()!.offset < fill);
  return idx;
}

/** A simulated disk on which the n-th next operation fails with ENOSPC (a write after writing half its bytes). */
class NoSpaceAt extends SimFS {
  countdown = 0;
  failed: string[] = [];
  private op(what: string): void {
    if (this.countdown > 0 && --this.countdown === 0) {
      this.failed.push(what);
      throw Object.assign(new Error(`ENOSPC: no space left on device, ${what}`), { code: 'ENOSPC' });
    }
  }
  override openWrite(path: string): FileHandle {
    this.op(`open ${path}`);
    return super.openWrite(path);
  }
  override writeAt(h: FileHandle, data: Uint8Array, pos: number): void {
    try {
      this.op(`write ${h.path}`);
    } catch (x) {
      super.writeAt(h, data.subarray(0, data.length >> 1), pos);
      throw x;
    }
    super.writeAt(h, data, pos);
  }
  override fsync(h: FileHandle): void {
    this.op(`fsync ${h.path}`);
    super.fsync(h);
  }
  override rename(from: string, to: string): void {
    this.op(`rename ${from}`);
    super.rename(from, to);
  }
  override fsyncDir(dir: string): void {
    this.op(`fsyncdir ${dir}`);
    super.fsyncDir(dir);
  }
  override truncate(path: string, len: number): void {
    this.op(`truncate ${path}`);
    super.truncate(path, len);
  }
}

describe('WAL on a full disk', () => {
  it('a save failing with ENOSPC at any step (a new segment, its preallocation, a snapshot) counts for nothing, and saved again it is whole', () => {
    const cs = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    for (const opts of [SMALL, GROWING, { segmentBytes: 1 << 14, preallocate: true, fails: 'zero-fill' }]) {
      let steps = 0;
      for (let k = 1; ; k++) {
        const fs = new NoSpaceAt();
        const d = DiskStorage.open(fs, '/d', opts);
        d.bootstrap([1]);
        if ('fails' in opts) fs.failZeroed = true; // growing segments from here
        const last = fillSegment(d, opts.segmentBytes); // the next save starts a segment
        const first = d.mem.lastIndex() + 1;
        // A snapshot from the leader, entries after it, the hard state: every kind of write.
        const rd = {
          snapshot: { meta: { index: last + 5, term: 2, confState: cs }, data: enc('S') },
          entries: [e(last + 6, 2), e(last + 7, 2)],
          hardState: { term: 2, vote: 1, commit: last + 6 },
        };
        expect(first).toBe(last + 1);
        const tail = d.tail();
        fs.countdown = k;
        try {
          d.save(rd);
        } catch (x) {
          expect(isNoSpace(x), `step ${k}: ${String(x)}`).toBe(true);
          // nothing of it counts
          expect(d.mem.lastIndex()).toBe(last);
          expect(d.mem.snapshot().meta.index).toBe(0);
          d.save(rd); // space again
        }
        const failedAt = fs.failed[0];
        fs.countdown = 0;
        d.save({ entries: [e(last + 8, 2)], hardState: { term: 2, vote: 1, commit: last + 8 } });
        d.close();
        const r = DiskStorage.open(fs, '/d', opts);
        expect(r.mem.snapshot().meta.index, `step ${k} (${failedAt})`).toBe(last + 5);
        expect(r.mem.lastIndex(), `step ${k} (${failedAt})`).toBe(last + 8);
        expect(r.mem.term(last + 6)).toBe(2);
        expect(r.mem.hardState.commit).toBe(last + 8);
        expect(r.recovery.truncatedBytes, `step ${k} (${failedAt})`).toBe(0);
        r.close();
        if (failedAt === undefined) {
          // k is past the last operation of the save: every step was tried
          expect(tail).toBeDefined();
          break;
        }
        steps++;
      }
      expect(steps).toBeGreaterThan(5);
    }
  });

  it('a failed write is retried in the same place, even when a prepared segment became ready meanwhile', async () => {
    // The zero-fill of the next segment completes when the test says so.
    class DeferredZeroFS extends NoSpaceAt {
      fills: (() => void)[] = [];
      override createZeroed(path: string, size: number): Promise<void> {
        return new Promise((resolve) => this.fills.push(() => resolve(super.createZeroed(path, size))));
      }
    }
    const fs = new DeferredZeroFS();
    const d = DiskStorage.open(fs, '/d', SMALL);
    d.bootstrap([1]); // a growing first segment; the next one is being zero-filled
    expect(fs.fills).toHaveLength(1);
    const seg = d.tail()!.segment;
    fs.countdown = 1; // the next write: half of it lands, then ENOSPC
    const rd = { entries: [e(2, 1, 'two'), e(3, 1, 'three')], hardState: { term: 1, vote: 1, commit: 3 } };
    expect(() => d.save(rd)).toThrow(/ENOSPC/);
    // the zero-fill finishes: a prepared segment is ready, which would end a growing one
    fs.fills.shift()!();
    await d.idle();
    expect(fs.list('/d/wal')).toContain('next.wal.ready');
    d.save(rd);
    expect(d.tail()!.segment).toBe(seg); // over the half-written records, not after them
    d.save({ entries: [e(4, 1)] }); // (and now the growing segment is cut)
    expect(d.tail()!.segment).not.toBe(seg);
    d.close();
    const r = DiskStorage.open(fs, '/d', SMALL);
    expect(r.mem.lastIndex()).toBe(4);
    expect(new TextDecoder().decode(r.mem.entries(3, 4, Infinity)[0]!.data)).toBe('three');
  });
});

describe('WAL cut short', () => {
  it('a preallocated last segment cut in half is refused, naming the file; the file is left as it was found', () => {
    const fs = new SimFS();
    const d = DiskStorage.open(fs, '/d', SMALL);
    d.bootstrap([1]);
    const last = fillSegment(d, SMALL.segmentBytes * 0.75);
    d.close();
    const file = walFile(fs);
    expect(fs.size(file)).toBe(SMALL.segmentBytes);
    fs.cut(file, SMALL.segmentBytes / 2);
    const before = fs.readFile(file);
    let err: unknown;
    try {
      DiskStorage.open(fs, '/d', SMALL);
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(WalCorruptionError);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toMatch(/8192 bytes long but was started with 16384 .*the WAL was cut; refusing to start \(restore from a backup, or remove the data dir and rejoin\)/);
    expect(fs.readFile(file)).toEqual(before); // no "repair" of the cut tail
    // (without the check it would have started from an older state)
    expect(last).toBeGreaterThan(100);
  });

  it('a growing segment cut in half is refused, naming the file: at a record boundary (the commit is past the log) or inside a record', () => {
    const opts = { segmentBytes: 4096, preallocate: false };
    const make = (): { fs: SimFS; file: string; last: number } => {
      const fs = new SimFS();
      const d = DiskStorage.open(fs, '/d', opts);
      d.bootstrap([1]);
      const last = fillSegment(d, opts.segmentBytes);
      const file = d.tail()!.segment;
      // The next save starts a new segment: only hard state records there, committing `last`.
      d.save({ entries: [], hardState: { term: 2, vote: 1, commit: last } });
      expect(d.tail()!.segment).not.toBe(file);
      d.close();
      return { fs, file, last };
    };
    // at the record boundary nearest the middle: the records left are whole, the entries end early
    const a = make();
    const recs = recordsOf(a.fs.readFile(a.file));
    const boundary = recs.find(([, end]) => end >= a.fs.size(a.file) / 2)![1];
    a.fs.cut(a.file, boundary);
    const ea = (() => {
      try {
        DiskStorage.open(a.fs, '/d', opts);
      } catch (x) {
        return x as Error;
      }
    })();
    expect(ea).toBeInstanceOf(WalCorruptionError);
    expect(ea!.message).toMatch(new RegExp(`^WAL ${a.file}: log ends at entry \\d+ but its hard state recorded commit ${a.last}: the WAL was cut; refusing to start \\(restore from a backup, or remove the data dir and rejoin\\)$`));
    expect(Number(/log ends at entry (\d+)/.exec(ea!.message)![1])).toBeLessThan(a.last);
    // in the middle of a record: a bad record in a sealed segment
    const b = make();
    b.fs.cut(b.file, Math.floor(b.fs.size(b.file) / 2) | 1);
    expect(() => DiskStorage.open(b.fs, '/d', opts)).toThrow(new RegExp(`WAL ${b.file}: bad record at offset \\d+ in a sealed segment`));
  });

  it('a torn append that ran past the preallocated end is cut back to the capacity, not below (it never reads as a cut)', () => {
    const fs = new SimFS();
    const d = DiskStorage.open(fs, '/d', SMALL);
    d.bootstrap([1]);
    const last = fillSegment(d, SMALL.segmentBytes - 200);
    const file = d.tail()!.segment;
    // One append of 2 KiB from 200 bytes before the end: the file grows past its capacity...
    const start = d.tail()!.offset;
    d.save({ entries: [e(last + 1, 1, 'x'.repeat(2048))] });
    expect(d.tail()!.segment).toBe(file);
    expect(fs.size(file)).toBeGreaterThan(SMALL.segmentBytes);
    d.close();
    // ...and the power goes before it is durable: only its first part made it.
    fs.cut(file, SMALL.segmentBytes + 100);
    const r = DiskStorage.open(fs, '/d', SMALL);
    expect(r.mem.lastIndex()).toBe(last);
    expect(r.recovery.truncatedBytes).toBe(SMALL.segmentBytes + 100 - start);
    expect(fs.size(file)).toBe(SMALL.segmentBytes); // cut back to the capacity, zeros up to it
    expect(fs.readFile(file).subarray(start).every((x) => x === 0)).toBe(true);
    r.close();
    const again = DiskStorage.open(fs, '/d', SMALL);
    expect(again.mem.lastIndex()).toBe(last);
    again.save({ entries: [e(last + 1, 1)] });
    again.close();
    expect(DiskStorage.open(fs, '/d', SMALL).mem.lastIndex()).toBe(last + 1);
  });

  it('a segment sealed short of its capacity (segmentBytes lowered) is cut only once the next exists: power lost at any step reopens', () => {
    /** A disk whose process dies with the power: after die(), every operation fails. */
    class DyingFS extends SimFS {
      dead = false;
      die(): void {
        this.crash(false);
        this.dead = true;
      }
      private alive(): void {
        if (this.dead) throw new Error('EIO: the process is gone');
      }
      override openWrite(path: string): FileHandle {
        this.alive();
        return super.openWrite(path);
      }
      override writeAt(h: FileHandle, data: Uint8Array, pos: number): void {
        this.alive();
        super.writeAt(h, data, pos);
      }
      override fsync(h: FileHandle): void {
        this.alive();
        super.fsync(h);
      }
      override rename(from: string, to: string): void {
        this.alive();
        super.rename(from, to);
      }
      override fsyncDir(dir: string): void {
        this.alive();
        super.fsyncDir(dir);
      }
      override truncate(path: string, len: number): void {
        this.alive();
        super.truncate(path, len);
      }
    }
    const big = { segmentBytes: 1 << 14, preallocate: true };
    const small = { segmentBytes: 1 << 11, preallocate: true };
    for (const dieAt of ['before the truncate', 'after the truncate', 'never'] as const) {
      const fs = new DyingFS();
      const d = DiskStorage.open(fs, '/d', big);
      d.bootstrap([1]);
      const last = fillSegment(d, 4096); // a preallocated 16 KiB segment holding 4 KiB of records
      const file = d.tail()!.segment;
      const records = d.tail()!.offset;
      d.close();
      fs.recordOps = true;
      const truncate = fs.truncate.bind(fs);
      fs.truncate = (path, len) => {
        if (path === file && dieAt === 'before the truncate') fs.die();
        truncate(path, len);
        if (path === file && dieAt === 'after the truncate') fs.die();
      };
      // Reopened with smaller segments: the 16 KiB one is full, sealed at its records' end.
      const r = DiskStorage.open(fs, '/d', small);
      try {
        r.save({ entries: [e(last + 1, 1)], hardState: { term: 1, vote: 1, commit: last + 1 } });
        expect(dieAt).toBe('never');
        expect(r.tail()!.segment).not.toBe(file);
      } catch (x) {
        expect((x as Error).message).toMatch(/the process is gone/);
      }
      fs.dead = false;
      fs.truncate = truncate;
      // Whenever the power went, the WAL opens with everything acknowledged.
      const after = DiskStorage.open(fs, '/d', small);
      expect(after.mem.lastIndex(), dieAt).toBe(dieAt === 'never' ? last + 1 : last);
      if (dieAt !== 'never') continue;
      // the next segment's name was durable before the old one was cut to its records
      const ops = fs.ops;
      const created = ops.findIndex((o) => o.startsWith('create /d/wal/') && o !== `create ${file}`);
      const dirSync = ops.findIndex((o, i) => i > created && o === 'fsyncdir /d/wal');
      expect(created).toBeGreaterThanOrEqual(0);
      expect(dirSync).toBeGreaterThan(created);
      expect(ops.indexOf(`truncate ${file} ${records}`)).toBeGreaterThan(dirSync);
      expect(fs.size(file)).toBe(records);
    }
  });

  it('a WAL written before segment records existed opens, and is written on', () => {
    for (const opts of [SMALL, GROWING]) {
      const fs = new SimFS();
      writeN(fs, 20, opts);
      // As the code before segment records wrote it: each segment starts with the hard state.
      for (const s of segments(fs)) {
        const path = `/d/wal/${s}`;
        const buf = fs.readFile(path);
        const [first] = recordsOf(buf);
        expect(first![2]).toBe(4);
        const old = new Uint8Array(buf.length);
        old.set(buf.subarray(first![1]));
        fs.cut(path, 0);
        const h = fs.openWrite(path);
        fs.writeAt(h, opts.preallocate ? old : old.subarray(0, buf.length - first![1]), 0);
        fs.fsync(h);
        fs.close(h);
      }
      expect(segments(fs).every((s) => recordsOf(fs.readFile(`/d/wal/${s}`))[0]![2] === 2)).toBe(true);
      const r = DiskStorage.open(fs, '/d', opts);
      expect(r.mem.lastIndex()).toBe(23);
      for (let i = 24; i < 400; i++) r.save({ entries: [e(i, 1)], hardState: { term: 1, vote: 1, commit: i } });
      r.close();
      const again = DiskStorage.open(fs, '/d', opts);
      expect(again.mem.lastIndex()).toBe(399);
      expect(again.mem.hardState.commit).toBe(399);
    }
  });
});

describe('WAL and snapshot damage is refused with the file and the offset', () => {
  const BLOCK = 4096;
  const zeroBlock = (fs: SimFS, path: string, at: number): void => fs.writeBytes(path, at, new Uint8Array(BLOCK));

  it('a zeroed 4 KiB block in the middle of the last segment', () => {
    const fs = new SimFS();
    const d = DiskStorage.open(fs, '/d', SMALL);
    d.bootstrap([1]);
    fillSegment(d, 3 * BLOCK);
    const file = d.tail()!.segment;
    d.close();
    zeroBlock(fs, file, BLOCK);
    const err = (() => {
      try {
        DiskStorage.open(fs, '/d', SMALL);
      } catch (x) {
        return x as Error;
      }
    })();
    expect(err).toBeInstanceOf(WalCorruptionError);
    const m = new RegExp(`^WAL ${file}: corrupted record at offset (\\d+) \\(bytes (\\d+)-(\\d+) are zeros: a zeroed block\\?\\) followed by a valid record at (\\d+)`).exec(err!.message);
    expect(m, err!.message).not.toBeNull();
    const [at, z0, z1, valid] = m!.slice(1).map(Number) as [number, number, number, number];
    expect(at).toBeLessThanOrEqual(BLOCK);
    expect(at).toBeGreaterThan(BLOCK - 100); // the record the block begins in
    expect(z0).toBeLessThanOrEqual(BLOCK);
    expect(z1).toBeGreaterThanOrEqual(2 * BLOCK - 1);
    expect(valid).toBeGreaterThanOrEqual(2 * BLOCK);
  });

  it('a zeroed 4 KiB block in the middle of a sealed segment', () => {
    const fs = new SimFS();
    const d = DiskStorage.open(fs, '/d', SMALL);
    d.bootstrap([1]);
    fillSegment(d, 3 * BLOCK);
    const file = d.tail()!.segment;
    fillSegment(d, SMALL.segmentBytes); // fills it...
    fillSegment(d, 100); // ...and goes on in the next one
    expect(d.tail()!.segment).not.toBe(file);
    d.close();
    zeroBlock(fs, file, 2 * BLOCK);
    expect(() => DiskStorage.open(fs, '/d', SMALL)).toThrow(new RegExp(`^WAL ${file}: bad record at offset \\d+ \\(bytes \\d+-\\d+ are zeros: a zeroed block\\?\\) in a sealed segment`));
  });

  const withSnapshot = (): { fs: SimFS; path: string; size: number } => {
    const fs = new SimFS();
    const d = DiskStorage.open(fs, '/d', { segmentBytes: 1 << 16 });
    d.bootstrap([1]);
    for (let i = 2; i < 50; i++) d.save({ entries: [e(i, 1)], hardState: { term: 1, vote: 1, commit: i } });
    d.compact(40, CS, enc('state of the application; '.repeat(1000))); // ~26 KB, no zero bytes
    d.close();
    const snaps = fs.list('/d/snap').filter((f) => f.endsWith('.snap'));
    const path = `/d/snap/${snaps.at(-1)}`;
    expect(path).toContain('0000000000000028-');
    return { fs, path, size: fs.size(path) };
  };

  it('a zeroed 4 KiB block in a snapshot file', () => {
    const { fs, path, size } = withSnapshot();
    expect(size).toBeGreaterThan(4 * BLOCK);
    zeroBlock(fs, path, 2 * BLOCK);
    expect(() => DiskStorage.open(fs, '/d', { segmentBytes: 1 << 16 })).toThrow(
      new RegExp(`^snapshot ${path} fails its checksum \\(bytes 8192-12287 \\(from offset 8192\\) are zeros: a zeroed block\\?\\); refusing to start$`),
    );
    // its header zeroed: the same, not a JSON error
    const b = withSnapshot();
    zeroBlock(b.fs, b.path, 0);
    expect(() => DiskStorage.open(b.fs, '/d', { segmentBytes: 1 << 16 })).toThrow(new RegExp(`^snapshot ${b.path} fails its checksum \\(bytes 0-4095 \\(from offset 0\\) are zeros`));
  });

  it('an edited snapshot file (one byte changed) is refused, naming the file', () => {
    for (const at of [0, 5, 30, 9000]) {
      const { fs, path, size } = withSnapshot();
      expect(at).toBeLessThan(size);
      const bytes = fs.readFile(path);
      fs.writeBytes(path, at, Uint8Array.of(bytes[at]! ^ 0x20));
      expect(() => DiskStorage.open(fs, '/d', { segmentBytes: 1 << 16 }), `byte ${at}`).toThrow(
        new RegExp(`^snapshot ${path} fails its checksum \\((some bytes changed; the checksum does not say where|${size} bytes long where its header says \\d+)\\); refusing to start$`),
      );
    }
  });

  it('a snapshot file cut short is refused, naming the file and both lengths', () => {
    const { fs, path, size } = withSnapshot();
    fs.cut(path, size - 1000);
    expect(() => DiskStorage.open(fs, '/d', { segmentBytes: 1 << 16 })).toThrow(new RegExp(`^snapshot ${path} fails its checksum \\(${size - 1000} bytes long where its header says ${size}\\)`));
  });
});

/** Where the last whole record before `end` starts (records: [len u32][crc u32][payload]). */
function findLastRecordStart(buf: Uint8Array, end: number): number {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  let last = 0;
  while (pos < end) {
    last = pos;
    pos += 8 + v.getUint32(pos);
  }
  return last;
}
