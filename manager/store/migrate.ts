// Data dirs written before the store moved onto Raft kept it in `<data dir>/store/`: a
// snapshot.json and a wal.log of checksummed records (<len u32 BE><crc32 u32 BE><json>). On the
// first start of this release the manager reads that state, starts its Raft log from it (a
// snapshot at the old log's last index, so object versions stay valid), and renames the old
// directory to `store.migrated` (kept for a manual rollback; never read again). A legacy log
// that fails its checksums is refused with the file and byte, as the old release would have.

import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from '../../common/crc32.js';
import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import { StoreMachine, type MachineSnapshot } from './machine.js';
import type { StoreObj, StoreOp } from './types.js';

const HEADER = 8;

/** The legacy store dir, if this data dir has one that was not migrated yet. */
export function legacyStoreDir(dataDir: string): string | undefined {
  const dir = join(dataDir, 'store');
  return existsSync(join(dir, 'wal.log')) || existsSync(join(dir, 'snapshot.json')) ? dir : undefined;
}

/** Reads a legacy store dir into the state it held (objects as last written, and the log's last index). */
export function readLegacyStore(dir: string): MachineSnapshot {
  const snapPath = join(dir, 'snapshot.json');
  const walPath = join(dir, 'wal.log');
  const objects = new Map<string, StoreObj>();
  let index = 0;
  if (existsSync(snapPath)) {
    let snap: { index: number; objects: StoreObj[] };
    try {
      snap = JSON.parse(readFileSync(snapPath, 'utf8')) as typeof snap;
      if (!Number.isSafeInteger(snap.index) || !Array.isArray(snap.objects)) throw new Error('not a store snapshot');
    } catch (err) {
      throw new TsswarmError(ErrorCodes.CORRUPT, `store snapshot ${snapPath} is unreadable: ${(err as Error).message}; restore the data dir from a backup`);
    }
    for (const o of snap.objects) objects.set(`${o.kind}/${o.id}`, o);
    index = snap.index;
  }
  if (existsSync(walPath)) {
    const buf = readFileSync(walPath);
    let off = 0;
    while (off < buf.length) {
      const why = recordProblem(buf, off);
      if (why) {
        // A torn last record was never acknowledged; anything valid after it means corruption.
        if (hasValidRecordAfter(buf, off + 1)) {
          throw new TsswarmError(ErrorCodes.CORRUPT, `store log ${walPath} is corrupt at byte ${off} (${why}) with valid records after it; restore the data dir from a backup`);
        }
        break;
      }
      const len = buf.readUInt32BE(off);
      const entry = JSON.parse(buf.subarray(off + HEADER, off + HEADER + len).toString('utf8')) as { index: number; ops: StoreOp[] };
      if (entry.index > index) {
        for (const op of entry.ops) {
          if (op.op === 'delete') objects.delete(`${op.kind}/${op.id}`);
          else objects.set(`${op.obj.kind}/${op.obj.id}`, op.obj);
        }
        index = entry.index;
      }
      off += HEADER + len;
    }
  }
  const m = new StoreMachine();
  m.load({ index, objects: [...objects.values()] });
  return m.state();
}

/** Moves the migrated legacy dir aside, so it is never read again. */
export function retireLegacyStore(dir: string): string {
  let to = `${dir}.migrated`;
  for (let i = 1; existsSync(to); i++) to = `${dir}.migrated.${i}`;
  renameSync(dir, to);
  return to;
}

function recordProblem(buf: Buffer, off: number): string | undefined {
  if (off + HEADER > buf.length) return 'short header';
  const len = buf.readUInt32BE(off);
  if (off + HEADER + len > buf.length) return 'short record';
  if (crc32(buf.subarray(off + HEADER, off + HEADER + len)) !== buf.readUInt32BE(off + 4)) return 'checksum mismatch';
  return undefined;
}

function hasValidRecordAfter(buf: Buffer, from: number): boolean {
  for (let off = from; off + HEADER <= buf.length; off++) {
    const len = buf.readUInt32BE(off);
    if (len === 0 || off + HEADER + len > buf.length || buf[off + HEADER] !== 0x7b /* { */) continue;
    if (crc32(buf.subarray(off + HEADER, off + HEADER + len)) === buf.readUInt32BE(off + 4)) return true;
  }
  return false;
}
