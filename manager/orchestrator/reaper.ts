// Task history: keep a bounded number of dead tasks per slot (replicated) or per node
// (global) so `service ps` shows recent failures; remove what nobody needs any more.

import { DEFAULT_TASK_HISTORY_LIMIT, isTerminal, type ClusterState, type StoreOp, type TaskObj } from '../store/types.js';
import { byId, isStarted, newestFirst } from '../objects/task.js';
import { serviceProblem } from '../objects/service.js';

/**
 * - tasks marked 'remove' go once terminal (or if they never reached a node);
 * - tasks of services that no longer exist are marked 'remove' and then go the same way;
 * - per slot / (service, node): at most `historyLimit` tasks, the live ones included, as
 *   Swarm's task history retention limit counts (so 0 and 1 keep no dead task; a negative
 *   limit keeps all); the oldest dead ones go first; a dead task still meant to run (its
 *   restart was refused) is never deleted: it holds its slot;
 * - dead tasks in slots above the replica count, or on nodes that left, are deleted.
 *
 * The limit is the cluster's `taskHistoryLimit` unless `historyLimit` is given.
 */
export function reapTasks(state: ClusterState, historyLimit = state.cluster?.spec.taskHistoryLimit ?? DEFAULT_TASK_HISTORY_LIMIT): StoreOp[] {
  const ops: StoreOp[] = [];
  const services = new Map(state.services.map((s) => [s.id, s]));
  // A service that cannot be orchestrated keeps its tasks but for the history limit.
  const sound = new Set(state.services.filter((s) => serviceProblem(s) === undefined).map((s) => s.id));
  const nodes = new Set(state.nodes.map((n) => n.id));
  const del = (t: TaskObj) => ops.push({ op: 'delete', kind: 'task', id: t.id });
  const groups = new Map<string, { dead: TaskObj[]; live: number }>();
  const tasks = [...state.tasks].sort(byId);

  for (const t of tasks) {
    const terminal = isTerminal(t.status.state);
    const svc = services.get(t.serviceId);
    if (!svc || t.desiredState === 'remove') {
      if (terminal || !isStarted(t)) del(t);
      else if (t.desiredState !== 'remove') ops.push({ op: 'update', obj: { ...t, desiredState: 'remove' } });
      continue;
    }
    if (terminal) {
      if (t.slot !== undefined && sound.has(svc.id) && (svc.spec.deploy.mode === 'replicated' || svc.spec.deploy.mode === 'replicated-job') && t.slot > svc.spec.deploy.replicas && t.desiredState !== 'running') { del(t); continue; }
      if (t.slot === undefined && t.nodeId !== undefined && !nodes.has(t.nodeId) && t.desiredState !== 'running') { del(t); continue; }
    }
    const key = t.slot !== undefined ? `${t.serviceId}/slot/${t.slot}` : `${t.serviceId}/node/${t.nodeId ?? ''}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { dead: [], live: 0 }));
    // Tasks that hold the slot (live, or dead but still meant to run) count, and are kept.
    if (terminal && t.desiredState !== 'running') g.dead.push(t); else g.live++;
  }

  if (historyLimit >= 0) {
    for (const key of [...groups.keys()].sort()) {
      const g = groups.get(key)!;
      const room = Math.max(0, historyLimit - g.live);
      for (const t of g.dead.sort(newestFirst).slice(room)) del(t);
    }
  }
  return ops;
}
