// Order and one-shot work on a real engine: depends_on enforced by the manager (a service starts
// only once its dependency is healthy, or its job completed), jobs that run to completion, at
// most x-max-concurrent at a time, and a failing job that fails the deploy with its exit code.
// Order is asserted with the manager's task timestamps and the engine's container times, never
// with wall-clock thresholds.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Cluster, ROOT, httpGet, runCli, waitFor } from './harness.js';

interface Task {
  id: string; slot?: number; serviceName: string; desiredState: string; specVersion: number; upAt?: number; endedAt?: number;
  meta: { createdAt: number }; status: { state: string; exitCode?: number; containerId?: string };
}
interface Svc { name: string; desired: number; completed?: number; jobFailure?: string; waiting?: { message: string; failure?: string }[] }

const IMAGE = 'tsswarm/busybox:latest';

describe('depends_on and jobs on a real engine', () => {
  const c = new Cluster('order');
  const ps = (svc: string) => c.json<Task[]>('service', 'ps', svc);
  const inspect = async (svc: string) => (await c.json<Svc[]>('service', 'inspect', svc))[0];
  const started = async (id: string) => new Date((await c.docker.getContainer(id).inspect()).State.StartedAt).getTime();

  beforeAll(async () => { await c.start(); }, 60_000);
  afterAll(async () => { await c.destroy(['e2eorder', 'e2erestart', 'e2ejobfail', 'e2ejob', 'e2emigrate']); });

  it('a service waits for its dependency to be healthy, and says so while it waits', async () => {
    const f = c.writeStack('order.yml', `
services:
  db:
    image: ${IMAGE}
    # healthy only once the marker exists, a few health checks after it started
    command: ["sh", "-c", "sleep 2; touch /tmp/ready; exec sleep 100000"]
    init: true
    stop_grace_period: 1s
    healthcheck: { test: ["CMD", "test", "-f", "/tmp/ready"], interval: 500ms, timeout: 2s, retries: 60 }
  app:
    image: ${IMAGE}
    command: ["sleep", "100000"]
    init: true
    stop_grace_period: 1s
    depends_on:
      db: { condition: service_healthy }
`);
    const r = await c.cli('deploy', '-c', f, 'e2eorder');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('e2eorder_app: 0/1 (waiting for db to be healthy)');
    const [db] = await ps('e2eorder_db');
    const [app] = await ps('e2eorder_app');
    expect(db.upAt).toBeDefined();
    // The manager created the app's task only after it saw the db healthy...
    expect(app.meta.createdAt).toBeGreaterThanOrEqual(db.upAt!);
    // ...so the engine started the app's container after the db's health check had passed.
    const dbInfo = await c.docker.getContainer(db.status.containerId!).inspect();
    const firstOk = (dbInfo.State.Health?.Log ?? []).find((l) => l.ExitCode === 0);
    const appStarted = await started(app.status.containerId!);
    expect(appStarted).toBeGreaterThan(await started(db.status.containerId!));
    if (firstOk) expect(appStarted).toBeGreaterThanOrEqual(new Date(firstOk.End).getTime());
    expect((await inspect('e2eorder_app')).waiting).toBeUndefined();
  });

  it('depends_on restart: true: a deploy that replaces the dependency\'s task replaces the dependent\'s too, after it', async () => {
    const stackOf = (v: string) => `
services:
  db:
    image: ${IMAGE}
    command: ["sleep", "100000"]
    init: true
    stop_grace_period: 1s
    environment: { VERSION: "${v}" }
    deploy: { update_config: { order: stop-first } }
  app:
    image: ${IMAGE}
    command: ["sleep", "100000"]
    init: true
    stop_grace_period: 1s
    deploy: { update_config: { order: stop-first } }
    depends_on:
      db: { condition: service_started, restart: true }
`;
    const f = c.writeStack('restart.yml', stackOf('1'));
    await c.cliOk('deploy', '-c', f, 'e2erestart');
    const live = async (svc: string) => (await ps(svc)).filter((t) => t.desiredState === 'running' && t.status.state === 'running');
    const [app1] = await live('e2erestart_app');
    expect(app1).toBeDefined();

    c.writeStack('restart.yml', stackOf('2'));
    const r = await c.cli('deploy', '-c', f, 'e2erestart');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('restarted after db (depends_on restart: true)');
    const [db2] = await live('e2erestart_db');
    const [app2] = await live('e2erestart_app');
    expect(app2.id).not.toBe(app1.id);
    expect(app2.specVersion).toBe(app1.specVersion + 1);
    expect(app2.meta.createdAt).toBeGreaterThanOrEqual(db2.meta.createdAt);
    // An unchanged redeploy restarts nothing.
    expect(await c.cliOk('deploy', '-c', f, 'e2erestart')).toMatch(/Nothing to do/);
  });

  it('a failing job fails the deploy with its exit code; its dependent reports it and never starts', async () => {
    const f = c.writeStack('jobfail.yml', `
services:
  migrate:
    image: ${IMAGE}
    command: ["sh", "-c", "echo migrating; exit 3"]
    deploy:
      mode: replicated-job
      restart_policy: { condition: on-failure, delay: 0s, max_attempts: 1 }
  app:
    image: ${IMAGE}
    command: ["sleep", "100000"]
    init: true
    depends_on:
      migrate: { condition: service_completed_successfully }
`);
    const r = await c.cli('deploy', '-c', f, 'e2ejobfail');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/e2ejobfail_migrate: .*exit code 3/);
    // Once its attempts are used up the job has failed, and the app says why it never started.
    const job = await waitFor('the job failed for good', async () => { const s = await inspect('e2ejobfail_migrate'); return s.jobFailure ? s : undefined; }, 30_000);
    expect(job.jobFailure).toMatch(/exit code 3/);
    const app = await inspect('e2ejobfail_app');
    expect(app.waiting?.[0]).toMatchObject({ message: 'waiting for migrate to complete successfully', failure: expect.stringMatching(/migrate failed: .*exit code 3/) });
    expect(await ps('e2ejobfail_app')).toEqual([]);
    expect((await ps('e2ejobfail_migrate')).map((t) => t.status.state)).toEqual(['failed', 'failed']);
    const ls = await c.cliOk('service', 'ls');
    expect(ls).toMatch(/e2ejobfail_migrate +replicated-job +0\/1 failed/);
    expect(ls).toMatch(/e2ejobfail_app +replicated +0\/1 \(dependency failed\)/);
    const again = await c.cli('deploy', '-c', f, 'e2ejobfail');
    expect(again.code).toBe(0); // nothing changed: nothing to wait for
  });

  it('a replicated-job completes its total, at most x-max-concurrent at a time, and is not run again', async () => {
    const f = c.writeStack('job.yml', `
services:
  batch:
    image: ${IMAGE}
    command: ["sh", "-c", "sleep 1"]
    deploy:
      mode: replicated-job
      replicas: 4
      x-max-concurrent: 2
  web:
    image: ${IMAGE}
    command: ["sleep", "100000"]
    init: true
    stop_grace_period: 1s
    depends_on:
      batch: { condition: service_completed_successfully }
`);
    const r = await c.cli('deploy', '-c', f, 'e2ejob');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('e2ejob_batch: 4/4 completed');
    const tasks = await ps('e2ejob_batch');
    expect(tasks.map((t) => [t.slot, t.status.state, t.status.exitCode, t.desiredState]).sort()).toEqual([1, 2, 3, 4].map((s) => [s, 'complete', 0, 'running']));
    // The engine's own times: never more than two of the job's containers ran at once.
    const spans = await Promise.all(tasks.map(async (t) => {
      const st = (await c.docker.getContainer(t.status.containerId!).inspect()).State;
      return [new Date(st.StartedAt).getTime(), new Date(st.FinishedAt).getTime()] as const;
    }));
    const overlap = Math.max(...spans.map(([s]) => spans.filter(([s2, e2]) => s2 <= s && s < e2).length));
    expect(overlap).toBeLessThanOrEqual(2);
    // web started after the last completion
    const [web] = await ps('e2ejob_web');
    expect(web.meta.createdAt).toBeGreaterThanOrEqual(Math.max(...tasks.map((t) => t.endedAt!)));
    expect(await c.cliOk('service', 'ls')).toMatch(/e2ejob_batch +replicated-job +4\/4 completed/);

    // Loops keep running (another service is replaced) and the completed job is left alone;
    // an unchanged redeploy does not run it again.
    await c.cliOk('service', 'update', '--force', 'e2ejob_web');
    await waitFor('web replaced', async () => (await ps('e2ejob_web')).some((t) => t.specVersion === 2 && t.status.state === 'running'), 60_000);
    expect((await c.cliOk('deploy', '-c', f, 'e2ejob'))).toContain('Nothing to do');
    const after = await ps('e2ejob_batch');
    expect(after.map((t) => t.id).sort()).toEqual(tasks.map((t) => t.id).sort());
    expect((await c.containers('e2ejob', true)).filter((x) => x.Labels['tsswarm.service.name'] === 'e2ejob_batch')).toHaveLength(4);
  });

  it('a changed job runs again', async () => {
    const before = await ps('e2ejob_batch');
    const r = await c.cli('service', 'update', '--force', 'e2ejob_batch');
    expect(r.code, r.stderr).toBe(0);
    await waitFor('the job ran again', async () => {
      const s = await inspect('e2ejob_batch');
      return s.completed === 4 && (await ps('e2ejob_batch')).filter((t) => t.specVersion === 2 && t.status.state === 'complete').length === 4;
    }, 60_000);
    expect((await ps('e2ejob_batch')).filter((t) => before.some((b) => b.id === t.id)).every((t) => t.desiredState === 'shutdown')).toBe(true);
  });

  it('the example: a migration job after a healthy database, the app after the migration', async () => {
    const port = 20_000 + (process.pid % 20_000);
    const r = await runCli(['deploy', '-c', join(ROOT, 'deploy/examples/migrate/stack.yml'), 'e2emigrate'], { TSSWARM_HOST: `unix://${c.socket}`, MIGRATE_PORT: String(port) });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('e2emigrate_migrate: 0/1 (waiting for db to be healthy)');
    expect(r.stdout).toContain('e2emigrate_migrate: 1/1 completed');
    expect(r.stdout).toContain('e2emigrate_app: 2/2 converged');
    const [mig] = await ps('e2emigrate_migrate');
    const apps = await ps('e2emigrate_app');
    expect(Math.min(...apps.map((t) => t.meta.createdAt))).toBeGreaterThanOrEqual(mig.endedAt!);
    expect((await waitFor('the app answers', async () => { const h = await httpGet(port); return h.status === 200 ? h : undefined; }, 20_000)).body).toContain('migrated');
  });
});
