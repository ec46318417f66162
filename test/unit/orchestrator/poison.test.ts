import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../../common/api/limits.js';
import { ORCHESTRATION_FAILED, reconcileServices } from '../../../manager/orchestrator/index.js';
import type { ServiceObj } from '../../../manager/store/types.js';
import { T0, cluster, converge, creates, idGen, liveSlots, node, service, serviceUpdates, task } from './fixtures.js';

/** Services as a store written by an older version (or by hand) may hold them. */
function poisoned(): ServiceObj[] {
  const badPort = service('badport', { id: 'svc-badport' });
  badPort.spec.ports = [{ target: -1, protocol: 'tcp', mode: 'ingress' }];
  const noUpdateConfig = service('noupdate', { id: 'svc-noupdate' });
  delete (noUpdateConfig.spec.deploy as Partial<ServiceObj['spec']['deploy']>).update_config;
  const huge = service('huge', { id: 'svc-huge', replicas: 1e12 });
  const aboveLimit = service('above', { id: 'svc-above', replicas: LIMITS.replicas + 1 });
  return [badPort, noUpdateConfig, huge, aboveLimit];
}

describe('a service that cannot be orchestrated', () => {
  it('is marked and skipped; the good service beside it converges', () => {
    const good = service('web', { replicas: 3 });
    const bad = poisoned();
    const { state } = converge(cluster({ nodes: [node('n1'), node('n2')], services: [...bad, good] }), idGen());
    expect(liveSlots(state, good.id)).toEqual([1, 2, 3]);
    expect(state.tasks.filter((t) => t.serviceId === good.id).every((t) => t.status.state === 'running')).toBe(true);
    // Nothing was allocated for the bad ones, and each says why in its update status.
    expect(state.tasks.filter((t) => t.serviceId !== good.id)).toEqual([]);
    const marks = state.services.filter((s) => s.id !== good.id).map((s) => [s.id, s.updateStatus?.state, s.updateStatus?.message]);
    expect(marks).toEqual([
      ['svc-badport', 'paused', `${ORCHESTRATION_FAILED}ports[0].target -1 is not a port number (1-65535)`],
      ['svc-noupdate', 'paused', `${ORCHESTRATION_FAILED}deploy.update_config is missing`],
      ['svc-huge', 'paused', `${ORCHESTRATION_FAILED}deploy.replicas 1000000000000 is not an integer from 0 to ${LIMITS.replicas}`],
      ['svc-above', 'paused', `${ORCHESTRATION_FAILED}deploy.replicas ${LIMITS.replicas + 1} is not an integer from 0 to ${LIMITS.replicas}`],
    ]);
  });

  it('is reported on every pass but marked once: a marked service writes nothing more', () => {
    const good = service('web');
    const [bad] = poisoned();
    const first = reconcileServices(cluster({ nodes: [node('n1')], services: [bad, good] }), T0, idGen());
    expect(first.failures.map((f) => f.service.id)).toEqual([bad.id]);
    expect(serviceUpdates(first.ops).map((s) => s.id)).toEqual([bad.id]);
    expect(creates(first.ops).map((t) => t.serviceId)).toEqual([good.id]);
    const marked = serviceUpdates(first.ops)[0];
    const again = reconcileServices(cluster({ nodes: [node('n1')], services: [marked] }), T0 + 1000, idGen());
    expect(again.failures.length).toBe(1);
    expect(again.ops).toEqual([]);
  });

  it('a decision that throws is isolated like a bad spec', () => {
    const good = service('web');
    const odd = service('odd');
    // A stored task whose copy of the spec is broken: the slot engine reads it and throws.
    const broken = task(odd, { slot: 1, nodeId: 'n1' });
    Object.defineProperty(broken, 'status', { get() { throw new Error('unreadable task'); }, enumerable: true });
    const r = reconcileServices(cluster({ nodes: [node('n1')], services: [odd, good], tasks: [broken] }), T0, idGen());
    expect(r.failures.map((f) => [f.service.id, f.error])).toEqual([[odd.id, 'unreadable task']]);
    expect(creates(r.ops).map((t) => t.serviceId)).toEqual([good.id]);
  });

  it('once fixed, loses its mark and converges', () => {
    const [, , huge] = poisoned();
    let s = converge(cluster({ nodes: [node('n1')], services: [huge] }), idGen()).state;
    expect(s.services[0].updateStatus?.message).toContain(ORCHESTRATION_FAILED);
    const fixed: ServiceObj = { ...s.services[0], spec: { ...s.services[0].spec, deploy: { ...s.services[0].spec.deploy, replicas: 2 } } };
    s = converge({ ...s, services: [fixed] }, idGen('u')).state;
    expect(liveSlots(s, huge.id)).toEqual([1, 2]);
    expect(s.services[0].updateStatus).toBeUndefined();
  });
});
