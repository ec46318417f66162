// The scheduler decision: every pending task that should run gets a node, or an error saying
// why none fits. Pure: a function of the cluster state and the time.

import { defaultFilters, filterNodes, type Filter } from './filters.js';
import { addTask, buildNodeInfos, cmp } from './nodeinfo.js';
import { pickNode } from './rank.js';
import type { ClusterState, StoreOp, TaskObj } from '../store/types.js';

/** Tasks the scheduler places: not yet assigned and meant to run. */
export const needsScheduling = (t: TaskObj): boolean =>
  (t.status.state === 'pending' || t.status.state === 'new') && t.desiredState === 'running';

/** Global tasks (node chosen by the orchestrator) first, then oldest first. */
const scheduleOrder = (a: TaskObj, b: TaskObj): number =>
  Number(a.nodeId === undefined) - Number(b.nodeId === undefined)
  || a.meta.createdAt - b.meta.createdAt
  || cmp(a.serviceName, b.serviceName)
  || (a.slot ?? 0) - (b.slot ?? 0)
  || cmp(a.id, b.id);

export function schedule(state: ClusterState, now: number, filters: Filter[] = defaultFilters()): StoreOp[] {
  const infos = buildNodeInfos(state);
  const all = [...infos.values()];
  const ops: StoreOp[] = [];
  for (const task of state.tasks.filter(needsScheduling).sort(scheduleOrder)) {
    let error: string | undefined;
    let chosen;
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
      ops.push({ op: 'update', obj: assigned });
    } else if (error !== undefined && task.status.err !== error) {
      ops.push({ op: 'update', obj: { ...task, meta: { ...task.meta, updatedAt: now }, status: { ...task.status, err: error } } });
    }
  }
  return ops;
}
