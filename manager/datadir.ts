// The data dir says what it is: `cluster.json` holds the cluster's and this node's identity.
// `--init` creates it; a restart without `--init` reads it. One manager per data dir (pid lock).

import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, TsswarmError } from '../common/errors.js';
import { newId } from '../common/ids.js';

export interface ClusterIdentity {
  clusterId: string;
  nodeId: string;
  role: 'manager';
  createdAt: string;
}

export function openDataDir(dir: string, init: boolean): ClusterIdentity {
  const file = join(dir, 'cluster.json');
  if (init) {
    if (existsSync(file)) {
      throw new TsswarmError(ErrorCodes.DATA_DIR, `${dir} already holds a cluster (${file}); start it without --init, or choose another --data-dir`);
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const id: ClusterIdentity = { clusterId: newId(), nodeId: newId(), role: 'manager', createdAt: new Date().toISOString() };
    writeFileSync(`${file}.tmp`, JSON.stringify(id, null, 2) + '\n', { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
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

/** Take the data dir's pid lock; a stale lock (its process is gone) is taken over. */
export function lockDataDir(dir: string): () => void {
  const file = join(dir, 'manager.pid');
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (pid && pid !== process.pid && alive(pid)) {
      throw new TsswarmError(ErrorCodes.DATA_DIR, `another tsswarm manager (pid ${pid}) is using ${dir}`);
    }
  }
  writeFileSync(file, `${process.pid}\n`);
  return () => { try { if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file); } catch { /* gone */ } };
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}
