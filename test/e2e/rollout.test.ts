// Safe rollouts, end to end: rolling updates that keep serving, health-gated progress,
// pause and rollback, restart limits, resume after a manager restart, deploy --dry-run.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, httpGet, waitFor } from './harness.js';

const PORT = 18581;

interface Task { id: string; slot?: number; specVersion: number; desiredState: string; status: { state: string; health?: string; err?: string; message: string } }
interface Svc { specVersion: number; spec: { image: string; environment: Record<string, string> }; updateStatus?: { state: string; message: string } }

const web = (version: string, opts: { replicas?: number; order?: string; parallelism?: number; delay?: string; failure?: string; port?: number; monitor?: string } = {}) => `
services:
  web:
    image: tsswarm/busybox:latest
    command: ["sh", "-c", "echo ${version} > /var/www/index.html && exec httpd -f -p ${opts.port ?? 8080} -h /var/www"]
    init: true
    environment: { VERSION: "${version}" }
    ports: ["${PORT}:8080"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 500ms
      timeout: 1s
      retries: 2
    deploy:
      replicas: ${opts.replicas ?? 6}
      restart_policy: { condition: any, delay: 0s }
      update_config:
        parallelism: ${opts.parallelism ?? 2}
        order: ${opts.order ?? 'start-first'}
        delay: ${opts.delay ?? '0s'}
        monitor: ${opts.monitor ?? '1s'}
        failure_action: ${opts.failure ?? 'pause'}
      rollback_config: { parallelism: 0, order: start-first, monitor: 1s }
`;

