// Writing a small file so that a crash leaves either the old or the new content, never a torn
// one: a temporary file in the same directory, fsynced, renamed over the target, and the
// directory fsynced. Created 0600 whatever the umask (these files hold keys and identities).

import { chmodSync, closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export function writeFileDurable(path: string, content: string | Buffer, mode = 0o600): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  try {
    const fd = openSync(tmp, 'w', mode);
    try {
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dirname(path));
}

/** Makes a directory's entries (a rename, a new or removed file) durable. */
export function fsyncDir(path: string): void {
  const fd = openSync(path, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}
