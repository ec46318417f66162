// A worker restarted on the same engine: adoption of its containers, orphan removal only once
// the manager confirmed the set, containers that vanish, volumes and bind mounts.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Worker } from '../../agent/worker/index.js';
import {
  Recorder, cleanup, docker, freePort, httpGet, makeTask, makeVolume, makeWorker, stackContainers, uniqueStack, update, remove, waitFor,
} from './helpers.js';

const PREFIX = 'agta';
const workers: Worker[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  await docker.ping();
  await cleanup(PREFIX);
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});
afterAll(async () => {
  await cleanup(PREFIX);
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function worker(nodeId: string, rec = new Recorder()): { w: Worker; rec: Recorder } {
  const w = makeWorker(nodeId, rec, { resyncIntervalMs: 300 });
  workers.push(w);
  return { w, rec };
}

describe('worker restart', () => {
  it('adopts running containers instead of recreating them, and keeps serving ingress', async () => {
    const stack = uniqueStack(PREFIX);
    const nodeId = `node-${stack}`;
    const port = await freePort();
    const a = worker(nodeId);
    await a.w.start();
    const tasks = [1, 2].map((slot) => makeTask(stack, 'web', slot, nodeId, {
      command: ['sh', '-c', `echo "hello from ${slot}" > /tmp/index.html && exec httpd -f -p 8080 -h /tmp`],
      ports: [{ target: 8080, published: port, protocol: 'tcp', mode: 'ingress' }],
    }));
    a.w.assign(true, tasks.map(update));
    const before = await Promise.all(tasks.map((t) => a.rec.waitState(t.id, (s) => s.state === 'running')));
    await a.w.stop();
    // The containers keep running without an agent.
    for (const s of before) expect((await docker.getContainer(s.containerId!).inspect()).State.Running).toBe(true);

    const b = worker(nodeId);
    await b.w.start();
    expect((await b.w.localTaskIds()).sort()).toEqual(tasks.map((t) => t.id).sort());
    // The manager's view: both running.
    b.w.assign(true, tasks.map((t, i) => update({ ...t, status: before[i] })));
    for (const [i, t] of tasks.entries()) {
      const s = await b.rec.waitState(t.id, (x) => x.state === 'running');
      expect(s.containerId).toBe(before[i].containerId);
    }
    expect(b.rec.states(tasks[0].id)).toEqual(['running']);
    expect(await stackContainers(stack)).toHaveLength(2);
    const seen = new Set<string>();
    await waitFor('both adopted replicas behind the proxy', async () => {
      const r = await httpGet(port).catch(() => undefined);
      if (r?.status === 200) seen.add(r.body.trim());
      return seen.size === 2;
    });
  });

  it('removes orphans only after the first full assignment', async () => {
    const stack = uniqueStack(PREFIX);
    const nodeId = `node-${stack}`;
    const a = worker(nodeId);
    await a.w.start();
    const keep = makeTask(stack, 'keep', 1, nodeId, { command: ['sleep', '600'] });
    const orphan = makeTask(stack, 'orphan', 1, nodeId, { command: ['sleep', '600'] });
    a.w.assign(true, [update(keep), update(orphan)]);
    await a.rec.waitState(keep.id, (s) => s.state === 'running');
    await a.rec.waitState(orphan.id, (s) => s.state === 'running');
    await a.w.stop();

    const b = worker(nodeId);
    await b.w.start();
    b.w.assign(false, [update({ ...keep, status: a.rec.last(keep.id)! })]);
    // Passes over the engine see the orphan: nothing is removed before the manager confirms the set.
    await b.w.settle();
    await b.w.settle();
    expect(await stackContainers(stack)).toHaveLength(2);
    b.w.assign(true, [update({ ...keep, status: a.rec.last(keep.id)! })]);
    await waitFor('orphan removed', async () => (await stackContainers(stack)).length === 1, 15_000);
    const left = await stackContainers(stack);
    expect(left[0].Labels['tsswarm.task.id']).toBe(keep.id);
    expect(b.rec.all.has(orphan.id)).toBe(false);
  });

  it('leaves containers of other nodes alone', async () => {
    const stack = uniqueStack(PREFIX);
    const a = worker(`node-a-${stack}`);
    const b = worker(`node-b-${stack}`);
    await a.w.start();
    await b.w.start();
    const t = makeTask(stack, 'mine', 1, `node-a-${stack}`, { command: ['sleep', '600'] });
    a.w.assign(true, [update(t)]);
    await a.rec.waitState(t.id, (s) => s.state === 'running');
    b.w.assign(true, []);
    await b.w.settle(); // b has confirmed its (empty) set and looked at the engine
    expect(await stackContainers(stack)).toHaveLength(1);
    expect(await b.w.localTaskIds()).toEqual([]);
  });

  it('fails a running task whose container was removed behind its back', async () => {
    const stack = uniqueStack(PREFIX);
    const nodeId = `node-${stack}`;
    const { w, rec } = worker(nodeId);
    await w.start();
    const t = makeTask(stack, 'victim', 1, nodeId, { command: ['sleep', '600'] });
    w.assign(true, [update(t)]);
    const s = await rec.waitState(t.id, (x) => x.state === 'running');
    await docker.getContainer(s.containerId!).remove({ force: true });
    const f = await rec.waitState(t.id, (x) => x.state === 'failed', 5_000);
    expect(f.exitCode).toBe(137);
    expect(['TSW_ERR_EXIT_NON_ZERO', 'TSW_ERR_CONTAINER_REMOVED']).toContain(f.errCode);
  });

  it('mounts named volumes (created with the stack label) and read-only binds; deletes volumes only on request', async () => {
    const stack = uniqueStack(PREFIX);
    const nodeId = `node-${stack}`;
    const { w, rec } = worker(nodeId);
    await w.start();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsswarm-bind-'));
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, 'in'), 'from-host\n');
    const vol = makeVolume(stack, 'data');
    const writer = makeTask(stack, 'writer', 1, nodeId, {
      command: ['sh', '-c', 'cat /host/in > /data/out && ! touch /host/x 2>/dev/null && test -d /scratch'],
      volumes: [
        { type: 'volume', source: 'data', target: '/data', read_only: false },
        { type: 'bind', source: dir, target: '/host', read_only: true },
        { type: 'tmpfs', target: '/scratch', read_only: false },
      ],
    });
    w.assign(true, [update(vol), update(writer)]);
    await rec.waitState(writer.id, (s) => s.state === 'complete');
    const v = await docker.getVolume(`${stack}_data`).inspect();
    expect(v.Labels?.['tsswarm.stack.namespace']).toBe(stack);
    expect(fs.existsSync(path.join(dir, 'x'))).toBe(false);

    const reader = makeTask(stack, 'reader', 1, nodeId, {
      command: ['sh', '-c', 'grep -q from-host /data/out'],
      volumes: [{ type: 'volume', source: 'data', target: '/data', read_only: true }],
    });
    w.assign(false, [update(reader)]);
    await rec.waitState(reader.id, (s) => s.state === 'complete');

    // Tasks gone and the volume no longer in the full set: the data stays.
    w.assign(true, []);
    await waitFor('containers removed', async () => (await stackContainers(stack)).length === 0);
    await w.settle(); // pending network/volume removals were tried
    expect((await docker.getVolume(`${stack}_data`).inspect()).Name).toBe(`${stack}_data`);
    // An explicit removal (stack rm --volumes) deletes it.
    w.assign(false, [remove(vol)]);
    await waitFor('volume removed', async () => docker.getVolume(`${stack}_data`).inspect().then(() => false, () => true));
  });

  it('rejects a task whose bind source does not exist', async () => {
    const stack = uniqueStack(PREFIX);
    const nodeId = `node-${stack}`;
    const { w, rec } = worker(nodeId);
    await w.start();
    const t = makeTask(stack, 'nobind', 1, nodeId, {
      command: ['true'], volumes: [{ type: 'bind', source: '/nonexistent/tsswarm-test', target: '/x', read_only: true }],
    });
    w.assign(true, [update(t)]);
    const s = await rec.waitState(t.id, (x) => x.state === 'rejected' || x.state === 'failed');
    expect(s.err).toMatch(/nonexistent\/tsswarm-test/);
    expect(s.errCode).toBe('TSW_ERR_MOUNT_INVALID');
  });

  it('re-reports every task on a full assignment', async () => {
    const stack = uniqueStack(PREFIX);
    const nodeId = `node-${stack}`;
    const { w, rec } = worker(nodeId);
    await w.start();
    const t = makeTask(stack, 'one', 1, nodeId, { command: ['sleep', '600'] });
    w.assign(true, [update(t)]);
    await rec.waitState(t.id, (s) => s.state === 'running');
    const n = rec.all.get(t.id)!.length;
    w.assign(false, [update(t)]);
    await w.settle();
    expect(rec.all.get(t.id)!.length).toBe(n); // deduped
    w.assign(true, [update(t)]);
    await waitFor('re-report', () => rec.all.get(t.id)!.length === n + 1);
    expect(rec.last(t.id)!.state).toBe('running');
  });
});
