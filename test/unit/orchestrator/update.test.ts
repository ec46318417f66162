import { describe, expect, it } from 'vitest';
import { reconcileGlobal, reconcileReplicated } from '../../../manager/orchestrator/index.js';
import type { ClusterState, ServiceObj } from '../../../manager/store/types.js';
import {
  T0, agentStep, applyOps, cluster, converge, creates, idGen, loopPass, node, service, serviceUpdates, stopped, task,
} from './fixtures.js';

/** A service at spec version 2 with `n` running tasks at version 1. */
function outdated(n: number, o: Parameters<typeof service>[1] = {}): { svc: ServiceObj; s: ClusterState } {
  const svc = service('web', { replicas: n, specVersion: 2, ...o });
  const tasks = Array.from({ length: n }, (_, i) => task(svc, { id: `old${i + 1}`, slot: i + 1, specVersion: 1, nodeId: 'n1', health: 'healthy' }));
  return { svc, s: cluster({ nodes: [node('n1'), node('n2')], services: [svc], tasks }) };
}

describe('rolling update: stop-first', () => {
  it('stops `parallelism` old tasks, marks the service updating, creates nothing yet', () => {
    const { svc, s } = outdated(3, { update: { parallelism: 2 } });
    const r = reconcileReplicated(s, svc, T0 + 10, idGen());
    expect(stopped(r.ops)).toEqual(['old1', 'old2']);
    expect(creates(r.ops)).toEqual([]);
    expect(serviceUpdates(r.ops).map((x) => x.updateStatus)).toEqual([{ state: 'updating', startedAt: T0 + 10, message: 'updating to spec version 2' }]);
  });

  it('creates the replacement once the old task has exited, and waits for it before the next batch', () => {
    const { svc, s } = outdated(2, { update: { parallelism: 1 } });
    const ids = idGen();
    let st = applyOps(s, reconcileReplicated(s, svc, T0, ids).ops); // old1 asked to stop
    let r = reconcileReplicated(st, st.services[0], T0 + 1, ids);
    expect(r.ops).toEqual([]); // still stopping: the batch is in flight
    st = agentStep(st, T0 + 2); // old1 exits
    r = reconcileReplicated(st, st.services[0], T0 + 3, ids);
    expect(creates(r.ops).map((t) => [t.slot, t.specVersion, t.status.message])).toEqual([[1, 2, 'updated to spec version 2']]);
    expect(stopped(r.ops)).toEqual([]); // old2 waits for the new slot 1
    st = applyOps(st, r.ops);
    expect(reconcileReplicated(st, st.services[0], T0 + 4, ids).ops).toEqual([]);
  });

  it('parallelism 0 replaces everything at once', () => {
    const { svc, s } = outdated(4, { update: { parallelism: 0 } });
    expect(stopped(reconcileReplicated(s, svc, T0, idGen()).ops)).toEqual(['old1', 'old2', 'old3', 'old4']);
  });

  it('replaces dead or unstarted outdated tasks straight away, broken ones first', () => {
    const svc = service('web', { replicas: 3, specVersion: 2, restart: { condition: 'none' }, update: { parallelism: 2 } });
    const tasks = [
      task(svc, { id: 'ok', slot: 1, specVersion: 1 }),
      task(svc, { id: 'done', slot: 2, specVersion: 1, state: 'complete', exitCode: 0 }),
      task(svc, { id: 'wait', slot: 3, specVersion: 1, state: 'pending' }),
    ];
    const r = reconcileReplicated(cluster({ services: [svc], tasks }), svc, T0, idGen());
    expect(stopped(r.ops)).toEqual(['done', 'wait']);
    expect(creates(r.ops).map((t) => t.slot)).toEqual([2, 3]);
  });

  it('converges: every slot at the new version, update completed', () => {
    const { s } = outdated(5, { update: { parallelism: 2 } });
    const { state, now } = converge(s, idGen());
    const live = state.tasks.filter((t) => t.desiredState === 'running');
    expect(live.map((t) => [t.slot, t.specVersion, t.status.state]).sort()).toEqual([1, 2, 3, 4, 5].map((n) => [n, 2, 'running']));
    expect(state.services[0].updateStatus).toMatchObject({ state: 'completed', message: 'update completed' });
    expect(state.services[0].updateStatus!.completedAt).toBeLessThan(now + 1);
  });
});

