// The worker's reconcile decision on its own: a task (or none) and its container (or none) in,
// actions out. No engine: every case is a row of a table.

import { describe, expect, it } from 'vitest';
import { defaultDeploy } from '../../../common/spec.js';
import type { TaskObj, TaskStatus } from '../../../common/api/objects.js';
import { AgentErrorCodes } from '../../../agent/errors.js';
import { decide, wouldReport, type Action, type Observed, type ReconcileInput, type TaskFacts } from '../../../agent/worker/reconcile.js';

const NOW = 1_700_000_000_000;
const CID = 'c'.repeat(64);

function task(extra: Partial<TaskObj> = {}, spec: Partial<TaskObj['spec']> = {}): TaskObj {
  return {
    kind: 'task', id: 't1', meta: { version: 1, createdAt: 0, updatedAt: 0 },
    serviceId: 'svc1', serviceName: 'shop_web', stack: 'shop', slot: 1, nodeId: 'n1', specVersion: 1,
    spec: { image: 'busybox', environment: {}, labels: {}, ports: [], volumes: [], networks: {}, depends_on: {}, deploy: defaultDeploy(), stop_grace_period: '3s', ...spec },
    desiredState: 'running',
    status: { state: 'assigned', timestamp: 0, message: 'assigned' },
    ...extra,
  };
}

const running = (extra: Partial<TaskStatus> = {}): TaskStatus =>
  ({ state: 'running', timestamp: NOW, message: 'started', containerId: CID, pid: 42, health: 'none', ...extra });
const exited = (code: number, oom = false): TaskStatus => code === 0
  ? { state: 'complete', timestamp: NOW, message: 'finished', containerId: CID, exitCode: 0 }
  : { state: 'failed', timestamp: NOW, message: `task: non-zero exit (${code})`, containerId: CID, exitCode: code, err: oom ? `OOM killed: task: non-zero exit (${code})` : `task: non-zero exit (${code})`, errCode: oom ? AgentErrorCodes.OOM_KILLED : AgentErrorCodes.EXIT_NON_ZERO };

/** Containers as the engine shows them. */
const live = (status: TaskStatus = running()): Observed => ({ id: CID, live: true, status, exitCode: 0 });
const dead = (code: number, oom = false): Observed => ({ id: CID, live: false, status: exited(code, oom), exitCode: code });
const createdOnly: Observed = { id: CID, live: false, status: undefined, exitCode: undefined };

const facts = (t: TaskObj, extra: Partial<TaskFacts> = {}): TaskFacts => ({ task: t, ingressReady: true, ...extra });

interface Row {
  name: string;
  input: Omit<ReconcileInput, 'now' | 'fullReceived'> & { fullReceived?: boolean };
  want: Action[];
}

const report = (status: Partial<TaskStatus>) => ({ do: 'report', status: expect.objectContaining(status) }) as unknown as Action;

