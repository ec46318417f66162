// Replicated services: exactly `replicas` live slots, numbered 1..N.

import { nodeSatisfies } from '../../common/api/constraint.js';
import type { ClusterState, NodeObj, ServiceObj, TaskObj } from '../store/types.js';
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
    mustMove: mustMoveFrom(nodes),
  });
}

/** A drained node, or one whose labels no longer meet the task's constraints, gives its tasks up. */
export function mustMoveFrom(nodes: ReadonlyMap<string, NodeObj>): (t: TaskObj) => string | undefined {
  return (t) => {
    const n = t.nodeId === undefined ? undefined : nodes.get(t.nodeId);
    if (!n) return undefined;
    if (n.spec.availability === 'drain') return `node ${n.description.hostname} is drained`;
    const cs = t.spec.deploy.placement.constraints;
    return cs.length > 0 && !nodeSatisfies(cs, n) ? `node ${n.description.hostname} no longer meets the constraints` : undefined;
  };
}
