// The reconcile decision, pure: from what the manager wants of one task (or that it is not
// assigned at all) and what the engine shows of its container, the actions that bring the two
// together. No engine, no clock, no I/O: the worker observes, calls `decide`, carries out the
// actions, and decides again after a stop (the container changed under the decision).
//
// The rules (docs/agent.md, "Lifecycle and status" and "Shutdown, removal, orphans"):
// - never restart a dead task; never report a status backwards;
// - desired shutdown: drain the ingress, stop with the task's grace, report `shutdown`; the
//   container stays until the task is removed (desired `remove`, or gone from the set);
// - not assigned: remove the container, but an orphan only once a full set arrived;
// - a container that vanished fails a task that had one; an unhealthy one fails its task.

import type Dockerode from 'dockerode';
import { isTerminal, taskStateIndex, type TaskObj, type TaskStatus } from '../../common/api/objects.js';
import { graceMs } from '../exec/container.js';
import { AgentErrorCodes } from '../errors.js';

/** The task's container as the engine shows it. */
export interface Observed {
  id: string;
  /** Running, paused or restarting. */
  live: boolean;
  /** The task status it stands for (statusFromContainer); undefined: created, never started. */
  status?: TaskStatus;
  /** The exit code, once it was started. */
  exitCode?: number;
}

export interface TaskFacts {
  /** The task as the manager last sent it. */
  task: TaskObj;
  /** The status this worker last reported for it. */
  last?: TaskStatus;
  /** A container for this task existed in this process's lifetime. */
  hadContainer?: boolean;
  /** A wake-up is already set for this time. */
  wakeAt?: number;
  /** Every ingress listener the task publishes is open for it. */
  ingressReady: boolean;
}

export interface ReconcileInput {
  now: number;
  /** The task is assigned (undefined: it is not, or no longer). */
  task?: TaskFacts;
  container?: Observed;
  /** A full assignment set arrived since the worker started. */
  fullReceived: boolean;
  /** The manager took this task away (removal before the first full set). */
  dropped?: boolean;
}

export type Action =
  /** Report this status (already known to pass `wouldReport`). */
  | { do: 'report'; status: TaskStatus }
  /** Reconcile again at `at` (ms since epoch). */
  | { do: 'wait'; at: number }
  | { do: 'cancel-wait' }
  /** Let the task's ingress connections in flight finish (bounded) before it is stopped. */
  | { do: 'drain' }
  /** `docker stop` with this grace; the container is kept. */
  | { do: 'stop'; graceMs: number }
  /** Stop (with the container's own StopTimeout) and remove the container(s) of the task. */
  | { do: 'remove' }
  /** Prepare (image, networks, volumes, ingress), create and start a container. */
  | { do: 'create-start' }
  /** Start the container that was created and never started. */
  | { do: 'start' }
  /** Take the running container as the task's: open its ingress listeners. */
  | { do: 'adopt' };

const RUNNING_IDX = taskStateIndex('running');

/** A status' identity for dedupe: everything but its time. */
export const statusSig = (s: TaskStatus): string => JSON.stringify({ ...s, timestamp: 0 });

/** Would `next` be reported after `last`? Not backwards, not after an end, not twice. */
export function wouldReport(last: TaskStatus | undefined, next: TaskStatus): boolean {
  if (!last) return true;
  if (isTerminal(last.state) && last.state !== next.state) return false;
  if (taskStateIndex(next.state) < taskStateIndex(last.state)) return false;
  return statusSig(last) !== statusSig(next);
}

/** The task is over for the manager or for us: it never runs again. */
export const isDone = (f: TaskFacts): boolean => isTerminal(f.task.status.state) || (!!f.last && isTerminal(f.last.state));

