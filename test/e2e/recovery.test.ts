// Membership changes and recovery, end to end, with manager processes on 127.0.0.x and an
// agent joined with a worker token on the real engine: promote, demote and remove (refusing
// what would lose quorum), quorum lost and `--force-new-cluster` on the survivor, two fresh
// managers joined back, then a backup restored as a new cluster that adopts the containers
// still running instead of starting them again.

import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerFromEnv } from '../../agent/docker.js';
import type { ClusterStatus, ServiceView } from '../../common/api/types.js';
import { waitFor } from './harness.js';
import { AgentProc, ManagerProc, leaderOf, waitStatus } from './managers.js';

const STACK = 'e2erec';
const docker: Docker = dockerFromEnv();
const STACK_FILE = `
services:
  app:
    image: tsswarm/busybox:latest
    command: ["sh", "-c", "exec sleep 100000"]
    init: true
    stop_grace_period: 1s
    deploy:
      replicas: 3
`;

const containers = async () => docker.listContainers({ filters: { label: [`tsswarm.stack.namespace=${STACK}`] } });
const ids = async () => new Set((await containers()).map((c) => c.Id));

describe('membership changes and recovery on a real engine', () => {
  const ms = [new ManagerProc('r1'), new ManagerProc('r2'), new ManagerProc('r3')];
  const fresh: ManagerProc[] = [];
  const agent = new AgentProc('ragent');
  const backup = join(ms[0]!.dataDir, 'cluster.backup');
  let running: Set<string>;

  const all = (): ManagerProc[] => [...ms, ...fresh];
  const member = (st: ClusterStatus, m: ManagerProc) => st.managers.find((x) => x.addr === m.addr)!;
  const service = async (m: ManagerProc): Promise<ServiceView> => (await m.api<ServiceView>('GET', `/v1/services/${STACK}_app`)).body;

  beforeAll(async () => {
    await ms[0]!.init('127.0.0.2');
    const token = await ms[0]!.token('manager');
    await ms[1]!.join(ms[0]!.addr, token, '127.0.0.3');
    await ms[2]!.join(ms[0]!.addr, token, '127.0.0.4');
    await waitStatus(ms, 'three voters', (st) => st.voters === 3 && st.managers.every((m) => m.reachable && m.voter));
    agent.join(ms[0]!.addr, await ms[0]!.token('worker'));
    await waitFor('the agent node ready', async () => (JSON.parse(await ms[0]!.cliOk('node', 'ls', '--format', 'json')) as { status: { state: string } }[]).some((n) => n.status.state === 'ready'), 60_000);
    const file = join(ms[0]!.dataDir, 'stack.yml');
    writeFileSync(file, STACK_FILE);
    await ms[0]!.cliOk('deploy', '-c', file, STACK);
    await waitFor('3 containers', async () => (await containers()).length === 3, 60_000);
    running = await ids();
  }, 180_000);

  afterAll(async () => {
    await agent.kill9();
    for (const m of all()) await m.kill9();
    for (const c of await docker.listContainers({ all: true, filters: { label: [`tsswarm.stack.namespace=${STACK}`] } })) {
      await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
    for (const n of await docker.listNetworks()) if (n.Name.startsWith(`${STACK}_`)) await docker.getNetwork(n.Id).remove().catch(() => undefined);
    for (const m of [...all(), agent]) m.remove();
  });

  it('the leader demoted hands leadership over first; promoted back, it votes again', async () => {
    const leader = await leaderOf(ms);
    const id = member(await leader.status(), leader).nodeId;
    expect(await leader.cliOk('node', 'demote', id)).toMatch(/demoted/);
    const st = await waitStatus(ms, 'the old leader a learner, another leading', (s) => member(s, leader).role === 'learner' && !!s.leader && s.leader !== id);
    expect(st.voters).toBe(2);
    await leader.cliOk('node', 'promote', id);
    await waitStatus(ms, 'three voters again', (s) => s.voters === 3 && s.managers.every((m) => m.voter && m.reachable));
  });

  it('demote and promote a manager; with one voter unreachable, a demotion that would lose quorum is refused; rm needs demote or --force', async () => {
    const leader = await leaderOf(ms);
    const [x, y] = ms.filter((m) => m !== leader) as [ManagerProc, ManagerProc];
    let st = await leader.status();
    const xid = member(st, x).nodeId;
    expect(await leader.cliOk('node', 'demote', xid)).toMatch(/demoted/);
    st = await waitStatus(ms, `${x.name} a learner`, (s) => member(s, x).role === 'learner' && s.voters === 2);
    expect(st.warnings.join('\n')).toMatch(/use an odd number/);
    await leader.cliOk('node', 'promote', xid);
    await waitStatus(ms, `${x.name} a voter again`, (s) => member(s, x).voter && s.voters === 3);

    // y goes away: demoting x would leave {leader, y} with one of them answering.
    await y.kill9();
    await waitStatus(ms, `${y.name} unreachable`, (s) => !member(s, y).reachable, 30_000);
    const refused = await leader.cli('node', 'demote', xid);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/TSW_ERR_QUORUM_AT_RISK/);
    const yid = member(await leader.status(), y).nodeId;
    const notDemoted = await leader.cli('node', 'rm', yid);
    expect(notDemoted.stderr).toMatch(/demote it first.*TSW_ERR_QUORUM_AT_RISK/s);
    await leader.cliOk('node', 'rm', '--force', yid);
    st = await waitStatus(ms, 'two voters', (s) => s.voters === 2 && s.managers.length === 2);
    expect(st.managers.every((m) => m.reachable)).toBe(true);
    ms.splice(ms.indexOf(y), 1);
    y.remove();
  });

  it('a backup is written through the leader, 0600', async () => {
    await ms[0]!.cliOk('cluster', 'backup', backup);
    expect(statSync(backup).mode & 0o777).toBe(0o600);
  });

  it('quorum lost: --force-new-cluster on the survivor keeps the state; two fresh managers join back', async () => {
    const [survivor, lost] = [ms[0]!, ms[1]!];
    await lost.kill9();
    await waitFor('the survivor without a leader', async () => !(await survivor.status()).leader, 20_000);
    expect((await survivor.cli('service', 'scale', `${STACK}_app=4`)).stderr).toMatch(/TSW_ERR_NO_QUORUM/);
    const plan = await survivor.cli('cluster', 'recover');
    expect(plan.stdout).toMatch(/--force-new-cluster/);
    await survivor.kill9();
    await survivor.restart(['--force-new-cluster']);
    await survivor.answering();
    let st = await waitStatus([survivor], 'a one-manager cluster', (s) => s.voters === 1 && !!s.leader);
    expect(st.managers).toHaveLength(1);
    expect((await service(survivor)).spec.deploy.replicas).toBe(3);
    // Writes work again, and two fresh managers join.
    const token = await survivor.token('manager');
    for (const ip of ['127.0.0.5', '127.0.0.6']) {
      const m = new ManagerProc(`f${fresh.length}`);
      fresh.push(m);
      await m.join(survivor.addr, token, ip);
    }
    st = await waitStatus([survivor, ...fresh], 'three voters again', (s) => s.voters === 3 && s.managers.every((m) => m.reachable && m.voter), 60_000);
    expect(st.quorum).toBe(2);
    await survivor.cliOk('service', 'scale', `${STACK}_app=3`);
    await waitFor('the same 3 containers', async () => {
      const now = await ids();
      return now.size === 3 && [...running].every((id) => now.has(id));
    }, 60_000);
    ms.splice(ms.indexOf(lost), 1);
    lost.remove();
  });

  it('--init --restore starts a new cluster from the backup; the agent rejoins and adopts its containers', async () => {
    for (const m of all()) await m.kill9();
    const restored = new ManagerProc('restored');
    fresh.push(restored);
    await restored.init('127.0.0.7', ['--restore', backup]);
    expect((await service(restored)).spec.deploy.replicas).toBe(3);
    // The agent keeps its node id (its data dir) and joins the new cluster with its worker token.
    await agent.kill9();
    expect(existsSync(agent.dataDir)).toBe(true);
    agent.join(restored.addr, await restored.token('worker'));
    await waitFor('the node ready in the restored cluster', async () => (JSON.parse(await restored.cliOk('node', 'ls', '--format', 'json')) as { status: { state: string } }[]).some((n) => n.status.state === 'ready'), 60_000);
    await waitFor('3 tasks running', async () => (JSON.parse(await restored.cliOk('service', 'ps', `${STACK}_app`, '--format', 'json')) as { desiredState: string; status: { state: string } }[])
      .filter((t) => t.desiredState === 'running' && t.status.state === 'running').length === 3, 60_000);
    // The very containers that ran before: adopted, not duplicated.
    expect(await ids()).toEqual(running);
  });
});
