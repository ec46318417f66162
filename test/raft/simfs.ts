// A simulated disk for tests: writes land in a volatile page cache; fsync makes a file's bytes
// durable, fsyncDir makes creations/renames/unlinks in a directory durable. crash() keeps only
// what was durable, plus (torn writes) a random prefix of each file's unsynced tail.
// Faults: a failing fsync, and an operation log to check fsync discipline.
import { dirname } from 'node:path';
import type { FileHandle, FileSystem } from '../../manager/raft/fs.js';

class Inode {
  buf = new Uint8Array(256);
  len = 0;
  durableLen = 0;
  append(d: Uint8Array): void {
    if (this.len + d.length > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.len + d.length) cap *= 2;
      const nb = new Uint8Array(cap);
      nb.set(this.buf.subarray(0, this.len));
      this.buf = nb;
    }
    this.buf.set(d, this.len);
    this.len += d.length;
  }
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
  openAppend(path: string): FileHandle {
    let n = this.names.get(path);
    if (!n) {
      n = new Inode();
      this.names.set(path, n);
      this.log(`create ${path}`);
    }
    return { path, inode: n, closed: false } as SimHandle;
  }
  append(h: FileHandle, data: Uint8Array): void {
    const sh = h as SimHandle;
    if (sh.closed) throw new Error('write to closed handle');
    sh.inode.append(data);
    this.log(`write ${h.path} ${data.length}`);
  }
  fsync(h: FileHandle): void {
    if (this.failFsyncIn > 0 && --this.failFsyncIn === 0) {
      this.log(`fsync ${h.path} FAILED`);
      throw new Error(`EIO: fsync ${h.path}`);
    }
    const n = (h as SimHandle).inode;
    n.durableLen = n.len;
    this.log(`fsync ${h.path}`);
  }
  close(h: FileHandle): void {
    (h as SimHandle).closed = true;
  }
  size(path: string): number {
    return this.names.get(path)!.len;
  }
  truncate(path: string, len: number): void {
    const n = this.names.get(path)!;
    n.len = Math.min(n.len, len);
    n.durableLen = Math.min(n.durableLen, len);
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
      const extra = torn && n.len > n.durableLen ? Math.floor(this.rand() * (n.len - n.durableLen + 1)) : 0;
      n.len = n.durableLen + extra;
      n.durableLen = n.len;
    }
  }

  /** Bytes written but not yet durable (0 after a correct save). */
  unsyncedBytes(): number {
    let u = 0;
    for (const [p, n] of this.names) {
      u += n.len - n.durableLen;
      if (this.durableNames.get(p) !== n) u += 1;
    }
    return u;
  }

  /** Test helpers: damage a file in place (already durable). */
  corrupt(path: string, offset: number): void {
    const n = this.names.get(path)!;
    n.buf[offset] = n.buf[offset]! ^ 0xff;
  }
  cut(path: string, len: number): void {
    this.truncate(path, len);
  }
}
