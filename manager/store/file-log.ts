// Single-node durable log: an append-only file of checksummed records, fsynced before an
// append resolves, plus an atomically written snapshot file. Layout under `dir`:
//   snapshot.json   {"index":N,"objects":[...]}   (written to a temp file, fsynced, renamed, dir fsynced)
//   wal.log         records: <len u32 BE><crc32 u32 BE><json bytes>
// Both files are 0600 and the dir 0700: they hold every service's spec and environment.
// Recovery: read the snapshot, then every whole record of wal.log with index > snapshot.index.
// A torn tail (partial last record, or a last record whose checksum fails) is the remains of a
// write that was never acknowledged: it is cut off. A bad record followed by good ones is
// corruption of acknowledged data: recovery stops with TSW_ERR_CORRUPT rather than guess.

import { closeSync, existsSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync, ftruncateSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from '../../common/crc32.js';
import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import type { LogEntry, Recovered, StoreLog, StoreSnapshot } from './log.js';

const HEADER = 8;

export class FileLog implements StoreLog {
  private fd: number | undefined;
  private entriesSinceSnapshot = 0;

  constructor(private readonly dir: string) {}

  get walPath(): string { return join(this.dir, 'wal.log'); }
  get snapshotPath(): string { return join(this.dir, 'snapshot.json'); }

  async recover(): Promise<Recovered> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    let snapshot: StoreSnapshot | undefined;
    if (existsSync(this.snapshotPath)) {
      try {
        snapshot = JSON.parse(readFileSync(this.snapshotPath, 'utf8')) as StoreSnapshot;
      } catch (err) {
        throw new TsswarmError(ErrorCodes.CORRUPT, `store snapshot ${this.snapshotPath} is unreadable: ${(err as Error).message}`);
      }
    }
    const entries: LogEntry[] = [];
    let goodLength = 0;
    if (existsSync(this.walPath)) {
      const buf = readFileSync(this.walPath);
      let off = 0;
      while (off < buf.length) {
        const bad = (why: string): never | 'tail' => {
          // Is there any whole, valid record after this point? Then this is not a torn tail.
          if (hasValidRecordAfter(buf, off + 1)) {
            throw new TsswarmError(ErrorCodes.CORRUPT, `store log ${this.walPath} is corrupt at byte ${off} (${why}) with valid records after it; refusing to start. Restore the data dir from a backup.`);
          }
          return 'tail';
        };
        if (off + HEADER > buf.length) { bad('short header'); break; }
        const len = buf.readUInt32BE(off);
        const sum = buf.readUInt32BE(off + 4);
        if (off + HEADER + len > buf.length) { bad('short record'); break; }
        const body = buf.subarray(off + HEADER, off + HEADER + len);
        if (crc32(body) !== sum) { bad('checksum mismatch'); break; }
        const entry = JSON.parse(body.toString('utf8')) as LogEntry;
        if (!snapshot || entry.index > snapshot.index) entries.push(entry);
        off += HEADER + len;
        goodLength = off;
      }
    }
    this.fd = openPrivate(this.walPath, 'a+');
    if (fstatSync(this.fd).size !== goodLength) {
      ftruncateSync(this.fd, goodLength);
      fsyncSync(this.fd);
    }
    this.entriesSinceSnapshot = entries.length;
    return { snapshot, entries };
  }

  async append(entry: LogEntry): Promise<void> {
    if (this.fd === undefined) throw new Error('FileLog.append before recover');
    const body = Buffer.from(JSON.stringify(entry), 'utf8');
    const rec = Buffer.alloc(HEADER + body.length);
    rec.writeUInt32BE(body.length, 0);
    rec.writeUInt32BE(crc32(body), 4);
    body.copy(rec, HEADER);
    writeSync(this.fd, rec);
    fsyncSync(this.fd);
    this.entriesSinceSnapshot++;
  }

  /** Entries appended since the last snapshot: the store uses it to decide when to compact. */
  get pending(): number { return this.entriesSinceSnapshot; }

  async snapshot(snap: StoreSnapshot): Promise<void> {
    const tmp = `${this.snapshotPath}.tmp`;
    const fd = openPrivate(tmp, 'w');
    writeSync(fd, JSON.stringify(snap));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.snapshotPath);
    fsyncDir(this.dir);
    // Everything in the WAL is now covered by the snapshot: start it afresh.
    if (this.fd !== undefined) {
      ftruncateSync(this.fd, 0);
      fsyncSync(this.fd);
    }
    this.entriesSinceSnapshot = 0;
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Open a file that only its owner may read, whatever mode an existing one had. */
function openPrivate(path: string, flags: string): number {
  const fd = openSync(path, flags, 0o600);
  fchmodSync(fd, 0o600);
  return fd;
}

function hasValidRecordAfter(buf: Buffer, from: number): boolean {
  for (let off = from; off + HEADER <= buf.length; off++) {
    const len = buf.readUInt32BE(off);
    if (len === 0 || off + HEADER + len > buf.length) continue;
    const body = buf.subarray(off + HEADER, off + HEADER + len);
    if (body[0] !== 0x7b /* { */) continue;
    if (crc32(body) === buf.readUInt32BE(off + 4)) return true;
  }
  return false;
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}
