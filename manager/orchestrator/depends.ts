// depends_on, enforced cluster-wide: a service starts (its first task at its current spec
// version is created) only once each dependency meets its condition:
//   service_started                 a task of the dependency runs (or, for a job, completed)
//   service_healthy                 a task of the dependency is up: running, and healthy where
//                                   its spec has a healthcheck
//   service_completed_successfully  the dependency's current spec completed: every slot holds a
//                                   task that exited 0 (a job, or a one-shot service)
// A dependency that failed (a job or one-shot task failed for good, or a service whose tasks
// keep failing and none is up) is reported; an optional one (`required: false`) that is missing
// or failed does not hold the service back. Once the service has a task at its current spec
// version the gate is passed: restarts, rescheduling and scaling do not wait again; a new spec
// version (a redeploy that changes it) waits again. Pure: the orchestrator gates on it, the API
// shows it.

import type { DependsOnSpec } from '../../common/spec.js';
import { taskName } from '../../common/api/objects.js';
import { isTerminal, type ClusterState, type NodeObj, type ServiceObj, type TaskObj } from '../store/types.js';
import { isUp, newestFirst } from '../objects/task.js';
import { completionOf } from './jobs.js';
import { deathReason, isFailure } from './restart.js';

/** How many failures in a row (a slot's restart streak) count as "keeps failing". */
export const KEEPS_FAILING = 3;

export interface DependencyWait {
  /** The dependency's name in the stack file. */
  dependency: string;
  condition: DependsOnSpec['condition'];
  /** "waiting for db to be healthy" */
  message: string;
  /** Set when the dependency failed: why, e.g. "migrate failed: task st_migrate.1 failed: exit code 3". */
  failure?: string;
}

export interface DependencyGate {
  /** Unmet required dependencies (by name) of a service that has not started at its spec version. */
  waits: DependencyWait[];
  /** The service may start: nothing to wait for, or it started already at this spec version. */
  open: boolean;
}

const conditionWords: Record<DependsOnSpec['condition'], string> = {
  service_started: 'to start',
  service_healthy: 'to be healthy',
  service_completed_successfully: 'to complete successfully',
};


/** The dependency `name` of `service`: the service of that name in the same stack. */
export function findDependency(services: readonly ServiceObj[], service: ServiceObj, name: string): ServiceObj | undefined {
  return services.find((s) => s.stack === service.stack && s.shortName === name && s.id !== service.id);
}

/** Whether the dependency meets the condition now. */
export function conditionMet(dep: ServiceObj, condition: DependsOnSpec['condition'], tasks: readonly TaskObj[], nodes: readonly NodeObj[], now: number): boolean {
  const mine = tasks.filter((t) => t.serviceId === dep.id && t.desiredState === 'running');
  switch (condition) {
    case 'service_started': return mine.some((t) => t.status.state === 'running' || t.status.state === 'complete');
    case 'service_healthy': return mine.some(isUp);
    case 'service_completed_successfully': {
      // nothing to run (replicas 0, no eligible node) is nothing to wait for, as deploy counts it
      const c = completionOf(dep, tasks, nodes, now);
      return c.completed >= c.total;
    }
  }
}

/** Why the dependency failed, if it did: a final failure, or tasks that keep failing with none up. */
export function dependencyFailure(dep: ServiceObj, tasks: readonly TaskObj[], nodes: readonly NodeObj[], now: number): string | undefined {
  const c = completionOf(dep, tasks, nodes, now);
  if (c.failed) return `${dep.shortName} failed: task ${taskName(c.failed)} ${reasonOf(c.failed)}`;
  const mine = tasks.filter((t) => t.serviceId === dep.id);
  if (mine.some((t) => t.desiredState === 'running' && isUp(t))) return undefined;
  const last = mine.filter((t) => isTerminal(t.status.state) && isFailure(t)).sort(newestFirst)[0];
  if (!last || (last.restartStreak ?? 0) + 1 < KEEPS_FAILING) return undefined;
  return `${dep.shortName} keeps failing: task ${taskName(last)} ${reasonOf(last)}`;
}

function reasonOf(t: TaskObj): string {
  const r = deathReason(t).replace(/^task /, '');
  return t.status.err && !r.includes(t.status.err) && t.status.exitCode === undefined ? `${r} (${t.status.err})` : r;
}

/** Whether the service has a task at its current spec version (it started: the gate is passed). */
const started = (service: ServiceObj, tasks: readonly TaskObj[]): boolean =>
  tasks.some((t) => t.serviceId === service.id && t.specVersion === service.specVersion);

/** What the service waits for (empty: nothing), and whether it may start. */
export function dependencyGate(state: Pick<ClusterState, 'services' | 'tasks' | 'nodes'>, service: ServiceObj, now: number): DependencyGate {
  const deps = service.spec.depends_on ?? {};
  const waits: DependencyWait[] = [];
  if (Object.keys(deps).length === 0 || started(service, state.tasks)) return { waits, open: true };
  for (const name of Object.keys(deps).sort()) {
    const d = deps[name];
    const words = conditionWords[d.condition] ?? 'to start';
    const dep = findDependency(state.services, service, name);
    if (!dep) {
      if (d.required !== false) waits.push({ dependency: name, condition: d.condition, message: `waiting for ${name} ${words}: it is not deployed` });
      continue;
    }
    if (conditionMet(dep, d.condition, state.tasks, state.nodes, now)) continue;
    const failure = dependencyFailure(dep, state.tasks, state.nodes, now);
    if (failure && d.required === false) continue;
    waits.push({ dependency: name, condition: d.condition, message: `waiting for ${name} ${words}`, ...(failure ? { failure } : {}) });
  }
  return { waits, open: waits.length === 0 };
}
