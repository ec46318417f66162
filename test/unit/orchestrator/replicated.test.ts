import { describe, expect, it } from 'vitest';
import { reconcileReplicated } from '../../../manager/orchestrator/index.js';
import {
  T0, cluster, converge, creates, idGen, liveSlots, node, service, stopped, task, updates, withService,
} from './fixtures.js';

describe('reconcileReplicated: scaling', () => {
  it('creates every missing slot as a pending task with no node', () => {
    const svc = service('web', { replicas: 3 });
    const r = reconcileReplicated(cluster({ nodes: [node('n1')], services: [svc] }), svc, T0, idGen());
    expect(creates(r.ops).map((t) => [t.id, t.slot, t.nodeId, t.status.state, t.desiredState, t.specVersion, t.status.message])).toEqual([
      ['t0001', 1, undefined, 'pending', 'running', 1, 'created'],
      ['t0002', 2, undefined, 'pending', 'running', 1, 'created'],
      ['t0003', 3, undefined, 'pending', 'running', 1, 'created'],
    ]);
    expect(creates(r.ops)[0].meta).toEqual({ version: 0, createdAt: T0, updatedAt: T0 });
    expect(r.wakeAt).toBeUndefined();
  });

  it('fills only the gaps', () => {
    const svc = service('web', { replicas: 3 });
    const r = reconcileReplicated(cluster({ services: [svc], tasks: [task(svc, { slot: 1 }), task(svc, { slot: 3 })] }), svc, T0, idGen());
    expect(creates(r.ops).map((t) => t.slot)).toEqual([2]);
    expect(stopped(r.ops)).toEqual([]);
  });

  it('scales down by stopping the highest slots, keeping the update CAS version', () => {
    const svc = service('web', { replicas: 1 });
    const tasks = [1, 2, 3].map((slot) => task(svc, { id: `s${slot}`, slot }));
    const r = reconcileReplicated(cluster({ services: [svc], tasks }), svc, T0 + 5, idGen());
    expect(creates(r.ops)).toEqual([]);
    expect(stopped(r.ops)).toEqual(['s2', 's3']);
    const u = updates(r.ops)[0];
    expect(u.meta).toEqual({ version: 1, createdAt: T0, updatedAt: T0 + 5 });
    expect(u.status.state).toBe('running'); // the agent reports the stop
  });

  it('shuts a never-scheduled task down itself', () => {
    const svc = service('web', { replicas: 0 });
    const r = reconcileReplicated(cluster({ services: [svc], tasks: [task(svc, { id: 'p', slot: 1, state: 'pending' })] }), svc, T0, idGen());
    expect(updates(r.ops).map((t) => [t.id, t.desiredState, t.status.state])).toEqual([['p', 'shutdown', 'shutdown']]);
  });

  it('waits for a stopping task before reusing its slot', () => {
    const svc = service('web', { replicas: 1 });
    const stopping = task(svc, { slot: 1, desired: 'shutdown', state: 'running' });
    const r = reconcileReplicated(cluster({ nodes: [node('n1')], services: [svc], tasks: [stopping] }), svc, T0, idGen());
    expect(r.ops).toEqual([]);
    // ...unless its node is down: nothing will report it stopped
    const r2 = reconcileReplicated(cluster({ nodes: [node('n1', { state: 'down' })], services: [svc], tasks: [stopping] }), svc, T0, idGen());
    expect(creates(r2.ops).map((t) => t.slot)).toEqual([1]);
  });

  it('keeps one task per slot: prefers running+healthy, then the newest spec', () => {
    const svc = service('web', { replicas: 2, specVersion: 2 });
    const tasks = [
      task(svc, { id: 'a', slot: 1, state: 'starting', createdAt: T0 + 9 }),
      task(svc, { id: 'b', slot: 1, state: 'running', health: 'healthy' }),
      task(svc, { id: 'c', slot: 1, state: 'running', health: 'starting' }),
      task(svc, { id: 'd', slot: 2, state: 'running', specVersion: 1 }),
      task(svc, { id: 'e', slot: 2, state: 'running', specVersion: 1, createdAt: T0 + 1 }),
      task(svc, { id: 'f', slot: 2, state: 'running' }),
    ];
    const r = reconcileReplicated(cluster({ services: [svc], tasks }), svc, T0, idGen());
    expect(stopped(r.ops).sort()).toEqual(['a', 'c', 'd', 'e']);
    expect(creates(r.ops)).toEqual([]);
  });

  it('moves tasks off a drained node without counting a restart', () => {
    const svc = service('web', { replicas: 1 });
    const t = task(svc, { id: 'old', slot: 1, nodeId: 'n1', restartHistory: [T0 - 5] });
    const s = cluster({ nodes: [node('n1', { availability: 'drain' }), node('n2')], services: [svc], tasks: [t] });
    const r = reconcileReplicated(s, svc, T0, idGen());
    expect(stopped(r.ops)).toEqual(['old']);
    const [n] = creates(r.ops);
    expect([n.slot, n.nodeId, n.status.message, n.restartHistory]).toEqual([1, undefined, 'rescheduled: node host-n1 is drained', [T0 - 5]]);
  });

  it('is deterministic: same input, same plan', () => {
    const svc = service('web', { replicas: 4, specVersion: 2, update: { parallelism: 2 } });
    const tasks = [
      task(svc, { slot: 1, specVersion: 1 }), task(svc, { slot: 2, state: 'failed', exitCode: 1 }),
      task(svc, { slot: 3, specVersion: 1 }), task(svc, { slot: 5 }), task(svc, { slot: 1, state: 'starting' }),
    ];
    const s = cluster({ nodes: [node('n1')], services: [svc], tasks });
    const a = reconcileReplicated(s, svc, T0, idGen());
    const b = reconcileReplicated(structuredClone(s), svc, T0, idGen());
    expect(a).toEqual(b);
    expect(a.ops.length).toBeGreaterThan(0);
  });
});

