// Jobs (deploy.mode replicated-job | global-job, Swarm's job modes): tasks that run to
// completion. A task that exits 0 is complete and holds its slot for good; one that fails is
// retried per the restart policy (a job's `any` acts as `on-failure`); once a slot's attempts
// are used up the job has failed and starts no further slot. A replicated-job completes
// `replicas` slots (its total completions), at most x-max-concurrent at a time; a global-job
// completes one task per eligible node, new nodes included. A new spec version runs the job
// again: every task of an older version still meant to run is stopped at once (no rolling
// update), then the slots fill again. The same slot engine as the services (slots.ts) settles
// each slot; completion is read from the tasks in the store, so a new leader carries on.

import { effectiveRestartPolicy, isGlobalMode, isJobMode, maxConcurrent } from '../../common/spec.js';
import { isTerminal, type ClusterState, type NodeObj, type ServiceObj, type TaskObj } from '../store/types.js';
import { byId, newestFirst, Plan } from '../objects/task.js';
import { globalNodeFit } from './global.js';
import { nodeGoneIn, type Reconcile } from './reconcile.js';
import { mustMoveFrom } from './replicated.js';
import { isFailure, restartDecision } from './restart.js';
import { reconcileSlots, stopTask, type SlotKey } from './slots.js';

/** How far a service's current spec got towards completion (jobs, and one-shot services). */
export interface Completion {
  /** Slots that must complete: replicas, or eligible nodes (those that completed included). */
  total: number;
  /** Slots holding a task of the current spec that completed (exit 0). */
  completed: number;
  /** Tasks of the current spec running now. */
  running: number;
  /** A task of the current spec whose failure is final (attempts used up, or not to be restarted). */
  failed?: TaskObj;
}

const slotKeyOf = (service: ServiceObj) => (t: TaskObj): SlotKey | undefined => (isGlobalMode(service.spec.deploy.mode) ? t.nodeId : t.slot);

/** Tasks of the service's current spec still meant to run (live, or dead and not replaced). */
const currentTasks = (service: ServiceObj, tasks: readonly TaskObj[]): TaskObj[] =>
  tasks.filter((t) => t.serviceId === service.id && t.specVersion === service.specVersion && t.desiredState === 'running');

/** A dead task of the current spec that will not be restarted: its failure is final. */
export function finalFailure(service: ServiceObj, t: TaskObj, now: number): boolean {
  if (t.desiredState !== 'running' || !isTerminal(t.status.state) || !isFailure(t)) return false;
  return !restartDecision(t, effectiveRestartPolicy(service.spec.deploy), now).restart;
}

/** Nodes of a global job that count: eligible now, or holding a completed task of the current spec. */
function globalJobNodes(service: ServiceObj, nodes: readonly NodeObj[], completedOn: ReadonlySet<string>): string[] {
  return [...nodes].sort(byId).filter((n) => completedOn.has(n.id) || globalNodeFit(n, service) === 'run').map((n) => n.id);
}

export function completionOf(service: ServiceObj, tasks: readonly TaskObj[], nodes: readonly NodeObj[], now: number): Completion {
  const cur = currentTasks(service, tasks);
  const keyOf = slotKeyOf(service);
  const global = isGlobalMode(service.spec.deploy.mode);
  const completedKeys = new Set(cur.filter((t) => t.status.state === 'complete').map(keyOf).filter((k) => k !== undefined));
  let total: number;
  if (global) {
    const eligible = globalJobNodes(service, nodes, completedKeys as Set<string>);
    total = eligible.length;
    for (const k of [...completedKeys]) if (!eligible.includes(String(k))) completedKeys.delete(k);
  } else {
    total = Math.max(0, service.spec.deploy.replicas);
    for (const k of [...completedKeys]) if (typeof k !== 'number' || k > total) completedKeys.delete(k);
  }
  const failed = cur.filter((t) => finalFailure(service, t, now)).sort(newestFirst)[0];
  return {
    total,
    completed: completedKeys.size,
    running: cur.filter((t) => t.status.state === 'running').length,
    ...(failed ? { failed } : {}),
  };
}

