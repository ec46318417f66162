// Secrets and configs through the API (app.inject on a real store with a real AES-256-GCM
// sealer): create, ls, inspect, update (rotation in place: exactly the services that use the
// value roll), rm (refused while in use), deploys that carry them (all or nothing), hostile
// bodies, redaction of environment values in plans, and the value nowhere: not in any answer,
// not in the store's snapshot, not in its data dir, not in the log.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectOptions } from 'fastify';
import { LIMITS } from '../../../common/api/limits.js';
import type { DeployObjects, DeployResponse, ObjectWriteResponse, SecretView, ConfigView, StackRemoveResponse } from '../../../common/api/types.js';
import type { ServiceSpec } from '../../../common/spec.js';
import { StoreMachine } from '../../../manager/store/machine.js';
import type { ServiceObj } from '../../../manager/store/types.js';
import { harness, serviceSpec, stackSpec, type Harness } from './harness.js';

const VALUE = 'pa55-w0rd-of-the-db';
const VALUE2 = 'rotated-pa55-w0rd!!';
const ENV_VALUE = 'env-s3cret-value';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const FORBIDDEN = [VALUE, VALUE2, b64(VALUE), b64(VALUE2)];

let h: Harness;
const logged: string[] = [];
/** Every answer the tests received, to grep for the values at the end. */
const answers: string[] = [];

beforeAll(async () => {
  const sink = new Writable({ write(chunk, _enc, cb) { logged.push(String(chunk)); cb(); } });
  h = await harness({ log: pino({ level: 'trace' }, sink) });
});
afterAll(async () => { await h.close(); });

async function call(req: InjectOptions): Promise<{ status: number; json: any; body: string }> {
  const r = await h.app.inject(req);
  answers.push(r.body);
  return { status: r.statusCode, json: r.body ? JSON.parse(r.body) : undefined, body: r.body };
}

const ok = async <T>(req: InjectOptions): Promise<T> => {
  const r = await call(req);
  expect(r.status, r.body.slice(0, 600)).toBe(200);
  return r.json as T;
};

const refusedWith = async (req: InjectOptions, status: number, code: string): Promise<any> => {
  const before = h.snapshot();
  const r = await call(req);
  expect(r.status, r.body.slice(0, 600)).toBe(status);
  expect(r.json.code).toBe(code);
  expect(h.snapshot()).toBe(before);
  return r.json;
};

const deploy = (stack: unknown, secrets?: DeployObjects, configs?: DeployObjects, dryRun = false): InjectOptions =>
  ({ method: 'POST', url: '/v1/stacks/deploy', payload: { stack, secrets, configs, dryRun } });

const svcOf = (name: string): ServiceObj => h.store.view((tx) => tx.list('service').find((s) => s.name === name)!);

const withSecret = (source: string, over: Partial<ServiceSpec> = {}): ServiceSpec =>
  serviceSpec({ secrets: [{ source, target: source, uid: '0', gid: '0', mode: 0o444 }], ...over });