const rows: Row[] = [
  // Start-up.
  { name: 'a new task is created and started', input: { task: facts(task()) }, want: [{ do: 'create-start' }] },
  { name: 'a new task is started even before the first full set', input: { task: facts(task()), fullReceived: false }, want: [{ do: 'create-start' }] },
  {
    name: 'notBefore in the future: report accepted and wait until then',
    input: { task: facts(task({ notBefore: NOW + 1_500 })) },
    want: [report({ state: 'accepted', message: 'waiting for restart delay', timestamp: NOW }), { do: 'wait', at: NOW + 1_500 }],
  },
  {
    name: 'notBefore in the future, already waiting for it: nothing more',
    input: { task: facts(task({ notBefore: NOW + 1_500 }), { last: { state: 'accepted', timestamp: NOW - 10, message: 'waiting for restart delay' }, wakeAt: NOW + 1_500 }) },
    want: [],
  },
  { name: 'notBefore passed: create and start', input: { task: facts(task({ notBefore: NOW - 1 }), { last: { state: 'accepted', timestamp: NOW - 2_000, message: 'waiting for restart delay' } }) }, want: [{ do: 'create-start' }] },
  { name: 'a container created but never started is started', input: { task: facts(task()), container: createdOnly }, want: [{ do: 'start' }] },

  // Running, health, exits.
  { name: 'a running container is reported running', input: { task: facts(task(), { last: { state: 'starting', timestamp: NOW - 5, message: 'starting' } }), container: live() }, want: [report({ state: 'running', containerId: CID, pid: 42 })] },
  { name: 'health starting -> healthy is reported', input: { task: facts(task(), { last: running({ health: 'starting', timestamp: NOW - 500 }) }), container: live(running({ health: 'healthy' })) }, want: [report({ state: 'running', health: 'healthy' })] },
  {
    name: 'unhealthy: failed (health kept, code UNHEALTHY) then a stop with the grace period',
    input: { task: facts(task(), { last: running({ health: 'starting' }) }), container: live(running({ health: 'unhealthy' })) },
    want: [report({ state: 'failed', health: 'unhealthy', message: 'task: unhealthy container', err: 'unhealthy container: its healthcheck failed', errCode: AgentErrorCodes.UNHEALTHY }), { do: 'stop', graceMs: 3_000 }],
  },
  { name: 'container died: failed with its exit code', input: { task: facts(task(), { last: running() }), container: dead(137) }, want: [report({ state: 'failed', exitCode: 137, message: 'task: non-zero exit (137)', err: 'task: non-zero exit (137)', errCode: AgentErrorCodes.EXIT_NON_ZERO })] },
  { name: 'OOM kill: failed, OOM in the error', input: { task: facts(task(), { last: running() }), container: dead(137, true) }, want: [report({ state: 'failed', exitCode: 137, err: 'OOM killed: task: non-zero exit (137)', errCode: AgentErrorCodes.OOM_KILLED })] },
  { name: 'exit 0: complete', input: { task: facts(task(), { last: running() }), container: dead(0) }, want: [report({ state: 'complete', exitCode: 0 })] },
  { name: 'a dead task is never restarted', input: { task: facts(task(), { last: exited(137) }), container: dead(137) }, want: [] },
  { name: 'a dead task whose container was then removed stays dead', input: { task: facts(task(), { last: exited(1), hadContainer: true }) }, want: [] },
  {
    name: 'container gone behind our back: failed, CONTAINER_REMOVED',
    input: { task: facts(task(), { last: running(), hadContainer: true }) },
    want: [report({ state: 'failed', message: 'container removed', err: 'the task\'s container was removed outside tsswarm', errCode: AgentErrorCodes.CONTAINER_REMOVED })],
  },
  {
    name: 'the manager saw it running, no container here (agent restarted): failed',
    input: { task: facts(task({ status: running() })) },
    want: [report({ state: 'failed', errCode: AgentErrorCodes.CONTAINER_REMOVED })],
  },

  // Adoption.
  {
    name: 'adoption of a matching running container: ingress reopened, running reported, nothing recreated',
    input: { task: facts(task({ status: running() }), { ingressReady: false }), container: live() },
    want: [{ do: 'adopt' }, report({ state: 'running', containerId: CID })],
  },
  { name: 'adoption of a container that exited while the agent was away', input: { task: facts(task({ status: running() })), container: dead(3) }, want: [report({ state: 'failed', exitCode: 3 })] },

  // Shutdown and removal.
  { name: 'running container, task now desired shutdown: drain then stop with the grace', input: { task: facts(task({ desiredState: 'shutdown' }), { last: running() }), container: live() }, want: [{ do: 'drain' }, { do: 'stop', graceMs: 3_000 }] },
  { name: 'stopped container of a task desired shutdown: report shutdown with its exit code, keep it', input: { task: facts(task({ desiredState: 'shutdown' }), { last: running() }), container: dead(137) }, want: [report({ state: 'shutdown', message: 'shutdown', containerId: CID, exitCode: 137 })] },
  { name: 'desired shutdown while waiting for notBefore: the wake-up is cancelled', input: { task: facts(task({ desiredState: 'shutdown', notBefore: NOW + 5_000 }), { wakeAt: NOW + 5_000, last: { state: 'accepted', timestamp: NOW, message: 'waiting for restart delay' } }) }, want: [{ do: 'cancel-wait' }, report({ state: 'shutdown', containerId: undefined, exitCode: undefined })] },
  { name: 'desired remove: shutdown reported, container removed', input: { task: facts(task({ desiredState: 'remove' }), { last: running() }), container: dead(137) }, want: [report({ state: 'shutdown' }), { do: 'remove' }] },
  { name: 'the manager holds the task dead: its running container is stopped', input: { task: facts(task({ status: { state: 'failed', timestamp: 0, message: 'x' } }), { last: running() }), container: live() }, want: [{ do: 'stop', graceMs: 3_000 }] },
  { name: 'the manager holds the task dead, no container: nothing is started', input: { task: facts(task({ status: { state: 'orphaned', timestamp: 0, message: 'x' } })) }, want: [] },

  // Not assigned.
  { name: 'task removed from the set: its container is removed', input: { container: dead(0), dropped: true, fullReceived: false }, want: [{ do: 'remove' }] },
  { name: 'orphan before the first full set: kept', input: { container: live(), fullReceived: false }, want: [] },
  { name: 'orphan after a full set: removed', input: { container: live(), fullReceived: true }, want: [{ do: 'remove' }] },
  { name: 'not assigned and no container: nothing', input: { fullReceived: true, dropped: true }, want: [] },
];

