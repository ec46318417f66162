import { describe, expect, it } from 'vitest';
import { completionOf, reconcileServices, replicatedJobSlots } from '../../../manager/orchestrator/index.js';
import { isTerminal, type ClusterState, type TaskObj } from '../../../manager/store/types.js';
import { T0, cluster, converge, creates, idGen, loopPass, agentStep, node, service, stopped, task, withService } from './fixtures.js';

const liveOf = (s: ClusterState, id: string): TaskObj[] => s.tasks.filter((t) => t.serviceId === id && t.desiredState === 'running' && !isTerminal(t.status.state));
const completeOf = (s: ClusterState, id: string): TaskObj[] => s.tasks.filter((t) => t.serviceId === id && t.status.state === 'complete');

/** Run loops and agents step by step (tasks complete one step after they start); record the most tasks live at once. */
function runJob(start: ClusterState, serviceId: string, finish: (t: TaskObj) => Partial<TaskObj['status']> | undefined, steps = 40) {
  let s = start;
  let now = T0;
  let peak = 0;
  const newId = idGen();
  for (let i = 0; i < steps; i++) {
    s = loopPass(s, now, newId).state;
    peak = Math.max(peak, liveOf(s, serviceId).length);
    s = agentStep(s, now, { finish });
    now += 1000;
  }
  return { state: s, peak, now };
}

describe('replicated-job', () => {
  it('runs total completions, at most max_concurrent at a time, and completes', () => {
    const job = service('batch', { mode: 'replicated-job', replicas: 5, maxConcurrent: 2, restart: { condition: 'on-failure' } });
    const r = runJob(cluster({ nodes: [node('n1'), node('n2')], services: [job] }), job.id, () => ({ state: 'complete', exitCode: 0, message: 'finished' }));
    expect(r.peak).toBe(2);
    expect(completeOf(r.state, job.id).map((t) => t.slot).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(liveOf(r.state, job.id)).toEqual([]);
    expect(completionOf(job, r.state.tasks, r.state.nodes, r.now)).toMatchObject({ total: 5, completed: 5, running: 0 });
    // complete tasks are never restarted: nothing more to do
    expect(reconcileServices(r.state, r.now, idGen('z')).ops).toEqual([]);
  });

  it('treats restart condition any as on-failure: a completed task is not run again', () => {
    const job = service('once', { mode: 'replicated-job', replicas: 1, restart: { condition: 'any' } });
    const done = task(job, { id: 'd', slot: 1, state: 'complete', exitCode: 0 });
    const r = reconcileServices(cluster({ nodes: [node('n1')], services: [job], tasks: [done] }), T0, idGen());
    expect(r.ops).toEqual([]);
  });

  it('retries a failed task per the restart policy and fails the job once attempts are used up', () => {
    const job = service('mig', { mode: 'replicated-job', replicas: 3, maxConcurrent: 1, restart: { condition: 'on-failure', max_attempts: 2 } });
    const r = runJob(cluster({ nodes: [node('n1')], services: [job] }), job.id, () => ({ state: 'failed', exitCode: 3, err: 'task: non-zero exit (3)', message: 'task: non-zero exit (3)' }));
    const mine = r.state.tasks.filter((t) => t.serviceId === job.id);
    // slot 1: the first run and two restarts; the job failed, so slots 2 and 3 never started
    expect(mine.every((t) => t.slot === 1)).toBe(true);
    expect(mine.filter((t) => t.status.state === 'failed')).toHaveLength(3);
    const c = completionOf(job, r.state.tasks, r.state.nodes, r.now);
    expect(c.completed).toBe(0);
    expect(c.failed?.status.exitCode).toBe(3);
    expect(replicatedJobSlots(job, r.state.tasks, r.now)).toEqual([1]);
  });

  it('is not run again on an unchanged redeploy; a new spec version runs it again from the start', () => {
    const job = service('mig', { mode: 'replicated-job', replicas: 2 });
    const done = [1, 2].map((slot) => task(job, { id: `d${slot}`, slot, state: 'complete', exitCode: 0 }));
    const s = cluster({ nodes: [node('n1')], services: [job], tasks: done });
    expect(reconcileServices(s, T0, idGen()).ops).toEqual([]);
    const v2 = { ...job, specVersion: 2, spec: { ...job.spec, image: 'app:2' } };
    const r = reconcileServices(withService(s, v2), T0, idGen());
    expect(stopped(r.ops).sort()).toEqual(['d1', 'd2']);
    expect(creates(r.ops).map((t) => [t.slot, t.specVersion, t.spec.image])).toEqual([[1, 2, 'app:2'], [2, 2, 'app:2']]);
  });

  it('stops a still-running task of the previous spec and waits for it before the slot runs again', () => {
    const job = service('mig', { mode: 'replicated-job', replicas: 1, specVersion: 2 });
    const old = task(job, { id: 'old', slot: 1, state: 'running', specVersion: 1 });
    const r = reconcileServices(cluster({ nodes: [node('n1')], services: [job], tasks: [old] }), T0, idGen());
    expect(stopped(r.ops)).toEqual(['old']);
    expect(creates(r.ops)).toEqual([]);
  });

  it('replicas 0: nothing runs, and the job counts as complete with nothing to do', () => {
    const job = service('none', { mode: 'replicated-job', replicas: 0 });
    const s = cluster({ nodes: [node('n1')], services: [job] });
    expect(reconcileServices(s, T0, idGen()).ops).toEqual([]);
    expect(completionOf(job, [], s.nodes, T0)).toMatchObject({ total: 0, completed: 0 });
  });
});

describe('global-job', () => {
  it('runs one task to completion per eligible node, and on a node that joins later', () => {
    const job = service('prep', { mode: 'global-job' });
    let s = cluster({ nodes: [node('n1'), node('n2'), node('n3', { availability: 'drain' })], services: [job] });
    const done = (): Partial<TaskObj['status']> => ({ state: 'complete', exitCode: 0, message: 'finished' });
    s = converge(s, idGen('a'), { agent: { finish: done } }).state;
    expect(completeOf(s, job.id).map((t) => t.nodeId).sort()).toEqual(['n1', 'n2']);
    expect(completionOf(job, s.tasks, s.nodes, T0)).toMatchObject({ total: 2, completed: 2 });
    s = { ...s, nodes: [...s.nodes, node('n4')] };
    s = converge(s, idGen('b'), { agent: { finish: done } }).state;
    expect(completeOf(s, job.id).map((t) => t.nodeId).sort()).toEqual(['n1', 'n2', 'n4']);
    // draining a node where it completed does not run it there again, nor forget it
    s = { ...s, nodes: s.nodes.map((n) => (n.id === 'n1' ? node('n1', { availability: 'drain' }) : n)) };
    const r = reconcileServices(s, T0 + 60_000, idGen('c'));
    expect(r.ops).toEqual([]);
    expect(completionOf(job, s.tasks, s.nodes, T0)).toMatchObject({ total: 3, completed: 3 });
  });
});

describe('one-shot replicated service', () => {
  it('counts as complete once its tasks exited 0 (restart none)', () => {
    const svc = service('seed', { replicas: 1, restart: { condition: 'none' } });
    const s = converge(cluster({ nodes: [node('n1')], services: [svc] }), idGen(), { agent: { finish: () => ({ state: 'complete', exitCode: 0 }) } }).state;
    expect(completionOf(svc, s.tasks, s.nodes, T0)).toMatchObject({ total: 1, completed: 1 });
    expect(reconcileServices(s, T0 + 60_000, idGen('z')).ops).toEqual([]);
  });
});