/** GETs in a loop until stopped; counts answers and failures. */
function probe(port: number) {
  let running = true;
  const seen = { ok: 0, failed: 0, errors: [] as string[], bodies: new Set<string>() };
  const loop = (async () => {
    while (running) {
      try {
        const r = await httpGet(port, '/', 2000);
        if (r.status === 200) { seen.ok++; seen.bodies.add(r.body.trim()); } else { seen.failed++; seen.errors.push(`HTTP ${r.status}`); }
      } catch (e) { seen.failed++; seen.errors.push((e as Error).message); }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return { seen, stop: async () => { running = false; await loop; return seen; } };
}

describe('safe rollouts on a real engine', () => {
  const c = new Cluster('rollout');
  const STACK = 'e2eroll';
  const svc = `${STACK}_web`;
  const file = (text: string) => c.writeStack('stack.yml', text);
  const tasks = () => c.json<Task[]>('service', 'ps', svc);
  const service = async () => (await c.json<Svc[]>('service', 'inspect', svc))[0];
  const runningHealthy = async () => (await tasks()).filter((t) => t.desiredState === 'running' && t.status.state === 'running' && t.status.health === 'healthy');

  beforeAll(async () => { await c.start(); });
  afterAll(async () => { await c.destroy([STACK, 'e2eplan', 'e2ecrash', 'e2eloop', 'e2emon', 'e2eflags']); });

  it('deploy --dry-run prints the exact plan and changes nothing', async () => {
    const r1 = await c.cliOk('deploy', '--dry-run', '-c', file(web('v1', { replicas: 2 })), 'e2eplan');
    expect(r1).toBe(['Would deploy stack e2eplan', 'create   network e2eplan_default', 'create   e2eplan_web (2 replicas)', ''].join('\n'));
    expect(await c.cliOk('stack', 'ls')).not.toContain('e2eplan');
    await c.cliOk('deploy', '-c', file(web('v1', { replicas: 2 })), 'e2eplan');
    const twoServices = web('v2', { replicas: 2 }).replace('services:\n', 'services:\n  extra:\n    image: tsswarm/busybox:latest\n    command: ["sleep", "60"]\n');
    const r2 = await c.cliOk('deploy', '--dry-run', '-c', file(twoServices), 'e2eplan');
    expect(r2).toBe([
      'Would deploy stack e2eplan',
      'create   e2eplan_extra (1 replica)',
      'update   e2eplan_web (2 tasks replaced)',
      '           command: ["sh","-c","echo v1 > /var/www/index.html && exec httpd -f -p 8080 -h /var/www"] -> ["sh","-c","echo v2 > /var/www/index.html && exec httpd -f -p 8080 -h /var/www"]',
      // An environment value is shown as changed, never in clear.
      '           environment.VERSION: changed',
      '',
    ].join('\n'));
    const r3 = await c.cliOk('deploy', '--dry-run', '-c', file(web('v1', { replicas: 5 })), 'e2eplan');
    expect(r3).toBe('Would deploy stack e2eplan\nscale    e2eplan_web 2 -> 5\n');
    const r4 = await c.cliOk('deploy', '--dry-run', '-c', file(web('v1', { replicas: 2 }).replace(/services:[\s\S]*/, 'services:\n  other:\n    image: tsswarm/busybox:latest\n')), 'e2eplan');
    expect(r4).toBe('Would deploy stack e2eplan\ncreate   e2eplan_other (1 replica)\nremove   e2eplan_web (2 tasks stopped)\n');
    expect((await c.json<Task[]>('service', 'ps', 'e2eplan_web')).filter((t) => t.desiredState === 'running')).toHaveLength(2);
    expect((await c.json<Svc[]>('service', 'inspect', 'e2eplan_web'))[0].spec.environment.VERSION).toBe('v1');
    await c.cliOk('stack', 'rm', 'e2eplan');
  });

  it('a start-first update with parallelism 2 keeps 6 healthy tasks serving: zero failed requests', async () => {
    await c.cliOk('deploy', '-c', file(web('v1')), STACK);
    await waitFor('v1 served', async () => (await httpGet(PORT)).body.trim() === 'v1');
    const p = probe(PORT);
    let minHealthy = Infinity;
    let watching = true;
    const watcher = (async () => { while (watching) { minHealthy = Math.min(minHealthy, (await runningHealthy()).length); await new Promise((r) => setTimeout(r, 100)); } })();
    const out = await c.cliOk('deploy', '-c', file(web('v2')), STACK);
    watching = false;
    await watcher;
    const seen = await p.stop();
    expect(out).toContain(`Stack ${STACK} converged`);
    expect(seen.failed, seen.errors.slice(0, 5).join('; ')).toBe(0);
    expect(seen.ok).toBeGreaterThan(20);
    expect(seen.bodies).toEqual(new Set(['v1', 'v2']));
    expect(minHealthy).toBeGreaterThanOrEqual(6);
    const live = (await tasks()).filter((t) => t.desiredState === 'running');
    expect(live).toHaveLength(6);
    expect((await service()).updateStatus?.state).toBe('completed');
  });

  it('an update whose healthcheck fails pauses, and the service keeps serving', async () => {
    const p = probe(PORT);
    const r = await c.cli('deploy', '-c', file(web('v3', { port: 8081 })), STACK, '--timeout', '90s');
    const seen = await p.stop();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/update paused/);
    expect(r.stderr).toMatch(/unhealthy/);
    expect((await service()).updateStatus?.state).toBe('paused');
    expect(seen.failed, seen.errors.slice(0, 5).join('; ')).toBe(0);
    expect((await runningHealthy()).length).toBeGreaterThanOrEqual(6);
  });

  it('service rollback restores the previous spec', async () => {
    const out = await c.cliOk('service', 'rollback', svc);
    expect(out).toContain('Rolling back');
    const s = await service();
    expect(s.spec.environment.VERSION).toBe('v2');
    await waitFor('6 healthy v2 tasks', async () => (await runningHealthy()).filter((t) => t.specVersion === s.specVersion).length === 6, 60_000);
    expect((await httpGet(PORT)).body.trim()).toBe('v2');
  });

  it('failure_action rollback rolls a bad update back by itself', async () => {
    const r = await c.cli('deploy', '-c', file(web('v4', { port: 8081, failure: 'rollback' })), STACK, '--timeout', '90s');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/rolled back/);
    await waitFor('rollback completed', async () => (await service()).updateStatus?.state === 'rollback_completed', 60_000);
    expect((await service()).spec.environment.VERSION).toBe('v2');
    await waitFor('served by v2', async () => (await runningHealthy()).length >= 6 && (await httpGet(PORT)).body.trim() === 'v2', 60_000);
  });

  it('a manager killed in the middle of an update resumes it without redoing it', async () => {
    await c.cliOk('deploy', '-c', file(web('v5', { order: 'stop-first', parallelism: 1, delay: '1s' })), STACK, '--detach');
    await waitFor('update under way', async () => (await service()).updateStatus?.state === 'updating', 20_000);
    await waitFor('two slots updated', async () => {
      const s = await service();
      return (await runningHealthy()).filter((t) => t.specVersion === s.specVersion).length >= 2;
    }, 60_000);
    await c.kill9();
    await c.start(false);
    const s = await service();
    await waitFor('update completed after restart', async () => (await service()).updateStatus?.state === 'completed', 120_000, 250);
    const all = await tasks();
    const newTasks = all.filter((t) => t.specVersion === s.specVersion);
    expect(newTasks.filter((t) => t.desiredState === 'running')).toHaveLength(6);
    // Every slot got exactly one task of the new spec: nothing was redone.
    expect(new Set(newTasks.map((t) => t.slot)).size).toBe(newTasks.length);
    expect((await httpGet(PORT)).body.trim()).toBe('v5');
  });

  it('restart policy max_attempts stops retrying', async () => {
    const f = c.writeStack('crash.yml', `
services:
  crash:
    image: tsswarm/busybox:latest
    command: ["sh", "-c", "echo dying; exit 3"]
    init: true
    deploy:
      restart_policy: { condition: on-failure, delay: 0s, max_attempts: 2 }
`);
    await c.cli('deploy', '-c', f, 'e2ecrash', '--detach');
    // The orchestrator's decision not to restart again is what proves no fourth attempt comes:
    // it writes "max_attempts reached" on the slot's last task when it makes it.
    const all = await waitFor('three failed attempts and the decision to stop', async () => {
      const ts = await c.json<Task[]>('service', 'ps', 'e2ecrash_crash');
      return ts.filter((t) => t.status.state === 'failed').length === 3 && ts.some((t) => /max_attempts/.test(t.status.message)) ? ts : undefined;
    }, 30_000);
    expect(all).toHaveLength(3);
    expect(all.every((t) => t.status.state === 'failed')).toBe(true);
    expect(all.some((t) => /max_attempts/.test(t.status.message))).toBe(true);
    const ps = await c.cliOk('service', 'ps', 'e2ecrash_crash', '--no-trunc');
    expect(ps).toMatch(/exit \(3\)|exit code 3/);
  });

  it('x-backoff exponential doubles the restart delay of a crash-looping slot, and ps says why', async () => {
    const f = c.writeStack('loop.yml', `
services:
  loop:
    image: tsswarm/busybox:latest
    command: ["sh", "-c", "exit 7"]
    deploy:
      restart_policy: { condition: any, delay: 200ms, max_attempts: 3, x-backoff: exponential, x-max-delay: 500ms }
`);
    await c.cli('deploy', '-c', f, 'e2eloop', '--detach');
    await waitFor('four failed attempts', async () => (await c.json<Task[]>('service', 'ps', 'e2eloop_loop')).filter((t) => t.status.state === 'failed').length === 4, 30_000);
    const all = (await c.json<(Task & { notBefore?: number; restartStreak?: number; meta: { createdAt: number } })[]>('service', 'ps', 'e2eloop_loop'))
      .sort((a, b) => a.meta.createdAt - b.meta.createdAt);
    // The first task starts at once; each restart waits twice as long as the one before, capped.
    expect(all.map((t) => t.restartStreak ?? 0)).toEqual([0, 1, 2, 3]);
    // notBefore is set when the restart is decided, a moment before the store stamps createdAt.
    const waits = all.map((t) => (t.notBefore === undefined ? 0 : t.notBefore - t.meta.createdAt));
    [0, 200, 400, 500].forEach((want, i) => { expect(waits[i]).toBeLessThanOrEqual(want); expect(waits[i]).toBeGreaterThan(want - 150); });
    const ps = await c.cliOk('service', 'ps', 'e2eloop_loop', '--no-trunc');
    expect(ps).toMatch(/exit \(7\)|exit code 7/);
  });

  it('a new task that dies within the monitor window after it came up fails the update', async () => {
    const mon = (cmd: string) => c.writeStack('mon.yml', `
services:
  web:
    image: tsswarm/busybox:latest
    command: ["sh", "-c", "${cmd}"]
    init: true
    ports: ["18582:8080"]
    healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"], interval: 300ms, timeout: 1s, retries: 1 }
    deploy:
      replicas: 2
      restart_policy: { condition: any, delay: 0s }
      update_config: { parallelism: 1, order: start-first, monitor: 20s, failure_action: pause }
`);
    await c.cliOk('deploy', '-c', mon('mkdir -p /w && echo ok > /w/index.html && exec httpd -f -p 8080 -h /w'), 'e2emon');
    // The new version comes up healthy, then crashes a few seconds later.
    const r = await c.cli('deploy', '-c', mon('mkdir -p /w && echo ok > /w/index.html && httpd -p 8080 -h /w && sleep 3 && exit 9'), 'e2emon', '--timeout', '90s');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/update paused due to failure of task e2emon_web\.\d/);
    const s = (await c.json<Svc[]>('service', 'inspect', 'e2emon_web'))[0];
    expect(s.updateStatus?.state).toBe('paused');
    // It had been up: the failure came after, inside the window.
    const died = (await c.json<(Task & { upAt?: number; endedAt?: number })[]>('service', 'ps', 'e2emon_web'))
      .filter((t) => t.specVersion === s.specVersion && t.status.state === 'failed');
    expect(died.length).toBeGreaterThan(0);
    expect(died.every((t) => t.upAt !== undefined && t.endedAt !== undefined && t.endedAt > t.upAt)).toBe(true);
  });

  it('service update flags change exactly what they name, rolled out through the CLI', async () => {
    const FLAGS_PORT = 18583;
    type Spec = { environment: Record<string, string>; ports: { target: number; published?: number }[]; deploy: { replicas: number; placement: { constraints: string[] }; update_config: { parallelism: number; order: string } } };
    const inspect = async () => (await c.json<{ specVersion: number; spec: Spec }[]>('service', 'inspect', 'e2eflags_app'))[0];
    const upToDate = async (n: number) => {
      const s = await inspect();
      const ts = (await c.json<Task[]>('service', 'ps', 'e2eflags_app')).filter((t) => t.desiredState === 'running');
      return ts.length === n && ts.every((t) => t.specVersion === s.specVersion && t.status.state === 'running');
    };
    await c.cliOk('deploy', '-c', c.writeStack('flags.yml', `
services:
  app:
    image: tsswarm/busybox:latest
    command: ["sh", "-c", "echo flags > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"]
    init: true
    deploy:
      update_config: { monitor: 0s }
`), 'e2eflags');

    await c.cliOk('service', 'update', '--replicas', '2', '--env-add', 'A=1', '--update-parallelism', '0', '--update-order', 'stop-first', 'e2eflags_app');
    let s = await inspect();
    expect(s.spec.deploy.replicas).toBe(2);
    expect(s.spec.environment.A).toBe('1');
    expect(s.spec.deploy.update_config).toMatchObject({ parallelism: 0, order: 'stop-first' });
    expect(await upToDate(2)).toBe(true);

    await c.cliOk('service', 'update', '--env-rm', 'A', '--publish-add', `${FLAGS_PORT}:8080`, '--constraint-add', 'node.role==manager', 'e2eflags_app');
    s = await inspect();
    expect(s.spec.environment.A).toBeUndefined();
    expect(s.spec.ports).toEqual([expect.objectContaining({ target: 8080, published: FLAGS_PORT })]);
    expect(s.spec.deploy.placement.constraints).toEqual(['node.role==manager']);
    expect(await upToDate(2)).toBe(true);
    expect((await httpGet(FLAGS_PORT)).body.trim()).toBe('flags');

    await c.cliOk('service', 'update', '--publish-rm', String(FLAGS_PORT), '--constraint-rm', 'node.role==manager', 'e2eflags_app');
    s = await inspect();
    expect(s.spec.ports).toEqual([]);
    expect(s.spec.deploy.placement.constraints).toEqual([]);
    await waitFor(`port ${FLAGS_PORT} released`, async () => httpGet(FLAGS_PORT, '/', 500).then(() => false, () => true), 10_000);
  });
});
