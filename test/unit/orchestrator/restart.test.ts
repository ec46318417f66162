import { describe, expect, it } from 'vitest';
import type { RestartPolicySpec } from '../../../common/spec.js';
import { deathReason, reconcileReplicated, restartDecision } from '../../../manager/orchestrator/index.js';
import { restartDelay, restartStreak } from '../../../manager/orchestrator/restart.js';
import type { TaskState } from '../../../manager/store/types.js';
import { T0, cluster, creates, idGen, node, service, stopped, task, updates } from './fixtures.js';

const policy = (p: Partial<RestartPolicySpec>): RestartPolicySpec => ({ condition: 'any', delay: '0s', max_attempts: 0, window: '0s', ...p });
const svc = service('web');
const dead = (state: TaskState, o: { exitCode?: number; err?: string } = {}) => task(svc, { slot: 1, state, ...o });

describe('restartDecision: conditions', () => {
  const cases: [RestartPolicySpec['condition'], TaskState, { exitCode?: number; err?: string }, boolean][] = [
    ['none', 'failed', { exitCode: 1 }, false],
    ['none', 'complete', { exitCode: 0 }, false],
    ['on-failure', 'failed', { exitCode: 1 }, true],
    ['on-failure', 'failed', { err: 'oom' }, true],
    ['on-failure', 'rejected', { err: 'no such image' }, true],
    ['on-failure', 'orphaned', { err: 'node n1 is down' }, true],
    ['on-failure', 'complete', { exitCode: 0 }, false],
    ['on-failure', 'shutdown', { exitCode: 0 }, false],
    ['on-failure', 'shutdown', { exitCode: 137 }, true],
    ['any', 'complete', { exitCode: 0 }, true],
    ['any', 'failed', { exitCode: 2 }, true],
    ['any', 'shutdown', {}, true],
  ];
  it.each(cases)('%s + %s %j -> restart %s', (condition, state, o, want) => {
    expect(restartDecision(dead(state, o), policy({ condition }), T0).restart).toBe(want);
  });

  it('never restarts a task that was asked to stop', () => {
    expect(restartDecision(task(svc, { state: 'shutdown', desired: 'shutdown' }), policy({}), T0).restart).toBe(false);
  });

  it('names the reason', () => {
    expect(deathReason(dead('failed', { exitCode: 1 }))).toBe('task failed: exit code 1');
    expect(deathReason(dead('failed', { err: 'oom killed' }))).toBe('task failed: oom killed');
    expect(deathReason(dead('rejected', { err: 'no such image' }))).toBe('task rejected: no such image');
    expect(deathReason(dead('orphaned', { err: 'node a is down' }))).toBe('task orphaned: node a is down');
    expect(deathReason(dead('complete', { exitCode: 0 }))).toBe('task completed');
  });
});

describe('restartDecision: delay, max_attempts, window', () => {
  it('delay becomes notBefore; history gains this restart', () => {
    const d = restartDecision(dead('failed', { exitCode: 1 }), policy({ delay: '5s' }), T0);
    expect(d).toEqual({ restart: true, reason: 'task failed: exit code 1', notBefore: T0 + 5000, restartHistory: [T0], restartStreak: 1 });
  });

  it('a task whose node was lost runs elsewhere at once: the delay is for crash loops', () => {
    const d = restartDecision(dead('orphaned', { err: 'node n1 is down' }), policy({ delay: '5s' }), T0);
    expect(d.restart).toBe(true);
    expect(d.restart && d.notBefore).toBeUndefined();
    expect(restartDecision(dead('orphaned', { err: 'node n1 is down' }), policy({ condition: 'none', delay: '5s' }), T0).restart).toBe(false);
  });

  it('max_attempts with an unbounded window counts every restart', () => {
    const t = { ...dead('failed', { exitCode: 1 }), restartHistory: [T0 - 3_600_000, T0 - 1000] };
    expect(restartDecision(t, policy({ max_attempts: 3 }), T0).restart).toBe(true);
    expect(restartDecision(t, policy({ max_attempts: 2 }), T0)).toEqual({
      restart: false, reason: 'task failed: exit code 1', exhausted: 'not restarted: max_attempts (2) reached',
    });
  });

  it('only restarts inside the window count, measured back from the death', () => {
    const t = { ...dead('failed', { exitCode: 1 }), restartHistory: [T0 - 120_000, T0 - 90_000, T0 - 10_000] };
    t.status.timestamp = T0;
    const p = policy({ max_attempts: 2, window: '1m' });
    const d = restartDecision(t, p, T0);
    expect(d.restart).toBe(true);
    // history outside the window is dropped
    expect(d.restart && d.restartHistory).toEqual([T0 - 10_000, T0]);
    const t2 = { ...t, restartHistory: [T0 - 30_000, T0 - 10_000] };
    expect(restartDecision(t2, p, T0).restart).toBe(false);
    // the decision does not change later: the window is anchored at the death
    expect(restartDecision(t2, p, T0 + 3_600_000).restart).toBe(false);
  });
});

