// A simulated disk for tests: writes land in a volatile page cache; fsync makes a file's bytes
// durable, fsyncDir makes creations/renames/unlinks in a directory durable. crash() keeps only
// what was durable, plus (torn writes) a random prefix of each file's unsynced writes.
// Faults: a failing fsync, and an operation log to check fsync discipline.
import { dirname } from 'node:path';
import type { FileHandle, FileSystem } from '../../manager/raft/fs.js';

/** A file: what reads see (the page cache), what is durable, and the writes in between. */
class Inode {
  buf: Uint8Array = new Uint8Array(256);
  len = 0;
  durable: Uint8Array = new Uint8Array(256);
  durableLen = 0;
  /** Writes since the last fsync, in order: a crash keeps a prefix of them (the last one torn). */
  pending: { pos: number; data: Uint8Array }[] = [];

  write(pos: number, d: Uint8Array): void {
    this.buf = grow(this.buf, pos + d.length);
    if (pos > this.len) this.buf.fill(0, this.len, pos);
    this.buf.set(d, pos);
    this.len = Math.max(this.len, pos + d.length);
    this.pending.push({ pos, data: d.slice() });
  }
  sync(): void {
    for (const w of this.pending) this.applyDurable(w.pos, w.data);
    this.pending = [];
    this.durableLen = this.len;
  }
  private applyDurable(pos: number, d: Uint8Array): void {
    this.durable = grow(this.durable, pos + d.length);
    if (pos > this.durableLen) this.durable.fill(0, this.durableLen, pos);
    this.durable.set(d, pos);
    this.durableLen = Math.max(this.durableLen, pos + d.length);
  }
  unsynced(): number {
    let n = 0;
    for (const w of this.pending) n += w.data.length;
    return n;
  }
  /** Power loss: the durable bytes, plus the first `keep` bytes of the pending writes in order. */
  lose(keep: number): void {
    for (const w of this.pending) {
      if (keep <= 0) break;
      const part = w.data.subarray(0, Math.min(w.data.length, keep));
      this.applyDurable(w.pos, part);
      keep -= part.length;
    }
    this.pending = [];
    this.buf = this.durable.slice();
    this.len = this.durableLen;
  }
  truncate(len: number): void {
    this.len = Math.min(this.len, len);
    this.durableLen = Math.min(this.durableLen, len);
    this.pending = this.pending.filter((w) => w.pos < len).map((w) => ({ pos: w.pos, data: w.data.subarray(0, len - w.pos) }));
  }
}

function grow(b: Uint8Array, need: number): Uint8Array {
  if (need <= b.length) return b;
  let cap = b.length * 2;
  while (cap < need) cap *= 2;
  const nb = new Uint8Array(cap);
  nb.set(b);
  return nb;
}

interface SimHandle extends FileHandle {
  inode: Inode;
  closed: boolean;
}

export class SimFS implements FileSystem {
  private names = new Map<string, Inode>();
  private durableNames = new Map<string, Inode>();
  private dirs = new Set<string>(['/']);
  ops: string[] = [];
  /** createZeroed fails (a full disk). */
  failZeroed = false;
  /** Throw from the n-th next fsync (1 = the next one). */
  failFsyncIn = 0;
  recordOps = false;

  constructor(private rand: () => number = Math.random) {}

  private log(op: string): void {
    if (this.recordOps) this.ops.push(op);
  }
  mkdirp(dir: string): void {
    this.dirs.add(dir);
  }
  list(dir: string): string[] {
    const out: string[] = [];
    for (const p of this.names.keys()) if (dirname(p) === dir) out.push(p.slice(dir.length + 1));
    return out.sort();
  }
  exists(path: string): boolean {
    return this.names.has(path) || this.dirs.has(path);
  }
  readFile(path: string): Uint8Array {
    const n = this.names.get(path);
    if (!n) throw new Error(`ENOENT: ${path}`);
    return n.buf.slice(0, n.len);
  }
  openWrite(path: string): FileHandle {
    let n = this.names.get(path);
    if (!n) {
      n = new Inode();
      this.names.set(path, n);
      this.log(`create ${path}`);
    }
    return { path, inode: n, closed: false } as SimHandle;
  }
  writeAt(h: FileHandle, data: Uint8Array, pos: number): void {
    const sh = h as SimHandle;
    if (sh.closed) throw new Error('write to closed handle');
    sh.inode.write(pos, data);
    this.log(`write ${h.path} ${data.length}`);
  }
  /** Synchronous here: the file is ready when this returns. */
  createZeroed(path: string, size: number): void {
    if (this.failZeroed) throw new Error(`ENOSPC: ${path}`);
    const h = this.openWrite(path);
    if (size > 0) this.writeAt(h, new Uint8Array(size), 0);
    this.fsync(h);
    this.close(h);
  }
  fsync(h: FileHandle): void {
    if (this.failFsyncIn > 0 && --this.failFsyncIn === 0) {
      this.log(`fsync ${h.path} FAILED`);
      throw new Error(`EIO: fsync ${h.path}`);
    }
    (h as SimHandle).inode.sync();
    this.log(`fsync ${h.path}`);
  }
  close(h: FileHandle): void {
    (h as SimHandle).closed = true;
  }
  size(path: string): number {
    return this.names.get(path)!.len;
  }
  truncate(path: string, len: number): void {
    this.names.get(path)!.truncate(len);
    this.log(`truncate ${path} ${len}`);
  }
  rename(from: string, to: string): void {
    const n = this.names.get(from);
    if (!n) throw new Error(`ENOENT: ${from}`);
    this.names.delete(from);
    this.names.set(to, n);
    this.log(`rename ${from} ${to}`);
  }
  unlink(path: string): void {
    this.names.delete(path);
    this.log(`unlink ${path}`);
  }
  fsyncDir(dir: string): void {
    for (const p of [...this.durableNames.keys()]) if (dirname(p) === dir && !this.names.has(p)) this.durableNames.delete(p);
    for (const [p, n] of this.names) if (dirname(p) === dir) this.durableNames.set(p, n);
    this.log(`fsyncdir ${dir}`);
  }

  /** Power loss: unsynced data and directory changes vanish (torn tails survive partly). */
  crash(torn = true): void {
    this.names = new Map(this.durableNames);
    for (const n of new Set(this.names.values())) {
      const unsynced = n.unsynced();
      n.lose(torn && unsynced > 0 ? Math.floor(this.rand() * (unsynced + 1)) : 0);
    }
  }

  /** Bytes written but not yet durable (0 after a correct save). */
  unsyncedBytes(): number {
    let u = 0;
    for (const [p, n] of this.names) {
      u += n.unsynced();
      // A temporary file's name need not be durable (it is renamed, then the directory synced).
      if (this.durableNames.get(p) !== n && !p.endsWith('.tmp')) u += 1;
    }
    return u;
  }

  /** Test helpers: damage a file in place (already durable). */
  corrupt(path: string, offset: number): void {
    const n = this.names.get(path)!;
    n.buf[offset] = n.buf[offset]! ^ 0xff;
    n.durable[offset] = n.buf[offset]!;
  }
  zero(path: string, offset: number): void {
    const n = this.names.get(path)!;
    n.buf[offset] = 0;
    n.durable[offset] = 0;
  }
  writeBytes(path: string, offset: number, data: Uint8Array): void {
    const n = this.names.get(path)!;
    n.buf.set(data, offset);
    n.durable.set(data, offset);
  }
  cut(path: string, len: number): void {
    this.truncate(path, len);
  }
}
