// The CLI against a stand-in manager on a unix socket: each API function calls its route with
// the right method, path and body; commands print what they print; hostile arguments are
// refused before any request reaches the manager.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import * as api from '../../../cli/api.js';
import { ApiClient } from '../../../cli/client.js';
import type { Io } from '../../../cli/io.js';
import { main, run } from '../../../cli/main.js';

interface Seen { method: string; url: string; body: unknown }

let dir: string;
let sock: string;
let server: Server;
let seen: Seen[] = [];
/** What the stand-in answers, by "METHOD path" (query included); default {}. */
let answers: Record<string, (res: ServerResponse) => void> = {};

const json = (status: number, body: unknown) => (res: ServerResponse) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsswarm-cli-'));
  sock = join(dir, 'api.sock');
  server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body: text ? JSON.parse(text) : undefined });
      (answers[`${req.method} ${req.url}`] ?? json(200, {}))(res);
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => { seen = []; answers = {}; });

const client = () => new ApiClient({ socketPath: sock, display: `unix://${sock}` });

function capture(): Io & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', tty: false, out: (s: string) => { io.stdout += s; }, err: (s: string) => { io.stderr += s; } };
  return io;
}

describe('one function per route', () => {
  const stack = { name: 's', services: {}, networks: {}, volumes: {} };
  it.each<[string, (c: ApiClient) => Promise<unknown>, Seen]>([
    ['info', (c) => api.info(c), { method: 'GET', url: '/v1/info', body: undefined }],
    ['deploy', (c) => api.deploy(c, stack, true), { method: 'POST', url: '/v1/stacks/deploy', body: { stack, dryRun: true } }],
    ['stacks', (c) => api.stacks(c), { method: 'GET', url: '/v1/stacks', body: undefined }],
    ['removeStack', (c) => api.removeStack(c, 'a b', false), { method: 'DELETE', url: '/v1/stacks/a%20b', body: undefined }],
    ['removeStack --volumes', (c) => api.removeStack(c, 's', true), { method: 'DELETE', url: '/v1/stacks/s?volumes=1', body: undefined }],
    ['services', (c) => api.services(c), { method: 'GET', url: '/v1/services', body: undefined }],
    ['services of a stack', (c) => api.services(c, 's&x'), { method: 'GET', url: '/v1/services?stack=s%26x', body: undefined }],
    ['service', (c) => api.service(c, 's/web'), { method: 'GET', url: '/v1/services/s%2Fweb', body: undefined }],
    ['scale', (c) => api.scale(c, 's_web', 3), { method: 'POST', url: '/v1/services/s_web/scale', body: { replicas: 3 } }],
    ['update', (c) => api.update(c, 's_web', { image: 'x' }, false), { method: 'POST', url: '/v1/services/s_web/update', body: { flags: { image: 'x' }, dryRun: false } }],
    ['rollback', (c) => api.rollback(c, 's_web'), { method: 'POST', url: '/v1/services/s_web/rollback', body: {} }],
    ['tasks of a service', (c) => api.tasks(c, { service: 's_web' }), { method: 'GET', url: '/v1/tasks?service=s_web', body: undefined }],
    ['tasks of a stack', (c) => api.tasks(c, { stack: 's' }), { method: 'GET', url: '/v1/tasks?stack=s', body: undefined }],
    ['nodes', (c) => api.nodes(c), { method: 'GET', url: '/v1/nodes', body: undefined }],
    ['node', (c) => api.node(c, 'n1'), { method: 'GET', url: '/v1/nodes/n1', body: undefined }],
    ['cluster', (c) => api.cluster(c), { method: 'GET', url: '/v1/cluster', body: undefined }],
    ['clusterUpdate', (c) => api.clusterUpdate(c, { taskHistoryLimit: 2 }), { method: 'POST', url: '/v1/cluster/update', body: { spec: { taskHistoryLimit: 2 } } }],
    ['clusterStatus', (c) => api.clusterStatus(c), { method: 'GET', url: '/v1/cluster/status', body: undefined }],
    ['joinToken', (c) => api.joinToken(c, 'worker'), { method: 'GET', url: '/v1/cluster/join-token/worker', body: undefined }],
    ['rotateJoinToken', (c) => api.rotateJoinToken(c, 'manager'), { method: 'POST', url: '/v1/cluster/join-token/manager/rotate', body: undefined }],
    ['updateNode', (c) => api.updateNode(c, 'n1', { availability: 'drain', labelAdd: ['a=b'] }), { method: 'POST', url: '/v1/nodes/n1/update', body: { availability: 'drain', labelAdd: ['a=b'] } }],
    ['promote', (c) => api.promote(c, 'n 1'), { method: 'POST', url: '/v1/nodes/n%201/promote', body: undefined }],
    ['demote', (c) => api.demote(c, 'n1'), { method: 'POST', url: '/v1/nodes/n1/demote', body: undefined }],
    ['removeNode', (c) => api.removeNode(c, 'n1', false), { method: 'DELETE', url: '/v1/nodes/n1', body: undefined }],
    ['removeNode --force', (c) => api.removeNode(c, 'n1', true), { method: 'DELETE', url: '/v1/nodes/n1?force=true', body: undefined }],
  ])('%s', async (_name, call, want) => {
    await call(client());
    expect(seen).toEqual([want]);
  });

  it('an error answer becomes the TsswarmError it describes', async () => {
    answers['GET /v1/services/nope'] = json(404, { code: ErrorCodes.SERVICE_NOT_FOUND, message: 'service nope not found', details: [] });
    const err = await api.service(client(), 'nope').catch((e) => e);
    expect(err).toBeInstanceOf(TsswarmError);
    expect(err).toMatchObject({ code: ErrorCodes.SERVICE_NOT_FOUND, message: 'service nope not found', httpStatus: 404 });
  });

  it('logs: NDJSON records, even split mid-line and mid-character', async () => {
    const lines = [{ task: 's_web.1.abc', stream: 'stdout', data: 'héllo\n', ts: 1 }, { task: 's_web.1.abc', stream: 'stderr', data: 'oops', ts: 2 }];
    const bytes = Buffer.from(lines.map((l) => JSON.stringify(l) + '\n').join(''));
    const cut = bytes.indexOf(0xc3) + 1; // inside the é
    answers['GET /v1/services/s_web/logs?follow=1&tail=5'] = (res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(bytes.subarray(0, cut));
      setTimeout(() => res.end(bytes.subarray(cut)), 20);
    };
    const got = [];
    for await (const l of api.logs(client(), 's_web', { follow: true, tail: 5, timestamps: false })) got.push(l);
    expect(got).toEqual(lines);
  });

  it('logs: an error answer is thrown with its code', async () => {
    answers['GET /v1/services/nope/logs?'] = json(404, { code: ErrorCodes.SERVICE_NOT_FOUND, message: 'service nope not found' });
    const err = await (async () => { for await (const _ of api.logs(client(), 'nope', { follow: false, tail: 'all', timestamps: false })) void _; })().catch((e) => e);
    expect(err).toMatchObject({ code: ErrorCodes.SERVICE_NOT_FOUND, message: 'service nope not found' });
  });
});