describe('rolling update: start-first', () => {
  const hc = { test: ['CMD', 'true'], interval: '1s' };

  it('starts the new task beside the old one; stops the old only when the new is running and healthy', () => {
    const { svc, s } = outdated(2, { update: { parallelism: 1, order: 'start-first' }, healthcheck: hc });
    const ids = idGen();
    let r = reconcileReplicated(s, svc, T0, ids);
    expect(stopped(r.ops)).toEqual([]);
    const [n] = creates(r.ops);
    expect([n.slot, n.specVersion]).toEqual([1, 2]);
    let st = applyOps(s, r.ops);
    const set = (health: 'starting' | 'healthy', state: 'running' | 'assigned' = 'running') =>
      ({ ...st, tasks: st.tasks.map((t) => (t.id === n.id ? { ...t, nodeId: 'n2', status: { ...t.status, state, health } } : t)) });
    st = set('starting', 'assigned');
    expect(reconcileReplicated(st, st.services[0], T0 + 1, ids).ops).toEqual([]);
    st = set('starting');
    expect(reconcileReplicated(st, st.services[0], T0 + 2, ids).ops).toEqual([]); // running, not healthy yet
    st = set('healthy');
    r = reconcileReplicated(st, st.services[0], T0 + 3, ids);
    expect(stopped(r.ops)).toEqual(['old1']);
    expect(creates(r.ops).map((t) => t.slot)).toEqual([2]); // next batch
  });

  it('without a healthcheck, running is enough', () => {
    const { svc, s } = outdated(1, { update: { order: 'start-first' } });
    const st = applyOps(s, reconcileReplicated(s, svc, T0, idGen()).ops);
    const running = { ...st, tasks: st.tasks.map((t) => (t.specVersion === 2 ? { ...t, nodeId: 'n2', status: { ...t.status, state: 'running' as const } } : t)) };
    expect(stopped(reconcileReplicated(running, running.services[0], T0, idGen()).ops)).toEqual(['old1']);
  });

  it('a disabled healthcheck does not gate', () => {
    const { svc, s } = outdated(1, { update: { order: 'start-first' }, healthcheck: { ...hc, disable: true } });
    const st = applyOps(s, reconcileReplicated(s, svc, T0, idGen()).ops);
    const running = { ...st, tasks: st.tasks.map((t) => (t.specVersion === 2 ? { ...t, nodeId: 'n2', status: { ...t.status, state: 'running' as const, health: 'none' as const } } : t)) };
    expect(stopped(reconcileReplicated(running, running.services[0], T0, idGen()).ops)).toEqual(['old1']);
  });

  it('converges with parallelism 2 and never drops below the replica count', () => {
    const { s } = outdated(4, { update: { parallelism: 2, order: 'start-first' }, healthcheck: hc });
    const ids = idGen();
    let st = s;
    let now = T0;
    for (let i = 0; i < 30; i++) {
      st = agentStep(loopPass(st, now, ids).state, now);
      const up = st.tasks.filter((t) => t.status.state === 'running' && t.desiredState === 'running');
      expect(up.length).toBeGreaterThanOrEqual(4);
      now += 1000;
    }
    expect(st.tasks.filter((t) => t.desiredState === 'running').map((t) => t.specVersion)).toEqual([2, 2, 2, 2]);
    expect(st.services[0].updateStatus?.state).toBe('completed');
  });
});

