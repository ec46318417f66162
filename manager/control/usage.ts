import { assignmentsFor } from '../objects/assignments.js';
import type { ClusterState } from '../store/types.js';

/** Ids of networks and volumes that some node still needs for the tasks it holds (or will). */
export function assignedNetworksAndVolumes(s: ClusterState): { networks: Set<string>; volumes: Set<string> } {
  const networks = new Set<string>();
  const volumes = new Set<string>();
  // Tasks not yet on a node still need what their spec names once scheduled.
  const nodes = new Set(s.tasks.map((t) => t.nodeId ?? ''));
  for (const nodeId of nodes) {
    const pendingAsAssigned = s.tasks.map((t) => (t.nodeId ? t : { ...t, nodeId: '', status: { ...t.status, state: 'assigned' as const } }));
    const set = assignmentsFor({ tasks: pendingAsAssigned, networks: s.networks, volumes: s.volumes }, nodeId);
    for (const id of set.networks.keys()) networks.add(id);
    for (const id of set.volumes.keys()) volumes.add(id);
  }
  return { networks, volumes };
}