describe('secrets and configs through the API', () => {
  let id = '';

  it('creates a secret; ls and inspect show its size and revision, never its value', async () => {
    const r = await ok<ObjectWriteResponse>({ method: 'POST', url: '/v1/secrets', payload: { name: 'db_pw', data: b64(VALUE), labels: { team: 'db' } } });
    expect(r).toMatchObject({ name: 'db_pw', revision: 1, changed: true, services: [] });
    id = r.id;
    const ls = await ok<SecretView[]>({ method: 'GET', url: '/v1/secrets' });
    expect(ls).toEqual([{ id, name: 'db_pw', stack: '', labels: { team: 'db' }, revision: 1, size: VALUE.length, createdAt: expect.any(Number), updatedAt: expect.any(Number) }]);
    for (const ref of ['db_pw', id, id.slice(0, 5)]) {
      const v = await ok<SecretView>({ method: 'GET', url: `/v1/secrets/${ref}` });
      expect(Object.keys(v).sort()).toEqual(['createdAt', 'id', 'labels', 'name', 'revision', 'size', 'stack', 'updatedAt']);
    }
    // Sealed in the store, with the secret's own additional data.
    const stored = h.store.view((tx) => tx.get('secret', id))!;
    expect(stored.sealed).not.toContain(b64(VALUE));
    expect(h.sealer.open(stored.sealed, `secret/${id}`).toString()).toBe(VALUE);
    await refusedWith({ method: 'POST', url: '/v1/secrets', payload: { name: 'db_pw', data: b64('x') } }, 409, 'TSW_ERR_CONFLICT');
    await refusedWith({ method: 'GET', url: '/v1/secrets/nope' }, 404, 'TSW_ERR_SECRET_NOT_FOUND');
  });

  it('a config shows its content in inspect, not in ls', async () => {
    const r = await ok<ObjectWriteResponse>({ method: 'POST', url: '/v1/configs', payload: { name: 'motd', data: b64('hello\n') } });
    expect((await ok<ConfigView[]>({ method: 'GET', url: '/v1/configs' }))[0]).not.toHaveProperty('data');
    expect(await ok<ConfigView>({ method: 'GET', url: `/v1/configs/motd` })).toMatchObject({ id: r.id, data: b64('hello\n'), size: 6 });
  });

  it('refuses hostile bodies, naming the field, changing nothing, quoting no value', async () => {
    const cases: [unknown, string][] = [
      [{ name: 'big', data: Buffer.alloc(LIMITS.secretBytes + 1, 1).toString('base64') }, 'data'],
      [{ name: 'nb64', data: `${VALUE}!*` }, 'data'],
      [{ name: 'empty', data: '' }, 'data'],
      [{ name: 'num', data: 5 }, 'data'],
      [{ name: 'a/b', data: b64('x') }, 'name'],
      [{ name: '..', data: b64('x') }, 'name'],
      [{ name: 'x..y', data: b64('x') }, 'name'],
      [{ name: 'x'.repeat(64), data: b64('x') }, 'name'],
      [{ name: 'ok', data: b64('x'), labels: { a: 1 } }, 'labels.a'],
      [{ name: 'ok', data: b64('x'), extra: 1 }, 'extra'],
      [{ name: 'ok' }, 'data'],
    ];
    for (const [payload, field] of cases) {
      const e = await refusedWith({ method: 'POST', url: '/v1/secrets', payload: payload as object }, 400, 'TSW_ERR_INVALID_ARGUMENT');
      expect(e.details.map((d: { field?: string }) => d.field), JSON.stringify(e)).toContain(field);
      expect(JSON.stringify(e)).not.toContain(VALUE);
    }
    await refusedWith({ method: 'POST', url: '/v1/secrets', payload: '{"name":"p","data":"eA==","__proto__":{"x":1}}', headers: { 'content-type': 'application/json' } }, 400, 'TSW_ERR_INVALID_JSON');
    await refusedWith({ method: 'GET', url: '/v1/secrets/..%2F..' }, 400, 'TSW_ERR_INVALID_ARGUMENT');
    await refusedWith({ method: 'POST', url: '/v1/secrets/db_pw/update', payload: { data: 'not base64 at all' } }, 400, 'TSW_ERR_INVALID_ARGUMENT');
    await refusedWith({ method: 'POST', url: '/v1/configs', payload: { name: 'c', data: Buffer.alloc(LIMITS.configBytes + 1).toString('base64') } }, 400, 'TSW_ERR_INVALID_ARGUMENT');
  });

  it('deploys a stack with its own secret and an external one, resolving every reference', async () => {
    const stack = stackSpec('app', {
      web: withSecret('app_key', { environment: { DB_PASSWORD: ENV_VALUE } }),
      db: withSecret('db_pw'),
      cache: serviceSpec(),
    });
    const r = await ok<DeployResponse>(deploy(stack, { app_key: { data: b64(VALUE2), labels: {} }, db_pw: { external: true } }));
    expect(r.plan.secrets).toEqual([{ action: 'create', name: 'app_key', revision: 1 }]);
    const key = h.store.view((tx) => tx.list('secret').find((s) => s.name === 'app_key'))!;
    expect(key.stack).toBe('app');
    expect(svcOf('app_web').spec.secrets).toEqual([{ source: 'app_key', target: 'app_key', uid: '0', gid: '0', mode: 0o444, id: key.id, revision: 1 }]);
    expect(svcOf('app_db').spec.secrets![0]).toMatchObject({ id, revision: 1 });
    // The same deploy again changes nothing (the value is compared once opened).
    const again = await ok<DeployResponse>(deploy(stack, { app_key: { data: b64(VALUE2), labels: {} }, db_pw: { external: true } }));
    expect(again.plan.secrets).toEqual([{ action: 'unchanged', name: 'app_key', revision: 1 }]);
    expect(again.plan.services.every((s) => s.action === 'unchanged')).toBe(true);
  });

  it('a client-sent id or revision is overwritten by the manager', async () => {
    const stack = stackSpec('forge', { x: serviceSpec({ secrets: [{ source: 'db_pw', target: 't', uid: '0', gid: '0', mode: 0o400, id: 'forged', revision: 99 }] }) });
    await ok<DeployResponse>(deploy(stack, { db_pw: { external: true } }));
    expect(svcOf('forge_x').spec.secrets![0]).toMatchObject({ id, revision: 1 });
  });

  it('refuses a reference to a secret that does not exist, naming service and secret; nothing is written', async () => {
    const stack = stackSpec('app', {
      web: withSecret('app_key', { environment: { DB_PASSWORD: 'other' } }),
      db: withSecret('db_pw'),
      cache: withSecret('missing_one'),
    });
    const e = await refusedWith(deploy(stack, { app_key: { data: b64('new value'), labels: {} }, db_pw: { external: true } }), 400, 'TSW_ERR_STACK_INVALID');
    expect(e.details).toEqual([{ field: 'services.cache.secrets[0].source', message: 'service cache uses secret missing_one does not exist (tsswarm secret create, or declare it in the stack)' }]);
    // The new value of app_key was not stored either.
    expect(h.sealer.open(h.store.view((tx) => tx.list('secret').find((s) => s.name === 'app_key'))!.sealed, `secret/${h.store.view((tx) => tx.list('secret').find((s) => s.name === 'app_key'))!.id}`).toString()).toBe(VALUE2);
  });

  it('refuses to take over a secret the stack does not own', async () => {
    const e = await refusedWith(deploy(stackSpec('other', { a: withSecret('db_pw') }), { db_pw: { data: b64('hijack'), labels: {} } }), 400, 'TSW_ERR_STACK_INVALID');
    expect(e.details[0].field).toBe('secrets.db_pw');
  });

  it('redacts environment values in plans and dry runs, for create and update alike', async () => {
    const dry = await ok<DeployResponse>(deploy(stackSpec('app', {
      web: withSecret('app_key', { environment: { DB_PASSWORD: `${ENV_VALUE}-2`, NEW_ONE: ENV_VALUE } }),
      db: withSecret('db_pw'),
      cache: serviceSpec(),
    }), { app_key: { data: b64(VALUE2), labels: {} }, db_pw: { external: true } }, undefined, true));
    expect(dry.applied).toBe(false);
    const web = dry.plan.services.find((s) => s.shortName === 'web')!;
    expect(web.changes).toEqual([
      { field: 'environment.DB_PASSWORD', redacted: 'changed' },
      { field: 'environment.NEW_ONE', redacted: 'added' },
    ]);
    const create = await ok<DeployResponse>(deploy(stackSpec('fresh', { w: serviceSpec({ environment: { P: ENV_VALUE } }) }), undefined, undefined, true));
    expect(JSON.stringify(create)).not.toContain(ENV_VALUE);
    // A bad environment value is refused without being quoted.
    const e = await refusedWith(deploy(stackSpec('bad', { w: serviceSpec({ environment: { P: 12345678 as unknown as string } }) })), 400, 'TSW_ERR_STACK_INVALID');
    expect(JSON.stringify(e)).not.toContain('12345678');
  });

  it('rotation in place: a new value is the next revision, and exactly the services using it roll', async () => {
    const before = { web: svcOf('app_web'), db: svcOf('app_db'), cache: svcOf('app_cache'), forge: svcOf('forge_x') };
    const r = await ok<ObjectWriteResponse>({ method: 'POST', url: '/v1/secrets/db_pw/update', payload: { data: b64(VALUE2) } });
    expect(r).toMatchObject({ id, revision: 2, changed: true, services: ['app_db', 'forge_x'] });
    expect(svcOf('app_db').specVersion).toBe(before.db.specVersion + 1);
    expect(svcOf('app_db').spec.secrets![0].revision).toBe(2);
    expect(svcOf('forge_x').specVersion).toBe(before.forge.specVersion + 1);
    expect(svcOf('app_web').meta.version).toBe(before.web.meta.version);
    expect(svcOf('app_cache').meta.version).toBe(before.cache.meta.version);
    // The same value again is no change.
    expect(await ok<ObjectWriteResponse>({ method: 'POST', url: '/v1/secrets/db_pw/update', payload: { data: b64(VALUE2) } })).toMatchObject({ revision: 2, changed: false, services: [] });
  });

  it('a deploy that changes a stack secret rolls its users, other stacks included', async () => {
    await ok<DeployResponse>(deploy(stackSpec('user', { u: withSecret('app_key') }), { app_key: { external: true } }));
    const u = svcOf('user_u');
    const r = await ok<DeployResponse>(deploy(stackSpec('app', {
      web: withSecret('app_key', { environment: { DB_PASSWORD: ENV_VALUE } }), db: withSecret('db_pw'), cache: serviceSpec(),
    }), { app_key: { data: b64(VALUE), labels: {} }, db_pw: { external: true } }));
    expect(r.plan.secrets).toEqual([{ action: 'update', name: 'app_key', revision: 2 }]);
    expect(r.plan.services.find((s) => s.shortName === 'web')).toMatchObject({ action: 'update', fields: ['secrets'] });
    expect(svcOf('user_u').specVersion).toBe(u.specVersion + 1);
    expect(svcOf('user_u').spec.secrets![0].revision).toBe(2);
  });

  it('refuses to remove a secret in use, naming the services; removes it once unused', async () => {
    const e = await refusedWith({ method: 'DELETE', url: '/v1/secrets/db_pw' }, 409, 'TSW_ERR_IN_USE');
    expect(e.message).toContain('app_db, forge_x');
    await ok({ method: 'DELETE', url: '/v1/stacks/forge' });
    const rm = await ok<StackRemoveResponse>({ method: 'DELETE', url: '/v1/stacks/app' });
    // app_key is still used by user_u: kept.
    expect(rm.secrets).toBeUndefined();
    await ok({ method: 'DELETE', url: '/v1/stacks/user' });
    expect(await ok({ method: 'DELETE', url: '/v1/secrets/db_pw' })).toEqual({ id, name: 'db_pw' });
    expect(await ok({ method: 'DELETE', url: '/v1/configs/motd' })).toMatchObject({ name: 'motd' });
  });

  it('stack rm removes the stack\'s own secrets and configs', async () => {
    await ok<DeployResponse>(deploy(stackSpec('own', { a: withSecret('own_s') }), { own_s: { data: b64(VALUE), labels: {} } }, { own_c: { data: b64('c'), labels: {} } }));
    expect(h.store.view((tx) => tx.list('config').map((c) => c.name))).toContain('own_c');
    const rm = await ok<StackRemoveResponse>({ method: 'DELETE', url: '/v1/stacks/own' });
    expect(rm).toMatchObject({ secrets: ['own_s'], configs: ['own_c'] });
    expect(h.store.view((tx) => tx.list('secret').map((s) => s.name))).not.toContain('own_s');
  });

  it('the values are in no answer, not in the store\'s snapshot, not in its data dir, not in the log', async () => {
    // Leave a secret in the store for the snapshot.
    await ok<ObjectWriteResponse>({ method: 'POST', url: '/v1/secrets', payload: { name: 'kept', data: b64(VALUE) } });
    const snapshot = Buffer.from(StoreMachine.encodeSnapshot(h.store.machine.state())).toString('utf8');
    const files: string[] = [];
    const walk = (d: string) => { for (const f of readdirSync(d)) { const p = join(d, f); if (statSync(p).isDirectory()) walk(p); else files.push(p); } };
    walk(h.dir);
    expect(files.length).toBeGreaterThan(0);
    const haystacks: [string, string][] = [
      ['answers', answers.join('\n')], ['snapshot', snapshot], ['log', logged.join('')],
      ...files.map((f): [string, string] => [f, readFileSync(f).toString('latin1')]),
    ];
    for (const [where, text] of haystacks) for (const v of FORBIDDEN) expect(text.includes(v), `${where} holds ${v}`).toBe(false);
    // An environment value is part of a service's spec (the data dir is private), but no plan or log line shows it.
    for (const [where, text] of haystacks.slice(0, 3)) expect(text.includes(ENV_VALUE), `${where} holds the environment value`).toBe(false);
    expect(logged.join('')).toContain('secret created');
  });
});
