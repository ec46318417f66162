// The worker against the real engine: start-up, ingress, host ports, health, exits, shutdown.

import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Worker } from '../../agent/worker/index.js';
import {
  Recorder, cleanup, docker, freePort, httpGet, makeNetwork, makeTask, makeWorker, stackContainers, uniqueStack, update, remove, waitFor,
} from './helpers.js';

const PREFIX = 'agtw';
const workers: Worker[] = [];
const closers: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  await docker.ping();
  await cleanup(PREFIX); // stale objects of earlier runs
});
afterEach(async () => {
  while (closers.length) await closers.pop()!();
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});
afterAll(async () => {
  await cleanup(PREFIX);
});

function setup(nodeId = `node-${uniqueStack('n')}`): { w: Worker; rec: Recorder; stack: string; nodeId: string } {
  const rec = new Recorder();
  const w = makeWorker(nodeId, rec);
  workers.push(w);
  return { w, rec, stack: uniqueStack(PREFIX), nodeId };
}

const httpd = (extra: string[] = []) => ({
  command: ['sh', '-c', `echo "hello from $TASK" > /tmp/index.html && exec httpd -f -p 8080 -h /tmp ${extra.join(' ')}`],
});

describe('worker', () => {
  it('runs a task and serves it through the ingress proxy', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const port = await freePort();
    const t = makeTask(stack, 'web', 1, nodeId, {
      ...httpd(), environment: { TASK: 'one' },
      ports: [{ target: 8080, published: port, protocol: 'tcp', mode: 'ingress' }],
      labels: { 'com.example.team': 'blue' },
    });
    w.assign(true, [update(t)]);
    const running = await rec.waitState(t.id, (s) => s.state === 'running');
    expect(rec.states(t.id)).toEqual(['preparing', 'starting', 'running']);
    expect(running.message).toBe('started');
    expect(running.health).toBe('none');
    expect(running.pid).toBeGreaterThan(0);
    expect(running.containerId).toMatch(/^[0-9a-f]{64}$/);
    expect(running.portBindings).toEqual([{ target: 8080, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: expect.any(Number) }]);

    const info = await docker.getContainer(running.containerId!).inspect();
    expect(info.Name).toBe(`/${stack}_web.1.${t.id}`);
    expect(info.Config.Labels).toMatchObject({
      'tsswarm.task.id': t.id, 'tsswarm.task.name': `${stack}_web.1`, 'tsswarm.service.id': t.serviceId,
      'tsswarm.service.name': `${stack}_web`, 'tsswarm.stack.namespace': stack, 'tsswarm.node.id': nodeId,
      'tsswarm.slot': '1', 'com.example.team': 'blue',
    });
    expect(info.HostConfig.RestartPolicy?.Name).toBe('no');
    expect(info.HostConfig.Init).toBe(true);

    const res = await waitFor('httpd through the proxy', () => httpGet(port).catch(() => undefined));
    expect(res.status).toBe(200);
    expect(res.body).toContain('hello from one');
  });

  it('spreads connections over 3 replicas behind one ingress port', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const port = await freePort();
    const tasks = [1, 2, 3].map((slot) => makeTask(stack, 'web', slot, nodeId, {
      ...httpd(), environment: { TASK: `r${slot}` },
      ports: [{ target: 8080, published: port, protocol: 'tcp', mode: 'ingress' }],
    }));
    w.assign(true, tasks.map(update));
    for (const t of tasks) await rec.waitState(t.id, (s) => s.state === 'running');
    const seen = new Set<string>();
    await waitFor('all 3 replicas answering', async () => {
      const r = await httpGet(port).catch(() => undefined);
      if (r?.status === 200) seen.add(r.body.trim());
      return seen.size === 3;
    });
    expect(seen).toEqual(new Set(['hello from r1', 'hello from r2', 'hello from r3']));

    // Scale down to one: the proxy only uses the remaining task.
    w.assign(false, [remove(tasks[1]), remove(tasks[2])]);
    await waitFor('2 containers removed', async () => (await stackContainers(stack)).length === 1);
    for (let i = 0; i < 5; i++) expect((await httpGet(port)).body.trim()).toBe('hello from r1');
  });

  it('publishes host-mode ports directly, honouring host_ip', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const port = await freePort();
    const t = makeTask(stack, 'web', 1, nodeId, {
      ...httpd(), environment: { TASK: 'host' },
      ports: [{ target: 8080, published: port, protocol: 'tcp', mode: 'host', host_ip: '127.0.0.1' }],
    });
    w.assign(true, [update(t)]);
    const s = await rec.waitState(t.id, (x) => x.state === 'running');
    expect(s.portBindings).toEqual([{ target: 8080, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: port }]);
    expect(w.proxy.keys()).toEqual([]);
    const res = await waitFor('httpd on the host port', () => httpGet(port).catch(() => undefined));
    expect(res.body).toContain('hello from host');
  });

  it('reports healthy tasks, fails unhealthy ones, and only healthy ones get ingress traffic', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const port = await freePort();
    const ports = [{ target: 8080, published: port, protocol: 'tcp' as const, mode: 'ingress' as const }];
    const good = makeTask(stack, 'web', 1, nodeId, { ...httpd(), environment: { TASK: 'good' }, ports, healthcheck: { test: ['CMD', 'true'], interval: '500ms', retries: 1 } });
    const bad = makeTask(stack, 'web', 2, nodeId, { ...httpd(), environment: { TASK: 'bad' }, ports, healthcheck: { test: ['CMD-SHELL', 'exit 1'], interval: '500ms', retries: 1 } });
    w.assign(true, [update(good), update(bad)]);
    const r1 = await rec.waitState(good.id, (s) => s.state === 'running');
    expect(['starting', 'healthy']).toContain(r1.health);
    await rec.waitState(good.id, (s) => s.health === 'healthy');
    // An unhealthy container fails its task, as in Swarm, and is stopped.
    const failed = await rec.waitState(bad.id, (s) => s.state === 'failed');
    expect(failed.health).toBe('unhealthy');
    expect(failed.err).toMatch(/unhealthy/);
    expect(failed.errCode).toBe('TSW_ERR_UNHEALTHY');
    expect(rec.all.get(bad.id)!.some((s) => s.state === 'running' && s.health === 'starting')).toBe(true);
    await waitFor('the unhealthy container to stop', async () => !(await docker.getContainer(failed.containerId!).inspect()).State.Running);
    expect(w.proxy.backends({ port, protocol: 'tcp', hostIp: '127.0.0.1' })).toHaveLength(1);
    for (let i = 0; i < 4; i++) expect((await httpGet(port)).body.trim()).toBe('hello from good');
  });

  it('reports a killed container as failed with its exit code', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const t = makeTask(stack, 'sleeper', 1, nodeId, { command: ['sleep', '600'] });
    w.assign(true, [update(t)]);
    const s = await rec.waitState(t.id, (x) => x.state === 'running');
    await docker.getContainer(s.containerId!).kill();
    const f = await rec.waitState(t.id, (x) => x.state === 'failed', 5_000);
    expect(f.exitCode).toBe(137);
    expect(f.message).toBe('task: non-zero exit (137)');
    expect(f.err).toBe('task: non-zero exit (137)');
    expect(f.errCode).toBe('TSW_ERR_EXIT_NON_ZERO');
    // A dead task is never restarted by the worker: the orchestrator replaces it. Once a pass
    // over the engine has looked at the dead container and finished, nothing was started.
    await w.settle();
    expect(rec.last(t.id)!.state).toBe('failed');
    expect((await docker.getContainer(s.containerId!).inspect()).State.Running).toBe(false);
  });

  it('notes an OOM kill in the error', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const deploy = { ...makeTask(stack, 'x', 1, nodeId).spec.deploy, resources: { limits: { memory: 8 * 1024 * 1024 }, reservations: {} } };
    const t = makeTask(stack, 'hog', 1, nodeId, { command: ['sh', '-c', 'head -c 60000000 /dev/zero | tail -c 50000000 >/dev/null'], deploy });
    w.assign(true, [update(t)]);
    const f = await rec.waitState(t.id, (s) => s.state === 'failed');
    expect(f.exitCode).toBe(137);
    expect(f.err).toMatch(/^OOM killed/);
    expect(f.errCode).toBe('TSW_ERR_OOM_KILLED');
  });

  it('still reacts within a second after the engine event stream broke', async () => {
    const rec = new Recorder();
    const nodeId = `node-${uniqueStack('n')}`;
    const w = makeWorker(nodeId, rec, { resyncIntervalMs: 60_000 });
    workers.push(w);
    await w.start();
    const stack = uniqueStack(PREFIX);
    const t = makeTask(stack, 'sleeper', 1, nodeId, { command: ['sleep', '600'] });
    w.assign(true, [update(t)]);
    const s = await rec.waitState(t.id, (x) => x.state === 'running');
    // Break the subscription the way a dropped connection would.
    const events = (w as unknown as { events: { stream?: NodeJS.ReadableStream & { destroy(): void } } }).events;
    const old = events.stream!;
    old.destroy();
    await waitFor('event stream reconnected', () => events.stream !== undefined && events.stream !== old, 5_000);
    // The reconnect's resync pass has finished: from now on only the event stream can tell.
    await w.settle();
    await docker.getContainer(s.containerId!).kill();
    // Within the wait's bound only the event stream can tell: the periodic resync is a minute away.
    const f = await rec.waitState(t.id, (x) => x.state === 'failed', 5_000);
    expect(f.exitCode).toBe(137);
  });

  it('publishes UDP ingress ports through the proxy', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const port = await freePort();
    const t = makeTask(stack, 'dns', 1, nodeId, { command: ['sleep', '600'], ports: [{ target: 5353, published: port, protocol: 'udp', mode: 'ingress' }] });
    w.assign(true, [update(t)]);
    const s = await rec.waitState(t.id, (x) => x.state === 'running');
    expect(s.portBindings).toEqual([{ target: 5353, protocol: 'udp', hostIp: '127.0.0.1', hostPort: expect.any(Number) }]);
    expect(w.proxy.backends({ port, protocol: 'udp', hostIp: '127.0.0.1' })).toEqual([{ host: '127.0.0.1', port: s.portBindings![0].hostPort }]);
  });

  it('reports complete on exit 0 and failed on a non-zero exit', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const ok = makeTask(stack, 'job', 1, nodeId, { command: ['true'] });
    const bad = makeTask(stack, 'job', 2, nodeId, { command: ['sh', '-c', 'exit 3'] });
    w.assign(true, [update(ok), update(bad)]);
    const c = await rec.waitState(ok.id, (s) => s.state === 'complete');
    expect(c.exitCode).toBe(0);
    const f = await rec.waitState(bad.id, (s) => s.state === 'failed');
    expect(f).toMatchObject({ exitCode: 3, message: 'task: non-zero exit (3)', errCode: 'TSW_ERR_EXIT_NON_ZERO' });
    expect(c.errCode).toBeUndefined();
  });

  it('shuts a task down with its grace period, keeps the container until the task is removed', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    // No init: busybox sleep as PID 1 ignores SIGTERM, so the stop waits the whole (1 s) grace.
    const t = makeTask(stack, 'sleeper', 1, nodeId, { command: ['sleep', '600'], init: false, stop_grace_period: '1s' });
    w.assign(true, [update(t)]);
    const s = await rec.waitState(t.id, (x) => x.state === 'running');
    const started = Date.now();
    w.assign(false, [update({ ...t, desiredState: 'shutdown' })]);
    const down = await rec.waitState(t.id, (x) => x.state === 'shutdown', 15_000);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(6_000);
    expect(down.exitCode).toBe(137);
    expect((await docker.getContainer(s.containerId!).inspect()).State.Running).toBe(false);
    w.assign(false, [remove(t)]);
    await waitFor('container removed', async () => (await stackContainers(stack)).length === 0);
  });

  it('uses the stop signal, so a task that handles it stops at once', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const t = makeTask(stack, 'trap', 1, nodeId, {
      command: ['sh', '-c', 'trap "exit 0" USR1; while true; do sleep 0.1; done'], init: false, stop_signal: 'SIGUSR1', stop_grace_period: '20s',
    });
    w.assign(true, [update(t)]);
    await rec.waitState(t.id, (x) => x.state === 'running');
    w.assign(false, [update({ ...t, desiredState: 'shutdown' })]);
    const down = await rec.waitState(t.id, (x) => x.state === 'shutdown', 15_000);
    // Exit 0 is the trap's: SIGTERM would have ended sh with 143, the grace's SIGKILL with 137.
    expect(down.exitCode).toBe(0);
  });

  it('respects notBefore (restart delay)', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const notBefore = Date.now() + 1_500;
    const t = makeTask(stack, 'later', 1, nodeId, { command: ['sleep', '600'] }, { notBefore });
    w.assign(true, [update(t)]);
    await rec.waitState(t.id, (x) => x.state === 'accepted');
    const s = await rec.waitState(t.id, (x) => x.state === 'running', 10_000);
    const info = await docker.getContainer(s.containerId!).inspect();
    expect(Date.parse(info.Created)).toBeGreaterThanOrEqual(notBefore - 50);
    expect(rec.states(t.id)).toEqual(['accepted', 'preparing', 'starting', 'running']);
  });

  it('rejects a task whose image does not exist', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const t = makeTask(stack, 'ghost', 1, nodeId, { image: 'tsswarm/no-such-image:1.0' });
    w.assign(true, [update(t)]);
    const s = await rec.waitState(t.id, (x) => x.state === 'rejected', 30_000);
    expect(s.err).toMatch(/^image tsswarm\/no-such-image:1\.0 not found/);
    expect(s.errCode).toBe('TSW_ERR_IMAGE_NOT_FOUND');
    expect(await stackContainers(stack)).toHaveLength(0);
  });

  it('reports a published port held by another process (ingress and host mode)', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const held = await freePort();
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(held, '0.0.0.0', () => r()));
    closers.push(() => new Promise<void>((r) => holder.close(() => r())));
    const ing = makeTask(stack, 'ing', 1, nodeId, { ...httpd(), ports: [{ target: 8080, published: held, protocol: 'tcp', mode: 'ingress', host_ip: '0.0.0.0' }] });
    const host = makeTask(stack, 'host', 1, nodeId, { ...httpd(), ports: [{ target: 8080, published: held, protocol: 'tcp', mode: 'host' }] });
    w.assign(true, [update(ing), update(host)]);
    const a = await rec.waitState(ing.id, (x) => x.state === 'rejected');
    expect(a.err).toBe(`port ${held}/tcp is already in use on this node`);
    expect(a.errCode).toBe('TSW_ERR_PORT_IN_USE');
    const b = await rec.waitState(host.id, (x) => x.state === 'failed' || x.state === 'rejected');
    expect(b.err).toBe(`port ${held}/tcp is already in use on this node`);
    expect(b.errCode).toBe('TSW_ERR_PORT_IN_USE');
  });

  it('gives one ingress port to one service only', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const port = await freePort();
    const ports = [{ target: 8080, published: port, protocol: 'tcp' as const, mode: 'ingress' as const }];
    const a = makeTask(stack, 'a', 1, nodeId, { ...httpd(), environment: { TASK: 'a' }, ports });
    const b = makeTask(stack, 'b', 1, nodeId, { ...httpd(), environment: { TASK: 'b' }, ports });
    w.assign(true, [update(a)]);
    await rec.waitState(a.id, (s) => s.state === 'running');
    w.assign(false, [update(b)]);
    const r = await rec.waitState(b.id, (s) => s.state === 'rejected');
    expect(r.err).toBe(`port ${port}/tcp is already in use on this node`);
    expect(r.errCode).toBe('TSW_ERR_PORT_IN_USE');
    expect((await waitFor('a answers', () => httpGet(port).catch(() => undefined))).body.trim()).toBe('hello from a');
  });

  it('connects tasks to stack networks with service aliases', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const front = makeNetwork(stack, 'front');
    const back = makeNetwork(stack, 'back');
    const api = makeTask(stack, 'api', 1, nodeId, { ...httpd(), environment: { TASK: 'api' }, networks: { back: { aliases: ['backend'] }, front: { aliases: [] } } });
    const client = makeTask(stack, 'client', 1, nodeId, {
      command: ['sh', '-c', 'for i in $(seq 1 50); do wget -q -O - http://backend:8080/ && wget -q -O - http://api:8080/ && exit 0; sleep 0.2; done; exit 1'],
      networks: { back: { aliases: [] } },
    });
    w.assign(true, [update(front), update(back), update(api), update(client)]);
    await rec.waitState(api.id, (s) => s.state === 'running');
    await rec.waitState(client.id, (s) => s.state === 'complete', 30_000);
    const info = await docker.getContainer(rec.last(api.id)!.containerId!).inspect();
    expect(Object.keys(info.NetworkSettings.Networks).sort()).toEqual([`${stack}_back`, `${stack}_front`]);
    const net1 = await docker.getNetwork(`${stack}_back`).inspect();
    expect(net1.Driver).toBe('bridge');
    expect(net1.Labels?.['tsswarm.stack.namespace']).toBe(stack);
    // Everything unassigned: containers go, then the networks.
    w.assign(true, []);
    await waitFor('networks removed', async () => (await docker.listNetworks({ filters: { label: [`tsswarm.stack.namespace=${stack}`] } })).length === 0, 30_000, 200);
    expect(await stackContainers(stack)).toHaveLength(0);
  });

  it('streams logs demultiplexed into stdout and stderr', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const t = makeTask(stack, 'talker', 1, nodeId, { command: ['sh', '-c', 'echo out-1; echo err-1 >&2; sleep 1; echo out-2; exec sleep 600'] });
    w.assign(true, [update(t)]);
    await rec.waitState(t.id, (s) => s.state === 'running');
    const chunks: { stream: string; text: string; ts: number }[] = [];
    let ended = false;
    const cancel = w.logs({ taskIds: [t.id], follow: true, tail: 0, timestamps: false },
      (c) => chunks.push({ stream: c.stream, text: c.data.toString(), ts: c.timestampMs }), () => { ended = true; });
    await waitFor('3 log lines', () => chunks.length >= 3);
    cancel();
    expect(ended).toBe(true);
    expect(chunks.map((c) => `${c.stream}:${c.text}`).sort()).toEqual(['stderr:err-1\n', 'stdout:out-1\n', 'stdout:out-2\n']);
    for (const c of chunks) expect(Math.abs(c.ts - Date.now())).toBeLessThan(60_000);

    const tail: string[] = [];
    await new Promise<void>((resolve) => w.logs({ taskIds: [t.id], follow: false, tail: 1, timestamps: true }, (c) => tail.push(c.data.toString()), resolve));
    expect(tail).toHaveLength(1);
    expect(tail[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z out-2\n$/);
  });

  it('applies resource limits, env, user, workdir, hostname and healthcheck settings', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const t = makeTask(stack, 'cfg', 1, nodeId, {
      command: ['sleep', '600'], environment: { A: '1' }, user: '1000', working_dir: '/tmp', hostname: 'cfg-host',
      stop_grace_period: '1m30s', healthcheck: { disable: true },
      deploy: { ...makeTask(stack, 'x', 1, nodeId).spec.deploy, resources: { limits: { memory: 64 * 1024 * 1024, cpus: 0.5 }, reservations: {} } },
    });
    w.assign(true, [update(t)]);
    const s = await rec.waitState(t.id, (x) => x.state === 'running');
    expect(s.health).toBe('none');
    const info = await docker.getContainer(s.containerId!).inspect();
    expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(info.HostConfig.NanoCpus).toBe(500_000_000);
    expect(info.Config.Env).toContain('A=1');
    expect(info.Config.User).toBe('1000');
    expect(info.Config.WorkingDir).toBe('/tmp');
    expect(info.Config.Hostname).toBe('cfg-host');
    expect((info.Config as { StopTimeout?: number }).StopTimeout).toBe(90);
    expect(info.Config.Healthcheck?.Test).toEqual(['NONE']);
  });
});
