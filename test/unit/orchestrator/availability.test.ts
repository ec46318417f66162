// Node availability and labels through whole passes of the control loops (node monitor,
// orchestrators, scheduler) with the simulated agents: drain moves replicated tasks off
// (respecting constraints; start-first keeps each one until its replacement is up), pause keeps
// what runs and takes nothing new, active takes new tasks again (nothing moves back by itself),
// global services and constrained services follow drains and label changes.

import { describe, expect, it } from 'vitest';
import type { ClusterState, NodeObj, TaskObj } from '../../../manager/store/types.js';
import { agentStep, cluster, converge, idGen, loopPass, node, service, withService } from './fixtures.js';

const live = (s: ClusterState, svc: string): TaskObj[] =>
  s.tasks.filter((t) => t.serviceId === svc && t.desiredState === 'running' && (t.status.state === 'running' || t.status.state === 'pending' || t.status.state === 'assigned'));
const running = (s: ClusterState, svc: string): TaskObj[] => s.tasks.filter((t) => t.serviceId === svc && t.status.state === 'running');
const nodesOf = (ts: TaskObj[]): string[] => ts.map((t) => t.nodeId!).sort();
const setNode = (s: ClusterState, id: string, f: (n: NodeObj) => NodeObj): ClusterState => ({ ...s, nodes: s.nodes.map((n) => (n.id === id ? f(n) : n)) });
const avail = (s: ClusterState, id: string, a: NodeObj['spec']['availability']) => setNode(s, id, (n) => ({ ...n, spec: { ...n.spec, availability: a } }));
const labels = (s: ClusterState, id: string, l: Record<string, string>) => setNode(s, id, (n) => ({ ...n, spec: { ...n.spec, labels: l } }));

