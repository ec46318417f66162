// Secrets and configs on a real engine, through the agent's Worker (no manager): a container
// sees its files with the value, owner and mode it asked for, on a tmpfs, read-only; the engine
// never holds the value; the files go with the task; a new revision reaches a new task; a task
// waits for a revision it names and fails, naming the secret, when it was not given one.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Worker } from '../../agent/worker/index.js';
import { defaultFilesRoot, mountTypeAt, type FileDoc } from '../../agent/exec/secrets.js';
import type { TaskObj } from '../../common/api/objects.js';
import { Recorder, cleanup, docker, makeTask, makeWorker, uniqueStack, update, remove, waitFor } from '../agent/helpers.js';

const PREFIX = 'agsec';
const workers: Worker[] = [];
const roots: string[] = [];

/** Every log line the workers wrote (debug and up): none may hold a value. */
const logLines: string[] = [];
const log = pino({ level: 'debug' }, new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } }));

const mountinfo = (): string => readFileSync('/proc/self/mountinfo', 'utf8');

beforeAll(async () => {
  await docker.ping();
  await cleanup(PREFIX);
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});
afterAll(async () => {
  await cleanup(PREFIX);
  // A test that failed half way may leave its tmpfs mounted: its containers are gone now.
  for (const r of roots) {
    if (mountTypeAt(mountinfo(), r) !== undefined) {
      try { execFileSync('umount', [r], { stdio: 'ignore' }); } catch { /* gone meanwhile */ }
    }
    try { execFileSync('rmdir', [r], { stdio: 'ignore' }); } catch { /* not there */ }
  }
});

function setup(): { w: Worker; rec: Recorder; stack: string; nodeId: string; root: string } {
  const rec = new Recorder();
  const nodeId = uniqueStack('nsec');
  const w = makeWorker(nodeId, rec, { log });
  workers.push(w);
  const root = defaultFilesRoot(nodeId);
  roots.push(root);
  return { w, rec, stack: uniqueStack(PREFIX), nodeId, root };
}

const doc = (kind: 'secret' | 'config', id: string, name: string, revision: number, value: string): FileDoc =>
  ({ id, name, revision, data: Buffer.from(value).toString('base64') });
const put = (kind: 'secret' | 'config', d: FileDoc) => ({ action: 'update' as const, kind, id: d.id, obj: d });

/** Run `sh -c script` in a container; its stdout. */
const sh = (cid: string, script: string): string =>
  execFileSync('docker', ['exec', cid, 'sh', '-c', script], { env: process.env, encoding: 'utf8' });

const sleeper = { command: ['sleep', '3600'], stop_grace_period: '1s' };
const ref = (source: string, id: string, target: string, extra: Partial<{ uid: string; gid: string; mode: number; revision: number }> = {}) =>
  ({ source, id, target, uid: '0', gid: '0', mode: 0o444, ...extra });

const running = async (rec: Recorder, t: TaskObj): Promise<string> =>
  (await rec.waitState(t.id, (s) => s.state === 'running' || s.state === 'rejected' || s.state === 'failed')).containerId
  ?? (() => { throw new Error(`task ${t.id} did not run: ${JSON.stringify(rec.last(t.id))}`); })();