/** Stop every task of an older spec version still meant to run: a changed job runs again from the start. */
function stopOlderRuns(plan: Plan, service: ServiceObj, tasks: readonly TaskObj[]): void {
  for (const t of tasks) if (t.specVersion !== service.specVersion && t.desiredState === 'running') stopTask(plan, t);
}

/**
 * The slots a replicated-job wants this pass: every slot that holds a task of the current spec
 * (running, completed, or dead and awaiting its restart decision), and the lowest free slots
 * up to x-max-concurrent tasks not yet complete, unless a slot failed for good.
 */
export function replicatedJobSlots(service: ServiceObj, tasks: readonly TaskObj[], now: number): number[] {
  const total = Math.max(0, service.spec.deploy.replicas);
  const cur = currentTasks(service, tasks).filter((t) => t.slot !== undefined && t.slot >= 1 && t.slot <= total);
  const held = new Set(cur.map((t) => t.slot!));
  const active = new Set(cur.filter((t) => t.status.state !== 'complete').map((t) => t.slot!));
  const failed = cur.some((t) => finalFailure(service, t, now));
  const wanted = new Set(held);
  let room = failed ? 0 : maxConcurrent(service.spec.deploy) - active.size;
  for (let slot = 1; slot <= total && room > 0; slot++) {
    if (held.has(slot)) continue;
    wanted.add(slot);
    room--;
  }
  return [...wanted].sort((a, b) => a - b);
}

export function reconcileReplicatedJob(state: ClusterState, service: ServiceObj, now: number, newId: () => string): Reconcile {
  const plan = new Plan(now);
  const tasks = state.tasks.filter((t) => t.serviceId === service.id);
  stopOlderRuns(plan, service, tasks);
  const nodes = new Map(state.nodes.map((n) => [n.id, n]));
  reconcileSlots(
    { service, tasks, now, newId, plan },
    {
      wanted: replicatedJobSlots(service, tasks, now),
      frozen: new Set(),
      keyOf: (t) => t.slot,
      placement: (key) => ({ slot: Number(key) }),
      mustMove: mustMoveFrom(nodes),
      nodeGone: nodeGoneIn(state),
      restartPolicy: effectiveRestartPolicy(service.spec.deploy),
    },
  );
  return { ops: plan.ops(), ...(plan.wakeAt !== undefined ? { wakeAt: plan.wakeAt } : {}) };
}

export function reconcileGlobalJob(state: ClusterState, service: ServiceObj, now: number, newId: () => string): Reconcile {
  const plan = new Plan(now);
  const tasks = state.tasks.filter((t) => t.serviceId === service.id);
  stopOlderRuns(plan, service, tasks);
  const sorted = [...state.nodes].sort(byId);
  const fit = new Map(sorted.map((n) => [n.id, globalNodeFit(n, service)]));
  // A node where the job completed keeps that task whatever becomes of the node (drained,
  // paused, down): it is not run there again. Nodes that left the cluster are forgotten.
  const completedOn = new Set(currentTasks(service, tasks).filter((t) => t.status.state === 'complete' && t.nodeId !== undefined && fit.has(t.nodeId)).map((t) => t.nodeId!));
  const wanted = sorted.filter((n) => fit.get(n.id) === 'run').map((n) => n.id);
  const frozen = new Set(sorted.filter((n) => fit.get(n.id) === 'keep' || (fit.get(n.id) === 'stop' && completedOn.has(n.id))).map((n) => n.id));
  reconcileSlots(
    { service, tasks, now, newId, plan },
    {
      wanted,
      frozen,
      keyOf: (t) => t.nodeId,
      placement: (key) => ({ nodeId: String(key) }),
      nodeGone: nodeGoneIn(state),
      restartPolicy: effectiveRestartPolicy(service.spec.deploy),
    },
  );
  return { ops: plan.ops(), ...(plan.wakeAt !== undefined ? { wakeAt: plan.wakeAt } : {}) };
}

/** A job's decision by its mode. */
export function reconcileJob(state: ClusterState, service: ServiceObj, now: number, newId: () => string): Reconcile {
  if (!isJobMode(service.spec.deploy.mode)) throw new Error(`${service.name} is not a job`);
  return service.spec.deploy.mode === 'global-job' ? reconcileGlobalJob(state, service, now, newId) : reconcileReplicatedJob(state, service, now, newId);
}