describe('reconcile decision', () => {
  it.each(rows)('$name', ({ input, want }) => {
    expect(decide({ now: NOW, fullReceived: true, ...input })).toEqual(want);
  });

  // Idempotence: once what the decision asked for is done, the same observed state asks for nothing.
  const settled: Row[] = [
    { name: 'running, reported', input: { task: facts(task(), { last: running({ timestamp: NOW - 60_000 }) }), container: live() }, want: [] },
    { name: 'healthy, reported', input: { task: facts(task(), { last: running({ health: 'healthy' }) }), container: live(running({ health: 'healthy' })) }, want: [] },
    { name: 'failed, reported', input: { task: facts(task(), { last: exited(2) }), container: dead(2) }, want: [] },
    { name: 'shut down, reported, container kept', input: { task: facts(task({ desiredState: 'shutdown' }), { last: { state: 'shutdown', timestamp: NOW, message: 'shutdown', containerId: CID, exitCode: 137 } }), container: dead(137) }, want: [] },
    { name: 'removed container of a task desired remove', input: { task: facts(task({ desiredState: 'remove' }), { last: { state: 'shutdown', timestamp: NOW, message: 'shutdown' } }) }, want: [] },
    { name: 'container gone, failure reported', input: { task: facts(task(), { last: { state: 'failed', timestamp: NOW, message: 'container removed' }, hadContainer: true }) }, want: [] },
  ];
  it.each(settled)('idempotent: $name', ({ input }) => {
    expect(decide({ now: NOW + 1_000, fullReceived: true, ...input })).toEqual([]);
  });

  it('is idempotent for every row once its reports are applied and nothing changed in the engine', () => {
    for (const { name, input } of rows) {
      const first = decide({ now: NOW, fullReceived: true, ...input });
      // Only rows whose actions are reports (or a wait already recorded) leave the engine as it is.
      if (first.some((a) => a.do !== 'report' && a.do !== 'wait')) continue;
      if (!input.task) continue;
      const reports = first.filter((a): a is Extract<Action, { do: 'report' }> => a.do === 'report');
      const wait = first.find((a): a is Extract<Action, { do: 'wait' }> => a.do === 'wait');
      const last = reports.length ? reports[reports.length - 1].status : input.task.last;
      const again = decide({ now: NOW + 10, fullReceived: true, ...input, task: { ...input.task, last, wakeAt: wait?.at ?? input.task.wakeAt } });
      expect(again, name).toEqual([]);
    }
  });
});

describe('wouldReport', () => {
  it('never goes backwards, never leaves an end, never repeats', () => {
    const s = running();
    expect(wouldReport(undefined, s)).toBe(true);
    expect(wouldReport(s, { ...s, timestamp: NOW + 5 })).toBe(false);
    expect(wouldReport(s, { state: 'starting', timestamp: NOW, message: 'starting' })).toBe(false);
    expect(wouldReport(exited(1), running())).toBe(false);
    expect(wouldReport(exited(1), { ...exited(1), err: 'other' })).toBe(true); // same end, more detail
    expect(wouldReport(s, { ...s, health: 'healthy' })).toBe(true);
  });
});
