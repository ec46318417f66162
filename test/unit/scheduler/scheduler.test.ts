import { describe, expect, it } from 'vitest';
import {
  ConstraintFilter, CpuFilter, HostPortFilter, MaxReplicasFilter, MemoryFilter, ReadyFilter, buildNodeInfos, filterNodes, defaultFilters, schedule,
} from '../../../manager/scheduler/index.js';
import type { PortSpec } from '../../../common/spec.js';
import type { ClusterState, TaskObj } from '../../../manager/store/types.js';
import { GB, T0, cluster, node, service, task, updates } from '../orchestrator/fixtures.js';

const pending = (svc: ReturnType<typeof service>, slot: number, o: Parameters<typeof task>[1] = {}) =>
  task(svc, { id: `${svc.shortName}.${slot}`, slot, state: 'pending', message: 'created', ...o });
const placed = (s: ClusterState): Record<string, string | undefined> =>
  Object.fromEntries(updates(schedule(s, T0)).map((t) => [t.id, t.status.state === 'assigned' ? t.nodeId : `ERR ${t.status.err}`]));
const port = (published: number, mode: PortSpec['mode'] = 'host', protocol: PortSpec['protocol'] = 'tcp'): PortSpec => ({ target: 80, published, protocol, mode });

describe('schedule', () => {
  it('assigns a pending task: state assigned, node, message scheduled, same CAS version', () => {
    const svc = service('web');
    const ops = schedule(cluster({ nodes: [node('n1')], services: [svc], tasks: [pending(svc, 1, { err: 'old error' })] }), T0 + 7);
    expect(updates(ops)).toHaveLength(1);
    const t = updates(ops)[0];
    expect([t.nodeId, t.status, t.meta.version, t.meta.updatedAt]).toEqual(['n1', { state: 'assigned', timestamp: T0 + 7, message: 'scheduled' }, 1, T0 + 7]);
  });

  it('ignores tasks not pending or not meant to run; ignores notBefore', () => {
    const svc = service('web');
    const tasks = [
      pending(svc, 1, { desired: 'shutdown' }), task(svc, { slot: 2, state: 'assigned' }),
      { ...pending(svc, 3), notBefore: T0 + 60_000 },
    ];
    expect(placed(cluster({ nodes: [node('n1')], services: [svc], tasks }))).toEqual({ 'web.3': 'n1' });
  });

  it('spreads a service by fewest tasks of the service, then fewest tasks, then node id, counting its own assignments', () => {
    const web = service('web', { replicas: 4 });
    const db = service('db');
    const tasks = [task(db, { slot: 1, nodeId: 'n1' }), ...[1, 2, 3, 4].map((i) => pending(web, i))];
    expect(placed(cluster({ nodes: [node('n1'), node('n2'), node('n3')], services: [web, db], tasks }))).toEqual({
      'web.1': 'n2', 'web.2': 'n3', 'web.3': 'n1', 'web.4': 'n2',
    });
  });

  it('spread preference over node.labels.zone balances zones, not nodes', () => {
    const svc = service('web', { replicas: 4, preferences: [{ spread: 'node.labels.zone' }] });
    const nodes = [node('a1', { labels: { zone: 'a' } }), node('b1', { labels: { zone: 'b' } }), node('b2', { labels: { zone: 'b' } }), node('b3', { labels: { zone: 'b' } })];
    const r = placed(cluster({ nodes, services: [svc], tasks: [1, 2, 3, 4].map((i) => pending(svc, i)) }));
    expect(r).toEqual({ 'web.1': 'a1', 'web.2': 'b1', 'web.3': 'a1', 'web.4': 'b2' });
  });

  it('nodes missing the spread label form a group of their own', () => {
    const svc = service('web', { replicas: 3, preferences: [{ spread: 'node.labels.zone' }] });
    const nodes = [node('a1', { labels: { zone: 'a' } }), node('a2', { labels: { zone: 'a' } }), node('x1'), node('x2')];
    const r = placed(cluster({ nodes, services: [svc], tasks: [1, 2, 3].map((i) => pending(svc, i)) }));
    expect(r).toEqual({ 'web.1': 'x1', 'web.2': 'a1', 'web.3': 'x2' });
  });

  it('a task that fits nowhere stays pending with a reason per filter; no update if unchanged', () => {
    const svc = service('web', { reservations: { memory: 4 * GB }, ports: [port(80)] });
    const other = service('other', { ports: [port(80)] });
    const nodes = [
      node('n1', { availability: 'drain' }), node('n2', { memory: 2 * GB }), node('n3', { memory: 3 * GB }), node('n4'),
    ];
    const tasks = [task(other, { slot: 1, nodeId: 'n4' }), pending(svc, 1)];
    const s = cluster({ nodes, services: [svc, other], tasks });
    const msg = 'no suitable node (1 node not available for new tasks; 2 nodes have insufficient memory; host-mode port 80/tcp in use on 1 node)';
    expect(placed(s)).toEqual({ 'web.1': `ERR ${msg}` });
    const stuck = updates(schedule(s, T0))[0];
    expect(stuck.status.state).toBe('pending');
    expect(stuck.status.message).toBe('created');
    expect(schedule({ ...s, tasks: [tasks[0], stuck] }, T0 + 1)).toEqual([]);
  });

  it('no nodes at all', () => {
    const svc = service('web');
    expect(placed(cluster({ services: [svc], tasks: [pending(svc, 1)] }))).toEqual({ 'web.1': 'ERR no suitable node (no nodes in the cluster)' });
  });

  it('reservations add up over existing and newly assigned tasks', () => {
    const svc = service('web', { replicas: 3, reservations: { cpus: 1.5, memory: GB } });
    const nodes = [node('n1', { cpus: 2 }), node('n2', { cpus: 4 })];
    const tasks = [task(svc, { slot: 9, nodeId: 'n2', state: 'running' }), ...[1, 2, 3].map((i) => pending(svc, i))];
    expect(placed(cluster({ nodes, services: [svc], tasks }))).toEqual({
      'web.1': 'n1', 'web.2': 'n2', 'web.3': 'ERR no suitable node (2 nodes have insufficient CPU)',
    });
  });

  it('terminal tasks free resources and ports; stopping ones still hold them', () => {
    const svc = service('web', { ports: [port(8080, 'host', 'udp')] });
    const nodes = [node('n1')];
    const dead = task(svc, { slot: 2, nodeId: 'n1', state: 'shutdown', desired: 'shutdown' });
    expect(placed(cluster({ nodes, services: [svc], tasks: [dead, pending(svc, 1)] }))).toEqual({ 'web.1': 'n1' });
    const stopping = task(svc, { slot: 2, nodeId: 'n1', state: 'running', desired: 'shutdown' });
    expect(placed(cluster({ nodes, services: [svc], tasks: [stopping, pending(svc, 1)] })))
      .toEqual({ 'web.1': 'ERR no suitable node (host-mode port 8080/udp in use on 1 node)' });
  });

  it('host ports: two tasks of one pass do not share a node port; ingress ports never conflict', () => {
    const svc = service('web', { replicas: 3, ports: [port(80)] });
    const ing = service('ing', { replicas: 2, ports: [port(80, 'ingress')] });
    const nodes = [node('n1'), node('n2')];
    const tasks = [...[1, 2, 3].map((i) => pending(svc, i)), pending(ing, 1), pending(ing, 2)];
    expect(placed(cluster({ nodes, services: [svc, ing], tasks }))).toEqual({
      'web.1': 'n1', 'web.2': 'n2', 'web.3': 'ERR no suitable node (host-mode port 80/tcp in use on 2 nodes)', 'ing.1': 'n1', 'ing.2': 'n2',
    });
  });

  it('a service on the host network holds its published ports like any host-mode port', () => {
    const media = service('media', { replicas: 2, ports: [{ target: 8096, published: 8096, protocol: 'tcp', mode: 'host' }] });
    media.spec = { ...media.spec, network_mode: 'host', networks: {} };
    const other = service('other', { ports: [{ target: 8096, published: 8096, protocol: 'tcp', mode: 'host' }] });
    const nodes = [node('n1'), node('n2')];
    const tasks = [task(other, { slot: 1, nodeId: 'n1' }), pending(media, 1), pending(media, 2)];
    expect(placed(cluster({ nodes, services: [media, other], tasks }))).toEqual({
      'media.1': 'n2', 'media.2': 'ERR no suitable node (host-mode port 8096/tcp in use on 2 nodes)',
    });
  });

  it('max_replicas_per_node', () => {
    const svc = service('web', { replicas: 3, maxPerNode: 1 });
    expect(placed(cluster({ nodes: [node('n1'), node('n2')], services: [svc], tasks: [1, 2, 3].map((i) => pending(svc, i)) }))).toEqual({
      'web.1': 'n1', 'web.2': 'n2', 'web.3': 'ERR no suitable node (max replicas per node (1) reached on 2 nodes)',
    });
  });

  it('constraints', () => {
    const svc = service('web', { replicas: 2, constraints: ['node.role==manager', 'node.labels.disk!=hdd'] });
    const nodes = [node('w1'), node('m1', { role: 'manager', labels: { disk: 'hdd' } }), node('m2', { role: 'manager' })];
    expect(placed(cluster({ nodes, services: [svc], tasks: [pending(svc, 1)] }))).toEqual({ 'web.1': 'm2' });
    const none = service('x', { constraints: ['node.labels.gpu==yes'] });
    expect(placed(cluster({ nodes, services: [none], tasks: [pending(none, 1)] })))
      .toEqual({ 'x.1': 'ERR no suitable node (scheduling constraints not satisfied on 3 nodes)' });
    const bad = service('y', { constraints: ['gpu==yes'] });
    expect(placed(cluster({ nodes, services: [bad], tasks: [pending(bad, 1)] })))
      .toEqual({ 'y.1': expect.stringMatching(/^ERR no suitable node \(invalid constraint "gpu==yes": unknown attribute/) });
  });

  it('a global task goes to its own node or stays pending', () => {
    const svc = service('agent', { mode: 'global', reservations: { memory: 4 * GB } });
    const nodes = [node('n1'), node('n2', { memory: GB }), node('n3', { state: 'unknown' })];
    const tasks = ['n1', 'n2', 'n3', 'n9'].map((n) => task(svc, { id: `g-${n}`, nodeId: n, state: 'pending' }));
    expect(placed(cluster({ nodes, services: [svc], tasks }))).toEqual({
      'g-n1': 'n1',
      'g-n2': 'ERR no suitable node (1 node has insufficient memory)',
      'g-n3': 'ERR no suitable node (1 node not available for new tasks)',
      'g-n9': 'ERR no suitable node (node n9 is not in the cluster)',
    });
  });

  it('is deterministic whatever the input order', () => {
    const svc = service('web', { replicas: 6, preferences: [{ spread: 'node.labels.zone' }] });
    const nodes = ['a', 'b', 'c', 'd'].map((id, i) => node(id, { labels: { zone: `z${i % 2}` } }));
    const tasks: TaskObj[] = [1, 2, 3, 4, 5, 6].map((i) => pending(svc, i));
    const a = schedule(cluster({ nodes, services: [svc], tasks }), T0);
    const b = schedule(cluster({ nodes: [...nodes].reverse(), services: [svc], tasks: [...tasks].reverse() }), T0);
    expect(b).toEqual(a);
  });
});

describe('filters', () => {
  const svc = service('web', { reservations: { cpus: 1, memory: GB }, ports: [port(443), port(53, 'host', 'udp')], constraints: ['node.role==manager'], maxPerNode: 1 });
  const t = pending(svc, 1);

  it.each([
    [new ReadyFilter(), '1 node not available for new tasks', '3 nodes not available for new tasks'],
    [new ConstraintFilter(), 'scheduling constraints not satisfied on 1 node', 'scheduling constraints not satisfied on 3 nodes'],
    [new CpuFilter(), '1 node has insufficient CPU', '3 nodes have insufficient CPU'],
    [new MemoryFilter(), '1 node has insufficient memory', '3 nodes have insufficient memory'],
    [new MaxReplicasFilter(), 'max replicas per node (1) reached on 1 node', 'max replicas per node (1) reached on 3 nodes'],
  ])('%o explains itself', (f, one, three) => {
    expect(f.setTask(t)).toBe(true);
    expect(f.explain(1)).toBe(one);
    expect(f.explain(3)).toBe(three);
  });

  it('filters without anything to check are skipped', () => {
    const plain = pending(service('p'), 1);
    expect(defaultFilters().filter((f) => f.setTask(plain)).map((f) => f.name)).toEqual(['ready']);
  });

  it('host port filter names the ports in conflict', () => {
    const other = service('o', { ports: [port(443), port(53, 'host', 'udp')] });
    const infos = buildNodeInfos(cluster({ nodes: [node('n1', { role: 'manager' })], tasks: [task(other, { slot: 1, nodeId: 'n1' })] }));
    const f = new HostPortFilter();
    f.setTask(t);
    expect(f.check(infos.get('n1')!)).toBe(false);
    expect(f.explain(1)).toBe('host-mode ports 443/tcp, 53/udp in use on 1 node');
  });

  it('ready filter: ready and active only', () => {
    const f = new ReadyFilter();
    const check = (o: Parameters<typeof node>[1]) => f.check(buildNodeInfos(cluster({ nodes: [node('n', o)] })).get('n')!);
    expect([check({}), check({ availability: 'pause' }), check({ availability: 'drain' }), check({ state: 'down' }), check({ state: 'unknown' })])
      .toEqual([true, false, false, false, false]);
  });

  it('the first failing filter takes the blame', () => {
    const r = filterNodes(defaultFilters(), t, [...buildNodeInfos(cluster({ nodes: [node('n1', { state: 'down', cpus: 0.5 })] })).values()]);
    expect(r).toEqual({ eligible: [], error: 'no suitable node (1 node not available for new tasks)' });
  });

  it('a node reporting no resources is not limited', () => {
    const r = filterNodes([new CpuFilter(), new MemoryFilter()], t, [...buildNodeInfos(cluster({ nodes: [node('n1', { cpus: 0, memory: 0 })] })).values()]);
    expect(r.eligible).toHaveLength(1);
  });
});

describe('schedule with a malformed task', () => {
  it('leaves it pending with the reason (once) and places the others', () => {
    const good = service('web');
    const odd = service('odd');
    const broken = pending(odd, 1);
    // A task stored by an older version: its copy of the spec lacks resources.
    delete (broken.spec.deploy as Partial<typeof broken.spec.deploy>).resources;
    const errors: string[] = [];
    const s = cluster({ nodes: [node('n1')], services: [good, odd], tasks: [broken, pending(good, 1)] });
    const ops = schedule(s, T0, defaultFilters(), (t, e) => errors.push(`${t.id}: ${e}`));
    expect(updates(ops).map((t) => [t.id, t.status.state, t.nodeId ?? t.status.err?.slice(0, 17)])).toEqual([
      ['odd.1', 'pending', 'cannot schedule: '],
      ['web.1', 'assigned', 'n1'],
    ]);
    expect(errors).toHaveLength(1);
    // Written once: the same error is not written again.
    const again = schedule({ ...s, tasks: [updates(ops)[0]] }, T0 + 1000);
    expect(again).toEqual([]);
  });
});
