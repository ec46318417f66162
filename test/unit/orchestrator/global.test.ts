import { describe, expect, it } from 'vitest';
import { globalNodeFit, reconcileGlobal, reconcileReplicated } from '../../../manager/orchestrator/index.js';
import { T0, cluster, converge, creates, idGen, node, service, stopped, task } from './fixtures.js';

const g = (o: Parameters<typeof service>[1] = {}) => service('agent', { mode: 'global', ...o });

describe('reconcileGlobal', () => {
  it('one pending task per eligible node, node set, in node order', () => {
    const svc = g();
    const s = cluster({ nodes: [node('n2'), node('n1'), node('n3', { state: 'unknown' })], services: [svc] });
    const r = reconcileGlobal(s, svc, T0, idGen());
    expect(creates(r.ops).map((t) => [t.nodeId, t.slot, t.status.state])).toEqual([
      ['n1', undefined, 'pending'], ['n2', undefined, 'pending'], ['n3', undefined, 'pending'],
    ]);
  });

  it('skips ineligible nodes and stops tasks on drained, down, vanished or no-longer-matching nodes', () => {
    const svc = g({ constraints: ['node.labels.tier==edge'] });
    const edge = { labels: { tier: 'edge' } };
    const nodes = [
      node('ok', edge), node('drained', { ...edge, availability: 'drain' }), node('down', { ...edge, state: 'down' }),
      node('paused', { ...edge, availability: 'pause' }), node('relabelled', { labels: { tier: 'core' } }), node('fresh', edge),
    ];
    const tasks = ['ok', 'drained', 'down', 'paused', 'relabelled', 'gone'].map((n) => task(svc, { id: `t-${n}`, nodeId: n }));
    const r = reconcileGlobal(cluster({ nodes, services: [svc], tasks }), svc, T0, idGen());
    expect(stopped(r.ops).sort()).toEqual(['t-down', 't-drained', 't-gone', 't-relabelled']);
    expect(creates(r.ops).map((t) => t.nodeId)).toEqual(['fresh']);
  });

  it('pause keeps the task but adds none and restarts none', () => {
    const svc = g();
    const nodes = [node('p1', { availability: 'pause' }), node('p2', { availability: 'pause' })];
    const tasks = [task(svc, { id: 'dead', nodeId: 'p2', state: 'failed', exitCode: 1 })];
    expect(reconcileGlobal(cluster({ nodes, services: [svc], tasks }), svc, T0, idGen()).ops).toEqual([]);
  });

  it('restarts a dead task on the same node, counting per node', () => {
    const svc = g({ restart: { max_attempts: 2 } });
    const nodes = [node('n1'), node('n2')];
    const tasks = [
      task(svc, { id: 'a', nodeId: 'n1', state: 'failed', exitCode: 1, restartHistory: [T0 - 2] }),
      task(svc, { id: 'b', nodeId: 'n2', state: 'failed', exitCode: 1, restartHistory: [T0 - 2, T0 - 1] }),
    ];
    const r = reconcileGlobal(cluster({ nodes, services: [svc], tasks }), svc, T0, idGen());
    expect(stopped(r.ops)).toEqual(['a']);
    expect(creates(r.ops).map((t) => [t.nodeId, t.restartHistory])).toEqual([['n1', [T0 - 2, T0]]]);
  });

  it('duplicates on one node are reduced to one', () => {
    const svc = g();
    const tasks = [task(svc, { id: 'x', nodeId: 'n1', state: 'starting' }), task(svc, { id: 'y', nodeId: 'n1', state: 'running' })];
    const r = reconcileGlobal(cluster({ nodes: [node('n1')], services: [svc], tasks }), svc, T0, idGen());
    expect(stopped(r.ops)).toEqual(['x']);
  });

  it('globalNodeFit', () => {
    const svc = g({ constraints: ['node.role==manager'] });
    expect(globalNodeFit(node('a', { role: 'manager' }), svc)).toBe('run');
    expect(globalNodeFit(node('a', { role: 'worker' }), svc)).toBe('stop');
    expect(globalNodeFit(node('a', { role: 'manager', state: 'disconnected' }), svc)).toBe('keep');
    expect(globalNodeFit(node('a', { role: 'manager', availability: 'pause' }), svc)).toBe('keep');
    expect(globalNodeFit(node('a', { role: 'manager', availability: 'drain' }), svc)).toBe('stop');
  });

  it('follows node joins and drains in the simulator', () => {
    const ids = idGen();
    const svc = g();
    let s = converge(cluster({ nodes: [node('n1'), node('n2')], services: [svc] }), ids).state;
    expect(s.tasks.map((t) => [t.nodeId, t.status.state]).sort()).toEqual([['n1', 'running'], ['n2', 'running']]);
    s = converge({ ...s, nodes: [...s.nodes, node('n3')] }, ids).state;
    s = converge({ ...s, nodes: s.nodes.map((n) => (n.id === 'n2' ? { ...n, spec: { ...n.spec, availability: 'drain' as const } } : n)) }, ids).state;
    const live = s.tasks.filter((t) => t.desiredState === 'running').map((t) => [t.nodeId, t.status.state]).sort();
    expect(live).toEqual([['n1', 'running'], ['n3', 'running']]);
  });
});

describe('mode change', () => {
  it('tasks without a slot key in the current mode are stopped', () => {
    const svc = service('web', { replicas: 1 });
    const stray = { ...task(svc, { id: 'stray', nodeId: 'n1' }), slot: undefined };
    const r = reconcileReplicated(cluster({ nodes: [node('n1')], services: [svc], tasks: [stray] }), svc, T0, idGen());
    expect(stopped(r.ops)).toEqual(['stray']);
    expect(creates(r.ops).map((t) => t.slot)).toEqual([1]);
  });
});
