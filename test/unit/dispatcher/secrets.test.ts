// The dispatcher sends a node the secrets and configs its tasks use: opened with the sealer
// only when sent, before the tasks; a new revision is sent again, what left the set is removed
// after the tasks; no value in any log line; without a sealer (or one that cannot open a
// secret) the node is told why instead of getting a value.
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { ObjectRef } from '../../../common/spec.js';
import { Dispatcher } from '../../../manager/dispatcher/dispatcher.js';
import type { Sealer } from '../../../manager/keys/sealer.js';
import { Store } from '../../../manager/store/store.js';
import type { ConfigObj, SecretObj, TaskObj } from '../../../manager/store/types.js';
import { dispatcherProto } from '../../../proto/load.js';
import type { Assignment__Output } from '../../../proto/gen/tsswarm/dispatcher/v1/Assignment.js';
import type { ManagerMessage__Output } from '../../../proto/gen/tsswarm/dispatcher/v1/ManagerMessage.js';
import { TestSealer } from '../helpers/sealer.js';
import { service, task } from '../orchestrator/fixtures.js';
import { memoryLog } from '../store/memory-log.js';
import { LogTap, dispatcherFixture } from './harness.js';

const { cleanup } = dispatcherFixture();
const meta = { version: 0, createdAt: 0, updatedAt: 0 };

async function start(sealer?: Sealer) {
  const store = new Store(memoryLog());
  await store.open();
  const tap = new LogTap('trace');
  const d = new Dispatcher({ store, log: tap.log, heartbeatPeriodMs: 60_000, sealer });
  const [port] = await d.listen(['127.0.0.1:0']);
  cleanup.push(async () => { await d.close(); await store.close(); });
  return { store, tap, addr: `127.0.0.1:${port}` };
}

/** A node's session: every Assignments message, waited for in order. */
function agent(addr: string, nodeId: string) {
  const client = new (dispatcherProto().tsswarm.dispatcher.v1.Dispatcher)(addr, grpc.credentials.createInsecure());
  const call = client.Session();
  const batches: { full: boolean; changes: Assignment__Output[] }[] = [];
  const ev = new EventEmitter();
  call.on('data', (m: ManagerMessage__Output) => { if (m.assignments) { batches.push(m.assignments); ev.emit('batch'); } });
  call.on('error', () => undefined);
  cleanup.push(() => { call.cancel(); client.close(); });
  call.write({ register: { node_id: nodeId, description: { hostname: nodeId }, task_ids: [] } });
  /** The next batch after the `seen` first ones; fails after 5 s. */
  const batch = (seen: number, what: string) => new Promise<{ full: boolean; changes: Assignment__Output[] }>((resolve, reject) => {
    const check = () => { if (batches.length > seen) { ev.off('batch', check); clearTimeout(timer); resolve(batches[seen]); } };
    const timer = setTimeout(() => { ev.off('batch', check); reject(new Error(`timed out waiting for ${what} (batches: ${JSON.stringify(batches)})`)); }, 5_000);
    ev.on('batch', check);
    check();
  });
  return { batches, batch };
}

const ref = (x: { id: string; name: string }, revision?: number): ObjectRef =>
  ({ source: x.name, id: x.id, target: x.name, uid: '0', gid: '0', mode: 0o444, ...(revision ? { revision } : {}) });

const secretObj = (sealer: Sealer, id: string, name: string, value: string, revision = 1): SecretObj =>
  ({ kind: 'secret', id, meta, name, stack: 'st', labels: {}, sealed: sealer.seal(Buffer.from(value), `secret/${id}`), revision, size: value.length });
const configObj = (id: string, name: string, value: string): ConfigObj =>
  ({ kind: 'config', id, meta, name, stack: 'st', labels: {}, data: Buffer.from(value).toString('base64'), revision: 1, size: value.length });

function using(id: string, nodeId: string, secrets: SecretObj[], configs: ConfigObj[] = []): TaskObj {
  const t = task(service('web'), { id, nodeId, state: 'running' });
  t.spec.secrets = secrets.map((s) => ref(s));
  t.spec.configs = configs.map((c) => ref(c));
  return t;
}

const kinds = (b: { changes: Assignment__Output[] }) => b.changes.map((c) => `${c.action} ${c.kind} ${c.id}`);
const docOf = (b: { changes: Assignment__Output[] }, id: string) => JSON.parse(b.changes.find((c) => c.id === id)!.object_json) as Record<string, unknown>;
const b64 = (v: string) => Buffer.from(v).toString('base64');