describe('restart in the replicated orchestrator', () => {
  const s = (o: Parameters<typeof service>[1], t: Parameters<typeof task>[1]) => {
    const sv = service('web', o);
    return { sv, st: cluster({ nodes: [node('n1')], services: [sv], tasks: [task(sv, { id: 'dead', slot: 1, nodeId: 'n1', ...t })] }) };
  };

  it('replaces a failed task in its slot and keeps the old one as history', () => {
    const { sv, st } = s({ restart: { delay: '10s' } }, { state: 'failed', exitCode: 1, restartHistory: [T0 - 50] });
    const r = reconcileReplicated(st, sv, T0, idGen());
    expect(stopped(r.ops)).toEqual(['dead']);
    const [n] = creates(r.ops);
    expect(n).toMatchObject({
      slot: 1, desiredState: 'running', notBefore: T0 + 10_000, restartHistory: [T0 - 50, T0],
      status: { state: 'pending', message: 'restarted: task failed: exit code 1' },
    });
    expect(n.nodeId).toBeUndefined();
    expect(r.wakeAt).toBe(T0 + 10_000);
  });

  it('condition none: the completed task stays, wanted running, and the slot is not refilled', () => {
    const { sv, st } = s({ restart: { condition: 'none' } }, { state: 'complete', exitCode: 0 });
    expect(reconcileReplicated(st, sv, T0, idGen()).ops).toEqual([]);
  });

  it('on-failure: exit 0 is done, exit 1 is restarted', () => {
    const a = s({ restart: { condition: 'on-failure' } }, { state: 'complete', exitCode: 0 });
    expect(reconcileReplicated(a.st, a.sv, T0, idGen()).ops).toEqual([]);
    const b = s({ restart: { condition: 'on-failure' } }, { state: 'failed', exitCode: 1 });
    expect(creates(reconcileReplicated(b.st, b.sv, T0, idGen()).ops)).toHaveLength(1);
  });

  it('max_attempts reached: no replacement; the dead task says why, once', () => {
    const { sv, st } = s({ restart: { max_attempts: 1 } }, { state: 'failed', exitCode: 1, restartHistory: [T0 - 10] });
    const r = reconcileReplicated(st, sv, T0, idGen());
    expect(creates(r.ops)).toEqual([]);
    expect(updates(r.ops).map((t) => [t.id, t.desiredState, t.status.state, t.status.message, t.status.exitCode]))
      .toEqual([['dead', 'running', 'failed', 'not restarted: max_attempts (1) reached', 1]]);
    st.tasks[0] = updates(r.ops)[0];
    expect(reconcileReplicated(st, sv, T0 + 1000, idGen()).ops).toEqual([]);
  });

  it('an orphaned task (node down) is replaced and the replacement is unplaced', () => {
    const { sv, st } = s({}, { state: 'orphaned', err: 'node host-n1 is down' });
    const [n] = creates(reconcileReplicated(st, sv, T0, idGen()).ops);
    expect([n.nodeId, n.status.message]).toEqual([undefined, 'restarted: task orphaned: node host-n1 is down']);
  });

  it('older dead tasks of a slot are stopped; only the newest gets a decision', () => {
    const sv = service('web');
    const tasks = [
      task(sv, { id: 'old', slot: 1, state: 'failed', exitCode: 1, createdAt: T0 - 10 }),
      task(sv, { id: 'new', slot: 1, state: 'failed', exitCode: 2, createdAt: T0 - 5, restartHistory: [T0 - 5] }),
    ];
    const r = reconcileReplicated(cluster({ services: [sv], tasks }), sv, T0, idGen());
    expect(stopped(r.ops).sort()).toEqual(['new', 'old']);
    expect(creates(r.ops)[0]).toMatchObject({ restartHistory: [T0 - 5, T0], status: { message: 'restarted: task failed: exit code 2' } });
  });

  it('a dead task next to a live one in its slot is just stopped', () => {
    const sv = service('web');
    const tasks = [task(sv, { id: 'd', slot: 1, state: 'failed', exitCode: 1 }), task(sv, { id: 'l', slot: 1, state: 'running' })];
    const r = reconcileReplicated(cluster({ services: [sv], tasks }), sv, T0, idGen());
    expect(stopped(r.ops)).toEqual(['d']);
    expect(creates(r.ops)).toEqual([]);
  });
});

describe('restart backoff (x-backoff: exponential)', () => {
  const exp = policy({ delay: '1s', 'x-backoff': 'exponential', 'x-max-delay': '10s' });

  it('doubles the delay with each restart in a row, up to x-max-delay', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => restartDelay(exp, n))).toEqual([1000, 2000, 4000, 8000, 10000, 10000]);
    expect(restartDelay(policy({ delay: '1s' }), 6)).toBe(1000); // no backoff: constant
    expect(restartDelay(policy({ delay: '0s', 'x-backoff': 'exponential' }), 3)).toBe(4000); // from 1s when delay is 0
    expect(restartDelay(policy({ delay: '1s', 'x-backoff': 'exponential' }), 100)).toBe(300_000); // default cap 5m
  });

  it('the streak carries from task to task and starts over after a task stayed up past the cap', () => {
    const t = { ...dead('failed', { exitCode: 1 }), restartStreak: 3 };
    expect(restartStreak(exp, t)).toBe(4);
    const d = restartDecision(t, exp, T0);
    expect(d).toMatchObject({ restart: true, restartStreak: 4, notBefore: T0 + 8000 });
    expect(restartStreak(exp, { ...t, upAt: T0 - 60_000, endedAt: T0 })).toBe(0);
    expect(restartStreak(exp, { ...t, upAt: T0 - 5_000, endedAt: T0 })).toBe(4);
  });

  it('a crash-looping slot backs off: the replacements carry a growing streak and delay', () => {
    const s0 = service('web', { restart: exp });
    let t = task(s0, { id: 'a', slot: 1, state: 'failed', exitCode: 1 });
    const ids = idGen();
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = reconcileReplicated(cluster({ nodes: [node('n1')], services: [s0], tasks: [t] }), s0, T0, ids);
      const [next] = creates(r.ops);
      waits.push(next.notBefore! - T0);
      t = { ...next, nodeId: 'n1', status: { state: 'failed', timestamp: T0, message: 'x', exitCode: 1 } };
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000]);
  });
});
