// Task history: a cluster-wide retention limit (tasks kept per slot, the live one included, as
// Swarm's --task-history-limit), set at init and changed later; `service ps` filters.

import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, waitFor } from './harness.js';

interface Task { id: string; slot?: number; desiredState: string; status: { state: string; message: string; err?: string } }

function post(socketPath: string, path: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'POST', headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout'))).on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('task history on a real engine', () => {
  const c = new Cluster('history');
  const ps = (svc: string, ...more: string[]) => c.json<Task[]>('service', 'ps', svc, ...more);

  beforeAll(async () => { await c.start(true, ['--task-history-limit', '3']); });
  afterAll(async () => { await c.destroy(['e2ehist', 'e2eloop']); });

  it('the limit set at init bounds each slot; changing it applies to what is kept', async () => {
    expect(await c.json<{ spec: { taskHistoryLimit: number } }>('cluster', 'inspect')).toMatchObject({ spec: { taskHistoryLimit: 3 } });
    const f = c.writeStack('hist.yml', `
services:
  crash:
    image: tsswarm/busybox:latest
    command: ["sh", "-c", "echo bye; exit 4"]
    deploy:
      restart_policy: { condition: any, delay: 0s, max_attempts: 6 }
  ok:
    image: tsswarm/busybox:latest
    command: ["sleep", "3600"]
    init: true
`);
    await c.cliOk('deploy', '-c', f, 'e2ehist', '--detach');
    // Seven attempts die; the last one is refused a restart and holds the slot.
    await waitFor('restarts exhausted', async () => (await ps('e2ehist_crash')).some((t) => /max_attempts/.test(t.status.message)), 60_000);
    await waitFor('history trimmed to 3', async () => (await ps('e2ehist_crash')).length === 3, 20_000);
    expect((await ps('e2ehist_crash')).every((t) => t.status.state === 'failed')).toBe(true);

    await c.cliOk('cluster', 'update', '--task-history-limit', '1');
    await waitFor('history trimmed to the task that holds the slot', async () => (await ps('e2ehist_crash')).length === 1, 20_000);
    const [held] = await ps('e2ehist_crash');
    expect(held.desiredState).toBe('running');
    expect(held.status.message).toMatch(/max_attempts \(6\) reached/);
  });

  it('bad settings are refused with the field named, and change nothing', async () => {
    const r = await c.cli('cluster', 'update', '--task-history-limit=-1');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/task-history-limit must be an integer >= 0/);
    expect((await c.cli('cluster', 'update')).code).not.toBe(0);
    // The API checks for itself too.
    const api = await post(c.socket, '/v1/cluster/update', { spec: { taskHistoryLimit: 2, colour: 'red' } });
    expect(api.status).toBe(400);
    expect(api.body).toMatch(/unknown cluster setting colour/);
    const api2 = await post(c.socket, '/v1/cluster/update', { spec: { taskHistoryLimit: 2.5 } });
    expect(api2.body).toMatch(/taskHistoryLimit must be an integer >= 0, got 2.5/);
    expect(await c.json<{ spec: { taskHistoryLimit: number } }>('cluster', 'inspect')).toMatchObject({ spec: { taskHistoryLimit: 1 } });
  });

  it('service ps shows a slot\'s history, filtered by desired state, in full with --no-trunc', async () => {
    await c.cliOk('cluster', 'update', '--task-history-limit', '3');
    for (let i = 0; i < 3; i++) await c.cliOk('service', 'update', '--force', 'e2ehist_ok');
    await waitFor('3 tasks in the slot', async () => (await ps('e2ehist_ok')).length === 3, 30_000);
    const all = await ps('e2ehist_ok');
    expect(all.filter((t) => t.desiredState === 'running' && t.status.state === 'running')).toHaveLength(1);
    expect((await ps('e2ehist_ok', '--filter', 'desired-state=running')).map((t) => t.desiredState)).toEqual(['running']);
    const down = await ps('e2ehist_ok', '--filter', 'desired-state=shutdown');
    expect(down).toHaveLength(2);
    expect(down.every((t) => t.desiredState === 'shutdown')).toBe(true);
    const table = await c.cliOk('service', 'ps', 'e2ehist_ok', '--no-trunc');
    for (const t of all) expect(table).toContain(t.id);
    const short = await c.cliOk('service', 'ps', 'e2ehist_ok');
    expect(short).toContain(' \\_ e2ehist_ok.1');
  });

  it('limit 2: once restarts are over a crash-looping slot keeps 2 tasks; filters split them; --no-trunc shows full errors', async () => {
    await c.cliOk('cluster', 'update', '--task-history-limit', '2');
    const f = c.writeStack('loop.yml', `
services:
  fail:
    image: tsswarm/busybox:latest
    command: ["sh", "-c", "exit 1"]
    deploy:
      restart_policy: { delay: 0s, max_attempts: 6 }
  nocmd:
    image: tsswarm/busybox:latest
    command: ["/no/such-program-in-this-image"]
    deploy:
      restart_policy: { delay: 0s, max_attempts: 1 }
`);
    await c.cliOk('deploy', '-c', f, 'e2eloop', '--detach');
    const exhausted = (ts: Task[]) => ts.some((t) => /max_attempts/.test(t.status.message));
    await waitFor('restarts of e2eloop_fail exhausted', async () => exhausted(await ps('e2eloop_fail')), 60_000);
    await waitFor('e2eloop_fail trimmed to the limit', async () => (await ps('e2eloop_fail')).length === 2, 20_000);
    // Nothing restarts any more — the orchestrator wrote its decision ("max_attempts reached")
    // on the task that holds the slot — so the bound holds from here on, with that one task.
    const bySlot = new Map<number | undefined, Task[]>();
    for (const t of await ps('e2eloop_fail')) bySlot.set(t.slot, [...(bySlot.get(t.slot) ?? []), t]);
    expect([...bySlot.keys()]).toEqual([1]);
    for (const ts of bySlot.values()) {
      expect(ts.length).toBeLessThanOrEqual(2);
      expect(ts.filter((t) => t.desiredState === 'running')).toHaveLength(1);
    }
    const all = await ps('e2eloop_fail');
    expect(all.every((t) => t.status.state === 'failed')).toBe(true);
    const holder = all.filter((t) => t.desiredState === 'running');
    const running = await ps('e2eloop_fail', '--filter', 'desired-state=running');
    expect(running.map((t) => t.id)).toEqual(holder.map((t) => t.id));
    expect(running[0].status.message).toMatch(/max_attempts \(6\) reached/);
    const dead = await ps('e2eloop_fail', '--filter', 'desired-state=shutdown');
    expect(dead.map((t) => t.id).sort()).toEqual(all.filter((t) => t.desiredState !== 'running').map((t) => t.id).sort());
    expect(dead.length).toBe(1);

    // An engine error is longer than the table's column: cut without --no-trunc, whole with it.
    const nocmd = await waitFor('restarts of e2eloop_nocmd exhausted', async () => {
      const ts = await ps('e2eloop_nocmd');
      return exhausted(ts) && ts.length <= 2 ? ts : undefined;
    }, 60_000);
    const err = nocmd.find((t) => t.status.err)?.status.err ?? '';
    expect(err).toMatch(/such-program-in-this-image/);
    expect(err.length).toBeGreaterThan(60);
    const full = await c.cliOk('service', 'ps', 'e2eloop_nocmd', '--no-trunc');
    expect(full).toContain(err);
    for (const t of nocmd) expect(full).toContain(t.id);
    const short = await c.cliOk('service', 'ps', 'e2eloop_nocmd');
    expect(short).not.toContain(err);
    expect(short).toContain(`${err.slice(0, 59)}…`);
    for (const t of nocmd) {
      expect(short).toContain(t.id.slice(0, 12));
      expect(short).not.toContain(t.id);
    }
  });
});
