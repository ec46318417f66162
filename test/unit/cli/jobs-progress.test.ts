import { describe, expect, it } from 'vitest';
import type { TaskObj } from '../../../common/api/objects.js';
import type { ServiceView } from '../../../common/api/types.js';
import { defaultDeploy, type DeploySpec } from '../../../common/spec.js';
import { progressLine, progressOf } from '../../../cli/deploy-watch.js';
import { replicasText, waitingLines } from '../../../cli/render.js';

const T0 = 1_700_000_000_000;

function view(name: string, deploy: Partial<DeploySpec>, v: Partial<ServiceView> = {}): ServiceView {
  return {
    kind: 'service', id: `id-${name}`, meta: { version: 1, createdAt: T0, updatedAt: T0 }, name: `st_${name}`, stack: 'st', shortName: name,
    spec: { image: 'app:1', environment: {}, labels: {}, ports: [], volumes: [], networks: {}, depends_on: {}, deploy: { ...defaultDeploy(), ...deploy } },
    specVersion: 1, running: 0, desired: 1, ...v,
  };
}

function task(s: ServiceView, slot: number, status: Partial<TaskObj['status']>): TaskObj {
  return {
    kind: 'task', id: `t${slot}`, meta: { version: 1, createdAt: T0, updatedAt: T0 }, serviceId: s.id, serviceName: s.name, stack: 'st', slot,
    specVersion: 1, spec: s.spec, desiredState: 'running', status: { state: 'running', timestamp: T0, message: '', ...status },
  };
}

describe('deploy progress of jobs and waiting services', () => {
  it('a job is done once its slots completed', () => {
    const job = view('mig', { mode: 'replicated-job', replicas: 2 }, { desired: 2, completed: 1, running: 1 });
    const p = progressOf(job, [task(job, 1, { state: 'complete', exitCode: 0 }), task(job, 2, {})], new Map(), T0);
    expect(progressLine(p)).toBe('st_mig: 1/2 running');
    const done = progressOf({ ...job, completed: 2, running: 0 }, [], new Map(), T0);
    expect(progressLine(done)).toBe('st_mig: 2/2 completed');
    expect(done.done).toBe(true);
  });

  it('a failed job task fails the deploy, naming its exit code', () => {
    const job = view('mig', { mode: 'replicated-job', replicas: 1 }, { desired: 1, completed: 0 });
    const p = progressOf(job, [task(job, 1, { state: 'failed', exitCode: 3, err: 'task: non-zero exit (3)', message: 'task: non-zero exit (3)' })], new Map(), T0);
    expect(p.failure).toBe('task st_mig.1 failed: task: non-zero exit (3) (exit code 3)');
    const final = progressOf({ ...job, jobFailure: 'task st_mig.1 failed: exit code 3' }, [], new Map(), T0);
    expect(final.failure).toBe('job failed: task st_mig.1 failed: exit code 3');
  });

  it('a waiting service says what it waits for, and fails when that dependency failed', () => {
    const app = view('app', { replicas: 2 }, { desired: 2, waiting: [{ message: 'waiting for db to be healthy' }] });
    const p = progressOf(app, [], new Map(), T0);
    expect([p.done, p.failure, progressLine(p)]).toEqual([false, undefined, 'st_app: 0/2 (waiting for db to be healthy)']);
    const failed = progressOf({ ...app, waiting: [{ message: 'waiting for mig to complete successfully', failure: 'mig failed: task st_mig.1 failed: exit code 3' }] }, [], new Map(), T0);
    expect(failed.failure).toBe('waiting for mig to complete successfully, but mig failed: task st_mig.1 failed: exit code 3');
  });

  it('a one-shot service (restart none) counts its completed tasks as done', () => {
    const seed = view('seed', { restart_policy: { ...defaultDeploy().restart_policy, condition: 'none' } });
    expect(progressOf(seed, [task(seed, 1, { state: 'complete', exitCode: 0 })], new Map(), T0).done).toBe(true);
  });
});

describe('service ls and ps', () => {
  it('REPLICAS of jobs and waiting services', () => {
    expect(replicasText(view('mig', { mode: 'replicated-job' }, { desired: 1, completed: 1 }))).toBe('1/1 completed');
    expect(replicasText(view('b', { mode: 'replicated-job' }, { desired: 5, completed: 2, running: 2 }))).toBe('2/5 completed, 2 running');
    expect(replicasText(view('b', { mode: 'global-job' }, { desired: 3, completed: 0, jobFailure: 'x' }))).toBe('0/3 failed');
    expect(replicasText(view('web', {}, { running: 0, desired: 2, waiting: [{ message: 'waiting for db to start' }] }))).toBe('0/2 (waiting)');
    expect(replicasText(view('web', {}, { running: 1, desired: 2 }))).toBe('1/2');
  });

  it('ps lists what services wait for', () => {
    expect(waitingLines([view('app', {}, { waiting: [{ message: 'waiting for db to be healthy' }] }), view('db', {})])).toEqual(['st_app: waiting for db to be healthy']);
  });
});
