// The agent with its Docker engine down: tasks wait instead of being rejected (the pure
// decision), and the engine watch (a fake ping) says when the engine stops and starts answering.

import { createServer, Agent, request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { defaultDeploy } from '../../../common/spec.js';
import type { TaskObj, TaskStatus } from '../../../common/api/objects.js';
import { AgentErrorCodes, TaskError } from '../../../agent/errors.js';
import { EngineWatch, mayBeEngineGone, pingEngine, pingError } from '../../../agent/exec/engine.js';
import { decideWithoutEngine, type TaskFacts } from '../../../agent/worker/reconcile.js';

const NOW = 1_700_000_000_000;
const ERR = 'connect ENOENT /run/docker.sock';
const WAITING = `waiting for the Docker engine: ${ERR}`;

function task(extra: Partial<TaskObj> = {}): TaskObj {
  return {
    kind: 'task', id: 't1', meta: { version: 1, createdAt: 0, updatedAt: 0 },
    serviceId: 'svc1', serviceName: 'shop_web', stack: 'shop', slot: 1, nodeId: 'n1', specVersion: 1,
    spec: { image: 'busybox', environment: {}, labels: {}, ports: [], volumes: [], networks: {}, depends_on: {}, deploy: defaultDeploy(), stop_grace_period: '3s' },
    desiredState: 'running',
    status: { state: 'assigned', timestamp: 0, message: 'assigned' },
    ...extra,
  };
}
const facts = (t: TaskObj, last?: TaskStatus): TaskFacts => ({ task: t, last, ingressReady: true });
const st = (state: TaskStatus['state'], message: string = state): TaskStatus => ({ state, timestamp: NOW - 1, message });

describe('decideWithoutEngine: tasks wait, never fail, for the engine', () => {
  const rows: [string, TaskFacts | undefined, TaskStatus | undefined][] = [
    ['a new task waits as accepted, saying why', facts(task()), { state: 'accepted', timestamp: NOW, message: WAITING }],
    ['a task preparing waits there', facts(task(), st('preparing')), { state: 'preparing', timestamp: NOW, message: WAITING }],
    ['a task starting waits there', facts(task(), st('starting')), { state: 'starting', timestamp: NOW, message: WAITING }],
    ['waiting for a restart delay: now waits for the engine', facts(task(), st('accepted', 'waiting for restart delay')), { state: 'accepted', timestamp: NOW, message: WAITING }],
    ['already said: not again', facts(task(), { ...st('accepted'), message: WAITING }), undefined],
    ['a running task: nothing (it may be running still)', facts(task(), st('running')), undefined],
    ['the manager counts it running: nothing', facts(task({ status: st('running') })), undefined],
    ['a task that ended: nothing', facts(task(), st('failed')), undefined],
    ['a task to stop: nothing (done once the engine answers)', facts(task({ desiredState: 'shutdown' }), st('preparing')), undefined],
    ['not assigned: nothing', undefined, undefined],
  ];
  it.each(rows)('%s', (_name, f, want) => {
    const actions = decideWithoutEngine(f, ERR, NOW);
    expect(actions).toEqual(want ? [{ do: 'report', status: want }] : []);
    // Never a rejection or failure.
    expect(actions.every((a) => a.do === 'report' && a.status.state !== 'rejected' && a.status.state !== 'failed')).toBe(true);
  });
});

describe('engine errors', () => {
  it.each([
    ['socket gone', Object.assign(new Error('connect ENOENT /x'), { code: 'ENOENT' }), true],
    ['refused', Object.assign(new Error('connect ECONNREFUSED /x'), { code: 'ECONNREFUSED' }), true],
    ['dropped socket', new Error('socket hang up'), true],
    ['an answer of the engine (HTTP status)', Object.assign(new Error('conflict'), { statusCode: 409 }), false],
    ['a server error (an engine shutting down answers with 500s)', Object.assign(new Error('failed to update store for object type *libnetwork.endpoint'), { statusCode: 500 }), true],
    ['a prepare error saying the engine is unavailable', new TaskError(AgentErrorCodes.ENGINE_UNAVAILABLE, 'x'), true],
    ['a pull that failed (the engine may have gone meanwhile)', new TaskError(AgentErrorCodes.IMAGE_NOT_FOUND, 'x'), true],
    ['a port in use', new TaskError(AgentErrorCodes.PORT_IN_USE, 'x'), false],
  ])('%s: probe the engine = %s', (_n, err, want) => expect(mayBeEngineGone(err)).toBe(want));

  it('says what a failed ping means', () => {
    expect(pingError(Object.assign(new Error('x'), { name: 'AbortError' }), 2000)).toBe('no answer within 2s');
    expect(pingError(Object.assign(new Error('connect ENOENT /run/d.sock'), { code: 'ENOENT' }), 2000)).toBe('connect ENOENT /run/d.sock');
  });
});

describe('pingEngine', () => {
  it('uses a new connection: an engine that closed its listener (shutting down) fails the ping while kept-alive connections still answer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsw-ping-'));
    const sock = join(dir, 'docker.sock');
    // The listener apart from the HTTP server: closing it leaves the open connections serving,
    // as an engine shutting down does.
    const server = createServer((req, res) => { res.end(req.url === '/_ping' ? 'OK' : 'x'); });
    const listener = createNetServer((s) => server.emit('connection', s));
    await new Promise<void>((r) => listener.listen(sock, r));
    try {
      const docker = new Dockerode({ socketPath: sock });
      await expect(pingEngine(docker, new AbortController().signal)).resolves.toBeUndefined();
      // A kept-alive connection, as the agent's other engine calls hold.
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const get = () => new Promise<number>((resolve, reject) => {
        request({ socketPath: sock, path: '/_ping', agent }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); }).on('error', reject).end();
      });
      expect(await get()).toBe(200);
      listener.close();
      expect(await get()).toBe(200);
      const err = await pingEngine(docker, new AbortController().signal).then(() => undefined, (e: unknown) => e);
      expect(mayBeEngineGone(err)).toBe(true);
      agent.destroy();
    } finally {
      server.closeAllConnections();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails with the HTTP status when the engine answers with an error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsw-ping-'));
    const sock = join(dir, 'docker.sock');
    const server = createServer((_req, res) => { res.statusCode = 500; res.end('down'); });
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      await expect(pingEngine(new Dockerode({ socketPath: sock }), new AbortController().signal)).rejects.toMatchObject({ statusCode: 500 });
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('EngineWatch', () => {
  const log = pino({ level: 'silent' });

  /** A ping the test answers: each call waits for `answer`. */
  function fakeEngine() {
    let up = true;
    let calls = 0;
    let hang = false;
    return {
      set up(v: boolean) { up = v; },
      set hang(v: boolean) { hang = v; },
      get calls() { return calls; },
      ping: (signal: AbortSignal) => {
        calls++;
        if (hang) return new Promise((_, reject) => signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }))));
        return up ? Promise.resolve('OK') : Promise.reject(Object.assign(new Error(ERR), { code: 'ENOENT' }));
      },
    };
  }

  it('reports each change once: down on a failed call, up again when a ping answers', async () => {
    const e = fakeEngine();
    const w = new EngineWatch({ ping: e.ping, log, upIntervalMs: 60_000, downIntervalMs: 60_000 });
    const changes: string[] = [];
    w.onChange((err) => changes.push(err));
    expect(await w.start()).toBe(true);
    expect(w.up).toBe(true);
    // An error that is an answer of the engine: no probe.
    const before = e.calls;
    expect(await w.suspect(Object.assign(new Error('no such container'), { statusCode: 404 }))).toBe(false);
    expect(e.calls).toBe(before);
    e.up = false;
    expect(await w.suspect(Object.assign(new Error(ERR), { code: 'ENOENT' }))).toBe(true);
    expect([w.up, w.lastError]).toEqual([false, ERR]);
    expect(await w.check()).toBe(false);
    e.up = true;
    expect(await w.check()).toBe(true);
    expect(changes).toEqual([ERR, '']);
    w.stop();
  });

  it('concurrent checks share one ping', async () => {
    const e = fakeEngine();
    const w = new EngineWatch({ ping: e.ping, log });
    const n = e.calls;
    await Promise.all([w.check(), w.check(), w.suspect(new Error('socket hang up'))]);
    expect(e.calls).toBe(n + 1);
  });

  it('a ping that does not answer in time counts as down once confirmed; a refused one at once', async () => {
    const e = fakeEngine();
    e.hang = true;
    const w = new EngineWatch({ ping: e.ping, log, timeoutMs: 20, confirmIntervalMs: 1 });
    const n = e.calls;
    expect(await w.check()).toBe(false);
    expect(w.lastError).toBe('no answer within 20ms');
    expect(e.calls - n).toBe(3);
    // Already down: no confirmation needed.
    expect(await w.check()).toBe(false);
    expect(e.calls - n).toBe(4);
    e.hang = false;
    expect(await w.check()).toBe(true);
    e.up = false;
    const m = e.calls;
    expect(await w.check()).toBe(false);
    expect(e.calls - m).toBe(1);
  });

  it('a busy engine that answers the confirming ping stays up', async () => {
    let calls = 0;
    const ping = (signal: AbortSignal) => (++calls === 1
      ? new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))))
      : Promise.resolve('OK'));
    const w = new EngineWatch({ ping, log, timeoutMs: 20, confirmIntervalMs: 1 });
    const changes: string[] = [];
    w.onChange((err) => changes.push(err));
    expect(await w.check()).toBe(true);
    expect(changes).toEqual([]);
  });

  it('pings on its own while down, and sees the engine come back', async () => {
    const e = fakeEngine();
    e.up = false;
    const w = new EngineWatch({ ping: e.ping, log, downIntervalMs: 5, upIntervalMs: 60_000 });
    const back = new Promise<void>((resolve) => w.onChange((err) => { if (!err) resolve(); }));
    expect(await w.start()).toBe(false);
    e.up = true;
    await back;
    expect(w.up).toBe(true);
    w.stop();
  });
});
