// The scheduler decision: every pending task that should run gets a node, or an error saying
// why none fits. Pure: a function of the cluster state and the time.

import { defaultFilters, filterNodes, type Filter } from './filters.js';
import { addTask, buildNodeInfos, type NodeInfo } from './nodeinfo.js';
import { cmpStr } from '../objects/task.js';
import { pickNode } from './rank.js';
import type { ClusterState, StoreOp, TaskObj } from '../store/types.js';

/** Tasks the scheduler places: not yet assigned and meant to run. */
export const needsScheduling = (t: TaskObj): boolean =>
  (t.status.state === 'pending' || t.status.state === 'new') && t.desiredState === 'running';

/** Global tasks (node chosen by the orchestrator) first, then oldest first. */
const scheduleOrder = (a: TaskObj, b: TaskObj): number =>
  Number(a.nodeId === undefined) - Number(b.nodeId === undefined)
  || a.meta.createdAt - b.meta.createdAt
  || cmpStr(a.serviceName, b.serviceName)
  || (a.slot ?? 0) - (b.slot ?? 0)
  || cmpStr(a.id, b.id);

/**
 * Place every pending task that should run. `onError` hears of a task whose placement threw
 * (it stays pending with the reason in `status.err`).
 */
export function schedule(state: ClusterState, now: number, filters: Filter[] = defaultFilters(), onError?: (task: TaskObj, error: string) => void): StoreOp[] {
  const infos = buildNodeInfos(state);
  const all = [...infos.values()];
  const ops: StoreOp[] = [];
  for (const task of state.tasks.filter(needsScheduling).sort(scheduleOrder)) {
    // One task whose spec breaks a filter (a malformed object stored earlier) stays pending
    // with the reason; the others are placed as if it were not there.
    let op: StoreOp | undefined;
    try {
      op = place(task, infos, all, filters, now);
    } catch (err) {
      const error = `cannot schedule: ${err instanceof Error ? err.message : String(err)}`;
      onError?.(task, error);
      op = withError(task, error, now);
    }
    if (op) ops.push(op);
  }
  return ops;
}

/** One task's placement: its assignment (accounted on the node), its new error, or nothing. */
function place(task: TaskObj, infos: Map<string, NodeInfo>, all: NodeInfo[], filters: Filter[], now: number): StoreOp | undefined {
  let error: string | undefined;
  let chosen: NodeInfo | undefined;
  if (task.nodeId !== undefined) {
    const info = infos.get(task.nodeId);
    if (!info) error = `no suitable node (node ${task.nodeId} is not in the cluster)`;
    else {
      const r = filterNodes(filters, task, [info]);
      if (r.error) error = r.error;
      else chosen = info;
    }
  } else {
    const r = filterNodes(filters, task, all);
    error = r.error;
    chosen = r.error ? undefined : pickNode(task, r.eligible);
  }
  if (chosen) {
    const assigned: TaskObj = {
      ...task,
      nodeId: chosen.node.id,
      meta: { ...task.meta, updatedAt: now },
      status: { state: 'assigned', timestamp: now, message: 'scheduled' },
    };
    addTask(chosen, assigned);
    return { op: 'update', obj: assigned };
  }
  return error === undefined ? undefined : withError(task, error, now);
}

/** The task stays pending and says why, written only when the text changes. */
const withError = (task: TaskObj, error: string, now: number): StoreOp | undefined =>
  task.status.err === error ? undefined : { op: 'update', obj: { ...task, meta: { ...task.meta, updatedAt: now }, status: { ...task.status, err: error } } };
