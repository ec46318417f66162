// deploy.x-node-down-grace: the node monitor orphans a running task of a service with a grace
// only once its node has been silent for max(cluster grace, service grace); until then the
// task keeps its slot; a node back in time carries on. Table tests on checkNodes with a fake
// clock, then stories through the whole loop pass (monitor, orchestrators, scheduler, agents).

import { describe, expect, it } from 'vitest';
import { checkNodes } from '../../../manager/nodemonitor/index.js';
import { nodeDownGraceMs } from '../../../common/spec.js';
import type { ClusterState, ServiceObj, TaskObj } from '../../../manager/store/types.js';
import { T0, agentStep, cluster, converge, idGen, loopPass, node, service, task, updates } from '../orchestrator/fixtures.js';

const GRACE = 3000;
const withGrace = (svc: ServiceObj, g: string | undefined): ServiceObj =>
  g === undefined ? svc : { ...svc, spec: { ...svc.spec, deploy: { ...svc.spec.deploy, 'x-node-down-grace': g } } };

describe('nodeDownGraceMs', () => {
  it.each([[undefined, 0], ['0s', 0], ['2m', 120_000], ['1m30s', 90_000], ['bogus', 0]])('%s → %i ms', (g, ms) => {
    expect(nodeDownGraceMs(withGrace(service('x'), g as string | undefined).spec)).toBe(ms);
  });
});

describe('checkNodes with a per-service node-down grace', () => {
  interface Row {
    name: string;
    grace?: string;
    now: number;
    desired?: TaskObj['desiredState'];
    removed?: boolean;
    watchingSince?: number;
    orphaned: boolean;
    wakeAt?: number;
  }
  const rows: Row[] = [
    { name: 'no grace: at once', now: T0 + 3001, orphaned: true },
    { name: '0s: at once', grace: '0s', now: T0 + 3001, orphaned: true },
    { name: 'shorter than the cluster grace: at once', grace: '2s', now: T0 + 3001, orphaned: true },
    { name: '2m, silent 1m: kept, wake at its expiry', grace: '2m', now: T0 + 60_000, orphaned: false, wakeAt: T0 + 120_001 },
    { name: '2m, silent exactly 2m: kept', grace: '2m', now: T0 + 120_000, orphaned: false, wakeAt: T0 + 120_001 },
    { name: '2m, silent just over 2m: orphaned', grace: '2m', now: T0 + 120_001, orphaned: true },
    { name: '2m, but the task was stopping: at once', grace: '2m', now: T0 + 60_000, desired: 'shutdown', orphaned: true },
    { name: '2m, but the node was removed: at once', grace: '2m', now: T0 + 60_000, removed: true, orphaned: true },
    { name: '2m, counted from when a new leader started watching', grace: '2m', now: T0 + 150_000, watchingSince: T0 + 100_000, orphaned: false, wakeAt: T0 + 220_001 },
  ];
  it.each(rows)('$name', (r) => {
    const svc = withGrace(service('db'), r.grace);
    const nodes = r.removed ? [] : [node('n1', { state: 'down', heartbeat: T0, hostname: 'w1' })];
    const t = task(svc, { id: 'db1', slot: 1, nodeId: 'n1', desired: r.desired ?? 'running' });
    const d = checkNodes(cluster({ nodes, services: [svc], tasks: [t] }), { now: r.now, graceMs: GRACE, watchingSince: r.watchingSince });
    expect(updates(d.ops).map((x) => x.status.state)).toEqual(r.orphaned ? ['orphaned'] : []);
    expect(d.wakeAt).toBe(r.wakeAt);
  });

  it('a node marked down now: its graced task stays, the others go, and the monitor wakes at the expiry', () => {
    const db = withGrace(service('db'), '2m');
    const web = service('web');
    const tasks = [task(db, { id: 'db1', slot: 1, nodeId: 'n1' }), task(web, { id: 'web1', slot: 1, nodeId: 'n1' })];
    const d = checkNodes(cluster({ nodes: [node('n1', { heartbeat: T0 })], services: [db, web], tasks }), { now: T0 + 3001, graceMs: GRACE });
    expect(d.down.map((n) => n.id)).toEqual(['n1']);
    expect(updates(d.ops).map((t) => [t.id, t.status.state])).toEqual([['web1', 'orphaned']]);
    expect(d.wakeAt).toBe(T0 + 120_001);
  });

  it('the grace is the service\'s current one (service update changes it without new tasks)', () => {
    const before = service('db');
    const t = task(before, { id: 'db1', slot: 1, nodeId: 'n1' }); // its spec copy has no grace
    const d = checkNodes(cluster({ nodes: [node('n1', { state: 'down', heartbeat: T0 })], services: [withGrace(before, '2m')], tasks: [t] }), { now: T0 + 10_000, graceMs: GRACE });
    expect(d.ops).toEqual([]);
  });
});

