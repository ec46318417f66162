import { describe, expect, it } from 'vitest';
import { checkNodes } from '../../../manager/nodemonitor/index.js';
import type { NodeObj } from '../../../manager/store/types.js';
import { T0, cluster, converge, idGen, node, service, task, updates } from '../orchestrator/fixtures.js';

describe('checkNodes', () => {
  it('marks a ready node down after the grace period and orphans its tasks', () => {
    const svc = service('web', { replicas: 3 });
    const nodes = [node('n1', { heartbeat: T0 - 3001, hostname: 'alpha' }), node('n2', { heartbeat: T0 - 3000 }), node('n3', { state: 'disconnected', heartbeat: 0 })];
    const tasks = [
      task(svc, { id: 'run', slot: 1, nodeId: 'n1' }),
      task(svc, { id: 'stopping', slot: 2, nodeId: 'n1', desired: 'shutdown' }),
      task(svc, { id: 'dead', slot: 3, nodeId: 'n1', state: 'failed' }),
      task(svc, { id: 'other', slot: 3, nodeId: 'n2' }),
    ];
    const { ops } = checkNodes(cluster({ nodes, services: [svc], tasks }), { now: T0, graceMs: 3000 });
    const downed = ops.flatMap((o) => (o.op === 'update' && o.obj.kind === 'node' ? [o.obj as NodeObj] : []));
    expect(downed.map((n) => [n.id, n.status.state, n.status.message, n.meta.version])).toEqual([['n1', 'down', 'heartbeat failure', 1]]);
    expect(updates(ops).map((t) => [t.id, t.status.state, t.status.err])).toEqual([
      ['run', 'orphaned', 'node alpha is down'],
      ['stopping', 'orphaned', 'node alpha is down'],
    ]);
  });

  it('orphans tasks of nodes already down or removed, and leaves pending ones alone', () => {
    const svc = service('web');
    const tasks = [
      task(svc, { id: 'a', nodeId: 'n1', state: 'assigned' }),
      task(svc, { id: 'b', nodeId: 'gone' }),
      task(svc, { id: 'c', state: 'pending' }),
    ];
    const { ops } = checkNodes(cluster({ nodes: [node('n1', { state: 'down' })], services: [svc], tasks }), { now: T0, graceMs: 3000 });
    expect(updates(ops).map((t) => [t.id, t.status.err])).toEqual([['a', 'node host-n1 is down'], ['b', 'node gone was removed']]);
  });

  it('a dead worker\'s tasks run elsewhere (simulator)', () => {
    const ids = idGen();
    const svc = service('web', { replicas: 4 });
    let s = converge(cluster({ nodes: [node('n1'), node('n2')], services: [svc] }), ids).state;
    expect(s.tasks.filter((t) => t.nodeId === 'n2').length).toBe(2);
    s = converge(s, ids, { now: T0 + 60_000, silent: new Set(['n2']) }).state;
    const live = s.tasks.filter((t) => t.desiredState === 'running');
    expect(live.map((t) => [t.slot, t.nodeId, t.status.state]).sort()).toEqual([1, 2, 3, 4].map((n) => [n, 'n1', 'running']));
    expect(s.nodes.find((n) => n.id === 'n2')!.status.state).toBe('down');
  });

  it('reads the heartbeats the dispatcher recorded: newer than the store\'s, they keep a node ready', () => {
    const nodes = [node('n1', { heartbeat: T0 - 60_000 }), node('n2', { heartbeat: T0 - 60_000 })];
    const d = checkNodes(cluster({ nodes }), { now: T0, graceMs: 3000, heartbeats: new Map([['n1', T0 - 1000]]) });
    expect(d.down.map((n) => [n.id, n.status.lastHeartbeat])).toEqual([['n2', T0 - 60_000]]);
    // Asked to look again when n1 would pass its grace.
    expect(d.wakeAt).toBe(T0 - 1000 + 3000 + 1);
  });

  it('gives every node a grace period from when it started watching (a new manager)', () => {
    const nodes = [node('n1', { heartbeat: T0 - 60_000 })];
    expect(checkNodes(cluster({ nodes }), { now: T0, graceMs: 3000, watchingSince: T0 - 1000 }).ops).toEqual([]);
    const later = checkNodes(cluster({ nodes }), { now: T0 + 2001, graceMs: 3000, watchingSince: T0 - 1000 });
    expect(later.down.map((n) => n.id)).toEqual(['n1']);
  });

  it('a down node heard from again is ready; one only remembered is not', () => {
    const nodes = [node('n1', { state: 'down', heartbeat: T0 - 60_000 }), node('n2', { state: 'down', heartbeat: T0 - 60_000 })];
    const d = checkNodes(cluster({ nodes }), { now: T0, graceMs: 3000, heartbeats: new Map([['n1', T0 - 500], ['n2', T0 - 60_000]]), watchingSince: T0 });
    expect(d.ready.map((n) => [n.id, n.status.state, n.status.message, n.status.lastHeartbeat])).toEqual([['n1', 'ready', '', T0 - 500]]);
    expect(d.down).toEqual([]);
  });

  it('a node whose session ended is down once it has not come back within the lost grace; heard since, it stays', () => {
    const nodes = [node('n1', { heartbeat: T0 - 400 }), node('n2', { heartbeat: T0 - 400 }), node('n3', { heartbeat: T0 - 400 })];
    const heartbeats = new Map([['n1', T0 - 400], ['n2', T0 - 100], ['n3', T0 - 400]]);
    // n1 and n2 lost their sessions 300 ms ago; n2 was heard from since (a new session); n3 never lost it.
    const lost = new Map([['n1', T0 - 300], ['n2', T0 - 300]]);
    const early = checkNodes(cluster({ nodes }), { now: T0, graceMs: 1500, heartbeats, lost, lostGraceMs: 500 });
    expect(early.down).toEqual([]);
    expect(early.wakeAt).toBe(T0 - 300 + 500 + 1);
    const d = checkNodes(cluster({ nodes }), { now: T0 + 201, graceMs: 1500, heartbeats, lost, lostGraceMs: 500 });
    expect(d.down.map((n) => [n.id, n.status.message])).toEqual([['n1', 'connection lost']]);
    // Down, it stays down: its last heartbeat is recent, but older than the lost session.
    const again = checkNodes(cluster({ nodes: [d.down[0]!] }), { now: T0 + 300, graceMs: 1500, heartbeats, lost, lostGraceMs: 500 });
    expect([again.ready, again.down]).toEqual([[], []]);
    // Heard from after that (a new session): ready again.
    const back = checkNodes(cluster({ nodes: [d.down[0]!] }), { now: T0 + 400, graceMs: 1500, heartbeats: new Map([['n1', T0 + 350]]), lost: new Map(), lostGraceMs: 500 });
    expect(back.ready.map((n) => n.id)).toEqual(['n1']);
    // Without a lost grace, only silence counts.
    expect(checkNodes(cluster({ nodes }), { now: T0 + 201, graceMs: 1500, heartbeats, lost }).down).toEqual([]);
  });
});
