// What the scheduler knows about a node: the node plus the tasks that hold its resources.
// Built once per pass and updated as the pass assigns tasks, so later decisions in the same
// pass see earlier ones.

import { publishedPortKey } from '../../common/api/ports.js';
import type { ClusterState, NodeObj, TaskObj } from '../store/types.js';
import { byId, holdsNode } from '../objects/task.js';

export interface NodeInfo {
  node: NodeObj;
  /** Tasks that hold resources or ports on the node: assigned to it and not yet terminal. */
  tasks: TaskObj[];
  /** CPU and memory reserved by those tasks. */
  reserved: { nanoCpus: number; memoryBytes: number };
  /** Host-mode published ports in use, "80/tcp". */
  hostPorts: Set<string>;
  /** Tasks meant to run (desiredState running), per service id, and in total. */
  serviceTasks: Map<string, number>;
  activeTasks: number;
}

export { holdsNode };

export const taskNanoCpus = (t: TaskObj): number => Math.round((t.spec.deploy.resources.reservations.cpus ?? 0) * 1e9);
export const taskMemory = (t: TaskObj): number => t.spec.deploy.resources.reservations.memory ?? 0;
export const hostPortsOf = (t: TaskObj): string[] =>
  t.spec.ports.filter((p) => p.mode === 'host' && p.published !== undefined).map(publishedPortKey);

export function emptyNodeInfo(node: NodeObj): NodeInfo {
  return { node, tasks: [], reserved: { nanoCpus: 0, memoryBytes: 0 }, hostPorts: new Set(), serviceTasks: new Map(), activeTasks: 0 };
}

/** Account a task on a node (used both for existing tasks and for this pass's assignments). */
export function addTask(info: NodeInfo, t: TaskObj): void {
  info.tasks.push(t);
  info.reserved.nanoCpus += taskNanoCpus(t);
  info.reserved.memoryBytes += taskMemory(t);
  for (const p of hostPortsOf(t)) info.hostPorts.add(p);
  if (t.desiredState === 'running') {
    info.serviceTasks.set(t.serviceId, (info.serviceTasks.get(t.serviceId) ?? 0) + 1);
    info.activeTasks++;
  }
}

export function buildNodeInfos(state: Pick<ClusterState, 'nodes' | 'tasks'>): Map<string, NodeInfo> {
  const infos = new Map<string, NodeInfo>();
  for (const n of [...state.nodes].sort(byId)) infos.set(n.id, emptyNodeInfo(n));
  for (const t of state.tasks) {
    if (!holdsNode(t)) continue;
    const info = infos.get(t.nodeId!);
    if (info) addTask(info, t);
  }
  return infos;
}

