import { isAssigned, resourcesOfTasks } from '../objects/assignments.js';
import type { ClusterState } from '../store/types.js';

/**
 * Ids of networks and volumes that some node still needs: those of every task on its node's
 * assignment list, and of every task not yet on a node (it needs them once scheduled).
 */
export function assignedNetworksAndVolumes(s: ClusterState): { networks: Set<string>; volumes: Set<string> } {
  const networks = new Set<string>();
  const volumes = new Set<string>();
  const resourcesOf = resourcesOfTasks(s);
  for (const t of s.tasks) {
    if (t.nodeId && !isAssigned(t, t.nodeId)) continue;
    const r = resourcesOf(t);
    for (const n of r.networks) networks.add(n.id);
    for (const v of r.volumes) volumes.add(v.id);
  }
  return { networks, volumes };
}
