// The node monitor with nodes whose Docker engine does not answer: shown at once, down after the
// grace (like a silent node), ready again when the engine answers. A fake clock: `now` is given.

import { describe, expect, it } from 'vitest';
import { checkNodes } from '../../../manager/nodemonitor/index.js';
import type { EngineDown } from '../../../manager/objects/node.js';
import type { NodeObj, StoreOp } from '../../../manager/store/types.js';
import { T0, cluster, node, service, task, updates } from '../orchestrator/fixtures.js';

const GRACE = 3000;
const nodeWrites = (ops: StoreOp[]): NodeObj[] => ops.flatMap((o) => (o.op === 'update' && o.obj.kind === 'node' ? [o.obj as NodeObj] : []));
const engineDown = (since: number, error = 'connect ENOENT /run/docker.sock'): EngineDown => ({ error, since });
const engineNode = (id: string, o: Parameters<typeof node>[1] & { engine?: 'down'; message?: string } = {}): NodeObj => {
  const n = node(id, o);
  return { ...n, status: { ...n.status, message: o.message ?? n.status.message, ...(o.engine ? { engine: o.engine } : {}) } };
};

describe('checkNodes: a node whose engine does not answer', () => {
  const svc = service('web', { replicas: 2 });
  const tasks = [task(svc, { id: 'a', slot: 1, nodeId: 'n1' }), task(svc, { id: 'b', slot: 2, nodeId: 'n2' })];

  interface Case {
    name: string;
    node: NodeObj;
    /** When the dispatcher last heard from n1 (undefined: not since it leads). */
    heard?: number;
    engine?: EngineDown;
    now: number;
    /** What n1 becomes: undefined = not written. */
    want?: { state: string; message: string; engine?: 'down' };
    orphaned: string[];
    wakeAt?: number;
  }

  const cases: Case[] = [
    {
      name: 'engine just went down: shown at once, not down yet, woken when the grace ends',
      node: engineNode('n1'), heard: T0, engine: engineDown(T0 - 500), now: T0,
      want: { state: 'ready', message: 'engine down: connect ENOENT /run/docker.sock', engine: 'down' },
      orphaned: [], wakeAt: T0 - 500 + GRACE + 1,
    },
    {
      name: 'already shown: nothing written again on the next heartbeat (one write per change)',
      node: engineNode('n1', { engine: 'down', message: 'engine down: x' }), heard: T0, engine: engineDown(T0 - 2000, 'another text'), now: T0,
      want: undefined, orphaned: [], wakeAt: T0 - 2000 + GRACE + 1,
    },
    {
      name: 'engine down for longer than the grace while heartbeats go on: down, its tasks orphaned',
      node: engineNode('n1', { engine: 'down', message: 'engine down: x' }), heard: T0, engine: engineDown(T0 - GRACE - 1), now: T0,
      want: { state: 'down', message: 'Docker engine not answering: connect ENOENT /run/docker.sock', engine: 'down' },
      orphaned: ['a'],
    },
    {
      name: 'exactly at the grace: not yet',
      node: engineNode('n1', { engine: 'down', message: 'engine down: x' }), heard: T0, engine: engineDown(T0 - GRACE), now: T0,
      want: undefined, orphaned: [], wakeAt: T0 + 1,
    },
    {
      name: 'silent as well: the heartbeat failure is what it is down for',
      node: engineNode('n1', { heartbeat: T0 - 10_000 }), heard: T0 - 10_000, engine: engineDown(T0 - 10_000), now: T0,
      want: { state: 'down', message: 'heartbeat failure', engine: 'down' }, orphaned: ['a'],
    },
    {
      name: 'engine answers again before the grace: the mark goes, the node stays ready',
      node: engineNode('n1', { engine: 'down', message: 'engine down: x' }), heard: T0, now: T0,
      want: { state: 'ready', message: '' }, orphaned: [], wakeAt: T0 + GRACE + 1,
    },
    {
      name: 'nothing heard yet from a marked node (a new leader): the mark stays until it says otherwise',
      node: engineNode('n1', { engine: 'down', message: 'engine down: x' }), now: T0,
      want: undefined, orphaned: [], wakeAt: T0 + GRACE + 1,
    },
    {
      name: 'down for its engine, heartbeats go on, engine still down: stays down (no flapping)',
      node: engineNode('n1', { state: 'down', engine: 'down', message: 'Docker engine not answering: x' }), heard: T0, engine: engineDown(T0 - 60_000), now: T0,
      want: undefined, orphaned: ['a'],
    },
    {
      name: 'down for its engine, the engine answers again: ready, mark cleared',
      node: engineNode('n1', { state: 'down', engine: 'down', message: 'Docker engine not answering: x' }), heard: T0, now: T0,
      want: { state: 'ready', message: '' }, orphaned: [], wakeAt: T0 + GRACE + 1,
    },
    {
      name: 'down for silence, heard again but its engine is down: stays down, the engine shown',
      node: engineNode('n1', { state: 'down', message: 'heartbeat failure' }), heard: T0, engine: engineDown(T0), now: T0,
      want: { state: 'down', message: 'Docker engine not answering: connect ENOENT /run/docker.sock', engine: 'down' }, orphaned: ['a'],
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const nodes = [c.node, node('n2')];
      const d = checkNodes(cluster({ nodes, services: [svc], tasks }), {
        now: c.now, graceMs: GRACE,
        heartbeats: new Map([...(c.heard !== undefined ? [['n1', c.heard] as const] : []), ['n2', c.now] as const]),
        engines: new Map(c.engine ? [['n1', c.engine]] : []),
      });
      const n1 = nodeWrites(d.ops).find((n) => n.id === 'n1');
      expect(n1 && { state: n1.status.state, message: n1.status.message, ...(n1.status.engine ? { engine: n1.status.engine } : {}) }).toEqual(c.want);
      expect(nodeWrites(d.ops).map((n) => n.id).filter((id) => id !== 'n1')).toEqual([]);
      expect(updates(d.ops).map((t) => t.id)).toEqual(c.orphaned);
      if (c.wakeAt !== undefined) expect(d.wakeAt).toBe(c.wakeAt);
      expect(d.down.map((n) => n.id)).toEqual(c.want?.state === 'down' && c.node.status.state !== 'down' ? ['n1'] : []);
      expect(d.ready.map((n) => n.id)).toEqual(c.want?.state === 'ready' && c.node.status.state === 'down' ? ['n1'] : []);
    });
  }

  it('a story on a fake clock: down at T, shown, down after the grace, ready when it answers', () => {
    let s = cluster({ nodes: [node('n1'), node('n2')], services: [svc], tasks });
    const engines = new Map<string, EngineDown>();
    const pass = (now: number) => {
      const d = checkNodes(s, { now, graceMs: GRACE, heartbeats: new Map([['n1', now], ['n2', now]]), engines });
      for (const op of d.ops) {
        if (op.op !== 'update') continue;
        if (op.obj.kind === 'node') s = { ...s, nodes: s.nodes.map((n) => (n.id === op.obj.id ? op.obj as NodeObj : n)) };
        if (op.obj.kind === 'task') s = { ...s, tasks: s.tasks.map((t) => (t.id === op.obj.id ? op.obj as typeof t : t)) };
      }
      return d;
    };
    const n1 = () => s.nodes.find((n) => n.id === 'n1')!;
    expect(pass(T0).ops).toEqual([]);
    engines.set('n1', engineDown(T0 + 1000));
    expect(pass(T0 + 1000).ops).toHaveLength(1);
    expect([n1().status.state, n1().status.engine]).toEqual(['ready', 'down']);
    // Heartbeats during the grace write nothing.
    for (const t of [T0 + 2000, T0 + 3000, T0 + 4000]) expect(pass(t).ops).toEqual([]);
    const d = pass(T0 + 4001);
    expect(d.down.map((n) => n.id)).toEqual(['n1']);
    expect(s.tasks.find((t) => t.id === 'a')!.status.state).toBe('orphaned');
    expect(pass(T0 + 5000).ops).toEqual([]);
    engines.delete('n1');
    expect(pass(T0 + 6000).ready.map((n) => n.id)).toEqual(['n1']);
    expect([n1().status.state, n1().status.engine, n1().status.message]).toEqual(['ready', undefined, '']);
    expect(pass(T0 + 7000).ops).toEqual([]);
  });
});
