// Every service's decision, each one isolated: a service whose spec cannot be orchestrated
// (a malformed object stored earlier, an absurd replica count) or whose decision throws is
// marked as failed and skipped; the others converge as if it were not there.

import type { ClusterState, ServiceObj, StoreOp } from '../store/types.js';
import { serviceProblem } from '../objects/service.js';
import { reconcileGlobal } from './global.js';
import { reconcileReplicated } from './replicated.js';
import { reconcileJob } from './jobs.js';
import { dependencyGate } from './depends.js';
import type { Reconcile } from './reconcile.js';

/** How a failed service's updateStatus message starts (`service inspect`, `deploy` show it). */
export const ORCHESTRATION_FAILED = 'cannot orchestrate this service: ';

export interface ServiceFailure {
  service: ServiceObj;
  /** What is wrong, in words. */
  error: string;
}

export interface ReconcileAll extends Reconcile {
  /** Services left as they are this pass (each one is also marked, see markFailed). */
  failures: ServiceFailure[];
}

/**
 * One service's decision by its mode; throws when the service cannot be orchestrated. A service
 * whose dependencies (depends_on) are not met yet is left as it is: no task of its spec version
 * is created (tasks of an earlier version keep running untouched).
 */
export function reconcileService(state: ClusterState, service: ServiceObj, now: number, newId: () => string): Reconcile {
  const problem = serviceProblem(service);
  if (problem) throw new Error(problem);
  if (!dependencyGate(state, service, now).open) return { ops: [] };
  switch (service.spec.deploy.mode) {
    case 'global': return reconcileGlobal(state, service, now, newId);
    case 'replicated-job':
    case 'global-job': return reconcileJob(state, service, now, newId);
    default: return reconcileReplicated(state, service, now, newId);
  }
}

/** The service marked failed is paused with the reason: nothing of it changes until it is fixed. */
export const isMarkedFailed = (s: ServiceObj): boolean =>
  s.updateStatus?.state === 'paused' && s.updateStatus.message.startsWith(ORCHESTRATION_FAILED);

/** The op marking a service failed, or none when it already says so. */
function markFailed(service: ServiceObj, error: string, now: number): StoreOp[] {
  const message = `${ORCHESTRATION_FAILED}${error}`;
  if (service.updateStatus?.state === 'paused' && service.updateStatus.message === message) return [];
  return [{ op: 'update', obj: { ...service, meta: { ...service.meta, updatedAt: now }, updateStatus: { state: 'paused', startedAt: now, message } } }];
}

export function reconcileServices(state: ClusterState, now: number, newId: () => string): ReconcileAll {
  const ops: StoreOp[] = [];
  const failures: ServiceFailure[] = [];
  let wakeAt: number | undefined;
  for (const stored of state.services) {
    // A service fixed since it was marked starts over without the mark.
    const marked = isMarkedFailed(stored);
    const service = marked ? withoutUpdateStatus(stored) : stored;
    let r: Reconcile;
    try {
      r = reconcileService(state, service, now, newId);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      failures.push({ service: stored, error });
      ops.push(...markFailed(stored, error, now));
      continue;
    }
    ops.push(...r.ops);
    if (marked && !r.ops.some((o) => o.op === 'update' && o.obj.id === service.id)) {
      ops.push({ op: 'update', obj: { ...service, meta: { ...service.meta, updatedAt: now } } });
    }
    if (r.wakeAt !== undefined) wakeAt = Math.min(wakeAt ?? Infinity, r.wakeAt);
  }
  return { ops, failures, ...(wakeAt !== undefined ? { wakeAt } : {}) };
}

function withoutUpdateStatus(s: ServiceObj): ServiceObj {
  const { updateStatus: _cleared, ...rest } = s;
  return rest;
}
