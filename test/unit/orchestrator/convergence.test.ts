// Randomised (seeded) stories in the simulator: whatever happens, once things settle every
// service has exactly its replicas live, one per slot, at the current spec version, running.

import { describe, expect, it } from 'vitest';
import type { ClusterState, ServiceObj } from '../../../manager/store/types.js';
import { T0, cluster, converge, idGen, liveSlots, node, service, withService } from './fixtures.js';

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 32; };
}

describe('convergence (seeded random stories)', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i', (seed) => {
    const r = rng(seed);
    const ids = idGen();
    const nodes = ['n1', 'n2', 'n3'].map((id) => node(id));
    let web = service('web', { replicas: 2, update: { parallelism: 1 + Math.floor(r() * 2), order: r() < 0.5 ? 'stop-first' : 'start-first' } });
    const agent = service('agent', { mode: 'global' });
    let s: ClusterState = cluster({ nodes, services: [web, agent] });
    let now = T0;
    const silent = new Set<string>();
    for (let step = 0; step < 12; step++) {
      const roll = r();
      if (roll < 0.35) {
        web = { ...web, spec: { ...web.spec, deploy: { ...web.spec.deploy, replicas: Math.floor(r() * 6) } } };
      } else if (roll < 0.6) {
        web = { ...web, specVersion: web.specVersion + 1, spec: { ...web.spec, image: `app:${web.specVersion + 1}` } };
      } else if (roll < 0.8) {
        const n = `n${1 + Math.floor(r() * 3)}`;
        if (silent.has(n)) {
          silent.delete(n);
          s = { ...s, nodes: s.nodes.map((x) => (x.id === n ? { ...x, status: { ...x.status, state: 'ready' as const, lastHeartbeat: now } } : x)) };
        } else if (silent.size < 2) silent.add(n);
      } else {
        const n = `n${1 + Math.floor(r() * 3)}`;
        const avail = (['active', 'pause', 'drain'] as const)[Math.floor(r() * 3)];
        s = { ...s, nodes: s.nodes.map((x) => (x.id === n ? { ...x, spec: { ...x.spec, availability: avail } } : x)) };
      }
      const cur = s.services.find((x) => x.id === web.id)!;
      web = { ...web, meta: cur.meta, updateStatus: cur.updateStatus };
      s = withService(s, web);
      ({ state: s, now } = converge(s, ids, { now: now + 10_000, silent, maxSteps: 80 }));

      const svc = s.services.find((x) => x.id === web.id) as ServiceObj;
      const usable = s.nodes.filter((n) => n.status.state === 'ready' && n.spec.availability === 'active');
      if (usable.length > 0) {
        expect(liveSlots(s, web.id), `seed ${seed} step ${step}`).toEqual(Array.from({ length: svc.spec.deploy.replicas }, (_, i) => i + 1));
        const live = s.tasks.filter((t) => t.serviceId === web.id && t.desiredState === 'running');
        expect(live.every((t) => t.specVersion === svc.specVersion && t.status.state === 'running')).toBe(true);
      }
      const agents = s.tasks.filter((t) => t.serviceId === agent.id && t.desiredState === 'running' && t.status.state === 'running');
      for (const n of usable) expect(agents.filter((t) => t.nodeId === n.id), `seed ${seed} step ${step} agent on ${n.id}`).toHaveLength(1);
      const gone = s.nodes.filter((n) => n.status.state === 'down' || n.spec.availability === 'drain').map((n) => n.id);
      expect(agents.filter((t) => gone.includes(t.nodeId!))).toEqual([]);
      // at most one live task per slot
      const slots = liveSlots(s, web.id);
      expect(new Set(slots).size).toBe(slots.length);
    }
  });
});