describe('Dispatcher: secrets and configs', () => {
  it('sends a node its tasks\' secrets (opened when sent) and configs before the tasks; re-sends a new revision; removes them after the tasks', async () => {
    const sealer = new TestSealer();
    const { store, tap, addr } = await start(sealer);
    const pw = 'hunter2-very-secret';
    const other = 'belongs-to-n2-only';
    const s1 = secretObj(sealer, 'sec1', 'st_db_pw', pw);
    const s2 = secretObj(sealer, 'sec2', 'st_other', other);
    const c1 = configObj('cfg1', 'st_app', 'listen 80\n');
    await store.update((tx) => {
      for (const o of [s1, s2, c1, using('t1', 'n1', [s1], [c1]), using('t2', 'n2', [s2])]) tx.create(o);
    });
    const n1 = agent(addr, 'n1');
    const full = await n1.batch(0, 'the full set');
    expect(full.full).toBe(true);
    expect(kinds(full)).toEqual(['UPDATE SECRET sec1', 'UPDATE CONFIG cfg1', 'UPDATE TASK t1']);
    expect(docOf(full, 'sec1')).toEqual({ id: 'sec1', name: 'st_db_pw', revision: 1, data: b64(pw) });
    expect(docOf(full, 'cfg1')).toEqual({ id: 'cfg1', name: 'st_app', revision: 1, data: b64('listen 80\n') });
    expect(sealer.opened).toBe(1); // n2's secret was never opened: n2 is not connected, and n1 does not get it

    // A change elsewhere: nothing re-sent, nothing opened again.
    await store.update((tx) => { const t = tx.get('task', 't2')!; tx.update({ ...t, status: { ...t.status, message: 'still running' } }); });
    await store.update((tx) => { tx.create(using('t3', 'n1', [])); });
    const b1 = await n1.batch(1, 'the new task');
    expect(kinds(b1)).toEqual(['UPDATE TASK t3']);
    expect(sealer.opened).toBe(1);

    // A new revision of the secret (and a task that names it) is sent, before the task.
    const pw2 = 'correct-horse-battery';
    await store.update((tx) => {
      const cur = tx.get('secret', 'sec1')!;
      tx.update({ ...cur, sealed: sealer.seal(Buffer.from(pw2), 'secret/sec1'), revision: 2 });
      const t4 = using('t4', 'n1', [s1]);
      t4.spec.secrets = [ref(s1, 2)];
      tx.create(t4);
    });
    const b2 = await n1.batch(2, 'the new revision');
    expect(kinds(b2)).toEqual(['UPDATE SECRET sec1', 'UPDATE TASK t4']);
    expect(docOf(b2, 'sec1')).toEqual({ id: 'sec1', name: 'st_db_pw', revision: 2, data: b64(pw2) });
    expect(sealer.opened).toBe(2);

    // The tasks that used them end: the secret and config leave after the tasks' updates.
    await store.update((tx) => {
      for (const id of ['t1', 't4']) { const t = tx.get('task', id)!; tx.update({ ...t, desiredState: 'shutdown', status: { ...t.status, state: 'shutdown' } }); }
    });
    const b3 = await n1.batch(3, 'the removals');
    expect(kinds(b3)).toEqual(['REMOVE TASK t1', 'REMOVE TASK t4', 'REMOVE SECRET sec1', 'REMOVE CONFIG cfg1']);

    const logged = JSON.stringify(tap.records);
    for (const v of [pw, pw2, other]) {
      expect(logged).not.toContain(v);
      expect(logged).not.toContain(b64(v));
    }
    expect(tap.count((r) => r.msg === 'sending secret' && r.secret === 'st_db_pw')).toBe(2);
  });

  it('without a sealer a node is told why instead of getting the value; a secret that does not open is named, never shown', async () => {
    const sealer = new TestSealer();
    const good = secretObj(sealer, 'sec1', 'st_db_pw', 'value-one');
    const altered = { ...secretObj(sealer, 'sec2', 'st_api_key', 'value-two'), sealed: secretObj(sealer, 'other', 'x', 'value-two').sealed };

    const none = await start();
    await none.store.update((tx) => { tx.create(good); tx.create(using('t1', 'n1', [good])); });
    const full = await agent(none.addr, 'n1').batch(0, 'the full set');
    expect(kinds(full)).toEqual(['UPDATE SECRET sec1', 'UPDATE TASK t1']);
    const doc = docOf(full, 'sec1');
    expect(doc.data).toBeUndefined();
    expect(doc.error).toMatch(/no key to open secrets.*st_db_pw/);

    const withKey = await start(sealer);
    await withKey.store.update((tx) => { tx.create(altered); tx.create(using('t2', 'n1', [altered])); });
    const full2 = await agent(withKey.addr, 'n1').batch(0, 'the full set');
    expect(docOf(full2, 'sec2')).toEqual({ id: 'sec2', name: 'st_api_key', revision: 1, error: 'secret st_api_key cannot be opened with the cluster\'s key' });
    const rec = await withKey.tap.waitFor('the failure logged', (r) => r.msg === 'cannot open a secret to send it');
    expect(rec).toMatchObject({ secret: 'st_api_key', secretId: 'sec2', node: 'n1' });
    expect(JSON.stringify([...none.tap.records, ...withKey.tap.records])).not.toContain('value-');
  });
});
