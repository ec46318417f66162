// Assignment bookkeeping without an engine: full sets vs incremental changes, which tasks to
// look at again, which networks and volumes are let go of (a volume only on explicit removal).

import { describe, expect, it } from 'vitest';
import { defaultDeploy } from '../../../common/spec.js';
import type { NetworkObj, TaskObj, VolumeObj } from '../../../common/api/objects.js';
import { Assignments, type Assignment } from '../../../agent/worker/assignments.js';
import { orphans } from '../../../agent/worker/gc.js';

const meta = { version: 1, createdAt: 0, updatedAt: 0 };
const task = (id: string): TaskObj => ({
  kind: 'task', id, meta, serviceId: 's', serviceName: 'st_web', stack: 'st', slot: 1, nodeId: 'n', specVersion: 1,
  spec: { image: 'busybox', environment: {}, labels: {}, ports: [], volumes: [], networks: {}, depends_on: {}, deploy: defaultDeploy() },
  desiredState: 'running', status: { state: 'assigned', timestamp: 0, message: '' },
});
const net = (id: string, key: string, external = false): NetworkObj => ({ kind: 'network', id, meta, name: `st_${key}`, stack: 'st', spec: { driver: 'overlay', external, labels: {}, driver_opts: {} } });
const vol = (id: string, key: string): VolumeObj => ({ kind: 'volume', id, meta, name: `st_${key}`, stack: 'st', spec: { driver: 'local', external: false, labels: {}, driver_opts: {} } });
const up = (o: TaskObj | NetworkObj | VolumeObj): Assignment => ({ action: 'update', kind: o.kind, id: o.id, obj: o });
const rm = (o: TaskObj | NetworkObj | VolumeObj): Assignment => ({ action: 'remove', kind: o.kind, id: o.id, obj: o });
const none = () => undefined;

describe('assignments', () => {
  it('an incremental change touches only what it names; a full set drops what it lacks', () => {
    const a = new Assignments();
    let r = a.apply(false, [up(task('t1')), up(task('t2'))], none);
    expect([...r.touched].sort()).toEqual(['t1', 't2']);
    expect(r.firstFull).toBe(false);
    expect(a.fullReceived).toBe(false);
    r = a.apply(true, [up(task('t2')), up(task('t3'))], (id) => (id === 't3' ? 'c3' : undefined));
    expect(r.firstFull).toBe(true);
    expect([...r.touched].sort()).toEqual(['t1', 't2', 't3']);
    expect([...a.tasks.keys()].sort()).toEqual(['t2', 't3']);
    expect(a.dropped.has('t1')).toBe(true);
    expect(a.tasks.get('t3')!.containerId).toBe('c3');
    expect(a.apply(true, [up(task('t2')), up(task('t3'))], none).firstFull).toBe(false);
    // A task assigned again is no longer dropped.
    a.apply(false, [up(task('t1'))], none);
    expect(a.dropped.has('t1')).toBe(false);
  });

  it('a network leaving the set is released, unless another object keeps its name or it is external', () => {
    const a = new Assignments();
    const front = net('n1', 'front');
    const ext = net('n2', 'ext', true);
    a.apply(true, [up(front), up(ext)], none);
    const r = a.apply(true, [], none);
    expect(r.resources).toEqual([{ op: 'release', kind: 'network', name: 'st_front', stack: 'st' }]);
    // Two objects of one name (stack deployed again): the name is released only when both went.
    const old = net('n3', 'back');
    const again = net('n4', 'back');
    a.apply(false, [up(old), up(again)], none);
    expect(a.apply(false, [rm(old)], none).resources).toEqual([]);
    expect(a.apply(false, [rm(again)], none).resources).toEqual([{ op: 'release', kind: 'network', name: 'st_back', stack: 'st' }]);
    expect(a.apply(false, [up(again)], none).resources).toEqual([{ op: 'keep', kind: 'network', name: 'st_back', stack: 'st' }]);
    expect(a.wants('network', 'st_back')).toBe(true);
  });

  it('a volume is never released by leaving the set; an explicit removal purges every object of its name', () => {
    const a = new Assignments();
    const v1 = vol('v1', 'data');
    const v2 = vol('v2', 'data');
    a.apply(true, [up(v1)], none);
    expect(a.apply(true, [], none).resources).toEqual([]);
    expect(a.wants('volume', 'st_data')).toBe(false);
    a.apply(false, [up(v1), up(v2)], none);
    expect(a.apply(false, [rm(v2)], none).resources).toEqual([{ op: 'release', kind: 'volume', name: 'st_data', stack: 'st' }]);
    expect(a.volumes.values()).toEqual([]);
  });

  it('orphans are the containers of unassigned tasks, and only once a full set arrived', () => {
    const a = new Assignments();
    a.apply(false, [up(task('t1'))], none);
    expect(orphans(['t1', 't9'], a)).toEqual([]);
    a.apply(true, [up(task('t1'))], none);
    expect(orphans(['t1', 't9', ''], a)).toEqual(['t9']);
  });

  it('resolves a task\'s networks (aliases) and volumes to engine names', () => {
    const a = new Assignments();
    a.apply(true, [up(net('n1', 'back')), up(vol('v1', 'data'))], none);
    const t = task('t1');
    t.spec.networks = { back: { aliases: ['api'] }, front: { aliases: [] } };
    t.spec.volumes = [{ type: 'volume', source: 'data', target: '/data', read_only: false }, { type: 'tmpfs', target: '/tmp', read_only: false }];
    expect(a.networksOf(t).map(({ name, aliases, obj }) => ({ name, aliases, known: !!obj }))).toEqual([
      { name: 'st_back', aliases: ['web', 'st_web', 'api'], known: true },
      { name: 'st_front', aliases: ['web', 'st_web'], known: false },
    ]);
    const m = a.mountsOf(t);
    expect(m.mounts).toEqual([{ type: 'volume', source: 'st_data', target: '/data', readOnly: false }, { type: 'tmpfs', source: undefined, target: '/tmp', readOnly: false }]);
    expect(m.volumes.map((v) => v.name)).toEqual(['st_data']);
  });
});
