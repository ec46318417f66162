// The dispatcher's side of node monitoring: it records when it hears from a node and keeps
// what agents report honest (validated statuses), and decides nothing about nodes.
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../../common/api/limits.js';
import { Dispatcher } from '../../../manager/dispatcher/dispatcher.js';
import { parseTaskStatus } from '../../../manager/dispatcher/status.js';
import { loneBackend } from '../../../manager/store/raft-backend.js';
import { Store } from '../../../manager/store/store.js';
import type { TaskStatus } from '../../../manager/store/types.js';
import { dispatcherProto } from '../../../proto/load.js';
import type { AgentMessage } from '../../../proto/gen/tsswarm/dispatcher/v1/AgentMessage.js';
import type { ManagerMessage__Output } from '../../../proto/gen/tsswarm/dispatcher/v1/ManagerMessage.js';
import { node, service, task } from '../orchestrator/fixtures.js';

const dirs: string[] = [];
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const ok: TaskStatus = { state: 'running', timestamp: 1, message: 'started', pid: 42, health: 'none', portBindings: [{ target: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 30000 }] };

describe('parseTaskStatus', () => {
  it('keeps a well-formed status, and only its known fields', () => {
    expect(parseTaskStatus(JSON.stringify({ ...ok, extra: 'x' }))).toEqual({ ok: true, status: ok });
  });

  it.each([
    ['not JSON', '{"state":', /not JSON/],
    ['not an object', '[1]', /not an object/],
    ['an unknown state', JSON.stringify({ ...ok, state: 'exploded' }), /unknown state/],
    ['a state only the manager sets', JSON.stringify({ ...ok, state: 'orphaned' }), /not one an agent reports/],
    ['a timestamp that is not finite', '{"state":"running","timestamp":1e999,"message":""}', /timestamp/],
    ['a message over the bound', JSON.stringify({ ...ok, message: 'x'.repeat(LIMITS.stringLength + 1) }), /message is longer/],
    ['a non-integer exit code', JSON.stringify({ ...ok, exitCode: 1.5 }), /exitCode/],
    ['an unknown health', JSON.stringify({ ...ok, health: 'great' }), /health/],
    ['a bad port binding', JSON.stringify({ ...ok, portBindings: [{ target: 0, protocol: 'tcp', hostIp: '', hostPort: 1 }] }), /portBindings\[0\]\.target/],
    ['a huge document', JSON.stringify({ ...ok, err: 'x'.repeat(5 * LIMITS.stringLength) }), /larger than/],
  ])('refuses %s', (_what, json, why) => {
    const r = parseTaskStatus(json);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.error).toMatch(why);
  });
});

describe('Dispatcher', () => {
  it('records heartbeats, listens 0600, stores valid statuses and drops the others without ending the session', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsswarm-dispatcher-'));
    dirs.push(dir);
    const store = new Store(loneBackend(join(dir, 'raft')));
    await store.open();
    cleanup.push(() => store.close());
    const svc = service('web', { replicas: 2 });
    await store.update((tx) => {
      tx.create(node('other'));
      tx.create(svc);
      tx.create(task(svc, { id: 'mine', slot: 1, nodeId: 'n1', state: 'assigned' }));
      tx.create(task(svc, { id: 'theirs', slot: 2, nodeId: 'other', state: 'assigned' }));
    });
    const records: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, new Writable({ write(c, _e, cb) { records.push(JSON.parse(String(c)) as Record<string, unknown>); cb(); } }));
    const dispatcher = new Dispatcher({ store, log, heartbeatPeriodMs: 60_000 });
    const sock = join(dir, 'dispatcher.sock');
    await dispatcher.listen([`unix://${sock}`]);
    cleanup.push(() => dispatcher.close());
    expect((statSync(sock).mode & 0o777).toString(8)).toBe('600');

    const client = new (dispatcherProto().tsswarm.dispatcher.v1.Dispatcher)(`unix://${sock}`, grpc.credentials.createInsecure());
    cleanup.push(() => client.close());
    const call = client.Session();
    cleanup.push(() => { call.cancel(); });
    call.on('error', () => undefined);
    const welcomed = new Promise<void>((resolve) => call.on('data', (m: ManagerMessage__Output) => { if (m.welcome) resolve(); }));
    const send = (m: AgentMessage) => call.write(m);
    send({ register: { node_id: 'n1', description: { hostname: 'alpha' } } });
    await welcomed;
    expect(dispatcher.connectedNodes()).toEqual(['n1']);
    const heardAt = dispatcher.heartbeats().get('n1');
    expect(heardAt).toBeTypeOf('number');
    const heard: string[] = [];
    cleanup.push(dispatcher.onHeard((id) => heard.push(id)));

    const applied = (id: string, state: string) => new Promise<void>((resolve) => {
      const check = () => store.view((tx) => tx.get('task', id))?.status.state === state;
      if (check()) { resolve(); return; }
      const stop = store.watch(() => { if (check()) { stop(); resolve(); } });
    });
    send({ statuses: { updates: [
      { task_id: 'mine', status_json: '{not json' },
      { task_id: 'mine', status_json: JSON.stringify({ ...ok, state: 'exploded' }) },
      { task_id: 'theirs', status_json: JSON.stringify({ ...ok, state: 'failed' }) },
      { task_id: 'mine', status_json: JSON.stringify({ ...ok, state: 'starting', message: 'starting' }) },
    ] } });
    await applied('mine', 'starting');
    // The session still works after the bad ones.
    send({ heartbeat: {} });
    send({ statuses: { updates: [{ task_id: 'mine', status_json: JSON.stringify(ok) }] } });
    await applied('mine', 'running');
    expect(store.view((tx) => tx.get('task', 'mine'))!.status).toEqual(ok);
    expect(store.view((tx) => tx.get('task', 'theirs'))!.status.state).toBe('assigned');
    expect(heard).toEqual(['n1', 'n1', 'n1']);
    // The dispatcher does not judge nodes: n1 is still as registration left it.
    expect(store.view((tx) => tx.get('node', 'n1'))!.status.state).toBe('ready');
    const dropped = records.filter((r) => r.msg === 'invalid task status dropped' || r.msg === 'status for a task of another node dropped');
    expect(dropped.map((r) => [r.task, r.reason])).toEqual([
      ['mine', 'status is not JSON'],
      ['mine', 'unknown state "exploded"'],
      ['theirs', undefined],
    ]);
  });
});
