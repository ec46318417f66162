// Which objects a node must hold: pure, so it is tested without sockets.

import { networkFullName, volumeFullName } from '../../common/spec.js';
import {
  isTerminal, taskStateIndex, type ClusterState, type ConfigObj, type NetworkObj, type SecretObj, type TaskObj, type VolumeObj,
} from '../store/types.js';

export interface AssignmentSet {
  tasks: Map<string, TaskObj>;
  networks: Map<string, NetworkObj>;
  volumes: Map<string, VolumeObj>;
  /** The secrets and configs the node's tasks may still start with (by id): nothing else. */
  secrets: Map<string, SecretObj>;
  configs: Map<string, ConfigObj>;
}

/** A task is on its node's list from scheduling until it is dead and no longer wanted running. */
export function isAssigned(t: TaskObj, nodeId: string): boolean {
  if (t.nodeId !== nodeId) return false;
  if (taskStateIndex(t.status.state) < taskStateIndex('assigned')) return false;
  if (isTerminal(t.status.state) && t.desiredState !== 'running') return false;
  return true;
}

type Resources = Pick<ClusterState, 'networks' | 'volumes'>;

/** What resolves the networks and volumes of the store a task's spec names (those that exist). */
export function resourcesOfTasks(state: Resources): (t: TaskObj) => { networks: NetworkObj[]; volumes: VolumeObj[] } {
  const netByName = new Map(state.networks.map((n) => [n.name, n]));
  const volByName = new Map(state.volumes.map((v) => [v.name, v]));
  return (t) => {
    const networks: NetworkObj[] = [];
    const volumes: VolumeObj[] = [];
    for (const key of Object.keys(t.spec.networks)) {
      const n = state.networks.find((x) => x.stack === t.stack && x.name === networkFullName(t.stack, key, x.spec))
        ?? netByName.get(networkFullName(t.stack, key));
      if (n) networks.push(n);
    }
    for (const m of t.spec.volumes) {
      if (m.type !== 'volume' || !m.source) continue;
      const v = state.volumes.find((x) => x.stack === t.stack && x.name === volumeFullName(t.stack, m.source!, x.spec))
        ?? volByName.get(volumeFullName(t.stack, m.source));
      if (v) volumes.push(v);
    }
    return { networks, volumes };
  };
}

/**
 * Whether an assigned task may still need its secrets and configs: the agent writes them when it
 * starts the container, and a task that ended, or is to be stopped, never starts one again.
 * So a value leaves a node with the last of its tasks there that could still use it.
 */
export const needsFiles = (t: TaskObj): boolean => !isTerminal(t.status.state) && t.desiredState === 'running';

type Files = Partial<Pick<ClusterState, 'secrets' | 'configs'>>;

export function assignmentsFor(state: Pick<ClusterState, 'tasks'> & Resources & Files, nodeId: string): AssignmentSet {
  const tasks = new Map<string, TaskObj>();
  const networks = new Map<string, NetworkObj>();
  const volumes = new Map<string, VolumeObj>();
  const secrets = new Map<string, SecretObj>();
  const configs = new Map<string, ConfigObj>();
  const resourcesOf = resourcesOfTasks(state);
  // By id only: a reference the manager did not resolve names nothing on this node.
  const secretById = new Map((state.secrets ?? []).map((x) => [x.id, x]));
  const configById = new Map((state.configs ?? []).map((x) => [x.id, x]));
  for (const t of state.tasks) {
    if (!isAssigned(t, nodeId)) continue;
    tasks.set(t.id, t);
    const r = resourcesOf(t);
    for (const n of r.networks) networks.set(n.id, n);
    for (const v of r.volumes) volumes.set(v.id, v);
    if (!needsFiles(t)) continue;
    for (const ref of t.spec.secrets ?? []) {
      const x = ref.id === undefined ? undefined : secretById.get(ref.id);
      if (x) secrets.set(x.id, x);
    }
    for (const ref of t.spec.configs ?? []) {
      const x = ref.id === undefined ? undefined : configById.get(ref.id);
      if (x) configs.set(x.id, x);
    }
  }
  return { tasks, networks, volumes, secrets, configs };
}
