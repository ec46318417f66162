// Replicated services: exactly `replicas` live slots, numbered 1..N.

import type { ClusterState, ServiceObj, StoreOp } from '../store/types.js';
import { reconcileSlots } from './slots.js';
import { Plan } from '../objects/task.js';
import { planUpdate } from './update.js';

export interface Reconcile {
  ops: StoreOp[];
  /** Call again at this time (restart and update delays). */
  wakeAt?: number;
}

export function reconcileReplicated(state: ClusterState, service: ServiceObj, now: number, newId: () => string): Reconcile {
  const plan = new Plan(now);
  const nodes = new Map(state.nodes.map((n) => [n.id, n]));
  const replicas = Math.max(0, service.spec.deploy.replicas);
  const placement = (key: number | string) => ({ slot: Number(key) });
  const views = reconcileSlots(
    { service, tasks: state.tasks.filter((t) => t.serviceId === service.id), now, newId, plan },
    {
      wanted: Array.from({ length: replicas }, (_, i) => i + 1),
      frozen: new Set(),
      keyOf: (t) => t.slot,
      placement,
      mustMove: (t) => {
        const n = t.nodeId === undefined ? undefined : nodes.get(t.nodeId);
        return n?.spec.availability === 'drain' ? `node ${n.description.hostname} is drained` : undefined;
      },
      nodeGone: (id) => id === undefined || !nodes.has(id) || nodes.get(id)!.status.state === 'down',
    },
  );
  planUpdate({ service, views, now, newId, plan, placement, tasks: state.tasks.filter((t) => t.serviceId === service.id) });
  return { ops: plan.ops(), ...(plan.wakeAt !== undefined ? { wakeAt: plan.wakeAt } : {}) };
}
