import { describe, expect, it } from 'vitest';
import { dependencyGate, reconcileServices } from '../../../manager/orchestrator/index.js';
import type { ClusterState, ServiceObj, TaskObj } from '../../../manager/store/types.js';
import { T0, agentStep, cluster, creates, idGen, loopPass, node, service, task } from './fixtures.js';

const hc = { test: ['CMD', 'true'] };
const startedAt = (s: ClusterState, svc: ServiceObj): number | undefined =>
  s.tasks.filter((t) => t.serviceId === svc.id && t.upAt !== undefined).map((t) => t.upAt!).sort((a, b) => a - b)[0];
const createdAt = (s: ClusterState, svc: ServiceObj): number | undefined =>
  s.tasks.filter((t) => t.serviceId === svc.id).map((t) => t.meta.createdAt).sort((a, b) => a - b)[0];

describe('dependencyGate', () => {
  const db = service('db', { healthcheck: hc });
  const app = service('app', { dependsOn: { db: { condition: 'service_healthy', required: true } } });

  it('holds a service until its dependency is healthy, and says so', () => {
    const starting = task(db, { slot: 1, state: 'running', health: 'starting' });
    const s = cluster({ nodes: [node('n1')], services: [db, app], tasks: [starting] });
    expect(dependencyGate(s, app, T0)).toEqual({ open: false, waits: [{ dependency: 'db', condition: 'service_healthy', message: 'waiting for db to be healthy' }] });
    expect(creates(reconcileServices(s, T0, idGen()).ops).map((t) => t.serviceName)).toEqual([]);
    const healthy = { ...starting, status: { ...starting.status, health: 'healthy' as const } };
    const s2 = { ...s, tasks: [healthy] };
    expect(dependencyGate(s2, app, T0).open).toBe(true);
    expect(creates(reconcileServices(s2, T0, idGen()).ops).map((t) => t.serviceName)).toEqual(['st_app']);
  });

  it('service_started: a running task is enough (health aside)', () => {
    const web = service('web', { dependsOn: { db: { condition: 'service_started', required: true } } });
    const s = cluster({ services: [db, web], tasks: [task(db, { slot: 1, state: 'running', health: 'starting' })] });
    expect(dependencyGate(s, web, T0).open).toBe(true);
    const s2 = cluster({ services: [db, web], tasks: [task(db, { slot: 1, state: 'assigned' })] });
    expect(dependencyGate(s2, web, T0).waits.map((w) => w.message)).toEqual(['waiting for db to start']);
  });

  it('service_completed_successfully waits for every slot of the job to exit 0', () => {
    const mig = service('mig', { mode: 'replicated-job', replicas: 2, restart: { condition: 'on-failure' } });
    const web = service('web', { dependsOn: { mig: { condition: 'service_completed_successfully', required: true } } });
    const one = cluster({ services: [mig, web], tasks: [task(mig, { slot: 1, state: 'complete', exitCode: 0 }), task(mig, { slot: 2, state: 'running' })] });
    expect(dependencyGate(one, web, T0).waits.map((w) => w.message)).toEqual(['waiting for mig to complete successfully']);
    const both = cluster({ services: [mig, web], tasks: [task(mig, { slot: 1, state: 'complete', exitCode: 0 }), task(mig, { slot: 2, state: 'complete', exitCode: 0 })] });
    expect(dependencyGate(both, web, T0).open).toBe(true);
    // a job with nothing to run holds nobody back
    const none = { ...mig, spec: { ...mig.spec, deploy: { ...mig.spec.deploy, replicas: 0 } } };
    expect(dependencyGate(cluster({ services: [none, web] }), web, T0).open).toBe(true);
  });

  it('reports a dependency that failed for good, with its exit code', () => {
    const mig = service('mig', { mode: 'replicated-job', replicas: 1, restart: { condition: 'on-failure', max_attempts: 1 } });
    const web = service('web', { dependsOn: { mig: { condition: 'service_completed_successfully', required: true } } });
    const failed = task(mig, { slot: 1, state: 'failed', exitCode: 3, err: 'task: non-zero exit (3)', restartHistory: [T0 - 10] });
    const g = dependencyGate(cluster({ services: [mig, web], tasks: [failed] }), web, T0);
    expect(g.open).toBe(false);
    expect(g.waits[0].failure).toBe('mig failed: task st_mig.1 failed: exit code 3');
  });

  it('reports a service whose tasks keep failing', () => {
    const crashing: TaskObj = { ...task(db, { slot: 1, state: 'failed', exitCode: 1 }), restartStreak: 2 };
    const g = dependencyGate(cluster({ services: [db, app], tasks: [crashing] }), app, T0);
    expect(g.waits[0].failure).toBe('db keeps failing: task st_db.1 failed: exit code 1');
  });

  it('an optional dependency that is missing or failed does not hold the service back', () => {
    const web = service('web', { dependsOn: { cache: { condition: 'service_started', required: false }, db: { condition: 'service_healthy', required: false } } });
    const crashing: TaskObj = { ...task(db, { slot: 1, state: 'failed', exitCode: 1 }), restartStreak: 5 };
    expect(dependencyGate(cluster({ services: [db, web], tasks: [crashing] }), web, T0).open).toBe(true);
    // ...but one on its way is waited for
    expect(dependencyGate(cluster({ services: [db, web], tasks: [task(db, { slot: 1, state: 'running', health: 'starting' })] }), web, T0).open).toBe(false);
    // a required one that is not deployed is waited for, and said so
    const needy = service('needy', { dependsOn: { cache: { condition: 'service_started', required: true } } });
    expect(dependencyGate(cluster({ services: [needy] }), needy, T0).waits[0].message).toBe('waiting for cache to start: it is not deployed');
  });

  it('a started service does not wait again (restarts, scaling); a new spec version does', () => {
    const running = task(app, { slot: 1, state: 'failed', exitCode: 1 });
    const s = cluster({ nodes: [node('n1')], services: [db, app], tasks: [running] });
    expect(dependencyGate(s, app, T0).open).toBe(true);
    expect(dependencyGate({ ...s, services: [db, { ...app, specVersion: 2 }] }, { ...app, specVersion: 2 }, T0).open).toBe(false);
  });

  it('only services of the same stack are dependencies', () => {
    const otherDb = service('db', { id: 'svc-other-db', stack: 'other' });
    const s = cluster({ services: [otherDb, app], tasks: [task(otherDb, { slot: 1, state: 'running' })] });
    expect(dependencyGate(s, app, T0).waits[0].message).toBe('waiting for db to be healthy: it is not deployed');
  });
});

