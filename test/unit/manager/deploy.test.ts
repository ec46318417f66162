import { describe, expect, it } from 'vitest';
import { defaultDeploy, type ServiceSpec, type StackSpec } from '../../../common/spec.js';
import { applyDeploy, diffPaths, needsNewTasks, planDeploy, removeStack, validateDeploy } from '../../../manager/controlapi/deploy.js';
import { writeServiceSpec } from '../../../manager/controlapi/write-spec.js';
import { memoryLog } from '../store/memory-log.js';
import { Store } from '../../../manager/store/store.js';
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

  it.each([
    ['cap_add', { cap_add: ['NET_ADMIN'] }], ['cap_drop', { cap_drop: ['ALL'] }], ['privileged', { privileged: true }],
    ['security_opt', { security_opt: ['no-new-privileges'] }], ['devices', { devices: [{ source: '/dev/null', target: '/dev/x', permissions: 'rwm' }] }],
    ['group_add', { group_add: ['audio'] }], ['sysctls', { sysctls: { 'net.core.somaxconn': '1024' } }],
    ['ulimits', { ulimits: { nofile: { soft: 1, hard: 2 } } }], ['pids_limit', { pids_limit: 10 }], ['shm_size', { shm_size: 1024 }],
    ['read_only', { read_only: true }], ['tmpfs', { tmpfs: ['/run'] }], ['extra_hosts', { extra_hosts: ['db:10.0.0.1'] }],
    ['dns', { dns: ['1.1.1.1'] }], ['dns_search', { dns_search: ['example.com'] }], ['dns_opt', { dns_opt: ['ndots:1'] }],
    ['logging', { logging: { driver: 'local', options: {} } }], ['network_mode', { network_mode: 'host', networks: {} }],
  ] as [string, Partial<ServiceSpec>][])('a change of %s replaces the tasks (plan: update)', (key, change) => {
    const state = empty();
    state.services = [svcObj('web', svcSpec())];
    expect(needsNewTasks(svcSpec(), svcSpec(change))).toBe(true);
    const p = planDeploy(stack({ web: svcSpec(change) }), state);
    expect(p.services[0]).toMatchObject({ action: 'update', fields: expect.arrayContaining([expect.stringMatching(new RegExp(`^${key}`))]) });
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

const memStore = async (): Promise<Store> => {
  const st = new Store(memoryLog());
  await st.open();
  return st;
};
let ids = 0;
const newId = () => `id${++ids}`;
const res = { driver: 'local', external: false, labels: {}, driver_opts: {} };

describe('applyDeploy and removeStack: networks and volumes', () => {
  it('creates what the stack declares (not external ones), releases what it drops, takes back what it declares again', async () => {
    const st = await memStore();
    const full = stack({ web: svcSpec() });
    full.networks.ext = { ...res, driver: 'bridge', external: true, name: 'shared' };
    full.volumes = { data: res, cache: res, outside: { ...res, external: true } };
    const p1 = await st.update((tx) => applyDeploy(tx, full, newId));
    expect(p1.networks).toEqual([{ action: 'create', name: 's_default' }]);
    expect(p1.volumes).toEqual([{ action: 'create', name: 's_data' }, { action: 'create', name: 's_cache' }]);
    expect(st.state().services.map((s) => [s.name, s.specVersion])).toEqual([['s_web', 1]]);

    const less = { ...full, networks: {}, volumes: { data: res } };
    const p2 = await st.update((tx) => applyDeploy(tx, less, newId));
    expect(p2.networks).toEqual([{ action: 'remove', name: 's_default' }]);
    expect(p2.volumes).toEqual([{ action: 'release', name: 's_cache' }]);
    expect(st.state().networks.map((n) => [n.name, n.released])).toEqual([['s_default', true]]);

    // Declared again: the released objects are taken back (same id), a purge mark is cleared.
    const cacheId = st.state().volumes.find((v) => v.name === 's_cache')!.id;
    await st.update((tx) => { const v = tx.list('volume', (x) => x.name === 's_cache')[0]; tx.update({ ...v, purge: true }); });
    const p3 = await st.update((tx) => applyDeploy(tx, full, newId));
    expect(p3.networks).toEqual([{ action: 'create', name: 's_default' }]);
    expect(p3.volumes).toEqual([{ action: 'create', name: 's_cache' }]);
    const cache = st.state().volumes.find((v) => v.name === 's_cache')!;
    expect([cache.id, cache.released, cache.purge]).toEqual([cacheId, false, false]);
    expect(st.state().networks.every((n) => !n.released)).toBe(true);

    // stack rm --volumes: services go, networks and volumes are released, volumes purged.
    const r = await st.update((tx) => removeStack(tx, 's', true));
    expect(r).toEqual({ services: ['s_web'] });
    expect(st.state().networks.every((n) => n.released)).toBe(true);
    expect(st.state().volumes.every((v) => v.released && v.purge)).toBe(true);
    // Again: nothing left to change, nothing written.
    const index = st.index;
    await st.update((tx) => removeStack(tx, 's', true));
    expect(st.index).toBe(index);
  });

  it('stack rm without --volumes keeps an earlier purge mark and does not add one', async () => {
    const st = await memStore();
    await st.update((tx) => applyDeploy(tx, { ...stack({ web: svcSpec() }), volumes: { data: res } }, newId));
    await st.update((tx) => removeStack(tx, 's', false));
    expect(st.state().volumes.map((v) => [v.released, v.purge])).toEqual([[true, undefined]]);
  });
});

describe('writeServiceSpec', () => {
  it('scaling keeps the spec version; a task change bumps it and keeps the previous spec; force bumps', async () => {
    const st = await memStore();
    await st.update((tx) => writeServiceSpec(tx, { id: 'w', name: 's_web', stack: 's', shortName: 'web' }, svcSpec()));
    const get = () => st.state().services[0];
    expect(get().specVersion).toBe(1);
    const scaled = await st.update((tx) => writeServiceSpec(tx, get(), { ...get().spec, deploy: { ...get().spec.deploy, replicas: 4 } }));
    expect(scaled.replaced).toBe(false);
    expect([get().specVersion, get().spec.deploy.replicas, get().previousSpec]).toEqual([1, 4, undefined]);
    const updated = await st.update((tx) => writeServiceSpec(tx, get(), { ...get().spec, image: 'busybox:2' }));
    expect(updated.replaced).toBe(true);
    expect([get().specVersion, get().previousSpec?.image]).toEqual([2, 'busybox']);
    await st.update((tx) => writeServiceSpec(tx, get(), get().spec, { force: true }));
    expect([get().specVersion, get().previousSpec?.image]).toEqual([3, 'busybox:2']);
  });

  it('refuses a spec the shared validator refuses, naming the field, writing nothing', async () => {
    const st = await memStore();
    await st.update((tx) => writeServiceSpec(tx, { id: 'w', name: 's_web', stack: 's', shortName: 'web' }, svcSpec()));
    const index = st.index;
    const svc = st.state().services[0];
    await expect(st.update((tx) => writeServiceSpec(tx, svc, { ...svc.spec, deploy: { ...svc.spec.deploy, replicas: -5 } })))
      .rejects.toMatchObject({ code: 'TSW_ERR_INVALID_ARGUMENT', details: [expect.objectContaining({ field: 'deploy.replicas' })] });
    await expect(st.update((tx) => writeServiceSpec(tx, svc, { ...svc.spec, image: '' }, { field: 'services.web', code: 'TSW_ERR_STACK_INVALID' })))
      .rejects.toMatchObject({ code: 'TSW_ERR_STACK_INVALID', details: [expect.objectContaining({ field: 'services.web.image' })] });
    expect(st.index).toBe(index);
  });
});

describe('depends_on restart: true', () => {
  const dep = (restart?: boolean) => ({ condition: 'service_started' as const, required: true, ...(restart ? { restart } : {}) });
  const four = (dbImage: string, web: Partial<ServiceSpec> = {}) => stack({
    db: svcSpec({ image: dbImage }),
    api: svcSpec({ depends_on: { db: dep(true) } }),
    web: svcSpec({ depends_on: { api: dep(true) }, ...web }),
    other: svcSpec({ depends_on: { db: dep() } }),
  });

  it('a deploy that gives a dependency new tasks gives its restart: true dependents new tasks, through chains', async () => {
    const st = await memStore();
    await st.update((tx) => applyDeploy(tx, four('postgres:16'), newId));
    const versions = () => Object.fromEntries(st.state().services.map((s) => [s.shortName, s.specVersion]));
    expect(versions()).toEqual({ db: 1, api: 1, web: 1, other: 1 });

    const p = await st.update((tx) => applyDeploy(tx, four('postgres:17'), newId));
    const by = Object.fromEntries(p.services.map((c) => [c.shortName, c]));
    expect(by.db).toMatchObject({ action: 'update', fields: ['image'] });
    expect(by.db!.restartedFor).toBeUndefined();
    expect(by.api).toMatchObject({ action: 'update', fields: [], restartedFor: ['db'] });
    expect(by.web).toMatchObject({ action: 'update', fields: [], restartedFor: ['api'] });
    expect(by.other).toMatchObject({ action: 'unchanged' });
    expect(versions()).toEqual({ db: 2, api: 2, web: 2, other: 1 });
  });

  it('a change that needs no new tasks (scaling the dependency) restarts nothing; a dependent replaced anyway is a plain update', async () => {
    const st = await memStore();
    await st.update((tx) => applyDeploy(tx, four('postgres:16'), newId));
    const scaled = four('postgres:16');
    scaled.services.db!.deploy = { ...scaled.services.db!.deploy, replicas: 3 };
    const p1 = await st.update((tx) => applyDeploy(tx, scaled, newId));
    expect(p1.services.map((c) => `${c.shortName} ${c.action}`).sort()).toEqual(['api unchanged', 'db scale', 'other unchanged', 'web unchanged']);

    const both = four('postgres:17', { image: 'busybox:2' });
    const p2 = planDeploy(both, st.state());
    const web = p2.services.find((c) => c.shortName === 'web')!;
    expect(web).toMatchObject({ action: 'update', fields: ['image'] });
    expect(web.restartedFor).toBeUndefined();
    expect(p2.services.find((c) => c.shortName === 'api')).toMatchObject({ action: 'update', restartedFor: ['db'] });
  });
});

describe('a plan says which services are jobs', () => {
  it('marks replicated-job and global-job services, nothing else', () => {
    const job = svcSpec();
    job.deploy = { ...job.deploy, mode: 'replicated-job' };
    const gjob = svcSpec();
    gjob.deploy = { ...gjob.deploy, mode: 'global-job' };
    const p = planDeploy(stack({ migrate: job, warm: gjob, web: svcSpec() }), empty());
    expect(Object.fromEntries(p.services.map((c) => [c.shortName, c.job]))).toEqual({ migrate: 'replicated-job', warm: 'global-job', web: undefined });
  });
});
