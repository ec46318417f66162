import { describe, expect, it } from 'vitest';
import { ReadyFilter, buildNodeInfos, filterNodes, schedule } from '../../../manager/scheduler/index.js';
import type { NodeObj, ClusterState } from '../../../manager/store/types.js';
import { T0, cluster, node, service, task, updates } from '../orchestrator/fixtures.js';

const engineDown = (n: NodeObj): NodeObj => ({ ...n, status: { ...n.status, engine: 'down', message: 'engine down: connect ENOENT' } });
const pending = (svc: ReturnType<typeof service>, slot: number) => task(svc, { id: `${svc.shortName}.${slot}`, slot, state: 'pending', message: 'created' });
const placed = (s: ClusterState): Record<string, string | undefined> =>
  Object.fromEntries(updates(schedule(s, T0)).map((t) => [t.id, t.status.state === 'assigned' ? t.nodeId : `ERR ${t.status.err}`]));

describe('scheduler: nodes whose Docker engine does not answer', () => {
  it('get no new tasks; the others do', () => {
    const svc = service('web', { replicas: 2 });
    expect(placed(cluster({ nodes: [engineDown(node('n1')), node('n2')], services: [svc], tasks: [pending(svc, 1), pending(svc, 2)] })))
      .toEqual({ 'web.1': 'n2', 'web.2': 'n2' });
  });

  it('the reason names them apart from nodes not available otherwise', () => {
    const svc = service('web');
    const nodes = [engineDown(node('n1')), engineDown(node('n2')), node('n3', { availability: 'drain' }), node('n4', { state: 'down' })];
    expect(placed(cluster({ nodes, services: [svc], tasks: [pending(svc, 1)] })))
      .toEqual({ 'web.1': 'ERR no suitable node (2 nodes not available for new tasks; engine down on 2 nodes)' });
    expect(placed(cluster({ nodes: [engineDown(node('n1'))], services: [svc], tasks: [pending(svc, 1)] })))
      .toEqual({ 'web.1': 'ERR no suitable node (engine down on 1 node)' });
  });

  it('ReadyFilter counts afresh for every task', () => {
    const f = new ReadyFilter();
    const svc = service('web');
    const infos = [...buildNodeInfos(cluster({ nodes: [engineDown(node('n1'))] })).values()];
    expect(filterNodes([f], pending(svc, 1), infos).error).toBe('no suitable node (engine down on 1 node)');
    expect(filterNodes([f], pending(svc, 2), infos).error).toBe('no suitable node (engine down on 1 node)');
  });
});
