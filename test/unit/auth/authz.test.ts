// Who may do what over gRPC (manager/auth/authz.ts), and when nodes renew (common/renewal.ts):
// pure decisions on a store held in memory.

import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Authorizer } from '../../../manager/auth/authz.js';
import { keepCerts } from '../../../manager/cluster/control.js';
import { Store } from '../../../manager/store/store.js';
import { newClusterObj, type NodeObj } from '../../../manager/store/types.js';
import { CERT_BACKDATE_MS, renewalDelay, retryDelay } from '../../../common/renewal.js';
import { memoryLog } from '../store/memory-log.js';

const node = (id: string, serials: string[]): NodeObj => ({
  kind: 'node', id, meta: { version: 0, createdAt: 0, updatedAt: 0 },
  spec: { role: 'worker', availability: 'active', labels: {} },
  description: { hostname: id, platform: { os: 'linux', arch: '' }, resources: { nanoCpus: 0, memoryBytes: 0 }, engine: { version: '', labels: {} } },
  status: { state: 'ready', addr: '', message: '', lastHeartbeat: 0 },
  certs: serials.map((serial) => ({ serial, notAfter: Date.now() + 60_000 })),
});

describe('Authorizer', () => {
  let authz: Authorizer | undefined;
  afterEach(() => authz?.close());

  async function setup() {
    const store = new Store(memoryLog());
    await store.open();
    await store.update((tx) => {
      tx.create({ ...newClusterObj(), managers: [{ raftId: 7, nodeId: 'mgr1', addr: '127.0.0.1:1', desired: 'voter' }] });
      tx.create(node('w1', ['abc']));
    });
    authz = new Authorizer({ store, clusterId: () => 'c1', log: pino({ level: 'silent' }) });
    return { store, authz };
  }

  it('a current manager may do anything; a worker only what a node does, with a serial it was issued', async () => {
    const { authz: a } = await setup();
    expect(a.problem({ nodeId: 'mgr1', role: 'manager', clusterId: 'c1', serial: 'x' }, 'manager')).toBeUndefined();
    expect(a.problem({ nodeId: 'mgr1', role: 'manager', clusterId: 'c1', serial: 'x' }, 'node')).toBeUndefined();
    expect(a.problem({ nodeId: 'w1', role: 'worker', clusterId: 'c1', serial: 'abc' }, 'node')).toBeUndefined();
    expect(a.problem({ nodeId: 'w1', role: 'worker', clusterId: 'c1', serial: 'abc' }, 'manager')).toMatch(/not a manager/);
    expect(a.problem({ nodeId: 'w1', role: 'worker', clusterId: 'c1', serial: 'def' }, 'node')).toMatch(/revoked or replaced/);
    expect(a.problem({ nodeId: 'w2', role: 'worker', clusterId: 'c1', serial: 'abc' }, 'node')).toMatch(/not part of this cluster/);
    expect(a.problem({ nodeId: 'mgr2', role: 'manager', clusterId: 'c1', serial: 'x' }, 'manager')).toMatch(/not a manager of this cluster/);
    expect(a.problem({ nodeId: 'mgr1', role: 'manager', clusterId: 'other', serial: 'x' }, 'manager')).toMatch(/another cluster/);
    expect(a.problem({ nodeId: 'laptop', role: 'client', clusterId: 'c1', serial: 'x' }, 'node')).toMatch(/client certificate cannot connect/);
  });

  it('cuts a tracked call once its node is removed', async () => {
    const { store, authz: a } = await setup();
    const cut: string[] = [];
    const call = { getAuthContext: () => ({}), getPeer: () => 'test' };
    a.track(call, { nodeId: 'w1', role: 'worker', clusterId: 'c1', serial: 'abc' }, 'node', (e) => cut.push(e.details));
    await store.update((tx) => tx.update({ ...tx.get('node', 'w1')!, status: { ...tx.get('node', 'w1')!.status, message: 'still here' } }));
    await new Promise((r) => setImmediate(r));
    expect(cut).toEqual([]);
    await store.update((tx) => tx.delete('node', 'w1'));
    await new Promise((r) => setImmediate(r));
    expect(cut).toEqual(['node w1 is not part of this cluster (removed?)']);
  });
});

describe('keepCerts', () => {
  it('keeps the new certificate first, older ones until they expire, at most three', () => {
    const now = 1000;
    expect(keepCerts(undefined, { serial: 'a', notAfter: 5000 }, now)).toEqual([{ serial: 'a', notAfter: 5000 }]);
    const cur = [{ serial: 'b', notAfter: 3000 }, { serial: 'c', notAfter: 500 }, { serial: 'd', notAfter: 4000 }, { serial: 'e', notAfter: 6000 }];
    expect(keepCerts(cur, { serial: 'a', notAfter: 9000 }, now).map((c) => c.serial)).toEqual(['a', 'b', 'd']);
  });
});

describe('renewal timing', () => {
  it('renews between half and four fifths of the way through the validity, counted from issue', () => {
    const issued = 1_000_000_000;
    const notBefore = issued - CERT_BACKDATE_MS;
    const notAfter = issued + 100_000;
    expect(renewalDelay(notBefore, notAfter, issued, 0)).toBe(50_000);
    expect(renewalDelay(notBefore, notAfter, issued, 0.999999)).toBeCloseTo(80_000, -1);
    expect(renewalDelay(notBefore, notAfter, issued + 90_000, 0)).toBe(0);
  });
  it('retries soon after a failure, never in a busy loop', () => {
    expect(retryDelay(10_000, 9_999)).toBe(1000);
    expect(retryDelay(10_000_000, 0)).toBe(60_000);
    expect(retryDelay(100_000, 0)).toBe(10_000);
  });
});
