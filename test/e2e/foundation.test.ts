// The foundation story, end to end: a real manager process with its embedded agent on the
// real Docker engine, driven through the real CLI.

import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, httpGet, waitFor } from './harness.js';

const STACK = 'e2eweb';
const PORT = 18481;

const webStack = (replicas: number) => `
services:
  web:
    image: tsswarm/busybox:latest
    command: ["sh", "-c", "echo hello-from-$$(hostname) > /var/www/index.html && exec httpd -f -p 8080 -h /var/www"]
    init: true
    ports:
      - "${PORT}:8080"
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 2s
      retries: 3
    volumes:
      - cache:/cache
    networks: [front]
    deploy:
      replicas: ${replicas}
      restart_policy:
        condition: any
        delay: 0s
networks:
  front: {}
volumes:
  cache: {}
`;

interface Task { id: string; slot?: number; desiredState: string; status: { state: string; containerId?: string; health?: string; err?: string } }

describe('single-host tsswarm on a real engine', () => {
  const c = new Cluster('foundation');
  let file: string;

  beforeAll(async () => {
    await c.start();
    file = c.writeStack('stack.yml', webStack(1));
  });
  afterAll(async () => {
    await c.destroy([STACK, 'e2ebad', 'e2eport', 'e2elogs']);
  });

  const running = async () => (await c.containers(STACK)).filter((x) => x.Labels['tsswarm.service.name'] === `${STACK}_web`);
  const liveTasks = async () => (await c.json<Task[]>('service', 'ps', `${STACK}_web`)).filter((t) => t.desiredState === 'running' && t.status.state === 'running');

  it('deploys a stack, waits until healthy, and serves through the published port', async () => {
    const out = await c.cliOk('deploy', '-c', file, STACK);
    expect(out).toContain(`create   ${STACK}_web`);
    expect(out).toContain(`Stack ${STACK} converged`);
    const tasks = await liveTasks();
    expect(tasks).toHaveLength(1);
    expect(tasks[0].status.health).toBe('healthy');
    const page = await waitFor('page through the ingress port', async () => (await httpGet(PORT)).body);
    expect(page).toMatch(/^hello-from-/);
    expect(await c.cliOk('stack', 'ls')).toMatch(new RegExp(`${STACK}\\s+1`));
    expect(await c.cliOk('service', 'ls')).toMatch(new RegExp(`${STACK}_web\\s+replicated\\s+1/1`));
  });

  it('scales 1 -> 5 -> 2 with exactly that many containers', async () => {
    await c.cliOk('service', 'scale', `${STACK}_web=5`);
    expect(await liveTasks()).toHaveLength(5);
    await waitFor('5 containers', async () => (await running()).length === 5);
    // The ingress proxy spreads connections over the replicas.
    const seen = new Set<string>();
    for (let i = 0; i < 30 && seen.size < 2; i++) seen.add((await httpGet(PORT)).body);
    expect(seen.size).toBeGreaterThan(1);
    await c.cliOk('service', 'scale', `${STACK}_web=2`);
    await waitFor('2 containers', async () => (await running()).length === 2, 60_000);
    const slots = (await liveTasks()).map((t) => t.slot).sort();
    expect(slots).toEqual([1, 2]);
  });

  it('replaces a task whose container is killed', async () => {
    const [victim] = await running();
    await c.docker.getContainer(victim.Id).kill();
    await waitFor('a replacement task running', async () => {
      const live = await liveTasks();
      return live.length === 2 && !live.some((t) => t.status.containerId === victim.Id);
    }, 30_000);
    const ps = await c.cliOk('service', 'ps', `${STACK}_web`);
    expect(ps).toMatch(/Failed/);
    expect(ps).toMatch(/exit/);
  });

  it('keeps the stack across kill -9 of the manager, with no duplicate containers', async () => {
    const before = (await running()).map((x) => x.Id).sort();
    await c.kill9();
    const restartedAt = Date.now();
    await c.start(false);
    // The agent adopts what runs; nothing is recreated. Its node's syncedAt says when it had
    // acted on the new manager's full assignment set: any recreation would have happened by then.
    await waitFor('the node synced with the restarted manager', async () =>
      (await c.json<{ status: { syncedAt?: number } }[]>('node', 'ls')).some((n) => (n.status.syncedAt ?? 0) >= restartedAt));
    expect(await liveTasks()).toHaveLength(2);
    const after = (await running()).map((x) => x.Id).sort();
    expect(after).toEqual(before);
    expect((await httpGet(PORT)).status).toBe(200);
    expect(await c.cliOk('stack', 'ls')).toContain(STACK);
  });

  it('re-deploying a changed stack updates only what changed', async () => {
    const text = webStack(2).replace('services:\n', `services:\n  worker:\n    image: tsswarm/busybox:latest\n    command: ["sleep", "3600"]\n    init: true\n`);
    file = c.writeStack('stack.yml', text);
    const out = await c.cliOk('deploy', '-c', file, STACK);
    expect(out).toContain(`create   ${STACK}_worker`);
    expect(out).not.toContain(`update   ${STACK}_web`);
    const back = await c.cliOk('deploy', '-c', c.writeStack('stack.yml', webStack(2)), STACK);
    expect(back).toContain(`remove   ${STACK}_worker`);
    await waitFor('worker gone', async () => (await c.containers(STACK)).every((x) => x.Labels['tsswarm.service.name'] !== `${STACK}_worker`), 30_000);
  });

  it('rejects an invalid stack with file:line:col and changes nothing', async () => {
    const bad = c.writeStack('bad.yml', 'services:\n  web:\n    image: tsswarm/busybox:latest\n    deploy:\n      replicas: many\n');
    const r = await c.cli('deploy', '-c', bad, 'e2ebad');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/bad\.yml:5:\d+/);
    expect(r.stderr).toContain('replicas');
    expect(await c.cliOk('stack', 'ls')).not.toContain('e2ebad');
  });

  it('reports an unhealthy service as such and exits non-zero', async () => {
    const f = c.writeStack('sick.yml', `
services:
  sick:
    image: tsswarm/busybox:latest
    command: ["sleep", "3600"]
    init: true
    healthcheck:
      test: ["CMD", "false"]
      interval: 500ms
      timeout: 1s
      retries: 1
    deploy:
      restart_policy: { condition: any, delay: 1s }
`);
    const r = await c.cli('deploy', '-c', f, 'e2ebad', '--timeout', '60s');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unhealthy/);
    await c.cliOk('stack', 'rm', 'e2ebad');
  });

  it('reports a published port taken on the host', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(18482, '0.0.0.0', r));
    try {
      const f = c.writeStack('port.yml', `
services:
  web:
    image: tsswarm/busybox:latest
    command: ["httpd", "-f", "-p", "8080"]
    init: true
    ports: ["18482:8080"]
`);
      const r = await c.cli('deploy', '-c', f, 'e2eport', '--timeout', '60s');
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/18482.*(in use|allocated)/);
    } finally {
      blocker.close();
      await c.cli('stack', 'rm', 'e2eport');
    }
  });

  it('shows service logs from the agent, prefixed by task name', async () => {
    const f = c.writeStack('talk.yml', `
services:
  talk:
    image: tsswarm/busybox:latest
    command: ["sh", "-c", "echo line-one; echo line-two >&2; exec sleep 3600"]
    init: true
`);
    await c.cliOk('deploy', '-c', f, 'e2elogs');
    const r = await waitFor('both log lines', async () => {
      const x = await c.cli('service', 'logs', 'e2elogs_talk');
      return x.stdout.includes('line-one') && x.stderr.includes('line-two') ? x : undefined;
    }, 15_000, 300);
    expect(r.stdout).toMatch(/^e2elogs_talk\.1\.\w+\s+\| line-one$/m);
    await c.cliOk('stack', 'rm', 'e2elogs');
  });

  it('stack rm leaves no container or network, and keeps named volumes unless asked', async () => {
    expect(await c.cliOk('stack', 'rm', STACK)).toContain(`Removed stack ${STACK}`);
    // rm waited for the tasks: none of the stack's containers runs any more.
    expect(await c.containers(STACK)).toHaveLength(0);
    await waitFor('containers gone', async () => (await c.containers(STACK, true)).length === 0, 60_000);
    await waitFor('network gone', async () => !(await c.docker.listNetworks()).some((n) => n.Name.startsWith(`${STACK}_`)), 30_000);
    const vols = (await c.docker.listVolumes()).Volumes ?? [];
    expect(vols.some((v) => v.Name === `${STACK}_cache`)).toBe(true);
    // Deploy again, then remove with --volumes.
    await c.cliOk('deploy', '-c', c.writeStack('stack.yml', webStack(1)), STACK);
    await c.cliOk('stack', 'rm', '--volumes', STACK);
    await waitFor('volume gone', async () => !((await c.docker.listVolumes()).Volumes ?? []).some((v) => v.Name === `${STACK}_cache`), 60_000);
    expect(await c.containers(STACK, true)).toHaveLength(0);
    expect(await c.cliOk('stack', 'ls')).not.toContain(STACK);
  });
});
