// Where `cluster backup` puts the bytes: a file written atomically (a temporary file in the same
// folder, fsync'ed, then renamed into place, the folder fsync'ed), private (0600), never
// replacing an existing file unless told to; or stdout, with backpressure.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { constants } from 'node:fs';
import { access, link, lstat, open, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ErrorCodes, TsswarmError } from '../common/errors.js';
import { invalid } from './args.js';

type Bytes = AsyncIterable<unknown>;

export interface WriteOptions {
  /** Replace `file` if it exists. */
  force: boolean;
  /** The size the sender announced: fewer (or more) bytes is a truncated transfer, refused. */
  expectedBytes?: number;
}

/** Refuses (before anything is asked of a manager) a FILE that exists and may not be replaced, names a folder, or cannot be created. */
export async function checkTarget(file: string, force: boolean): Promise<void> {
  const st = await lstat(file).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw writeError(file, e);
  });
  if (!st) {
    // The folder must take a new file (the temporary one) before a manager is asked for anything.
    await access(dirname(resolve(file)), constants.W_OK | constants.X_OK).catch((e: NodeJS.ErrnoException) => { throw writeError(file, e); });
    return;
  }
  if (st.isDirectory()) invalid(`${file} is a folder: name the backup file, e.g. ${join(file, 'tsswarm-backup.bin')}`);
  if (!force) invalid(`${file} exists: use --force to replace it`);
}

/** Writes `data` to `file` atomically with mode 0600; resolves with the number of bytes. */
export async function writeFileAtomic(file: string, data: Bytes, o: WriteOptions): Promise<number> {
  const dir = dirname(resolve(file));
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fh;
  try {
    fh = await open(tmp, 'wx', 0o600);
  } catch (e) {
    throw writeError(file, e as NodeJS.ErrnoException);
  }
  let bytes = 0;
  let placed = false;
  try {
    await fh.chmod(0o600); // whatever the umask
    for await (const b of received(data, file)) {
      for (let off = 0; off < b.length;) off += (await fh.write(b, off, b.length - off)).bytesWritten;
      bytes += b.length;
    }
    truncated(bytes, o.expectedBytes, file);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await place(tmp, file, o.force);
    placed = true;
    await syncDir(dir);
  } catch (e) {
    if (e instanceof TsswarmError || !(e as NodeJS.ErrnoException).syscall) throw e;
    // A file system call failed.
    throw writeError(file, e as NodeJS.ErrnoException);
  } finally {
    await fh?.close().catch(() => undefined);
    if (!placed) await rm(tmp, { force: true }).catch(() => undefined);
  }
  return bytes;
}

/** Copies `data` to a stream (stdout), waiting whenever it is full; resolves with the number of bytes. */
export async function writeStream(data: Bytes, out: NodeJS.WritableStream, expectedBytes?: number): Promise<number> {
  let bytes = 0;
  for await (const b of received(data, 'stdout')) {
    bytes += b.length;
    if (!out.write(b)) await once(out as NodeJS.EventEmitter, 'drain');
  }
  truncated(bytes, expectedBytes, 'stdout');
  return bytes;
}

/** The bytes as they arrive; a broken transfer is said as such. */
async function* received(data: Bytes, where: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of data) yield chunk as Buffer;
  } catch (e) {
    throw new TsswarmError(ErrorCodes.UNAVAILABLE, `the connection to the manager broke during the backup (${(e as Error).message}): ${incomplete(where)}; try again`);
  }
}

const incomplete = (where: string): string => (where === 'stdout' ? 'what was written to stdout is not a backup' : `nothing was written to ${where}`);

function truncated(bytes: number, expected: number | undefined, where: string): void {
  if (expected !== undefined && bytes !== expected) {
    throw new TsswarmError(ErrorCodes.UNAVAILABLE, `the backup arrived incomplete (${bytes} of ${expected} bytes): ${incomplete(where)}; try again`);
  }
}

/** tmp becomes file: without `force`, a hard link (fails if file exists, atomically), else a rename. */
async function place(tmp: string, file: string, force: boolean): Promise<void> {
  if (force) return rename(tmp, file);
  try {
    await link(tmp, file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') invalid(`${file} exists: use --force to replace it`);
    // A file system without hard links: check, then rename (a race with another writer is possible there).
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
    if (await lstat(file).then(() => true, () => false)) invalid(`${file} exists: use --force to replace it`);
    return rename(tmp, file);
  }
  await unlink(tmp);
}

/** The rename is durable once the folder is synced (where the platform allows it). */
async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r').catch(() => undefined);
  if (!d) return;
  try { await d.sync(); } catch { /* not supported for folders here */ } finally { await d.close(); }
}

function writeError(file: string, e: NodeJS.ErrnoException): Error {
  return new Error(`cannot write the backup to ${file}: ${e.message}`);
}
