// Crash safety of the WAL and snapshot files, on a simulated disk with crash semantics.
import { describe, expect, it } from 'vitest';
import { DiskStorage, WalCorruptionError } from '../../manager/raft/wal.js';
import type { Entry } from '../../manager/raft/types.js';
import { SimFS } from './simfs.js';
import { enc, seededRand } from './harness.js';
import { NodeFileSystem } from '../../manager/raft/fs.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const e = (index: number, term: number, s = `v${index}`): Entry => ({ index, term, type: 'normal', data: enc(s) });
const walFile = (fs: SimFS): string => `/d/wal/${fs.list('/d/wal')[fs.list('/d/wal').length - 1]}`;

/** Writes N single-entry acknowledged saves; returns the WAL byte offset after each. */
function writeN(fs: SimFS, n: number): number[] {
  const d = DiskStorage.open(fs, '/d');
  d.bootstrap([1, 2, 3]);
  const ends: number[] = [];
  for (let i = 4; i < 4 + n; i++) {
    d.save({ entries: [e(i, 1)] }); // one record per acknowledged save
    ends.push(fs.size(walFile(fs)));
  }
  d.close();
  return ends;
}

describe('WAL', () => {
  it('round-trips entries, hard state and a conflicting overwrite', () => {
    const fs = new SimFS();
    const d = DiskStorage.open(fs, '/d');
    d.bootstrap([1]);
    d.save({ entries: [e(2, 1), e(3, 1), e(4, 1)], hardState: { term: 1, vote: 1, commit: 2 } });
    d.save({ entries: [e(3, 2, 'new')], hardState: { term: 2, vote: 1, commit: 2 } });
    d.close();
    const r = DiskStorage.open(fs, '/d');
    expect(r.mem.lastIndex()).toBe(3);
    expect(r.mem.term(3)).toBe(2);
    expect(r.mem.hardState).toEqual({ term: 2, vote: 1, commit: 2 });
    expect(r.mem.initialState().confState.voters).toEqual([1]);
  });

  it('every save is durable when it returns (fsync before acknowledging)', () => {
    const fs = new SimFS(seededRand(1));
    const d = DiskStorage.open(fs, '/d');
    d.bootstrap([1]);
    for (let i = 2; i < 50; i++) {
      d.save({ entries: [e(i, 1)], hardState: { term: 1, vote: 1, commit: i - 1 } });
      expect(fs.unsyncedBytes()).toBe(0);
    }
    fs.crash();
    const r = DiskStorage.open(fs, '/d');
    expect(r.mem.lastIndex()).toBe(49);
  });

  it('a failed fsync is not an acknowledgement', () => {
    const fs = new SimFS(seededRand(2));
    const d = DiskStorage.open(fs, '/d');
    d.bootstrap([1]);
    fs.failFsyncIn = 1;
    expect(() => d.save({ entries: [e(2, 1)] })).toThrow(/EIO/);
    expect(d.mem.lastIndex()).toBe(1); // the in-memory view never saw it
  });

  it('recovers exactly the acknowledged prefix when the tail is cut at every byte offset', () => {
    const base = new SimFS();
    const ends = writeN(base, 6);
    const file = walFile(base);
    const full = base.readFile(file);
    const from = ends[ends.length - 4]!;
    for (let cut = from; cut <= full.length; cut++) {
      const fs = new SimFS();
      const d0 = writeN(fs, 6);
      void d0;
      fs.cut(file, cut);
      const r = DiskStorage.open(fs, '/d');
      const whole = ends.filter((x) => x <= cut).length;
      expect(r.mem.lastIndex(), `cut at ${cut}`).toBe(3 + whole);
      r.close();
      // and the recovered WAL accepts new appends that survive another restart
      const again = DiskStorage.open(fs, '/d');
      again.save({ entries: [e(4 + whole, 2, 'after')], hardState: { term: 2, vote: 1, commit: 3 } });
      again.close();
      expect(DiskStorage.open(fs, '/d').mem.lastIndex()).toBe(4 + whole);
    }
  });

  it('a corrupted byte in the last record is a torn write; anywhere earlier it stops the node', () => {
    const base = new SimFS();
    const ends = writeN(base, 6);
    const file = walFile(base);
    const lastStart = ends[ends.length - 2]!;
    const from = ends[ends.length - 4]!;
    for (let off = from; off < ends[ends.length - 1]!; off++) {
      const fs = new SimFS();
      writeN(fs, 6);
      fs.corrupt(file, off);
      if (off >= lastStart) {
        const r = DiskStorage.open(fs, '/d');
        expect(r.mem.lastIndex(), `corrupt at ${off}`).toBe(3 + 5);
      } else {
        expect(() => DiskStorage.open(fs, '/d'), `corrupt at ${off}`).toThrow(WalCorruptionError);
      }
    }
  });

  it('random crashes with torn tails never lose an acknowledged entry', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const rand = seededRand(seed);
      const fs = new SimFS(rand);
      let d = DiskStorage.open(fs, '/d', { segmentBytes: 300 });
      d.bootstrap([1]);
      let acked = 1;
      for (let round = 0; round < 5; round++) {
        const n = 1 + Math.floor(rand() * 8);
        for (let i = 0; i < n; i++) {
          const idx = d.mem.lastIndex() + 1;
          d.save({ entries: [e(idx, 1)], hardState: { term: 1, vote: 1, commit: idx - 1 } }, rand() < 0.8);
          if (fs.unsyncedBytes() === 0) acked = idx;
        }
        if (rand() < 0.3 && d.mem.lastIndex() > 3) d.compact(d.mem.lastIndex() - 1, { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }, enc('s'));
        fs.crash();
        d = DiskStorage.open(fs, '/d', { segmentBytes: 300 });
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

  it('an installed snapshot replaces a divergent log across restarts', () => {
    const fs = new SimFS();
    const d = DiskStorage.open(fs, '/d');
    d.bootstrap([1, 2, 3]);
    d.save({ entries: [e(4, 1), e(5, 1), e(6, 1)], hardState: { term: 1, vote: 1, commit: 4 } });
    const cs = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    d.save({ snapshot: { meta: { index: 5, term: 2, confState: cs }, data: enc('S') }, entries: [], hardState: { term: 2, vote: 0, commit: 5 } });
    d.save({ entries: [e(6, 2, 'x'), e(7, 2)], hardState: { term: 2, vote: 0, commit: 6 } });
    d.close();
    const r = DiskStorage.open(fs, '/d');
    expect(r.mem.snapshot().meta.index).toBe(5);
    expect(r.mem.firstIndex()).toBe(6);
    expect(r.mem.lastIndex()).toBe(7);
    expect(r.mem.term(6)).toBe(2);
  });

  it('works on the real file system (fsync, rename, reopen)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'raft-wal-'));
    try {
      const fs = new NodeFileSystem();
      const d = DiskStorage.open(fs, dir, { segmentBytes: 1024 });
      d.bootstrap([1]);
      for (let i = 2; i < 100; i++) d.save({ entries: [e(i, 1)], hardState: { term: 1, vote: 1, commit: i } });
      d.compact(50, { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }, enc('s50'));
      d.close();
      const r = DiskStorage.open(fs, dir, { segmentBytes: 1024 });
      expect(r.mem.lastIndex()).toBe(99);
      expect(r.mem.snapshot().meta.index).toBe(50);
      expect(r.mem.hardState.commit).toBe(99);
      r.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