describe('rolling update: delay between batches', () => {
  it('waits `delay` after the last batch came up, via wakeAt', () => {
    const svc = service('web', { replicas: 2, specVersion: 2, update: { delay: '10s' }, updateStatus: { state: 'updating', startedAt: T0, message: 'x' } });
    const tasks = [
      task(svc, { id: 'new1', slot: 1, createdAt: T0 + 1, timestamp: T0 + 5000 }),
      task(svc, { id: 'old2', slot: 2, specVersion: 1 }),
    ];
    const s = cluster({ nodes: [node('n1')], services: [svc], tasks });
    const r = reconcileReplicated(s, svc, T0 + 6000, idGen());
    expect(r).toEqual({ ops: [], wakeAt: T0 + 15_000 });
    expect(stopped(reconcileReplicated(s, svc, T0 + 15_000, idGen()).ops)).toEqual(['old2']);
  });

  it('the first batch does not wait', () => {
    const { svc, s } = outdated(2, { update: { delay: '1m' } });
    expect(stopped(reconcileReplicated(s, svc, T0, idGen()).ops)).toEqual(['old1']);
  });

  it('a paused update starts no batch', () => {
    const { svc, s } = outdated(2, { updateStatus: { state: 'paused', startedAt: T0, message: 'paused' } });
    expect(reconcileReplicated(s, svc, T0, idGen()).ops).toEqual([]);
  });
});

describe('rolling update: edges', () => {
  it('a start-first replacement that failed pauses the update (failure_action pause); the old task keeps running', () => {
    const svc = service('web', { replicas: 1, specVersion: 2, restart: { condition: 'none' }, update: { order: 'start-first' }, updateStatus: { state: 'updating', startedAt: T0, message: 'x' } });
    const tasks = [task(svc, { id: 'old', slot: 1, specVersion: 1 }), task(svc, { id: 'new', slot: 1, state: 'failed', exitCode: 1 })];
    const r = reconcileReplicated(cluster({ nodes: [node('n1')], services: [svc], tasks }), svc, T0, idGen());
    expect(stopped(r.ops)).toEqual([]);
    expect(serviceUpdates(r.ops).map((x) => x.updateStatus?.state)).toEqual(['paused']);
    expect(serviceUpdates(r.ops)[0].updateStatus?.message).toMatch(/^update paused due to failure of task st_web\.1/);
  });

  it('failure_action rollback restores the previous spec as a new version; continue carries on', () => {
    const base = service('web', { replicas: 2, specVersion: 2, update: { failure_action: 'rollback' }, updateStatus: { state: 'updating', startedAt: T0, message: 'x' } });
    const svc: ServiceObj = { ...base, previousSpec: { ...base.spec, image: 'app:0' } };
    const tasks = [task(svc, { id: 'old', slot: 1, specVersion: 1 }), task(svc, { id: 'new', slot: 2, state: 'failed', exitCode: 1 })];
    const [back] = serviceUpdates(reconcileReplicated(cluster({ nodes: [node('n1')], services: [svc], tasks }), svc, T0, idGen()).ops);
    expect(back).toMatchObject({ specVersion: 3, spec: { image: 'app:0' }, previousSpec: { image: 'app:1' }, updateStatus: { state: 'rollback_started' } });
    const cont: ServiceObj = { ...svc, spec: { ...svc.spec, deploy: { ...svc.spec.deploy, update_config: { ...svc.spec.deploy.update_config, failure_action: 'continue' } } } };
    expect(serviceUpdates(reconcileReplicated(cluster({ nodes: [node('n1')], services: [cont], tasks }), cont, T0, idGen()).ops).map((x) => x.updateStatus?.state)).not.toContain('paused');
  });

  it('failures within max_failure_ratio do not stop the update', () => {
    const svc = service('web', { replicas: 3, specVersion: 2, update: { max_failure_ratio: 0.5 }, updateStatus: { state: 'updating', startedAt: T0, message: 'x' } });
    const tasks = [task(svc, { id: 'a', slot: 1 }), task(svc, { id: 'b', slot: 2 }), task(svc, { id: 'c', slot: 3, state: 'failed', exitCode: 1 })];
    expect(serviceUpdates(reconcileReplicated(cluster({ nodes: [node('n1')], services: [svc], tasks }), svc, T0, idGen()).ops).map((x) => x.updateStatus?.state)).not.toContain('paused');
  });

  it('global services update node by node', () => {
    const svc = service('agent', { mode: 'global', specVersion: 2, update: { parallelism: 1 } });
    const tasks = ['n1', 'n2', 'n3'].map((n) => task(svc, { id: `old-${n}`, nodeId: n, specVersion: 1 }));
    const s = cluster({ nodes: [node('n1'), node('n2'), node('n3')], services: [svc], tasks });
    expect(stopped(reconcileGlobal(s, svc, T0, idGen()).ops)).toEqual(['old-n1']);
    const { state } = converge(s, idGen());
    expect(state.tasks.filter((t) => t.desiredState === 'running').map((t) => [t.nodeId, t.specVersion, t.status.state]).sort())
      .toEqual([['n1', 2, 'running'], ['n2', 2, 'running'], ['n3', 2, 'running']]);
    expect(state.services[0].updateStatus?.state).toBe('completed');
  });

  it('an update completes with a completed status only once', () => {
    const svc = service('web', { replicas: 1, specVersion: 2, updateStatus: { state: 'updating', startedAt: T0, message: 'x' } });
    const s = cluster({ nodes: [node('n1')], services: [svc], tasks: [task(svc, { slot: 1 })] });
    const [done] = serviceUpdates(reconcileReplicated(s, svc, T0 + 9, idGen()).ops);
    expect(done.updateStatus).toEqual({ state: 'completed', startedAt: T0, completedAt: T0 + 9, message: 'update completed' });
    expect(reconcileReplicated({ ...s, services: [done] }, done, T0 + 10, idGen()).ops).toEqual([]);
  });

  it('a fresh service is not an update', () => {
    const svc = service('web', { replicas: 2 });
    expect(serviceUpdates(reconcileReplicated(cluster({ services: [svc] }), svc, T0, idGen()).ops)).toEqual([]);
  });
});

