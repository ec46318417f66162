// Replicated managers, end to end: three manager processes on 127.0.0.2-4 (no embedded agent)
// and one agent process joined with a worker token on the real engine. Leaders are killed with
// SIGKILL in the middle of changes; the cluster must keep every acknowledged change and the
// engine must end with exactly the desired containers, never restarted by a failover.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerFromEnv } from '../../agent/docker.js';
import type { ServiceView } from '../../common/api/types.js';
import { waitFor } from './harness.js';
import { AgentProc, ManagerProc, leaderOf, waitStatus } from './managers.js';

const STACK = 'e2erep';
const docker: Docker = dockerFromEnv();

const stack = (replicas: number) => `
services:
  web:
    image: tsswarm/busybox:latest
    command: ["sh", "-c", "exec sleep 100000"]
    init: true
    stop_grace_period: 1s
    deploy:
      replicas: ${replicas}
      update_config: { parallelism: 1, delay: 1s, order: stop-first }
`;

interface Task { id: string; slot?: number; desiredState: string; specVersion: number; status: { state: string; containerId?: string } }

/** The service as a manager's API shows it (its own applied state). */
const service = async (m: ManagerProc): Promise<ServiceView> => {
  const r = await m.api<ServiceView>('GET', `/v1/services/${STACK}_web`);
  if (r.status !== 200) throw new Error(`service on ${m.name}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
};

const containers = async () => (await docker.listContainers({ filters: { label: [`tsswarm.stack.namespace=${STACK}`] } }));

describe('replicated managers on a real engine', () => {
  const ms = [new ManagerProc('m1'), new ManagerProc('m2'), new ManagerProc('m3')];
  const agent = new AgentProc('agent');
  let file: string;

  const live = (): ManagerProc[] => ms.filter((m) => m.running);
  const any = (): ManagerProc => live()[0]!;
  const tasks = async (): Promise<Task[]> => JSON.parse(await any().cliOk('service', 'ps', `${STACK}_web`, '--format', 'json')) as Task[];
  const running = async () => (await tasks()).filter((t) => t.desiredState === 'running' && t.status.state === 'running');
  /** Exactly `n` running containers, one per slot, and as many live tasks. */
  const converged = async (n: number): Promise<boolean> => {
    const [cs, ts] = await Promise.all([containers(), running()]);
    return cs.length === n && ts.length === n && new Set(ts.map((t) => t.slot)).size === n;
  };

  beforeAll(async () => {
    await ms[0]!.init('127.0.0.2');
    const token = await ms[0]!.token('manager');
    await ms[1]!.join(ms[0]!.addr, token, '127.0.0.3');
    await ms[2]!.join(ms[0]!.addr, token, '127.0.0.4');
    file = join(ms[0]!.dataDir, 'stack.yml');
    writeFileSync(file, stack(2));
  }, 120_000);

  afterAll(async () => {
    await agent.kill9();
    for (const m of ms) await m.kill9();
    for (const ns of [STACK, `${STACK}x`]) {
      for (const c of await docker.listContainers({ all: true, filters: { label: [`tsswarm.stack.namespace=${ns}`] } })) {
        await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      }
    }
    for (const n of await docker.listNetworks()) if (n.Name.startsWith(`${STACK}_`)) await docker.getNetwork(n.Id).remove().catch(() => undefined);
    for (const m of [...ms, agent]) m.remove();
  });

  it('three managers join with a token, learners become voters, and all report one leader', async () => {
    const s = await waitStatus(ms, 'three voters, all reachable', (st) => st.voters === 3 && st.managers.every((m) => m.reachable && m.voter));
    expect(s.quorum).toBe(2);
    expect(s.tolerates).toBe(1);
    expect(s.managers.filter((m) => m.role === 'leader')).toHaveLength(1);
    expect(s.warnings).toEqual([]);
    // A worker token does not make a manager.
    const bad = new ManagerProc('bad');
    bad.spawn(['manager', '--join', ms[0]!.addr, '--token', await ms[0]!.token('worker'), '--no-agent', '--listen-addr', '127.0.0.5:0', '--data-dir', bad.dataDir]);
    await waitFor('the worker-token manager to give up', () => !bad.running, 30_000);
    expect(bad.logTail()).toMatch(/this token is for workers.*TSW_ERR_TOKEN_INVALID/s);
    bad.remove();
  });

  it('a deploy sent to a follower is applied; the agent joined with a worker token runs it', async () => {
    const leader = await leaderOf(ms);
    const follower = ms.find((m) => m !== leader)!;
    agent.join(follower.addr, await follower.token('worker'));
    await waitFor('the agent node ready', async () => (JSON.parse(await leader.cliOk('node', 'ls', '--format', 'json')) as { status: { state: string } }[]).some((n) => n.status.state === 'ready'), 60_000);
    const out = await follower.cliOk('deploy', '-c', file, STACK);
    expect(out).toContain(`Stack ${STACK} converged`);
    await waitFor('2 containers', () => converged(2), 60_000);
    // Every manager holds the service.
    for (const m of ms) {
      await waitFor(`${m.name} to have the service`, async () => (await m.cli('service', 'inspect', `${STACK}_web`)).code === 0, 10_000);
    }
  });

  it('kill -9 the leader during a deploy: it completes after the failover (or says it may not have), never half-applied', async () => {
    const leader = await leaderOf(ms);
    const other = ms.find((m) => m !== leader)!;
    const f2 = join(other.dataDir, 'stack2.yml');
    writeFileSync(f2, stack(1));
    const deploying = other.cli('deploy', '-c', f2, `${STACK}x`, '--detach');
    await leader.kill9();
    const r = await deploying;
    if (r.code !== 0) expect(r.stderr).toMatch(/TSW_ERR_(OUTCOME_UNKNOWN|UNAVAILABLE|NO_QUORUM)/);
    // Deploying again is idempotent: the stack ends whole, once.
    await waitFor('the deploy accepted by the new leader', async () => (await other.cli('deploy', '-c', f2, `${STACK}x`, '--detach')).code === 0, 20_000, 200);
    await waitFor('one container of the second stack', async () => (await docker.listContainers({ filters: { label: [`tsswarm.stack.namespace=${STACK}x`] } })).length === 1, 60_000);
    expect((await other.api<unknown[]>('GET', `/v1/services?stack=${STACK}x`)).body).toHaveLength(1);
    await other.cliOk('stack', 'rm', `${STACK}x`);
    await leader.restart();
    await leader.answering();
    await waitStatus(ms, 'three reachable voters again', (st) => st.voters === 3 && st.managers.every((m) => m.reachable));
  });

  it('kill -9 the leader during a scale: the scale completes on the new leader, nothing restarts', async () => {
    const before = new Set((await containers()).map((c) => c.Id));
    const leader = await leaderOf(ms);
    const other = ms.find((m) => m !== leader)!;
    const scaling = other.cli('service', 'scale', `${STACK}_web=5`);
    await leader.kill9();
    const r = await scaling;
    // Either it was applied, or the error says it may or may not have been: then the state decides.
    if (r.code !== 0) expect(r.stderr).toMatch(/TSW_ERR_(OUTCOME_UNKNOWN|UNAVAILABLE|NO_QUORUM)/);
    // The cluster accepts writes again (a new leader), and the scale is applied (retried if it was not).
    await waitFor('a write accepted by the new leader', async () => (await other.cli('service', 'scale', `${STACK}_web=5`)).code === 0, 20_000, 200);
    await waitFor('5 containers, one per slot', () => converged(5), 60_000);
    // The two containers from before the failover still run: the agent followed the new leader without restarting them.
    const now = new Set((await containers()).map((c) => c.Id));
    for (const id of before) expect(now.has(id)).toBe(true);
    // The killed manager comes back and catches up.
    await leader.restart();
    await leader.answering();
    await waitStatus(ms, 'three reachable voters again', (st) => st.voters === 3 && st.managers.every((m) => m.reachable));
    await waitFor('the restarted manager to see 5 replicas', async () => (await service(leader)).spec.deploy.replicas === 5, 20_000);
  });

  it('kill -9 the leader during a rolling update: the update completes, one task of the new spec per slot', async () => {
    writeFileSync(file, stack(5).replace('exec sleep 100000', 'exec sleep 100001'));
    const leader = await leaderOf(ms);
    const other = ms.find((m) => m !== leader)!;
    await other.cliOk('deploy', '-c', file, STACK, '--detach');
    await waitFor('update under way', async () => (await service(other)).updateStatus?.state === 'updating', 20_000);
    await leader.kill9();
    await waitFor('update completed after the failover', async () => (await service(other)).updateStatus?.state === 'completed', 120_000, 250);
    const s = await service(other);
    const fresh = (await tasks()).filter((t) => t.specVersion === s.specVersion);
    expect(fresh.filter((t) => t.desiredState === 'running')).toHaveLength(5);
    expect(new Set(fresh.map((t) => t.slot)).size).toBe(fresh.length);
    await waitFor('5 containers, one per slot', () => converged(5), 60_000);
    await leader.restart();
    await leader.answering();
  });

  it('kill -9 every manager at once and restart them: the same state', async () => {
    await waitStatus(ms, 'three reachable voters', (st) => st.voters === 3 && st.managers.every((m) => m.reachable));
    const consistent = async () => (await any().api<ServiceView>('GET', `/v1/services/${STACK}_web?consistent=true`)).body;
    const before = await consistent();
    const ids = new Set((await containers()).map((c) => c.Id));
    await Promise.all(ms.map((m) => m.kill9()));
    for (const m of ms) await m.restart();
    for (const m of ms) await m.answering();
    await waitStatus(ms, 'a leader after the restart', (st) => !!st.leader && st.voters === 3);
    const after = await consistent();
    expect(after.spec).toEqual(before.spec);
    expect(after.specVersion).toBe(before.specVersion);
    await waitFor('5 containers, one per slot', () => converged(5), 60_000);
    expect(new Set((await containers()).map((c) => c.Id))).toEqual(ids);
  });

  it('with no quorum, writes fail at once with NO_QUORUM and reads answer marked stale', async () => {
    const [a, b, c] = [ms[0]!, ms[1]!, ms[2]!];
    await b.kill9();
    await c.kill9();
    await waitFor('the survivor to lose its leader', async () => !(await a.status()).leader, 20_000, 100);
    const w = await a.cli('service', 'scale', `${STACK}_web=6`);
    expect(w.code).not.toBe(0);
    expect(w.stderr).toMatch(/1 of 3 voting managers reachable, 2 needed.*TSW_ERR_NO_QUORUM/s);
    const r = await a.api('GET', '/v1/services');
    expect(r.status).toBe(200);
    expect(r.headers['x-tsswarm-stale']).toBeDefined();
    await b.restart();
    await c.restart();
    await b.answering();
    await c.answering();
    await waitStatus(ms, 'quorum back', (st) => !!st.leader && st.managers.filter((m) => m.reachable).length === 3);
  });
});