describe('reconcileReplicated: convergence in the simulator', () => {
  it('scale 1 -> 5 -> 2 ends with exactly slots 1..2 live, and back to 3', () => {
    const ids = idGen();
    let svc = service('web', { replicas: 1 });
    let s = cluster({ nodes: [node('n1'), node('n2')], services: [svc] });
    s = converge(s, ids).state;
    expect(liveSlots(s, svc.id)).toEqual([1]);
    svc = { ...svc, spec: { ...svc.spec, deploy: { ...svc.spec.deploy, replicas: 5 } } };
    s = converge(withService(s, svc), ids).state;
    expect(liveSlots(s, svc.id)).toEqual([1, 2, 3, 4, 5]);
    expect(s.tasks.every((t) => t.status.state === 'running')).toBe(true);
    // spread over both nodes
    expect(s.tasks.filter((t) => t.nodeId === 'n1').length).toBe(3);
    svc = { ...svc, spec: { ...svc.spec, deploy: { ...svc.spec.deploy, replicas: 2 } } };
    s = converge(withService(s, svc), ids).state;
    expect(liveSlots(s, svc.id)).toEqual([1, 2]);
    // the stopped slots' tasks are gone (reaped: above the replica count)
    expect(s.tasks.map((t) => t.slot).sort()).toEqual([1, 2]);
    svc = { ...svc, spec: { ...svc.spec, deploy: { ...svc.spec.deploy, replicas: 3 } } };
    s = converge(withService(s, svc), ids).state;
    expect(liveSlots(s, svc.id)).toEqual([1, 2, 3]);
  });

  it('a crash-looping task is restarted until max_attempts, then left visible', () => {
    const ids = idGen();
    const svc = service('job', { replicas: 1, restart: { condition: 'on-failure', max_attempts: 2 } });
    const s = converge(cluster({ nodes: [node('n1')], services: [svc] }), ids, {
      agent: { run: () => ({ state: 'failed', exitCode: 3, message: 'exited' }) },
    }).state;
    const tasks = [...s.tasks].sort((a, b) => a.meta.createdAt - b.meta.createdAt);
    expect(tasks.map((t) => [t.status.state, t.desiredState])).toEqual([
      ['failed', 'shutdown'], ['failed', 'shutdown'], ['failed', 'running'],
    ]);
    expect(tasks[2].restartHistory).toHaveLength(2);
    expect(tasks[2].status.message).toBe('not restarted: max_attempts (2) reached');
    expect(liveSlots(s, svc.id)).toEqual([]);
  });
});
