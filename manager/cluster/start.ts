// How a manager's store begins, besides a plain restart: joining an existing cluster, a new
// cluster from a backup (`--init --restore FILE`), or a survivor forced into a new one-manager
// cluster (`--force-new-cluster`) with the state it had committed.

import { existsSync, readFileSync, renameSync } from 'node:fs';
import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import { NodeFileSystem } from '../raft/fs.js';
import { DiskStorage } from '../raft/wal.js';
import { decodeBatch } from '../store/store.js';
import { SnapshotError, StoreMachine, type MachineSnapshot } from '../store/machine.js';

/** The store state a backup file holds (refused, naming the file, if it is not intact). */
export function readBackup(file: string): MachineSnapshot {
  if (!existsSync(file)) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `backup file ${file} does not exist`);
  try {
    return StoreMachine.decodeSnapshot(readFileSync(file));
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
