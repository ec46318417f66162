// Global services: one task per eligible node, following joins, drains, pauses and labels.

import { nodeSatisfies } from '../../common/api/constraint.js';
import type { ClusterState, NodeObj, ServiceObj } from '../store/types.js';
import { byId } from '../objects/task.js';
import { reconcileWith, type Reconcile } from './reconcile.js';

export type GlobalNodeFit = 'run' | 'keep' | 'stop';

/**
 * What a node means for a global service: 'run' (ready or not yet known, active, constraints
 * met: it gets a task), 'keep' (paused or disconnected: existing tasks stay, none is added or
 * restarted), 'stop' (down, drained, gone or constraints no longer met: tasks are shut down).
 */
export function globalNodeFit(node: NodeObj, service: ServiceObj): GlobalNodeFit {
  if (node.status.state === 'down' || node.spec.availability === 'drain') return 'stop';
  if (!nodeSatisfies(service.spec.deploy.placement.constraints, node)) return 'stop';
  if (node.spec.availability === 'pause' || node.status.state === 'disconnected') return 'keep';
  return 'run';
}

export function reconcileGlobal(state: ClusterState, service: ServiceObj, now: number, newId: () => string): Reconcile {
  const sorted = [...state.nodes].sort(byId);
  const fit = new Map(sorted.map((n) => [n.id, globalNodeFit(n, service)]));
  return reconcileWith(state, service, now, newId, {
    wanted: sorted.filter((n) => fit.get(n.id) === 'run').map((n) => n.id),
    frozen: new Set(sorted.filter((n) => fit.get(n.id) === 'keep').map((n) => n.id)),
    keyOf: (t) => t.nodeId,
    placement: (key) => ({ nodeId: String(key) }),
  });
}
