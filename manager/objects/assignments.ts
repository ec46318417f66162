// Which objects a node must hold: pure, so it is tested without sockets.

import { networkFullName, volumeFullName } from '../../common/spec.js';
import { isTerminal, taskStateIndex, type ClusterState, type NetworkObj, type TaskObj, type VolumeObj } from '../store/types.js';

export interface AssignmentSet {
  tasks: Map<string, TaskObj>;
  networks: Map<string, NetworkObj>;
  volumes: Map<string, VolumeObj>;
}

/** A task is on its node's list from scheduling until it is dead and no longer wanted running. */
export function isAssigned(t: TaskObj, nodeId: string): boolean {
  if (t.nodeId !== nodeId) return false;
  if (taskStateIndex(t.status.state) < taskStateIndex('assigned')) return false;
  if (isTerminal(t.status.state) && t.desiredState !== 'running') return false;
  return true;
}

export function assignmentsFor(state: Pick<ClusterState, 'tasks' | 'networks' | 'volumes'>, nodeId: string): AssignmentSet {
  const tasks = new Map<string, TaskObj>();
  const networks = new Map<string, NetworkObj>();
  const volumes = new Map<string, VolumeObj>();
  const netByName = new Map(state.networks.map((n) => [n.name, n]));
  const volByName = new Map(state.volumes.map((v) => [v.name, v]));
  for (const t of state.tasks) {
    if (!isAssigned(t, nodeId)) continue;
    tasks.set(t.id, t);
    for (const key of Object.keys(t.spec.networks)) {
      const n = state.networks.find((x) => x.stack === t.stack && x.name === networkFullName(t.stack, key, x.spec))
        ?? netByName.get(networkFullName(t.stack, key));
      if (n) networks.set(n.id, n);
    }
    for (const m of t.spec.volumes) {
      if (m.type !== 'volume' || !m.source) continue;
      const v = state.volumes.find((x) => x.stack === t.stack && x.name === volumeFullName(t.stack, m.source!, x.spec))
        ?? volByName.get(volumeFullName(t.stack, m.source));
      if (v) volumes.set(v.id, v);
    }
  }
  return { tasks, networks, volumes };
}
