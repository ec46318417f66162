// The file operations the WAL and snapshot files need, synchronous and explicit about
// durability (fsync of files and of directories), so that tests can swap in a simulated disk
// that loses unsynced writes on crash and injects faults.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface FileHandle {
  readonly path: string;
}

export interface FileSystem {
  mkdirp(dir: string): void;
  list(dir: string): string[];
  exists(path: string): boolean;
  readFile(path: string): Uint8Array;
  /** Opens for writes at explicit offsets, creating the file if needed. */
  openWrite(path: string): FileHandle;
  /** Writes all of `data` at `pos`, or throws: a short write is never reported as done. */
  writeAt(h: FileHandle, data: Uint8Array, pos: number): void;
  /**
   * Creates `path` holding `size` zero bytes, written and fsynced (its name is not: the caller
   * renames it and syncs the directory). NodeFileSystem does it on the thread pool and returns
   * a promise; `cancel.cancelled` stops it early (the file is then removed).
   */
  createZeroed(path: string, size: number, cancel?: { cancelled: boolean }): void | Promise<void>;
  fsync(h: FileHandle): void;
  close(h: FileHandle): void;
  size(path: string): number;
  truncate(path: string, len: number): void;
  rename(from: string, to: string): void;
  unlink(path: string): void;
  /** Makes creations, renames and unlinks in `dir` durable. */
  fsyncDir(dir: string): void;
  /**
   * writeFileAtomic off the caller's thread, when the file system can (NodeFileSystem: on the
   * thread pool). Optional: without it, large files are written synchronously.
   */
  writeFileAtomicAsync?(path: string, parts: Uint8Array[]): Promise<void>;
}

interface NodeHandle extends FileHandle {
  fd: number;
}

/** ENOSPC or EDQUOT: the disk (or the quota) is full. Space may come back; nothing else went wrong. */
export function isNoSpace(e: unknown): e is NodeJS.ErrnoException {
  const code = (e as { code?: unknown } | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** A write that made no progress at all (write(2) returning 0 for a non-empty buffer): an I/O error, not a loop. */
function noProgress(path: string, pos: number, len: number): Error {
  return Object.assign(new Error(`EIO: write to ${path} at offset ${pos} wrote 0 of ${len} bytes`), { code: 'EIO' });
}

export class NodeFileSystem implements FileSystem {
  mkdirp(dir: string): void {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  list(dir: string): string[] {
    return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  }
  exists(path: string): boolean {
    return fs.existsSync(path);
  }
  readFile(path: string): Uint8Array {
    return fs.readFileSync(path);
  }
  openWrite(path: string): FileHandle {
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    return { path, fd } as NodeHandle;
  }
  writeAt(h: FileHandle, data: Uint8Array, pos: number): void {
    const fd = (h as NodeHandle).fd;
    // write(2) may write less than asked (a signal, a nearly full disk): go on from where it
    // stopped, at explicit offsets, until every byte is written or it throws (ENOSPC...).
    let off = 0;
    while (off < data.length) {
      const n = this.writeOnce(fd, data, off, data.length - off, pos + off);
      if (n <= 0) throw noProgress(h.path, pos + off, data.length - off);
      off += n;
    }
  }
  /** One write(2) at an offset; returns the count written (a seam for tests of short writes). */
  protected writeOnce(fd: number, data: Uint8Array, off: number, len: number, pos: number): number {
    return fs.writeSync(fd, data, off, len, pos);
  }
  async createZeroed(path: string, size: number, cancel?: { cancelled: boolean }): Promise<void> {
    // 1 MiB writes, flushed every 8 MiB so that the dirty data never piles up behind the
    // WAL's own fsyncs.
    const zeros = Buffer.alloc(Math.min(size, 1 << 20));
    const fh = await fsp.open(path, 'w', 0o600);
    let done = false;
    try {
      for (let off = 0; off < size; ) {
        if (cancel?.cancelled) return;
        const { bytesWritten } = await fh.write(zeros, 0, Math.min(zeros.length, size - off), off);
        if (bytesWritten <= 0) throw noProgress(path, off, size - off);
        off += bytesWritten;
        if (off % (8 << 20) === 0 || off === size) await fh.datasync();
      }
      done = true;
    } finally {
      await fh.close();
      if (!done) await fsp.rm(path, { force: true });
    }
  }
  fsync(h: FileHandle): void {
    fs.fdatasyncSync((h as NodeHandle).fd);
  }
  close(h: FileHandle): void {
    fs.closeSync((h as NodeHandle).fd);
  }
  size(path: string): number {
    return fs.statSync(path).size;
  }
  truncate(path: string, len: number): void {
    fs.truncateSync(path, len);
  }
  rename(from: string, to: string): void {
    fs.renameSync(from, to);
  }
  unlink(path: string): void {
    fs.unlinkSync(path);
  }
  async writeFileAtomicAsync(path: string, parts: Uint8Array[]): Promise<void> {
    const tmp = `${path}.tmp`;
    const fh = await fsp.open(tmp, 'w', 0o600);
    try {
      let at = 0;
      for (const p of parts) {
        // Positional and complete: a short write goes on where it stopped.
        for (let off = 0; off < p.length; ) {
          const { bytesWritten } = await fh.write(p, off, p.length - off, at);
          if (bytesWritten <= 0) throw noProgress(tmp, at, p.length - off);
          off += bytesWritten;
          at += bytesWritten;
        }
      }
      await fh.datasync();
    } catch (e) {
      // A full disk, say: give the space of the partial file back at once.
      await fh.close().catch(() => undefined);
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw e;
    }
    await fh.close();
    await fsp.rename(tmp, path);
    const dir = await fsp.open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
  fsyncDir(dir: string): void {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** Writes a whole file (the concatenation of `parts`) atomically: temp file, fsync, rename, fsync the directory. */
export function writeFileAtomic(fsys: FileSystem, path: string, ...parts: Uint8Array[]): void {
  const tmp = `${path}.tmp`;
  if (fsys.exists(tmp)) fsys.unlink(tmp);
  const h = fsys.openWrite(tmp);
  try {
    let at = 0;
    for (const p of parts) {
      fsys.writeAt(h, p, at);
      at += p.length;
    }
    fsys.fsync(h);
  } catch (e) {
    // A full disk, say: give the space of the partial file back at once (best effort: a
    // leftover .tmp is removed at the next start anyway).
    try {
      fsys.close(h);
      fsys.unlink(tmp);
    } catch {
      // ignored: the write's error is the one to report
    }
    throw e;
  }
  fsys.close(h);
  fsys.rename(tmp, path);
  fsys.fsyncDir(dirname(path));
}

export { join };