describe('node availability through the control loops', () => {
  it('drain moves replicated tasks off, onto nodes that meet the constraints', () => {
    const ids = idGen();
    const web = service('web', { replicas: 4, constraints: ['node.labels.zone==a'] });
    const zoneA = { labels: { zone: 'a' } };
    let { state: s, now } = converge(cluster({ nodes: [node('n1', zoneA), node('n2', zoneA), node('n3')], services: [web] }), ids);
    expect(nodesOf(running(s, web.id))).toEqual(['n1', 'n1', 'n2', 'n2']);
    ({ state: s, now } = converge(avail(s, 'n1', 'drain'), ids, { now: now + 1000 }));
    expect(nodesOf(running(s, web.id))).toEqual(['n2', 'n2', 'n2', 'n2']);
    expect(live(s, web.id)).toHaveLength(4);
    expect(s.tasks.filter((t) => t.nodeId === 'n1' && t.status.state !== 'shutdown')).toEqual([]);
  });

  it.each([
    ['start-first', 'running'],
    ['stop-first', 'shutdown'],
  ] as const)('drain with update order %s: the old task is asked to be %s when its replacement is made', (order, desired) => {
    const ids = idGen();
    const web = service('web', { replicas: 1, update: { order } });
    let { state: s, now } = converge(cluster({ nodes: [node('n1'), node('n2', { availability: 'pause' })], services: [web] }), ids);
    const first = running(s, web.id)[0]!;
    expect(first.nodeId).toBe('n1');
    s = avail(avail(s, 'n1', 'drain'), 'n2', 'active');
    now += 1000;
    s = loopPass(s, now, ids).state;
    const replacement = s.tasks.find((t) => t.serviceId === web.id && t.id !== first.id)!;
    expect(replacement.nodeId).toBe('n2');
    expect(s.tasks.find((t) => t.id === first.id)!.desiredState).toBe(desired);
    // Start-first: the old one is stopped only once the replacement runs.
    let oldStopWhileNewNotUp = false;
    for (let i = 0; i < 10; i++) {
      s = agentStep(s, now);
      now += 1000;
      const before = s;
      s = loopPass(s, now, ids).state;
      const wasUp = before.tasks.find((t) => t.id === replacement.id)!.status.state === 'running';
      if (order === 'start-first' && !wasUp && s.tasks.find((t) => t.id === first.id)!.desiredState !== 'running') oldStopWhileNewNotUp = true;
    }
    expect(oldStopWhileNewNotUp).toBe(false);
    expect(running(s, web.id).map((t) => t.id)).toEqual([replacement.id]);
    expect(live(s, web.id)).toHaveLength(1);
  });

  it('start-first: the task on a drained node keeps running while its replacement cannot start', () => {
    const ids = idGen();
    const web = service('web', { replicas: 1, update: { order: 'start-first' } });
    let { state: s, now } = converge(cluster({ nodes: [node('n1'), node('n2')], services: [web] }), ids);
    const first = running(s, web.id)[0]!;
    ({ state: s, now } = converge(avail(s, first.nodeId!, 'drain'), ids, { now: now + 1000, agent: { run: () => ({ state: 'failed', exitCode: 1 }) } }));
    expect(running(s, web.id).map((t) => t.id)).toEqual([first.id]);
  });

  it('pause keeps running tasks and takes no new ones; active takes new ones again, nothing moves back', () => {
    const ids = idGen();
    let web = service('web', { replicas: 2 });
    let { state: s, now } = converge(cluster({ nodes: [node('n1'), node('n2')], services: [web] }), ids);
    expect(nodesOf(running(s, web.id))).toEqual(['n1', 'n2']);
    s = avail(s, 'n1', 'pause');
    web = { ...web, meta: s.services[0]!.meta, spec: { ...web.spec, deploy: { ...web.spec.deploy, replicas: 4 } } };
    ({ state: s, now } = converge(withService(s, web), ids, { now: now + 1000 }));
    expect(nodesOf(running(s, web.id))).toEqual(['n1', 'n2', 'n2', 'n2']);
    ({ state: s, now } = converge(avail(s, 'n1', 'active'), ids, { now: now + 1000 }));
    expect(nodesOf(running(s, web.id))).toEqual(['n1', 'n2', 'n2', 'n2']);
    web = { ...web, meta: s.services[0]!.meta, spec: { ...web.spec, deploy: { ...web.spec.deploy, replicas: 6 } } };
    ({ state: s } = converge(withService(s, web), ids, { now: now + 1000 }));
    expect(nodesOf(running(s, web.id))).toEqual(['n1', 'n1', 'n1', 'n2', 'n2', 'n2']);
  });

  it('global services stop on a drained node and come back when it is active again; pause keeps them', () => {
    const ids = idGen();
    const mon = service('mon', { mode: 'global' });
    let { state: s, now } = converge(cluster({ nodes: [node('n1'), node('n2')], services: [mon] }), ids);
    expect(nodesOf(running(s, mon.id))).toEqual(['n1', 'n2']);
    ({ state: s, now } = converge(avail(s, 'n1', 'drain'), ids, { now: now + 1000 }));
    expect(nodesOf(running(s, mon.id))).toEqual(['n2']);
    ({ state: s, now } = converge(avail(s, 'n1', 'pause'), ids, { now: now + 1000 }));
    expect(nodesOf(running(s, mon.id))).toEqual(['n2']);
    ({ state: s, now } = converge(avail(s, 'n1', 'active'), ids, { now: now + 1000 }));
    expect(nodesOf(running(s, mon.id))).toEqual(['n1', 'n2']);
    ({ state: s } = converge(avail(s, 'n2', 'pause'), ids, { now: now + 1000 }));
    expect(nodesOf(running(s, mon.id))).toEqual(['n1', 'n2']);
  });

  it('label changes: global and constrained replicated services follow', () => {
    const ids = idGen();
    const edge = service('edge', { mode: 'global', constraints: ['node.labels.tier==edge'] });
    const web = service('web', { replicas: 2, constraints: ['node.labels.tier==edge'] });
    let { state: s, now } = converge(cluster({ nodes: [node('n1', { labels: { tier: 'edge' } }), node('n2'), node('n3')], services: [edge, web] }), ids);
    expect(nodesOf(running(s, edge.id))).toEqual(['n1']);
    expect(nodesOf(running(s, web.id))).toEqual(['n1', 'n1']);
    // n2 gains the label, n1 loses it.
    ({ state: s, now } = converge(labels(labels(s, 'n2', { tier: 'edge' }), 'n1', {}), ids, { now: now + 1000 }));
    expect(nodesOf(running(s, edge.id))).toEqual(['n2']);
    expect(nodesOf(running(s, web.id))).toEqual(['n2', 'n2']);
    // A label no constraint reads changes nothing.
    const before = s.tasks.length;
    ({ state: s } = converge(labels(s, 'n2', { tier: 'edge', other: 'x' }), ids, { now: now + 1000 }));
    expect(s.tasks.length).toBe(before);
  });
});