describe('depends_on ordering through the loops', () => {
  it('migration job after a healthy db, app after the migration completed', () => {
    const db = service('db', { healthcheck: hc });
    const mig = service('mig', { mode: 'replicated-job', replicas: 1, restart: { condition: 'on-failure' }, dependsOn: { db: { condition: 'service_healthy', required: true } } });
    const app = service('app', { replicas: 2, dependsOn: { mig: { condition: 'service_completed_successfully', required: true } } });
    let s = cluster({ nodes: [node('n1')], services: [app, mig, db] });
    const newId = idGen();
    let now = T0;
    for (let i = 0; i < 20; i++) {
      s = loopPass(s, now, newId).state;
      // db becomes healthy two steps after it starts; the migration completes one step after it starts
      s = agentStep(s, now, {
        run: (t) => (t.serviceId === db.id ? { health: 'starting' } : {}),
        finish: (t) => (t.serviceId === db.id && t.status.health === 'starting' && now - t.status.timestamp >= 2000 ? { health: 'healthy' }
          : t.serviceId === mig.id ? { state: 'complete', exitCode: 0 } : undefined),
      });
      now += 1000;
    }
    const migTask = s.tasks.find((t) => t.serviceId === mig.id)!;
    expect(migTask.status.state).toBe('complete');
    expect(createdAt(s, mig)!).toBeGreaterThanOrEqual(startedAt(s, db)!);
    expect(createdAt(s, app)!).toBeGreaterThanOrEqual(migTask.endedAt!);
    expect(s.tasks.filter((t) => t.serviceId === app.id && t.status.state === 'running')).toHaveLength(2);
  });
});
