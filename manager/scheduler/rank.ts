// Ranking among feasible nodes: spread preferences narrow the field level by level (the group
// holding the fewest tasks of this service wins), then fewest tasks of this service, then
// fewest tasks in total, then node id so the choice is deterministic.

import { nodeAttribute } from '../../common/api/constraint.js';
import type { NodeInfo } from './nodeinfo.js';
import { cmpStr } from '../objects/task.js';
import type { TaskObj } from '../store/types.js';

/** Nodes missing the label form one group of their own, as in Swarm. */
const MISSING = '';

function spread(task: TaskObj, candidates: NodeInfo[], key: string): NodeInfo[] {
  const groups = new Map<string, { tasks: number; nodes: NodeInfo[] }>();
  for (const info of candidates) {
    const v = nodeAttribute(info.node, key) ?? MISSING;
    const g = groups.get(v) ?? { tasks: 0, nodes: [] };
    g.tasks += info.serviceTasks.get(task.serviceId) ?? 0;
    g.nodes.push(info);
    groups.set(v, g);
  }
  const best = [...groups.entries()].sort(([va, a], [vb, b]) => a.tasks - b.tasks || cmpStr(va, vb))[0];
  return best ? best[1].nodes : candidates;
}

export function rankNodes(task: TaskObj, eligible: readonly NodeInfo[]): NodeInfo[] {
  let candidates = [...eligible];
  for (const pref of task.spec.deploy.placement.preferences) {
    if (pref.spread) candidates = spread(task, candidates, pref.spread);
  }
  return candidates.sort((a, b) =>
    (a.serviceTasks.get(task.serviceId) ?? 0) - (b.serviceTasks.get(task.serviceId) ?? 0)
    || a.activeTasks - b.activeTasks
    || cmpStr(a.node.id, b.node.id));
}

export const pickNode = (task: TaskObj, eligible: readonly NodeInfo[]): NodeInfo | undefined => rankNodes(task, eligible)[0];
