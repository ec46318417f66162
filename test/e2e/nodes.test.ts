// Nodes end to end, on the real engine: a manager (with its embedded agent) and a second agent
// process on the same engine (each manages only the containers labelled with its node id).
// Labels steer a constrained service; drain moves tasks off a node and re-activation brings its
// global task back; an agent killed with SIGKILL leaves its node down: replicated tasks move,
// a service with a node-down grace keeps its task (ps says so), logs still stream from the live
// node and name the down one; when the agent comes back, the graced task carries on in the same
// container and the moved tasks' stale containers are stopped. The services use the host's
// network: two agents sharing one engine would race to create the same stack network.

import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerFromEnv } from '../../agent/docker.js';
import type { NodeObj, TaskObj } from '../../common/api/objects.js';
import { waitFor } from './harness.js';
import { AgentProc, ManagerProc } from './managers.js';

const STACK = 'e2enodes';
const docker: Docker = dockerFromEnv();

const stackYml = `
services:
  web:
    image: tsswarm/busybox:latest
    command: ["sh", "-c", "echo hello from web; exec sleep 100000"]
    init: true
    network_mode: host
    deploy:
      replicas: 2
  db:
    image: tsswarm/busybox:latest
    command: ["sh", "-c", "exec sleep 100000"]
    init: true
    network_mode: host
    deploy:
      x-node-down-grace: 2m
      placement:
        constraints: ["node.labels.db==yes"]
  mon:
    image: tsswarm/busybox:latest
    command: ["sh", "-c", "exec sleep 100000"]
    init: true
    network_mode: host
    deploy:
      mode: global
`;