describe('secrets and configs on the agent', () => {
  it('a container sees its secret and config read-only on a tmpfs; the engine never holds the value; the files go with the task; a new revision reaches a new task', async () => {
    const { w, rec, stack, nodeId, root } = setup();
    await w.start();
    const pw1 = `s3cret-${Math.random().toString(36).slice(2)}`;
    const conf = 'listen 8080\nworkers 2\n';
    const secret1 = doc('secret', 'sec1', `${stack}_db_pw`, 1, pw1);
    const config = doc('config', 'cfg1', `${stack}_app`, 1, conf);
    const t1 = makeTask(stack, 'app', 1, nodeId, {
      ...sleeper,
      secrets: [ref(`${stack}_db_pw`, 'sec1', 'db_pw', { uid: '1000', gid: '1001', mode: 0o440, revision: 1 })],
      configs: [ref(`${stack}_app`, 'cfg1', '/etc/app/app.conf')],
    });
    w.assign(true, [put('secret', secret1), put('config', config), update(t1)]);
    const cid = await running(rec, t1);
    expect(rec.last(t1.id)?.state).toBe('running');

    expect(sh(cid, 'cat /run/secrets/db_pw')).toBe(pw1);
    expect(sh(cid, 'stat -c "%a %u %g" /run/secrets/db_pw').trim()).toBe('440 1000 1001');
    expect(sh(cid, 'cat /etc/app/app.conf')).toBe(conf);
    expect(sh(cid, 'stat -c "%a %u %g" /etc/app/app.conf').trim()).toBe('444 0 0');
    // Both are bind mounts of files on a tmpfs, read-only.
    const mounts = sh(cid, 'cat /proc/mounts').split('\n').map((l) => l.split(' '));
    for (const target of ['/run/secrets/db_pw', '/etc/app/app.conf']) {
      const m = mounts.find((f) => f[1] === target);
      expect(m, `${target} in /proc/mounts`).toBeDefined();
      expect(m![2]).toBe('tmpfs');
      expect(m![3].split(',')).toContain('ro');
    }
    expect(sh(cid, "{ echo x > /run/secrets/db_pw; } 2>/dev/null && echo writable || echo read-only").trim()).toBe('read-only');
    // On the node: the tmpfs the agent mounted, private to root.
    expect(mountTypeAt(mountinfo(), root)).toBe('tmpfs');
    expect(existsSync(`${root}/${t1.id}/secrets/0`)).toBe(true);
    // The engine holds the path, never the value.
    const inspected = execFileSync('docker', ['inspect', cid], { env: process.env, encoding: 'utf8' });
    expect(inspected).not.toContain(pw1);
    expect(inspected).not.toContain(Buffer.from(pw1).toString('base64'));
    expect(inspected).toContain(`${root}/${t1.id}/secrets/0`);

    // A new revision of the secret and a task that names it; the old task goes.
    const pw2 = `n3w-${Math.random().toString(36).slice(2)}`;
    const t2 = makeTask(stack, 'app', 1, nodeId, {
      ...sleeper, secrets: [ref(`${stack}_db_pw`, 'sec1', 'db_pw', { revision: 2 })],
    });
    w.assign(false, [put('secret', doc('secret', 'sec1', `${stack}_db_pw`, 2, pw2)), update(t2), remove(t1)]);
    const cid2 = await running(rec, t2);
    expect(sh(cid2, 'cat /run/secrets/db_pw')).toBe(pw2);
    await waitFor('the removed task\'s files gone', () => !existsSync(`${root}/${t1.id}`));
    await waitFor('the removed task\'s container gone', async () => !(await docker.listContainers({ all: true, filters: { id: [cid] } })).length);

    // Removing the last task removes its files; the worker then leaves no tmpfs behind.
    w.assign(false, [remove(t2)]);
    await waitFor('the last task\'s files gone', () => !existsSync(`${root}/${t2.id}`));
    await w.stop();
    expect(mountTypeAt(mountinfo(), root)).toBeUndefined();

    const all = logLines.join('');
    for (const v of [pw1, pw2]) {
      expect(all).not.toContain(v);
      expect(all).not.toContain(Buffer.from(v).toString('base64'));
    }
    expect(all).toContain(`${stack}_db_pw`); // named, at debug level
  });

  it('a task waits for the revision it names; one whose secret was not given to the node fails, naming it', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const old = doc('secret', 'sec2', `${stack}_token`, 2, 'old-token-value');
    const waiting = makeTask(stack, 'app', 1, nodeId, { ...sleeper, secrets: [ref(`${stack}_token`, 'sec2', 'token', { revision: 3 })] });
    const orphan = makeTask(stack, 'app', 2, nodeId, { ...sleeper, secrets: [ref(`${stack}_missing`, 'nosuch', 'missing')] });
    w.assign(true, [put('secret', old), update(waiting), update(orphan)]);

    const rejected = await rec.waitState(orphan.id, (s) => s.state === 'rejected');
    expect(rejected.errCode).toBe('TSW_ERR_SECRET_UNAVAILABLE');
    expect(rejected.err).toContain(`${stack}_missing`);

    const held = await rec.waitState(waiting.id, (s) => s.state === 'preparing' && /waiting for secret/.test(s.message));
    expect(held.message).toBe(`waiting for secret ${stack}_token (revision 3)`);
    w.assign(false, [put('secret', doc('secret', 'sec2', `${stack}_token`, 3, 'new-token-value'))]);
    const cid = await running(rec, waiting);
    expect(sh(cid, 'cat /run/secrets/token')).toBe('new-token-value');

    const all = logLines.join('');
    expect(all).not.toContain('new-token-value');
    expect(all).not.toContain('old-token-value');
  });

  it('an agent that stops leaves the tmpfs to the containers using it; the next one reuses it and removes the files of tasks gone meanwhile', async () => {
    const first = setup();
    const { rec, stack, nodeId, root } = first;
    await first.w.start();
    const s = doc('secret', 'sec3', `${stack}_key`, 1, 'restart-value');
    const keep = makeTask(stack, 'app', 1, nodeId, { ...sleeper, secrets: [ref(`${stack}_key`, 'sec3', 'key')] });
    const lost = makeTask(stack, 'app', 2, nodeId, { ...sleeper, secrets: [ref(`${stack}_key`, 'sec3', 'key')] });
    first.w.assign(true, [put('secret', s), update(keep), update(lost)]);
    await running(rec, keep);
    const lostCid = await running(rec, lost);
    await first.w.stop();
    expect(mountTypeAt(mountinfo(), root)).toBe('tmpfs');
    expect(existsSync(`${root}/${keep.id}/secrets/0`)).toBe(true);

    // While no agent runs, one container goes.
    await docker.getContainer(lostCid).remove({ force: true });
    const rec2 = new Recorder();
    const w2 = makeWorker(nodeId, rec2, { log });
    workers.push(w2);
    await w2.start();
    expect(existsSync(`${root}/${lost.id}`)).toBe(false);
    expect(existsSync(`${root}/${keep.id}/secrets/0`)).toBe(true);

    // The running task is adopted; a new one gets its file in the same tmpfs (no second mount).
    const next = makeTask(stack, 'app', 3, nodeId, { ...sleeper, secrets: [ref(`${stack}_key`, 'sec3', 'key')] });
    w2.assign(true, [put('secret', s), update(keep), update(next)]);
    const cid = await running(rec2, next);
    expect(sh(cid, 'cat /run/secrets/key')).toBe('restart-value');
    expect(mountinfo().split('\n').filter((l) => l.split(' ')[4] === root)).toHaveLength(1);

    w2.assign(true, [put('secret', s)]);
    await waitFor('every task\'s files gone', () => !existsSync(`${root}/${keep.id}`) && !existsSync(`${root}/${next.id}`));
    await w2.stop();
    expect(mountTypeAt(mountinfo(), root)).toBeUndefined();
  });
});