export function decide(input: ReconcileInput): Action[] {
  const { task: f, container: c, now } = input;
  if (!f) return c && (input.fullReceived || input.dropped) ? [{ do: 'remove' }] : [];
  const t = f.task;
  const out: Action[] = [];
  const report = (s: TaskStatus) => { if (wouldReport(f.last, s)) out.push({ do: 'report', status: s }); };

  // Desired shutdown or remove.
  if (taskStateIndex(t.desiredState) > RUNNING_IDX) {
    if (f.wakeAt !== undefined) out.push({ do: 'cancel-wait' });
    // Out of the ingress balancer already: its requests in flight finish before the signal.
    if (c?.live) return [...out, { do: 'drain' }, { do: 'stop', graceMs: graceMs(t) }];
    if (!isDone(f)) report({ state: 'shutdown', timestamp: now, message: 'shutdown', containerId: c?.id, exitCode: c?.exitCode });
    if (t.desiredState === 'remove' && c) out.push({ do: 'remove' });
    return out;
  }

  if (isDone(f)) {
    // The manager counts this task dead (e.g. while we were cut off) and replaced it.
    if (isTerminal(t.status.state) && c?.live) return [{ do: 'stop', graceMs: graceMs(t) }];
    return [];
  }

  if (c) {
    const st = c.status;
    if (!st) return [{ do: 'start' }]; // created, never started (the agent stopped half way)
    if (st.state === 'running' && st.health === 'unhealthy') {
      // As in Swarm: an unhealthy container fails its task (the restart policy decides what
      // next). Reported before the stop, so the replacement is not held up by the grace period.
      report({ ...st, state: 'failed', timestamp: now, message: 'task: unhealthy container', err: 'unhealthy container: its healthcheck failed', errCode: AgentErrorCodes.UNHEALTHY });
      return [...out, { do: 'stop', graceMs: graceMs(t) }];
    }
    if (st.state === 'running' && !f.ingressReady) out.push({ do: 'adopt' });
    report(st);
    return out;
  }

  if (f.hadContainer || t.status.state === 'running') {
    report({ state: 'failed', timestamp: now, message: 'container removed', err: 'the task\'s container was removed outside tsswarm', errCode: AgentErrorCodes.CONTAINER_REMOVED });
    return out;
  }

  if (t.notBefore !== undefined && t.notBefore > now) {
    report({ state: 'accepted', timestamp: now, message: 'waiting for restart delay' });
    if (f.wakeAt !== t.notBefore) out.push({ do: 'wait', at: t.notBefore });
    return out;
  }
  return [{ do: 'create-start' }];
}

/**
 * While the engine does not answer nothing can be observed or done: a task that was to start
 * waits where it is (never rejected or failed for that), saying why; any other task waits
 * silently (a running one may well be running still). When the engine answers again, `decide`
 * takes over.
 */
export function decideWithoutEngine(f: TaskFacts | undefined, engineError: string, now: number): Action[] {
  if (!f || isDone(f) || taskStateIndex(f.task.desiredState) > RUNNING_IDX) return [];
  const at = f.last?.state ?? f.task.status.state;
  if (taskStateIndex(at) >= RUNNING_IDX) return [];
  const state = taskStateIndex(at) < taskStateIndex('accepted') ? 'accepted' : at;
  const status: TaskStatus = { state, timestamp: now, message: `waiting for the Docker engine: ${engineError}` };
  return wouldReport(f.last, status) ? [{ do: 'report', status }] : [];
}

/** What the engine shows of a container, for `decide`. */
export function observed(info: Dockerode.ContainerInspectInfo, status: TaskStatus | undefined): Observed {
  const s = info.State;
  return { id: info.Id, live: !!(s.Running || s.Paused || s.Restarting), status, exitCode: s.Status !== 'created' ? s.ExitCode : undefined };
}

/** Coarse state of a listed container, comparable with `coarseStatus` (resync: has it changed?). */
export function coarseListed(c: Pick<Dockerode.ContainerInfo, 'State' | 'Status'>): string {
  if (c.State === 'running' || c.State === 'paused') {
    const h = /\(healthy\)/.test(c.Status) ? 'healthy' : /\(unhealthy\)/.test(c.Status) ? 'unhealthy' : /health: starting/.test(c.Status) ? 'starting' : 'none';
    return `running/${h}`;
  }
  if (c.State === 'created') return 'created';
  return 'exited';
}

export function coarseStatus(s: TaskStatus): string {
  if (s.state === 'running') return `running/${s.health ?? 'none'}`;
  if (isTerminal(s.state)) return 'exited';
  return 'created';
}