describe('rolling update: monitor window', () => {
  const updating = { state: 'updating' as const, startedAt: T0, message: 'x' };

  it('a new task that dies within `monitor` of coming up is a failure; later it is the restart policy\'s', () => {
    const svc = service('web', { replicas: 2, specVersion: 2, update: { monitor: '10s' }, updateStatus: updating });
    const died = (upFor: number) => {
      const t = task(svc, { id: 'new', slot: 1, state: 'failed', exitCode: 1, createdAt: T0 + 1 });
      return { ...t, upAt: T0 + 1000, endedAt: T0 + 1000 + upFor };
    };
    const run = (t: ReturnType<typeof died>) => {
      const tasks = [t, task(svc, { id: 'old', slot: 2, specVersion: 1 })];
      return serviceUpdates(reconcileReplicated(cluster({ nodes: [node('n1')], services: [svc], tasks }), svc, T0 + 60_000, idGen()).ops)
        .map((x) => x.updateStatus?.state);
    };
    expect(run(died(9_000))).toEqual(['paused']);
    expect(run(died(11_000))).not.toContain('paused');
  });

  it('completes only once the last new task has stayed up for `monitor`, waking then', () => {
    const svc = service('web', { replicas: 1, specVersion: 2, update: { monitor: '5s' }, updateStatus: updating });
    const t = { ...task(svc, { slot: 1, createdAt: T0 + 1 }), upAt: T0 + 2000 };
    const s = cluster({ nodes: [node('n1')], services: [svc], tasks: [t] });
    const early = reconcileReplicated(s, svc, T0 + 3000, idGen());
    expect(serviceUpdates(early.ops)).toEqual([]);
    expect(early.wakeAt).toBe(T0 + 7000);
    expect(serviceUpdates(reconcileReplicated(s, svc, T0 + 7000, idGen()).ops).map((x) => x.updateStatus?.state)).toEqual(['completed']);
  });

  it('a whole update through the loops waits the monitor window and completes', () => {
    const { s } = outdated(3, { update: { parallelism: 2, monitor: '5s' } });
    const { state, now } = converge(s, idGen());
    expect(state.services[0].updateStatus?.state).toBe('completed');
    const lastUp = Math.max(...state.tasks.filter((t) => t.desiredState === 'running').map((t) => t.upAt!));
    expect(state.services[0].updateStatus!.completedAt).toBeGreaterThanOrEqual(lastUp + 5000);
    expect(now).toBeGreaterThanOrEqual(lastUp + 5000);
  });
});
