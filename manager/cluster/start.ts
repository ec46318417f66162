// How a manager's store begins, besides a plain restart: joining an existing cluster, a new
// cluster from a backup (`--init --restore FILE`), or a survivor forced into a new one-manager
// cluster (`--force-new-cluster`) with the state it had committed.

import { existsSync, readFileSync, renameSync } from 'node:fs';
import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import { NodeFileSystem } from '../raft/fs.js';
import { DiskStorage } from '../raft/wal.js';
import { decodeBatch } from '../store/store.js';
import { SnapshotError, StoreMachine, type MachineSnapshot } from '../store/machine.js';

/** A backup's first line when it carries the cluster's data key: then the key record (base64 JSON). */
export const BACKUP_MAGIC = 'tsswarm-backup/1';

/** A backup: the key record (Keyring.exportDataKey), then the store snapshot. */
export function encodeBackup(keys: string, snapshot: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${BACKUP_MAGIC} ${Buffer.from(keys).toString('base64')}\n`), snapshot]);
}

/**
 * The store state a backup file holds, and the key record it carries (backups of older
 * releases carry none). Refused, naming the file, if it is not intact.
 */
export function readBackup(file: string): { state: MachineSnapshot; keys?: string } {
  if (!existsSync(file)) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `backup file ${file} does not exist`);
  let bytes = readFileSync(file);
  let keys: string | undefined;
  if (bytes.subarray(0, BACKUP_MAGIC.length + 1).toString('latin1') === `${BACKUP_MAGIC} `) {
    const nl = bytes.indexOf(0x0a);
    if (nl < 0 || nl > 4096) throw new TsswarmError(ErrorCodes.CORRUPT, `backup file ${file}: its key record is not terminated`);
    keys = Buffer.from(bytes.subarray(BACKUP_MAGIC.length + 1, nl).toString('latin1'), 'base64').toString('utf8');
    bytes = bytes.subarray(nl + 1);
  }
  try {
    return { state: StoreMachine.decodeSnapshot(bytes), keys };
  } catch (e) {
    if (e instanceof SnapshotError) throw new TsswarmError(ErrorCodes.CORRUPT, `backup file ${file}: ${e.message}`);
    throw e;
  }
}

/**
 * The state this manager had committed (its latest snapshot and the committed entries after
 * it), for --force-new-cluster. Entries it holds beyond its commit index are dropped (as etcd
 * does): no quorum ever confirmed them here. The old Raft dir is moved aside, kept.
 */
export function committedState(raftDir: string): { state: MachineSnapshot; dropped: number; movedTo: string } {
  if (!existsSync(raftDir)) throw new TsswarmError(ErrorCodes.DATA_DIR, `${raftDir} holds no Raft log: --force-new-cluster needs the data dir of a manager that was a member`);
  const disk = DiskStorage.open(new NodeFileSystem(), raftDir, { preallocate: false });
  const m = new StoreMachine();
  let dropped = 0;
  let commit = 0;
  try {
    const mem = disk.mem;
    const snap = mem.snapshot();
    if (snap.data.length) m.restore(snap.data);
    commit = mem.initialState().hardState.commit;
    const first = mem.firstIndex();
    const last = mem.lastIndex();
    if (last >= first) {
      for (const e of mem.entries(first, last + 1, Number.MAX_SAFE_INTEGER)) {
        if (e.index > commit) { dropped++; continue; }
        if (e.index <= m.index || e.type !== 'normal' || e.data.length === 0) continue;
        m.apply(e.index, decodeBatch(e.data));
      }
    }
  } finally {
    disk.close();
  }
  let movedTo = `${raftDir}.before-force-new-cluster`;
  for (let i = 1; existsSync(movedTo); i++) movedTo = `${raftDir}.before-force-new-cluster.${i}`;
  renameSync(raftDir, movedTo);
  // The new log starts after the old commit index: versions already handed out stay unique.
  return { state: { ...m.state(), index: Math.max(m.index, commit) }, dropped, movedTo };
}
