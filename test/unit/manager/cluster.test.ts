// Cluster settings through the API on a store that has no cluster object yet (a data dir older
// than the setting): defaults are shown, bad input writes nothing, the first update creates it.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApi } from '../../../manager/controlapi/server.js';
import type { Dispatcher } from '../../../manager/dispatcher/dispatcher.js';
import { loneBackend } from '../../../manager/store/raft-backend.js';
import { Store } from '../../../manager/store/store.js';
import { TestSealer } from '../helpers/sealer.js';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function open(dir: string, snapshotEvery?: number): Promise<Store> {
  const s = new Store(loneBackend(dir, { snapshotEntries: snapshotEvery }));
  await s.open();
  stores.push(s);
  return s;
}

function api(store: Store) {
  // The cluster routes never reach the dispatcher.
  return buildApi({ store, sealer: new TestSealer(), dispatcher: {} as Dispatcher, log: pino({ level: 'silent' }), info: () => ({ version: 'test', clusterId: 'c', nodeId: 'n', dataDir: '/tmp/x', pid: 1 }) });
}

describe('cluster settings API', () => {
  it('shows defaults without a cluster object, refuses bad input whole, creates it on update', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsswarm-cluster-'));
    dirs.push(dir);
    const store = await open(dir);
    const start = store.index;
    const app = api(store);

    const shown = await app.inject({ method: 'GET', url: '/v1/cluster' });
    expect(shown.statusCode).toBe(200);
    expect(shown.json()).toMatchObject({ kind: 'cluster', id: 'default', spec: { taskHistoryLimit: 5 } });

    const bad = [
      { spec: { taskHistoryLimit: -1 } },
      { spec: { taskHistoryLimit: 1.5 } },
      { spec: { taskHistoryLimit: '3' } },
      { spec: { taskHistoryLimit: 3, other: true } },
      { spec: [] },
      {},
    ];
    for (const payload of bad) {
      const r = await app.inject({ method: 'POST', url: '/v1/cluster/update', payload });
      expect(r.statusCode, JSON.stringify(payload)).toBe(400);
    }
    const named = await app.inject({ method: 'POST', url: '/v1/cluster/update', payload: { spec: { taskHistoryLimit: -1 } } });
    expect(named.json().message).toMatch(/^taskHistoryLimit must be an integer >= 0, got -1/);
    expect(named.json()).toMatchObject({ code: 'TSW_ERR_INVALID_ARGUMENT', details: [{ field: 'spec.taskHistoryLimit' }] });
    const unknown = await app.inject({ method: 'POST', url: '/v1/cluster/update', payload: { spec: { colour: 'red' } } });
    expect(unknown.json()).toMatchObject({ code: 'TSW_ERR_INVALID_ARGUMENT', message: expect.stringMatching(/^unknown cluster setting colour/), details: [{ field: 'spec.colour' }] });
    expect(store.index).toBe(start);
    expect(store.state().cluster).toBeUndefined();

    const ok = await app.inject({ method: 'POST', url: '/v1/cluster/update', payload: { spec: { taskHistoryLimit: 0 } } });
    expect(ok.statusCode).toBe(200);
    expect(store.state().cluster?.spec).toEqual({ taskHistoryLimit: 0 });
    const again = await app.inject({ method: 'POST', url: '/v1/cluster/update', payload: { spec: { taskHistoryLimit: 2 } } });
    expect(again.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/cluster' })).json()).toMatchObject({ spec: { taskHistoryLimit: 2 }, meta: { version: store.index } });
    await app.close();
  });

  it('the setting survives a restart, from the log and from a snapshot', async () => {
    for (const snapshotEvery of [1000, 1]) {
      const dir = mkdtempSync(join(tmpdir(), 'tsswarm-cluster-'));
      dirs.push(dir);
      const store = await open(dir, snapshotEvery);
      const app = api(store);
      expect((await app.inject({ method: 'POST', url: '/v1/cluster/update', payload: { spec: { taskHistoryLimit: 9, allowedBindPaths: ['/srv/'] } } })).statusCode).toBe(200);
      await app.close();
      await store.close();
      stores.splice(stores.indexOf(store), 1);
      const reopened = await open(dir);
      expect(reopened.state().cluster?.spec).toEqual({ taskHistoryLimit: 9, allowedBindPaths: ['/srv'] });
    }
  });
});