describe('--consistent and stale answers', () => {
  const consistent = () => new ApiClient({ socketPath: sock, display: `unix://${sock}` }, { consistent: true });

  it.each<[string, (c: ApiClient) => Promise<unknown>, string]>([
    ['a GET without a query', (c) => api.nodes(c), 'GET /v1/nodes?consistent=true'],
    ['a GET with a query', (c) => api.tasks(c, { stack: 's' }), 'GET /v1/tasks?stack=s&consistent=true'],
    ['a POST is left alone', (c) => api.promote(c, 'n1'), 'POST /v1/nodes/n1/promote'],
    ['a DELETE is left alone', (c) => api.removeNode(c, 'n1', true), 'DELETE /v1/nodes/n1?force=true'],
  ])('%s', async (_name, call, want) => {
    await call(consistent());
    expect(seen.map((x) => `${x.method} ${x.url}`)).toEqual([want]);
  });

  it('an answer\'s headers are handed back with its body', async () => {
    answers['GET /v1/info'] = (res) => { res.writeHead(200, { 'content-type': 'application/json', 'x-tsswarm-index': '7' }); res.end('{"nodeId":"n1"}'); };
    const r = await client().request<{ nodeId: string }>('GET', '/v1/info');
    expect(r.body).toEqual({ nodeId: 'n1' });
    expect(r.headers['x-tsswarm-index']).toBe('7');
  });

  const stale = (body: unknown, reason = 'no leader: answered from this manager\'s applied state') => (res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json', 'x-tsswarm-stale': reason });
    res.end(JSON.stringify(body));
  };

  it('a stale answer is reported once on stderr, however many answers are stale', async () => {
    answers['GET /v1/tasks?stack=s'] = stale([]);
    answers['GET /v1/stacks'] = stale([{ name: 's', services: 0 }]);
    answers['GET /v1/nodes'] = stale([]);
    answers['GET /v1/services?stack=s'] = stale([]);
    const io = capture();
    expect(await run(['stack', 'ps', 's', '--host', `unix://${sock}`], io)).toBe(0);
    expect(seen.map((x) => x.url)).toEqual(['/v1/tasks?stack=s', '/v1/stacks', '/v1/services?stack=s', '/v1/nodes']);
    expect(io.stderr).toBe('WARNING: no leader elected: this answer is this manager\'s own view and may be stale (no leader: answered from this manager\'s applied state)\n');
    expect(io.stdout).toMatch(/^ID +NAME +IMAGE/);
  });

  it('no warning when the answer is fresh', async () => {
    answers['GET /v1/stacks'] = json(200, [{ name: 's', services: 1 }]);
    const io = capture();
    expect(await run(['stack', 'ls', '--host', `unix://${sock}`], io)).toBe(0);
    expect(io.stderr).toBe('');
    expect(io.stdout).toBe('NAME   SERVICES\ns      1\n');
  });

  it.each([
    [['service', 'ls', '--consistent'], ['/v1/services?consistent=true']],
    [['service', 'inspect', 'web', '--consistent'], ['/v1/services/web?consistent=true']],
    [['stack', 'ls', '--consistent'], ['/v1/stacks?consistent=true']],
    [['stack', 'ps', 's', '--consistent', '--format', 'json'], ['/v1/tasks?stack=s&consistent=true', '/v1/stacks?consistent=true']],
    [['service', 'ps', 'web', '--consistent', '--format', 'json'], ['/v1/tasks?service=web&consistent=true']],
  ])('%j reads through the leader', async (argv, urls) => {
    answers['GET /v1/services?consistent=true'] = json(200, []);
    answers['GET /v1/stacks?consistent=true'] = json(200, [{ name: 's', services: 0 }]);
    answers['GET /v1/tasks?stack=s&consistent=true'] = json(200, []);
    answers['GET /v1/tasks?service=web&consistent=true'] = json(200, []);
    const io = capture();
    expect(await run([...argv, '--host', `unix://${sock}`], io)).toBe(0);
    expect(seen.map((x) => x.url)).toEqual(urls);
  });

  it('a write refused for want of a quorum prints the manager\'s message and code', async () => {
    answers['POST /v1/services/web/scale'] = json(503, { code: ErrorCodes.NO_QUORUM, message: 'no quorum: 1 of 3 voting managers reachable, 2 needed; nothing was changed', details: [] });
    const io = capture();
    const before = process.exitCode;
    try {
      await main(['service', 'scale', 'web=2', '-d', '--host', `unix://${sock}`], io);
      expect(process.exitCode).toBe(1);
    } finally { process.exitCode = before; }
    expect(io.stderr).toBe('Error: no quorum: 1 of 3 voting managers reachable, 2 needed; nothing was changed (TSW_ERR_NO_QUORUM)\n');
  });
});

