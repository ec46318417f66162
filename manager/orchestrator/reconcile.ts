// What both orchestrators do once they know a service's slots: settle the slots (slots.ts),
// then run the rolling update over what they hold (update.ts), as one plan.

import type { ClusterState, ServiceObj, StoreOp } from '../store/types.js';
import { Plan } from '../objects/task.js';
import { reconcileSlots, type SlotRules } from './slots.js';
import { planUpdate } from './update.js';

export interface Reconcile {
  ops: StoreOp[];
  /** Call again at this time (restart and update delays). */
  wakeAt?: number;
}

/**
 * One service's decision under the slot rules of its mode. A task's node is gone when it
 * left the cluster or is down: nothing will report that task stopped.
 */
export function reconcileWith(state: ClusterState, service: ServiceObj, now: number, newId: () => string, rules: Omit<SlotRules, 'nodeGone'>): Reconcile {
  const plan = new Plan(now);
  const tasks = state.tasks.filter((t) => t.serviceId === service.id);
  const views = reconcileSlots({ service, tasks, now, newId, plan }, { ...rules, nodeGone: nodeGoneIn(state) });
  planUpdate({ service, views, now, newId, plan, placement: rules.placement, tasks });
  return { ops: plan.ops(), ...(plan.wakeAt !== undefined ? { wakeAt: plan.wakeAt } : {}) };
}

/** Whether a node is gone (left the cluster) or down in `state`. */
export function nodeGoneIn(state: ClusterState): (nodeId: string | undefined) => boolean {
  const nodes = new Map(state.nodes.map((n) => [n.id, n]));
  return (id) => {
    const n = id === undefined ? undefined : nodes.get(id);
    return !n || n.status.state === 'down';
  };
}
