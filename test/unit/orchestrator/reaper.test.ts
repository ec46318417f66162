import { describe, expect, it } from 'vitest';
import { reapTasks } from '../../../manager/orchestrator/index.js';
import { T0, cluster, deletes, node, service, task, updates } from './fixtures.js';

describe('reapTasks', () => {
  it('keeps at most `historyLimit` tasks per slot, the live one included (as Swarm counts)', () => {
    const svc = service('web', { replicas: 2 });
    const hist = (slot: number, n: number) => Array.from({ length: n }, (_, i) =>
      task(svc, { id: `s${slot}-${i}`, slot, state: 'failed', desired: 'shutdown', createdAt: T0 + i }));
    const tasks = [...hist(1, 4), ...hist(2, 2), task(svc, { id: 'live', slot: 1 })];
    expect(deletes(reapTasks(cluster({ services: [svc], tasks }), 2)).sort()).toEqual(['s1-0', 's1-1', 's1-2']);
    expect(deletes(reapTasks(cluster({ services: [svc], tasks }), 0)).sort()).toEqual(['s1-0', 's1-1', 's1-2', 's1-3', 's2-0', 's2-1']);
    expect(deletes(reapTasks(cluster({ services: [svc], tasks }), -1))).toEqual([]);
  });

  it('reads the limit from the cluster settings; 5 when there are none', () => {
    const svc = service('web', { replicas: 1 });
    const tasks = [...Array.from({ length: 7 }, (_, i) => task(svc, { id: `d${i}`, slot: 1, state: 'failed', desired: 'shutdown', createdAt: T0 + i })), task(svc, { id: 'live', slot: 1, createdAt: T0 + 9 })];
    expect(deletes(reapTasks(cluster({ services: [svc], tasks }))).sort()).toEqual(['d0', 'd1', 'd2']);
    const settings = { kind: 'cluster' as const, id: 'default' as const, meta: { version: 1, createdAt: T0, updatedAt: T0 }, spec: { taskHistoryLimit: 2 } };
    expect(deletes(reapTasks({ ...cluster({ services: [svc], tasks }), cluster: settings })).sort()).toEqual(['d0', 'd1', 'd2', 'd3', 'd4', 'd5']);
  });

  it('never deletes a dead task that still holds its slot (restart refused)', () => {
    const svc = service('web', { replicas: 1 });
    const tasks = [
      task(svc, { id: 'held', slot: 1, state: 'complete', desired: 'running', createdAt: T0 + 9 }),
      task(svc, { id: 'h1', slot: 1, state: 'failed', desired: 'shutdown', createdAt: T0 + 1 }),
    ];
    expect(deletes(reapTasks(cluster({ services: [svc], tasks }), 0))).toEqual(['h1']);
  });

  it('counts per (service, node) for global services', () => {
    const svc = service('agent', { mode: 'global' });
    const tasks = [1, 2, 3].flatMap((i) => ['n1', 'n2'].map((n) =>
      task(svc, { id: `${n}-${i}`, nodeId: n, state: 'failed', desired: 'shutdown', createdAt: T0 + i })));
    expect(deletes(reapTasks(cluster({ nodes: [node('n1'), node('n2')], services: [svc], tasks }), 1)).sort()).toEqual(['n1-1', 'n1-2', 'n2-1', 'n2-2']);
    // a node that left the cluster takes its history with it
    expect(deletes(reapTasks(cluster({ nodes: [node('n1')], services: [svc], tasks }), 5)).sort()).toEqual(['n2-1', 'n2-2', 'n2-3']);
  });

  it('deletes dead tasks of removed services and marks their live ones for removal', () => {
    const gone = service('gone');
    const tasks = [
      task(gone, { id: 'dead', slot: 1, state: 'failed', desired: 'shutdown' }),
      task(gone, { id: 'live', slot: 2 }),
      task(gone, { id: 'unsched', slot: 3, state: 'pending' }),
    ];
    const ops = reapTasks(cluster({ tasks }));
    expect(deletes(ops).sort()).toEqual(['dead', 'unsched']);
    expect(updates(ops).map((t) => [t.id, t.desiredState])).toEqual([['live', 'remove']]);
  });

  it("deletes 'remove' tasks once terminal, not before", () => {
    const svc = service('web', { replicas: 2 });
    const tasks = [task(svc, { id: 'a', slot: 1, desired: 'remove', state: 'shutdown' }), task(svc, { id: 'b', slot: 2, desired: 'remove' })];
    expect(reapTasks(cluster({ services: [svc], tasks }))).toEqual([{ op: 'delete', kind: 'task', id: 'a' }]);
  });

  it('deletes history of slots above the replica count', () => {
    const svc = service('web', { replicas: 1 });
    const tasks = [task(svc, { id: 'a', slot: 2, desired: 'shutdown', state: 'shutdown' }), task(svc, { id: 'b', slot: 2, desired: 'shutdown' })];
    expect(deletes(reapTasks(cluster({ services: [svc], tasks })))).toEqual(['a']);
  });
});