describe('commands against the stand-in', () => {
  const H = () => ['--host', `unix://${sock}`];

  it.each([
    [['service', 'scale', 'web=-1']],
    [['service', 'scale', 'web=1e12']],
    [['service', 'scale', 'web=abc']],
    [['service', 'scale', 'web=']],
    [['service', 'scale', 'ok=1', 'web=1001']],
    [['service', 'logs', 'web', '--tail', 'abc']],
    [['service', 'update', '--update-delay', 'soon', 'web']],
    [['service', 'update', '--replicas', '-2', 'web']],
    [['service', 'ps', 'web', '--filter', 'colour=red']],
    [['service', 'ls', '--unknown-flag']],
    [['deploy', '--timeout', 'nonsense', 'stack.yml']],
    [['cluster', 'update', '--task-history-limit=-1']],
    [['stack', 'rm', 's', '--format', 'xml']],
  ])('%j is refused before any request', async (argv) => {
    const err = await run([...argv, ...H()], capture()).catch((e) => e);
    expect(err).toBeInstanceOf(TsswarmError);
    expect(err.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(seen).toEqual([]);
  });

  it('a refusal prints "Error: message (TSW_ERR_…)" and sets exit code 1', async () => {
    const io = capture();
    const before = process.exitCode;
    try {
      await main(['service', 'scale', 'web=-1', ...H()], io);
      expect(process.exitCode).toBe(1);
    } finally { process.exitCode = before; }
    expect(io.stderr).toBe('Error: invalid scale specifier "web=-1": replicas must be an integer >= 0, got "-1" (TSW_ERR_INVALID_ARGUMENT)\n');
    expect(io.stdout).toBe('');
  });

  it('service scale --detach: one request per service, a line each', async () => {
    answers['POST /v1/services/a/scale'] = json(200, { service: 's_a', replicas: 2 });
    answers['POST /v1/services/b/scale'] = json(200, { service: 's_b', replicas: 0 });
    const io = capture();
    expect(await run(['service', 'scale', 'a=2', 'b=0', '-d', ...H()], io)).toBe(0);
    expect(io.stdout).toBe('s_a scaled to 2\ns_b scaled to 0\n');
    expect(seen.map((s) => s.body)).toEqual([{ replicas: 2 }, { replicas: 0 }]);
  });

  it('deploy --dry-run prints the plan', async () => {
    const file = join(dir, 'stack.yml');
    writeFileSync(file, 'services:\n  web:\n    image: busybox\n');
    answers['POST /v1/stacks/deploy'] = json(200, { applied: false, plan: {
      stack: 'st', networks: [{ action: 'create', name: 'st_default' }], volumes: [],
      services: [{ action: 'create', name: 'st_web', shortName: 'web', fields: [], replicas: { from: 0, to: 1 } }],
    } });
    answers['GET /v1/services?stack=st'] = json(200, []);
    const io = capture();
    expect(await run(['deploy', '--dry-run', '-c', file, 'st', ...H()], io)).toBe(0);
    expect(io.stdout).toBe('Would deploy stack st\ncreate   network st_default\ncreate   st_web (1 replica)\n');
    // No Docker engine here (the unit tests' DOCKER_HOST): the name goes as written, after
    // asking which pins the stack's services hold now (none: it is new).
    expect(io.stderr).toMatch(/warning: no Docker engine answers at unix:\/\/\/nonexistent\/.*: images are not pinned; each node resolves them on its own/);
    expect(seen.map((x) => `${x.method} ${x.url}`)).toEqual(['GET /v1/services?stack=st', 'POST /v1/stacks/deploy']);
    expect(seen[1].body).toMatchObject({ dryRun: true, stack: { name: 'st', services: { web: { image: 'busybox' } } } });
  });

  it('node inspect self asks which node the manager runs on', async () => {
    answers['GET /v1/info'] = json(200, { nodeId: 'n1' });
    answers['GET /v1/nodes/n1'] = json(200, { id: 'n1' });
    const io = capture();
    expect(await run(['node', 'inspect', 'self', ...H()], io)).toBe(0);
    expect(JSON.parse(io.stdout)).toEqual([{ id: 'n1' }]);
  });

  it('node promote/demote/rm: one node at a time, in order, the manager\'s message for each', async () => {
    answers['POST /v1/nodes/a/promote'] = json(200, { message: 'a will vote once it has caught up (it is a learner now)' });
    answers['POST /v1/nodes/b/promote'] = json(200, { message: 'b is already a voting manager' });
    const io = capture();
    expect(await run(['node', 'promote', 'a', 'b', ...H()], io)).toBe(0);
    expect(io.stdout).toBe('a will vote once it has caught up (it is a learner now)\nb is already a voting manager\n');
    expect(seen.map((x) => `${x.method} ${x.url}`)).toEqual(['POST /v1/nodes/a/promote', 'POST /v1/nodes/b/promote']);

    seen = [];
    answers['DELETE /v1/nodes/a?force=true'] = json(200, { message: 'a removed from the managers' });
    const rm = capture();
    expect(await run(['node', 'rm', '--force', 'a', ...H()], rm)).toBe(0);
    expect(rm.stdout).toBe('a removed from the managers\n');
    expect(seen.map((x) => `${x.method} ${x.url}`)).toEqual(['DELETE /v1/nodes/a?force=true']);
  });

  it('node demote stops at the first refusal: later nodes are not asked', async () => {
    answers['POST /v1/nodes/a/demote'] = json(200, { message: 'a demoted: it no longer votes' });
    answers['POST /v1/nodes/b/demote'] = json(409, { code: ErrorCodes.QUORUM_AT_RISK, message: 'demoting it would leave 2 voting manager(s), of which 1 answer: a quorum needs 2. Bring managers back first.', details: [] });
    const io = capture();
    const before = process.exitCode;
    try {
      await main(['node', 'demote', 'a', 'b', 'c', ...H()], io);
      expect(process.exitCode).toBe(1);
    } finally { process.exitCode = before; }
    expect(io.stdout).toBe('a demoted: it no longer votes\n');
    expect(io.stderr).toBe('Error: demoting it would leave 2 voting manager(s), of which 1 answer: a quorum needs 2. Bring managers back first. (TSW_ERR_QUORUM_AT_RISK)\n');
    expect(seen.map((x) => x.url)).toEqual(['/v1/nodes/a/demote', '/v1/nodes/b/demote']);
  });

  it('node ls --consistent reads both of its answers through the leader', async () => {
    answers['GET /v1/nodes?consistent=true'] = json(200, []);
    answers['GET /v1/info?consistent=true'] = json(200, { nodeId: 'n1' });
    answers['GET /v1/cluster/status?consistent=true'] = json(200, { managers: [] });
    const io = capture();
    expect(await run(['node', 'ls', '--consistent', ...H()], io)).toBe(0);
    expect(seen.map((x) => x.url).sort()).toEqual(['/v1/cluster/status?consistent=true', '/v1/info?consistent=true', '/v1/nodes?consistent=true']);
  });

  const member = (x: string, o: Record<string, unknown> = {}) => ({ nodeId: x.repeat(20), raftId: x.charCodeAt(0) - 96, addr: `10.0.0.${x.charCodeAt(0) - 96}:4242`, role: 'follower', voter: true, reachable: true, applied: 10, lag: 0, ...o });
  const healthy = { clusterId: 'c1', leader: 'a'.repeat(20), quorum: 2, voters: 3, tolerates: 1, commitIndex: 10, warnings: [],
    managers: [member('a', { role: 'leader' }), member('b'), member('c')] };

  it('cluster status: the table; --format json: the status as is', async () => {
    answers['GET /v1/cluster/status'] = json(200, healthy);
    const io = capture();
    expect(await run(['cluster', 'status', ...H()], io)).toBe(0);
    expect(io.stdout).toMatch(/^NODE ID +ADDRESS +RAFT ROLE +VOTER +REACHABLE +APPLIED +LAG\naaaaaaaaaaaa +10\.0\.0\.1:4242 +leader +yes +yes +10 +0\n/);
    expect(io.stdout).toMatch(/\nQuorum: 2 of 3 voting managers \(tolerates 1 failure\)\n$/);
    const j = capture();
    expect(await run(['cluster', 'status', '--format', 'json', ...H()], j)).toBe(0);
    expect(JSON.parse(j.stdout)).toEqual(healthy);
  });

  it('cluster status with no leader: this manager\'s view, said on stdout and warned on stderr', async () => {
    const stale = { ...healthy, leader: undefined, stale: true, managers: [member('a', { role: 'preCandidate' }), member('b', { role: 'unreachable', reachable: false }), member('c', { role: 'unreachable', reachable: false })] };
    answers['GET /v1/cluster/status'] = (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-tsswarm-stale': 'no leader answered: this manager\'s own view' });
      res.end(JSON.stringify(stale));
    };
    const io = capture();
    expect(await run(['cluster', 'status', ...H()], io)).toBe(0);
    expect(io.stdout).toMatch(/\nNo leader answered: this is the view of the manager asked, on its own; it may be out of date\.\n$/);
    expect(io.stderr).toBe('WARNING: no leader elected: this answer is this manager\'s own view and may be stale (no leader answered: this manager\'s own view)\n');
    // recover: no quorum, exit code 1, the force-new-cluster plan.
    const r = capture();
    expect(await run(['cluster', 'recover', ...H()], r)).toBe(1);
    expect(r.stdout).toMatch(/^No quorum: 1 of 3 voting managers answer, 2 are needed/);
    expect(r.stdout).toMatch(/\n {7}tsswarm manager --force-new-cluster --data-dir <its --data-dir>\n/);
  });

  it('cluster recover: healthy, exit code 0; --format json: the health and the plan', async () => {
    answers['GET /v1/cluster/status'] = json(200, healthy);
    const io = capture();
    expect(await run(['cluster', 'recover', ...H()], io)).toBe(0);
    expect(io.stdout).toMatch(/^The cluster is healthy: all 3 voting managers answer/);
    const j = capture();
    expect(await run(['cluster', 'recover', '--format', 'json', ...H()], j)).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ health: 'healthy', plan: [expect.stringMatching(/^The cluster is healthy/), expect.stringMatching(/^Rule: /)] });
  });

  it('cluster join-token: GET, or --rotate: POST first; -q: the token only', async () => {
    const t = { role: 'manager', token: 'TSWTKN-1-abc-def', command: 'tsswarm manager --join 10.0.0.1:4242 --token TSWTKN-1-abc-def --listen-addr HOST:PORT --data-dir DIR' };
    answers['GET /v1/cluster/join-token/manager'] = json(200, t);
    answers['POST /v1/cluster/join-token/manager/rotate'] = json(200, t);
    const io = capture();
    expect(await run(['cluster', 'join-token', 'manager', ...H()], io)).toBe(0);
    expect(io.stdout).toBe(`To add a manager to this cluster, run the following command:\n\n    ${t.command}\n`);
    const q = capture();
    expect(await run(['cluster', 'join-token', '--rotate', '-q', 'manager', ...H()], q)).toBe(0);
    expect(q.stdout).toBe('TSWTKN-1-abc-def\n');
    expect(seen.map((x) => `${x.method} ${x.url}`)).toEqual(['GET /v1/cluster/join-token/manager', 'POST /v1/cluster/join-token/manager/rotate']);
  });

  it('cluster inspect --consistent', async () => {
    const io = capture();
    expect(await run(['cluster', 'inspect', '--consistent', ...H()], io)).toBe(0);
    expect(seen.map((x) => x.url)).toEqual(['/v1/cluster?consistent=true']);
  });

  it('cluster update', async () => {
    const io = capture();
    expect(await run(['cluster', 'update', '--task-history-limit', '4', ...H()], io)).toBe(0);
    expect(io.stdout).toBe('Cluster updated\n');
    expect(seen).toEqual([{ method: 'POST', url: '/v1/cluster/update', body: { spec: { taskHistoryLimit: 4 } } }]);
  });

  it.each([[[]], [['--help']], [['help']], [['service', 'ls', '--help']], [['stack', '-h']]])('%j prints the usage', async (argv) => {
    const io = capture();
    expect(await run(argv, io)).toBe(0);
    expect(io.stdout).toMatch(/^Usage: tsswarm COMMAND/);
    expect(seen).toEqual([]);
  });
});
