// What a hostile or broken client can send the API: each is refused with a 4xx and a TSW_ERR
// code naming the field, and the store is exactly as it was (index and state).

import { connect } from 'node:net';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectOptions } from 'fastify';
import { listenUnix } from '../../../manager/controlapi/server.js';
import { harness, serviceSpec, stackSpec, type Harness } from './harness.js';
import { LIMITS } from '../../../common/api/limits.js';
import { defaultDeploy } from '../../../common/spec.js';

let h: Harness;

beforeAll(async () => {
  h = await harness();
  // Something to damage: a stack with a replicated and a global service.
  const global = serviceSpec({ deploy: { ...defaultDeploy(), mode: 'global' } });
  const r = await h.app.inject({ method: 'POST', url: '/v1/stacks/deploy', payload: { stack: stackSpec('app', { web: serviceSpec(), agent: global }) } });
  expect(r.statusCode, r.body).toBe(200);
});
afterAll(async () => { await h.close(); });

interface Refusal { status: number; code: string; field?: string | RegExp }

/** Sends `req`, expects the refusal, and that nothing changed in the store. */
async function refused(req: InjectOptions, want: Refusal): Promise<{ code: string; message: string; details: { field?: string; message: string }[] }> {
  const before = h.snapshot();
  const r = await h.app.inject(req);
  expect(r.statusCode, r.body.slice(0, 500)).toBe(want.status);
  const body = r.json();
  expect(body.code, r.body.slice(0, 500)).toBe(want.code);
  expect(typeof body.message).toBe('string');
  expect(Array.isArray(body.details)).toBe(true);
  if (want.field !== undefined) {
    const fields = body.details.map((d: { field?: string }) => d.field ?? '');
    expect(fields.some((f: string) => (typeof want.field === 'string' ? f === want.field : want.field!.test(f))), `${JSON.stringify(fields)} names ${want.field}`).toBe(true);
  }
  expect(h.snapshot()).toBe(before);
  return body;
}

const post = (url: string, payload: unknown): InjectOptions => ({ method: 'POST', url, payload: payload as InjectOptions['payload'] });
const raw = (url: string, body: string, contentType = 'application/json'): InjectOptions => ({ method: 'POST', url, payload: body, headers: { 'content-type': contentType } });

