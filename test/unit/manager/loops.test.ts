import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlLoops } from '../../../manager/control/loops.js';
import { ORCHESTRATION_FAILED } from '../../../manager/orchestrator/index.js';
import { loneBackend } from '../../../manager/store/raft-backend.js';
import { Store } from '../../../manager/store/store.js';
import type { StoreObj } from '../../../manager/store/types.js';
import { T0, node, service } from '../orchestrator/fixtures.js';

const dirs: string[] = [];
const loops: ControlLoops[] = [];
afterEach(async () => {
  for (const l of loops.splice(0)) await l.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function storeWith(objs: StoreObj[]): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), 'tsswarm-loops-'));
  dirs.push(dir);
  const store = new Store(loneBackend(dir));
  await store.open();
  await store.update((tx) => { for (const o of objs) tx.create(o); });
  return store;
}

/** A logger whose records are kept for the test to read. */
function recordingLog(): { log: pino.Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { records.push(JSON.parse(String(chunk)) as Record<string, unknown>); cb(); } });
  return { log: pino({ level: 'debug' }, stream), records };
}

/** Resolves when `pred` holds of the store (checked now and after every change). */
function until(store: Store, pred: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (pred()) { resolve(); return; }
    const stop = store.watch(() => { if (pred()) { stop(); resolve(); } });
  });
}

describe('ControlLoops', () => {
  it('converges a good service beside a poisoned one and reports the poison once', async () => {
    const good = service('web', { replicas: 2 });
    const bad = service('bad', { replicas: 1e12 });
    const store = await storeWith([node('n1', { heartbeat: Date.now() }), bad, good]);
    const { log, records } = recordingLog();
    const l = new ControlLoops({ store, log, heartbeats: () => new Map([['n1', Date.now()]]), nodeGraceMs: 60_000 });
    loops.push(l);
    l.start();
    await until(store, () => store.state().tasks.filter((t) => t.serviceId === good.id && t.status.state === 'assigned').length === 2);
    // More passes: the poison is neither logged nor written again.
    for (let i = 0; i < 3; i++) { l.trigger(); await l.whenIdle(); }
    const reports = records.filter((r) => r.loop === 'orchestrator' && r.level === 50);
    expect(reports.map((r) => [r.id, r.service])).toEqual([[bad.id, bad.name]]);
    expect(String(reports[0].error)).toMatch(/deploy\.replicas 1000000000000 is not an integer/);
    const marked = store.view((tx) => tx.get('service', bad.id))!;
    expect(marked.updateStatus?.message).toMatch(new RegExp(`^${ORCHESTRATION_FAILED}`));
    const version = marked.meta.version;
    l.trigger(); await l.whenIdle();
    expect(store.view((tx) => tx.get('service', bad.id))!.meta.version).toBe(version);
    expect(store.state().tasks.filter((t) => t.serviceId === bad.id)).toEqual([]);
  });

  it('runs the node monitor: down after the grace without heartbeats, ready when heard again', async () => {
    let now = T0;
    const heartbeats = new Map<string, number>([['n1', T0]]);
    const store = await storeWith([node('n1', { heartbeat: T0 })]);
    const { log, records } = recordingLog();
    const l = new ControlLoops({ store, log, heartbeats: () => heartbeats, nodeGraceMs: 3000, now: () => now, tickMs: 3_600_000 });
    loops.push(l);
    l.start();
    await l.whenIdle();
    expect(store.view((tx) => tx.get('node', 'n1'))!.status.state).toBe('ready');
    now = T0 + 3001;
    l.trigger();
    await until(store, () => store.view((tx) => tx.get('node', 'n1'))!.status.state === 'down');
    await l.whenIdle(); // the pass that wrote it logs once the write is committed
    expect(records.filter((r) => r.msg === 'node down: heartbeat failure').map((r) => r.node)).toEqual(['n1']);
    heartbeats.set('n1', now);
    l.nodeHeard('n1');
    await until(store, () => store.view((tx) => tx.get('node', 'n1'))!.status.state === 'ready');
  });
});
