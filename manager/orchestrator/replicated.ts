// Replicated services: exactly `replicas` live slots, numbered 1..N.

import type { ClusterState, ServiceObj } from '../store/types.js';
import { reconcileWith, type Reconcile } from './reconcile.js';

export type { Reconcile } from './reconcile.js';

export function reconcileReplicated(state: ClusterState, service: ServiceObj, now: number, newId: () => string): Reconcile {
  const nodes = new Map(state.nodes.map((n) => [n.id, n]));
  const replicas = Math.max(0, service.spec.deploy.replicas);
  return reconcileWith(state, service, now, newId, {
    wanted: Array.from({ length: replicas }, (_, i) => i + 1),
    frozen: new Set(),
    keyOf: (t) => t.slot,
    placement: (key) => ({ slot: Number(key) }),
    mustMove: (t) => {
      const n = t.nodeId === undefined ? undefined : nodes.get(t.nodeId);
      return n?.spec.availability === 'drain' ? `node ${n.description.hostname} is drained` : undefined;
    },
  });
}