describe('deploy', () => {
  it('a stack with an impossible service (bad name, ports, replicas) is refused, each field named', async () => {
    const body = await refused(post('/v1/stacks/deploy', {
      stack: { name: 'raw2', services: { '../../x y': { image: 'busybox', ports: [{ target: -1, published: 99999, protocol: 'sctp', mode: 'weird' }], deploy: { mode: 'replicated', replicas: -5, placement: { constraints: [] } } } } },
    }), { status: 400, code: 'TSW_ERR_STACK_INVALID', field: 'services.../../x y' });
    const fields = body.details.map((d) => d.field);
    for (const f of ['target', 'published', 'protocol', 'mode']) expect(fields).toContain(`services.../../x y.ports[0].${f}`);
    expect(fields).toContain('services.../../x y.deploy.replicas');
  });

  it.each([
    ['network_mode bridge', { network_mode: 'bridge', networks: {} }, 'services.web.network_mode'],
    ['network_mode host with an ingress port', { network_mode: 'host', networks: {}, ports: [{ target: 80, published: 80, protocol: 'tcp', mode: 'ingress' }] }, 'services.web.ports[0].mode'],
    ['an unknown capability', { cap_add: ['ROOT'] }, 'services.web.cap_add[0]'],
    ['a sysctl of the node', { sysctls: { 'kernel.panic': '1' } }, 'services.web.sysctls.kernel.panic'],
    ['a ulimit soft above hard', { ulimits: { nofile: { soft: 9, hard: 1 } } }, 'services.web.ulimits.nofile'],
    ['a device with a relative path', { devices: [{ source: 'null', target: '/dev/x', permissions: 'r' }] }, 'services.web.devices[0].source'],
    ['a DNS server that is not an IP', { dns: ['resolver'] }, 'services.web.dns[0]'],
    ['shm_size as a string', { shm_size: '1g' }, 'services.web.shm_size'],
  ])('container settings sent raw: %s is refused', async (_what, change, field) => {
    await refused(post('/v1/stacks/deploy', { stack: stackSpec('keys', { web: { ...serviceSpec(), ...change } as never }) }), { status: 400, code: 'TSW_ERR_STACK_INVALID', field });
  });

  it('a partial stack (not normalised) is refused with the missing fields named', async () => {
    const body = await refused(post('/v1/stacks/deploy', { stack: { name: 'raw1', services: { web: { image: 'busybox' } } } }),
      { status: 400, code: 'TSW_ERR_STACK_INVALID', field: 'services.web.deploy' });
    expect(body.details.map((d) => d.field)).toEqual(expect.arrayContaining(['networks', 'volumes', 'services.web.environment', 'services.web.ports']));
  });

  it('no stack, a stack that is not an object, unknown fields', async () => {
    await refused(post('/v1/stacks/deploy', {}), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'stack' });
    await refused(post('/v1/stacks/deploy', { stack: 'app' }), { status: 400, code: 'TSW_ERR_STACK_INVALID' });
    await refused(post('/v1/stacks/deploy', { stack: null }), { status: 400, code: 'TSW_ERR_STACK_INVALID' });
    await refused(post('/v1/stacks/deploy', { stack: stackSpec('app', { web: serviceSpec() }), force: true }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'force' });
    await refused(post('/v1/stacks/deploy', { stack: stackSpec('app', { web: { ...serviceSpec(), mac_address: '02:42:ac:11:00:02' } as never }) }),
      { status: 400, code: 'TSW_ERR_STACK_INVALID', field: /^services\.web/ });
    await refused(post('/v1/stacks/deploy', { stack: stackSpec('app', { web: serviceSpec() }), dryRun: 'yes' }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'dryRun' });
  });

  it('names with "/" or ".." are refused', async () => {
    await refused(post('/v1/stacks/deploy', { stack: stackSpec('a/b', { web: serviceSpec() }) }), { status: 400, code: 'TSW_ERR_STACK_INVALID', field: 'name' });
    await refused(post('/v1/stacks/deploy', { stack: stackSpec('..', { web: serviceSpec() }) }), { status: 400, code: 'TSW_ERR_STACK_INVALID', field: 'name' });
    await refused(post('/v1/stacks/deploy', { stack: stackSpec('ok', { 'a/b': serviceSpec() }) }), { status: 400, code: 'TSW_ERR_STACK_INVALID', field: /^services\.a\/b/ });
  });

  it('a body nested 5,000 deep is refused before it is parsed', async () => {
    const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
    const body = `{"stack":{"name":"deep","services":{"web":{"image":"busybox","x-deep":${deep}}}}}`;
    await refused(raw('/v1/stacks/deploy', body), { status: 400, code: 'TSW_ERR_INVALID_JSON' });
    // Just within the limit parses, and is then judged by the schema.
    const ok = '['.repeat(LIMITS.depth - 1) + ']'.repeat(LIMITS.depth - 1);
    await refused(raw('/v1/stacks/deploy', `{"stack":${ok}}`), { status: 400, code: 'TSW_ERR_STACK_INVALID' });
    await refused(raw('/v1/stacks/deploy', `{"stack":[${ok}]}`), { status: 400, code: 'TSW_ERR_INVALID_JSON' });
  });

  it('a 100 MB body is refused as too large', async () => {
    const big = `{"stack":"${'a'.repeat(100 << 20)}"}`;
    await refused(raw('/v1/stacks/deploy', big), { status: 413, code: 'TSW_ERR_REQUEST_TOO_LARGE' });
  });

  it('invalid JSON, an empty body, a __proto__ key', async () => {
    await refused(raw('/v1/stacks/deploy', '{"stack": {'), { status: 400, code: 'TSW_ERR_INVALID_JSON' });
    await refused(raw('/v1/stacks/deploy', '{"stack": {}} trailing'), { status: 400, code: 'TSW_ERR_INVALID_JSON' });
    await refused(raw('/v1/stacks/deploy', ''), { status: 400, code: 'TSW_ERR_INVALID_JSON' });
    await refused(raw('/v1/stacks/deploy', '{"stack": {"__proto__": {"polluted": true}}}'), { status: 400, code: 'TSW_ERR_INVALID_JSON', field: '__proto__' });
    await refused(raw('/v1/stacks/deploy', '{"stack": {"\\u005f_proto__": {}}}'), { status: 400, code: 'TSW_ERR_INVALID_JSON' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a body that is not JSON is refused as an unsupported media type', async () => {
    await refused(raw('/v1/stacks/deploy', '{"stack":{}}', 'text/plain'), { status: 415, code: 'TSW_ERR_UNSUPPORTED_MEDIA_TYPE' });
    await refused(raw('/v1/stacks/deploy', 'stack=x', 'application/x-www-form-urlencoded'), { status: 415, code: 'TSW_ERR_UNSUPPORTED_MEDIA_TYPE' });
    await refused(raw('/v1/services/app_web/scale', '{"replicas":2}', 'application/xml'), { status: 415, code: 'TSW_ERR_UNSUPPORTED_MEDIA_TYPE' });
  });
});

describe('service update', () => {
  it('flags of the wrong type are refused by the flags schema', async () => {
    const body = await refused(post('/v1/services/app_web/update', { flags: { image: { evil: 1 }, command: 'notalist' } }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'flags.image' });
    expect(body.details.map((d) => d.field)).toContain('flags.command');
    await refused(post('/v1/services/app_web/update', { flags: { envAdd: 5 } }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'flags.envAdd' });
    await refused(post('/v1/services/app_web/update', { flags: { envAdd: ['A=1', 7] } }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'flags.envAdd[1]' });
    await refused(post('/v1/services/app_web/update', { flags: { colour: 'red' } }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'flags.colour' });
    await refused(post('/v1/services/app_web/update', { flags: { replicas: -1 } }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'flags.replicas' });
    await refused(post('/v1/services/app_web/update', { flags: { update: { parallelism: 2 } } }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'flags.update.parallelism' });
    await refused(post('/v1/services/app_web/update', { flags: { image: 'web:2', imageId: 'sha256:../../etc' } }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'flags.imageId' });
    await refused(post('/v1/services/app_web/update', { flags: { imageId: `sha256:${'a'.repeat(64)}` } }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'imageId' });
  });

  it('an empty body, a body without flags', async () => {
    await refused({ method: 'POST', url: '/v1/services/app_web/update' }, { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT' });
    await refused(raw('/v1/services/app_web/update', ''), { status: 400, code: 'TSW_ERR_INVALID_JSON' });
    await refused(post('/v1/services/app_web/update', {}), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'flags' });
    await refused(post('/v1/services/app_web/update', []), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT' });
  });

  it('flags whose result is not a valid spec are refused by the spec validator', async () => {
    await refused(post('/v1/services/app_web/update', { flags: { image: 'UPPER CASE!' } }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'image' });
    await refused(post('/v1/services/app_web/update', { flags: { image: '' } }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'image' });
    await refused(post('/v1/services/app_web/update', { flags: { envAdd: ['NOEQUALS'] } }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'env-add' });
    await refused(post('/v1/services/app_agent/update', { flags: { replicas: 3 } }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'replicas' });
    // A dry run checks as much as a real one.
    await refused(post('/v1/services/app_web/update', { flags: { image: 'UPPER CASE!' }, dryRun: true }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'image' });
  });

  it('an unknown or malformed service reference', async () => {
    await refused(post('/v1/services/nope/update', { flags: {} }), { status: 404, code: 'TSW_ERR_SERVICE_NOT_FOUND' });
    await refused(post('/v1/services/a%2Fb/update', { flags: {} }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'params.ref' });
    await refused(post(`/v1/services/${'a'.repeat(300)}/update`, { flags: {} }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'params.ref' });
  });
});

describe('scale', () => {
  it('replicas must be an integer within 0..LIMITS.replicas', async () => {
    for (const replicas of [-1, 1e12, 1.5, '3', null, LIMITS.replicas + 1]) {
      await refused(post('/v1/services/app_web/scale', { replicas }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'replicas' });
    }
    await refused(raw('/v1/services/app_web/scale', '{"replicas": 1e400}'), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'replicas' });
    await refused(post('/v1/services/app_web/scale', {}), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'replicas' });
    await refused(post('/v1/services/app_web/scale', { replicas: 2, extra: 1 }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'extra' });
    await refused({ method: 'POST', url: '/v1/services/app_web/scale' }, { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT' });
  });

  it('a global service cannot be scaled', async () => {
    await refused(post('/v1/services/app_agent/scale', { replicas: 2 }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'replicas' });
  });
});

describe('paths and query strings', () => {
  it('stack rm of a path-like name, of an unknown stack', async () => {
    await refused({ method: 'DELETE', url: '/v1/stacks/..%2F..' }, { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'params.name' });
    await refused({ method: 'DELETE', url: '/v1/stacks/APP' }, { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'params.name' });
    await refused({ method: 'DELETE', url: '/v1/stacks/nope' }, { status: 404, code: 'TSW_ERR_STACK_NOT_FOUND' });
    await refused({ method: 'DELETE', url: '/v1/stacks/app?volumes=maybe' }, { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'query.volumes' });
    await refused({ method: 'DELETE', url: '/v1/stacks/app?volumes=1&all=1' }, { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'query.all' });
  });

  it('typed query strings', async () => {
    for (const q of ['tail=-1', 'tail=3.5', 'tail=1e3', 'tail=abc', `tail=${10 ** 9}`, 'follow=yes', 'timestamps=2', 'tail=1&tail=2', 'since=1h']) {
      await refused({ method: 'GET', url: `/v1/services/app_web/logs?${q}` }, { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: /^query\./ });
    }
    await refused({ method: 'GET', url: '/v1/tasks?stack=A/B' }, { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'query.stack' });
    await refused({ method: 'GET', url: '/v1/tasks?node=%00' }, { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'query.node' });
    await refused({ method: 'GET', url: '/v1/services?stack=' }, { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'query.stack' });
    await refused({ method: 'GET', url: '/v1/tasks?service=nope' }, { status: 404, code: 'TSW_ERR_SERVICE_NOT_FOUND' });
  });

  it('unknown routes and methods, malformed URLs', async () => {
    await refused({ method: 'GET', url: '/v1/volumes' }, { status: 404, code: 'TSW_ERR_NOT_FOUND' });
    await refused({ method: 'PUT', url: '/v1/stacks/deploy' }, { status: 404, code: 'TSW_ERR_NOT_FOUND' });
    await refused({ method: 'GET', url: '/v1/nodes/%E0%A4%A' }, { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT' });
    await refused({ method: 'GET', url: '/v1/nodes/nope' }, { status: 404, code: 'TSW_ERR_NODE_NOT_FOUND' });
  });

  it('rollback takes no arguments, and needs a previous spec', async () => {
    await refused(post('/v1/services/app_web/rollback', { to: 'yesterday' }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'to' });
    await refused(post('/v1/services/app_web/rollback', {}), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT' });
  });

  it('cluster update: the body and each setting are checked', async () => {
    await refused(post('/v1/cluster/update', { spec: { taskHistoryLimit: 1 }, other: 1 }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'other' });
    await refused(post('/v1/cluster/update', { spec: 'x' }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'spec' });
    await refused(post('/v1/cluster/update', { spec: { taskHistoryLimit: 1e300 } }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'spec.taskHistoryLimit' });
    await refused(post('/v1/cluster/update', { spec: { allowedBindPaths: ['relative/path'] } }), { status: 400, code: 'TSW_ERR_INVALID_ARGUMENT', field: 'spec.allowedBindPaths[0]' });
  });
});

describe('on the socket', () => {
  /** Writes raw bytes to the API's unix socket; resolves with what came back. */
  const exchange = (path: string, data: string): Promise<string> => new Promise((resolve, reject) => {
    const sock = connect(path);
    let out = '';
    sock.on('data', (d) => { out += d.toString(); });
    sock.on('end', () => resolve(out));
    sock.on('close', () => resolve(out));
    sock.on('error', reject);
    sock.write(data);
  });

  it('a malformed request, and a body announced larger than the limit, get a TSW_ERR answer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsswarm-sock-'));
    const path = join(dir, 'api.sock');
    try {
      await listenUnix(h.app, path);
      const before = h.snapshot();
      const garbage = await exchange(path, 'NOT HTTP AT ALL\r\n\r\n');
      expect(garbage).toMatch(/^HTTP\/1\.1 400/);
      expect(garbage).toContain('"code":"TSW_ERR_INVALID_ARGUMENT"');
      const big = await exchange(path, `POST /v1/stacks/deploy HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${100 << 20}\r\nConnection: close\r\n\r\n{"stack":`);
      expect(big).toMatch(/^HTTP\/1\.1 413/);
      expect(big).toContain('"code":"TSW_ERR_REQUEST_TOO_LARGE"');
      expect(h.snapshot()).toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('what is accepted still works', () => {
  it('scale, update, dry runs and logs', async () => {
    const scaled = await h.app.inject(post('/v1/services/app_web/scale', { replicas: 3 }));
    expect(scaled.statusCode, scaled.body).toBe(200);
    expect(scaled.json()).toEqual({ service: 'app_web', replicas: 3 });
    const dry = await h.app.inject(post('/v1/services/app_web/update', { flags: { image: 'busybox:2' }, dryRun: true }));
    expect(dry.json()).toEqual({ service: 'app_web', fields: ['image'], replaced: true, applied: false });
    const upd = await h.app.inject(post('/v1/services/app_web/update', { flags: { image: 'busybox:2', envAdd: ['A=1'] } }));
    expect(upd.json()).toEqual({ service: 'app_web', fields: ['environment.A', 'image'], replaced: true, applied: true });
    const svc = h.store.view((tx) => tx.list('service', (s) => s.name === 'app_web')[0]);
    expect(svc.spec.deploy.replicas).toBe(3);
    expect(svc.specVersion).toBe(2);
    expect(svc.previousSpec?.image).toBe('busybox');
    const logs = await h.app.inject({ method: 'GET', url: '/v1/services/app_web/logs?tail=10&follow=1&timestamps=true' });
    expect(logs.statusCode).toBe(200);
    const back = await h.app.inject(post('/v1/services/app_web/rollback', {}));
    expect(back.json()).toEqual({ service: 'app_web' });
    const rm = await h.app.inject({ method: 'DELETE', url: '/v1/stacks/app?volumes=1' });
    expect(rm.json()).toEqual({ services: ['app_agent', 'app_web'] });
  });
});
