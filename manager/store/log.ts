// The durable log under the store. Today a single-node file log; the Raft log implements the
// same interface later (append = propose and wait for commit; recovery = snapshot + entries).

import type { StoreObj, StoreOp } from './types.js';

export interface LogEntry {
  index: number;
  ops: StoreOp[];
}

export interface StoreSnapshot {
  index: number;
  objects: StoreObj[];
}

export interface Recovered {
  snapshot?: StoreSnapshot;
  entries: LogEntry[]; // entries after the snapshot, in order
}

export interface StoreLog {
  /** Read what is on disk. Called once before anything else. */
  recover(): Promise<Recovered>;
  /** Make the entry durable; resolves once it is committed (fsynced, or replicated later). */
  append(entry: LogEntry): Promise<void>;
  /** Persist a snapshot of the applied state at `index`; the log may drop entries <= index. */
  snapshot(snap: StoreSnapshot): Promise<void>;
  close(): Promise<void>;
}