/** `n` seconds of loop passes and agent steps (the monitor's own wake-ups are not in loopPass's wakeAt). */
function seconds(s: ClusterState, ids: () => string, now: number, n: number, silent = new Set<string>()): { state: ClusterState; now: number } {
  for (let i = 0; i < n; i++) {
    now += 1000;
    s = agentStep(loopPass(s, now, ids, silent).state, now);
  }
  return { state: s, now };
}

describe('node-down grace through the control loops', () => {
  const running = (s: ClusterState, svc: string) => s.tasks.filter((t) => t.serviceId === svc && t.desiredState === 'running' && t.status.state === 'running');
  const setup = () => {
    const ids = idGen();
    const db = withGrace(service('db', { constraints: ['node.labels.disk==ssd'] }), '30s');
    const web = service('web', { replicas: 2, maxPerNode: 1 });
    const mon = withGrace(service('mon', { mode: 'global' }), '30s');
    const nodes = [node('n1', { labels: { disk: 'ssd' } }), node('n2', { labels: { disk: 'ssd' } })];
    // db lands on n1 (n2 paused while it is placed), then n2 is active.
    let { state: s, now } = converge(cluster({ nodes: [nodes[0]!, { ...nodes[1]!, spec: { ...nodes[1]!.spec, availability: 'pause' } }], services: [db] }), ids);
    s = { ...s, nodes, services: [...s.services, web, mon] };
    ({ state: s, now } = converge(s, ids, { now: now + 1000 }));
    // The simulator's heartbeats last one pass: the store holds what the dispatcher would remember.
    s = { ...s, nodes: s.nodes.map((n) => ({ ...n, status: { ...n.status, lastHeartbeat: now } })) };
    return { ids, db, web, mon, s, now };
  };

  it('a node back within the grace: the graced task carries on, never replaced; the others moved', () => {
    const { ids, db, web, mon, s: s0, now: t0 } = setup();
    const dbTask = running(s0, db.id)[0]!;
    expect(dbTask.nodeId).toBe('n1');
    // n1 silent for 20 s (down after 3 s), then back.
    let { state: s, now } = seconds(s0, ids, t0, 20, new Set(['n1']));
    expect(s.nodes.find((n) => n.id === 'n1')!.status.state).toBe('down');
    expect(s.tasks.filter((t) => t.serviceId === db.id).map((t) => [t.id, t.status.state, t.desiredState])).toEqual([[dbTask.id, 'running', 'running']]);
    expect(running(s, web.id).map((t) => t.nodeId)).toEqual(['n2']); // max one per node: the other waits
    expect(running(s, mon.id).map((t) => t.nodeId)).toEqual(['n2']); // global: per node, stopped with it
    ({ state: s, now } = seconds(s, ids, now, 10));
    expect(s.nodes.find((n) => n.id === 'n1')!.status.state).toBe('ready');
    expect(s.tasks.filter((t) => t.serviceId === db.id).map((t) => [t.id, t.status.state])).toEqual([[dbTask.id, 'running']]);
    expect(running(s, web.id)).toHaveLength(2);
    expect(running(s, mon.id).map((t) => t.nodeId).sort()).toEqual(['n1', 'n2']);
  });

  it('a node silent past the grace: the graced task is orphaned then, and replaced elsewhere', () => {
    const { ids, db, s: s0, now: t0 } = setup();
    const dbTask = running(s0, db.id)[0]!;
    // Second by second: when is the db task orphaned?
    let s = s0;
    let now = t0;
    let orphanedAt: number | undefined;
    for (let i = 0; i < 60 && orphanedAt === undefined; i++) {
      ({ state: s, now } = seconds(s, ids, now, 1, new Set(['n1'])));
      if (s.tasks.find((t) => t.id === dbTask.id)!.status.state === 'orphaned') orphanedAt = now;
    }
    const lastHeard = t0; // the last pass n1 answered in
    expect(orphanedAt).toBeDefined();
    expect(orphanedAt! - lastHeard).toBeGreaterThan(30_000);
    expect(orphanedAt! - lastHeard).toBeLessThanOrEqual(32_000);
    ({ state: s } = seconds(s, ids, now, 5, new Set(['n1'])));
    expect(running(s, db.id).map((t) => t.nodeId)).toEqual(['n2']);
  });
});