describe('nodes: update, drain, node down and back (real engine, two agents)', () => {
  const m = new ManagerProc('nodes-m1');
  const agent = new AgentProc('nodes-a1');
  let M = '';
  let A = '';

  const nodes = async (): Promise<NodeObj[]> => JSON.parse(await m.cliOk('node', 'ls', '--format', 'json')) as NodeObj[];
  const tasks = async (svc: string): Promise<TaskObj[]> => JSON.parse(await m.cliOk('service', 'ps', `${STACK}_${svc}`, '--format', 'json')) as TaskObj[];
  /** Nodes of the service's tasks that run and are meant to, sorted. */
  const runningOn = async (svc: string): Promise<string[]> =>
    (await tasks(svc)).filter((t) => t.desiredState === 'running' && t.status.state === 'running').map((t) => t.nodeId!).sort();
  /** Running containers of the stack's service on a node, as the engine sees them. */
  const containersOn = async (svc: string, nodeId: string) =>
    docker.listContainers({ filters: { label: [`tsswarm.service.name=${STACK}_${svc}`, `tsswarm.node.id=${nodeId}`] } });
  const joinAgent = async () => agent.join(m.addr, await m.token('worker'));

  beforeAll(async () => {
    await m.init('127.0.0.21', [], { agent: true });
    M = m.nodeId;
    await joinAgent();
    const ns = await waitFor('two ready nodes', async () => {
      const list = await nodes();
      return list.length === 2 && list.every((n) => n.status.state === 'ready') && list;
    }, 60_000);
    A = ns.find((n) => n.id !== M)!.id;
    const file = join(m.dataDir, 'stack.yml');
    writeFileSync(file, stackYml);
    await m.cliOk('deploy', '-c', file, STACK, '--detach');
    await waitFor('web on both nodes, mon on both', async () =>
      JSON.stringify(await runningOn('web')) === JSON.stringify([M, A].sort()) && JSON.stringify(await runningOn('mon')) === JSON.stringify([M, A].sort()), 60_000)
      .catch(async (e: Error) => { throw new Error(`${e.message}\nM=${M} A=${A}\n${await m.cliOk('stack', 'ps', STACK, '--no-trunc')}\n${agent.logTail()}`); });
  }, 180_000);

  afterAll(async () => {
    await agent.kill9();
    await m.kill9();
    for (const c of await docker.listContainers({ all: true, filters: { label: [`tsswarm.stack.namespace=${STACK}`] } })) {
      await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
    for (const n of await docker.listNetworks()) if (n.Name.startsWith(`${STACK}_`)) await docker.getNetwork(n.Id).remove().catch(() => undefined);
    agent.remove();
    m.remove();
  });

  it('node ls shows availability; a label steers the constrained service to its node; bad flags are refused', async () => {
    const ls = await m.cliOk('node', 'ls');
    expect(ls.split('\n')[0]).toMatch(/^ID\s+HOSTNAME\s+STATUS\s+AVAILABILITY\s+MANAGER STATUS\s+ENGINE VERSION/);
    expect(await m.cliOk('node', 'update', '--label-add', 'db=yes', A)).toBe(`${A}\n`);
    expect((JSON.parse(await m.cliOk('node', 'inspect', A)) as NodeObj[])[0]!.spec.labels).toEqual({ db: 'yes' });
    await waitFor('db running on the labelled node', async () => JSON.stringify(await runningOn('db')) === JSON.stringify([A]), 30_000);
    const bad = await m.cli('node', 'update', '--availability', 'off', A);
    expect([bad.code, bad.stderr]).toEqual([1, expect.stringContaining('--availability must be active, pause or drain')]);
    const missing = await m.cli('node', 'update', '--label-rm', 'nope', A);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('has no label nope');
  });

  it('drain moves web and db off and stops mon there; active brings mon and db back, web stays', async () => {
    const webBefore = await runningOn('web');
    expect(webBefore).toContain(A);
    await m.cliOk('node', 'update', '--availability', 'drain', A);
    await waitFor('web on M only, mon on M only, nothing running on A', async () =>
      JSON.stringify(await runningOn('web')) === JSON.stringify([M, M]) && JSON.stringify(await runningOn('mon')) === JSON.stringify([M])
      && (await containersOn('web', A)).length === 0 && (await containersOn('mon', A)).length === 0 && (await containersOn('db', A)).length === 0, 60_000);
    // db's only node is drained: its replacement waits.
    expect((await tasks('db')).some((t) => t.desiredState === 'running' && t.status.state === 'pending')).toBe(true);
    await m.cliOk('node', 'update', '--availability', 'active', A);
    await waitFor('mon and db back on A', async () =>
      JSON.stringify(await runningOn('mon')) === JSON.stringify([M, A].sort()) && JSON.stringify(await runningOn('db')) === JSON.stringify([A]), 60_000);
    expect(await runningOn('web')).toEqual([M, M]); // no automatic rebalancing
  });

  it('the agent killed: its node goes down, web moves, db keeps its task (grace), logs still stream', async () => {
    const db = (await tasks('db')).find((t) => t.desiredState === 'running' && t.status.state === 'running')!;
    await m.cliOk('service', 'update', '--replicas', '3', `${STACK}_web`);
    await waitFor('a web task on A', async () => (await runningOn('web')).includes(A), 60_000);
    await agent.kill9();
    await waitFor('node A down', async () => (await nodes()).find((n) => n.id === A)?.status.state === 'down', 30_000);
    await waitFor('web: 3 running on M', async () => JSON.stringify(await runningOn('web')) === JSON.stringify([M, M, M]), 60_000);
    // db: its task keeps its slot while the grace runs; ps says its node is down and when it moves.
    const dbNow = (await tasks('db')).filter((t) => t.desiredState === 'running');
    expect(dbNow.map((t) => [t.id, t.status.state])).toEqual([[db.id, 'running']]);
    expect(await m.cliOk('service', 'ps', `${STACK}_db`)).toMatch(/is down; moves in about \d/);
    const logs = await m.cli('service', 'logs', `${STACK}_web`);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain('hello from web');
    expect(logs.stderr).toMatch(new RegExp(`node \\S+ \\(${A.slice(0, 12)}, down\\) has no agent session: the logs of its \\d tasks? cannot be read`));
    expect(logs.stderr.match(/has no agent session/g)).toHaveLength(1);
  });

  it('the agent back within the grace: db carries on in the same container, the moved web task\'s container is stopped', async () => {
    const db = (await tasks('db')).find((t) => t.desiredState === 'running')!;
    const [dbContainer] = await containersOn('db', A);
    expect(dbContainer).toBeDefined();
    await joinAgent();
    await waitFor('node A ready', async () => (await nodes()).find((n) => n.id === A)?.status.state === 'ready', 30_000);
    await waitFor('no web container left running on A', async () => (await containersOn('web', A)).length === 0, 30_000);
    const dbAfter = (await tasks('db')).filter((t) => t.desiredState === 'running');
    expect(dbAfter.map((t) => [t.id, t.status.state])).toEqual([[db.id, 'running']]);
    const [same] = await containersOn('db', A);
    expect(same?.Id).toBe(dbContainer!.Id);
    const info = await docker.getContainer(same!.Id).inspect();
    expect(info.RestartCount).toBe(0);
    expect(await runningOn('web')).toEqual([M, M, M]);
  });
});
