// The data dir says what it is: `cluster.json` holds the cluster's and this node's identity.
// `--init` creates it; a restart without `--init` reads it. One manager per data dir (pid lock).
// It holds every service's environment: it is private to the manager's user (dirs 0700, files
// and sockets 0600), whatever modes it had before (secureDataDir, on init and on every start).

import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync, renameSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ErrorCodes, TsswarmError } from '../common/errors.js';
import { newId } from '../common/ids.js';

export interface ClusterIdentity {
  clusterId: string;
  nodeId: string;
  role: 'manager';
  createdAt: string;
  /** This manager's member id in the Raft group (assigned on first start if absent). */
  raftId?: number;
  /** The gRPC address it listens on (host:port; the port actually bound when 0 was asked). */
  listenAddr?: string;
  /** The address other managers and agents reach it at. */
  advertiseAddr?: string;
  /** It created the cluster (--init, --force-new-cluster): an empty Raft log is bootstrapped with it alone. */
  founder?: boolean;
  /** The HTTPS API's listen address (host:port), if it serves one. */
  apiAddr?: string;
}

/** Rewrites cluster.json atomically (0600). */
export function saveIdentity(dir: string, id: ClusterIdentity): void {
  const file = join(dir, 'cluster.json');
  writeFileSync(`${file}.tmp`, JSON.stringify(id, null, 2) + '\n', { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

export function openDataDir(dir: string, init: boolean): ClusterIdentity {
  const file = join(dir, 'cluster.json');
  if (init) {
    if (existsSync(file)) {
      throw new TsswarmError(ErrorCodes.DATA_DIR, `${dir} already holds a cluster (${file}); start it without --init, or choose another --data-dir`);
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const id: ClusterIdentity = { clusterId: newId(), nodeId: newId(), role: 'manager', createdAt: new Date().toISOString(), raftId: newRaftId(), founder: true };
    saveIdentity(dir, id);
    return id;
  }
  if (!existsSync(file)) {
    throw new TsswarmError(ErrorCodes.DATA_DIR, `${dir} holds no tsswarm cluster; run \`tsswarm manager --init --data-dir ${dir}\` to create one`);
  }
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ClusterIdentity;
  } catch (err) {
    throw new TsswarmError(ErrorCodes.DATA_DIR, `${file} is unreadable: ${(err as Error).message}`);
  }
}

/** A random Raft member id (a positive safe integer, 48 bits). */
export function newRaftId(): number {
  return randomBytes(6).readUIntBE(0, 6) || 1;
}

/** Take the data dir's pid lock; a stale lock (its process is gone) is taken over. */
export function lockDataDir(dir: string): () => void {
  const file = join(dir, 'manager.pid');
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (pid && pid !== process.pid && alive(pid)) {
      throw new TsswarmError(ErrorCodes.DATA_DIR, `another tsswarm manager (pid ${pid}) is using ${dir}`);
    }
  }
  writeFileSync(file, `${process.pid}\n`, { mode: 0o600 });
  return () => { try { if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file); } catch { /* gone */ } };
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** What secureDataDir changed: a path and its mode before and after. */
export interface Tightened { path: string; from: number; to: number }

/**
 * Make the data dir private: the dir and every dir below it 0700, every file and socket 0600
 * (symlinks are not followed). Returns what it had to change.
 */
export function secureDataDir(dir: string): Tightened[] {
  const changed: Tightened[] = [];
  const walk = (path: string): void => {
    let st;
    try { st = lstatSync(path); } catch { return; } // removed meanwhile
    const want = st.isDirectory() ? 0o700 : st.isFile() || st.isSocket() ? 0o600 : undefined;
    if (want === undefined) return;
    const mode = st.mode & 0o777;
    if (mode !== want) {
      chmodSync(path, want);
      changed.push({ path, from: mode, to: want });
    }
    if (st.isDirectory()) for (const name of readdirSync(path).sort()) walk(join(path, name));
  };
  walk(dir);
  return changed;
}
