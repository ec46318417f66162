import { describe, expect, it } from 'vitest';
import { defaultDeploy, type ServiceSpec, type StackSpec } from '../../../common/spec.js';
import { diffPaths, needsNewTasks, planDeploy, validateDeploy } from '../../../manager/controlapi/deploy.js';
import { assignmentsFor } from '../../../manager/objects/assignments.js';
import type { ClusterState, ServiceObj, TaskObj } from '../../../manager/store/types.js';

const meta = { version: 1, createdAt: 0, updatedAt: 0 };
const svcSpec = (over: Partial<ServiceSpec> = {}): ServiceSpec => ({
  image: 'busybox', environment: {}, labels: {}, ports: [], volumes: [], networks: { default: { aliases: [] } },
  depends_on: {}, deploy: defaultDeploy(), ...over,
});
const stack = (services: Record<string, ServiceSpec>): StackSpec => ({
  name: 's', services, networks: { default: { driver: 'bridge', external: false, labels: {}, driver_opts: {} } }, volumes: {},
});
const empty = (): ClusterState => ({ nodes: [], services: [], tasks: [], networks: [], volumes: [] });
const svcObj = (short: string, spec: ServiceSpec, stackName = 's'): ServiceObj => ({
  kind: 'service', id: `id-${short}`, meta, name: `${stackName}_${short}`, stack: stackName, shortName: short, spec, specVersion: 1,
});

describe('planDeploy', () => {
  it('creates services and the default network on first deploy', () => {
    const p = planDeploy(stack({ web: svcSpec() }), empty());
    expect(p.services).toEqual([{ action: 'create', name: 's_web', shortName: 'web', fields: [], replicas: { from: 0, to: 1 } }]);
    expect(p.networks).toEqual([{ action: 'create', name: 's_default' }]);
  });

  it('tells update, scale, unchanged and remove apart', () => {
    const state = empty();
    state.services = [svcObj('a', svcSpec()), svcObj('b', svcSpec()), svcObj('c', svcSpec()), svcObj('gone', svcSpec())];
    const scaled = svcSpec();
    scaled.deploy = { ...scaled.deploy, replicas: 3 };
    const p = planDeploy(stack({ a: svcSpec({ image: 'busybox:2' }), b: scaled, c: svcSpec() }), state);
    expect(p.services.map((s) => `${s.action} ${s.name} ${s.fields.join(',')}`)).toEqual([
      'update s_a image', 'scale s_b deploy.replicas', 'unchanged s_c ', 'remove s_gone ',
    ]);
  });

  it('needs new tasks only for task-relevant changes', () => {
    const a = svcSpec();
    const b = svcSpec();
    b.deploy = { ...b.deploy, replicas: 7, update_config: { ...b.deploy.update_config, parallelism: 3 } };
    expect(needsNewTasks(a, b)).toBe(false);
    expect(needsNewTasks(a, svcSpec({ environment: { X: '1' } }))).toBe(true);
    expect(diffPaths({ x: { y: 1, z: 2 } }, { x: { y: 1, z: 3 } })).toEqual(['x.z']);
  });

  it('rejects a published port another stack holds, naming the field', () => {
    const state = empty();
    state.services = [svcObj('web', svcSpec({ ports: [{ target: 80, published: 8080, protocol: 'tcp', mode: 'ingress' }] }), 'other')];
    expect(() => validateDeploy(stack({ web: svcSpec({ ports: [{ target: 80, published: 8080, protocol: 'tcp', mode: 'ingress' }] }) }), state))
      .toThrow(expect.objectContaining({ code: 'TSW_ERR_STACK_INVALID', details: [expect.objectContaining({ field: 'services.web.ports[0]' })] }));
  });
});

describe('assignmentsFor', () => {
  const task = (id: string, state: TaskObj['status']['state'], desired: TaskObj['desiredState'], nodeId = 'n1'): TaskObj => ({
    kind: 'task', id, meta, serviceId: 'x', serviceName: 's_web', stack: 's', slot: 1, nodeId, specVersion: 1, spec: svcSpec(),
    desiredState: desired, status: { state, timestamp: 0, message: '' },
  });
  it('holds tasks from assignment until dead and unwanted, with their networks', () => {
    const state = empty();
    state.networks = [{ kind: 'network', id: 'net1', meta, name: 's_default', stack: 's', spec: { driver: 'bridge', external: false, labels: {}, driver_opts: {} } }];
    state.tasks = [
      task('pending', 'pending', 'running'), task('run', 'running', 'running'), task('stopping', 'running', 'shutdown'),
      task('dead-wanted', 'failed', 'running'), task('dead', 'failed', 'shutdown'), task('other', 'running', 'running', 'n2'),
    ];
    const a = assignmentsFor(state, 'n1');
    expect([...a.tasks.keys()].sort()).toEqual(['dead-wanted', 'run', 'stopping']);
    expect([...a.networks.keys()]).toEqual(['net1']);
  });
});
