// The secret and config commands: arguments, values read from a file or stdin (bounded), the
// plan lines of secrets and redacted environment variables, and the commands run against a
// real API on a unix socket — `deploy --dry-run` and `deploy` of a stack file with secrets and
// environment values print no value.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../../common/api/limits.js';
import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import type { DeployPlan } from '../../../common/api/types.js';
import { parseObject, readValue, runObject } from '../../../cli/commands/secret.js';
import { run } from '../../../cli/main.js';
import { objectTable, planLines } from '../../../cli/render.js';
import { listenUnix } from '../../../manager/controlapi/server.js';
import { harness, type Harness } from '../api/harness.js';

const H = ['--host', 'unix:///run/t.sock'];
const host = { socketPath: '/run/t.sock', display: 'unix:///run/t.sock' };

async function refusal(fn: () => unknown): Promise<string> {
  try { await fn(); } catch (e) {
    expect(e).toBeInstanceOf(TsswarmError);
    expect((e as TsswarmError).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    return (e as TsswarmError).message;
  }
  throw new Error('expected a refusal');
}

describe('secret and config arguments', () => {
  it('parses every command', () => {
    expect(parseObject('secret', ['create', 'pw', './pw.txt', '--label', 'a=1', '-l', 'b', ...H])).toEqual({ cmd: 'create', host, name: 'pw', source: './pw.txt', labels: { a: '1', b: '' } });
    expect(parseObject('secret', ['create', 'pw', '-', ...H])).toEqual({ cmd: 'create', host, name: 'pw', source: '-', labels: {} });
    expect(parseObject('config', ['ls', '--format', 'json', ...H])).toEqual({ cmd: 'ls', host, json: true });
    expect(parseObject('secret', ['inspect', 'a', 'b', '--consistent', ...H])).toEqual({ cmd: 'inspect', host, refs: ['a', 'b'], consistent: true });
    expect(parseObject('secret', ['update', 'pw', '-', ...H])).toEqual({ cmd: 'update', host, ref: 'pw', source: '-' });
    expect(parseObject('secret', ['rm', 'a', 'b', ...H])).toEqual({ cmd: 'rm', host, refs: ['a', 'b'] });
  });

  it('refuses what is missing or extra', async () => {
    expect(await refusal(() => parseObject('secret', ['create', 'pw']))).toMatch(/needs NAME and FILE/);
    expect(await refusal(() => parseObject('secret', ['ls', 'x']))).toMatch(/takes no arguments/);
    expect(await refusal(() => parseObject('secret', ['rm']))).toMatch(/needs a NAME/);
    expect(await refusal(() => parseObject('secret', ['frob']))).toMatch(/unknown secret command/);
    expect(await refusal(() => parseObject('secret', ['create', 'a', 'f', '--label', '=x']))).toMatch(/KEY=VALUE/);
  });
});

describe('reading a value', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'tsswarm-cli-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file or stdin, within the bound', async () => {
    writeFileSync(join(dir, 'v'), Buffer.from([0, 1, 2]));
    expect(await readValue('secret', join(dir, 'v'), Readable.from([]))).toEqual(Buffer.from([0, 1, 2]));
    expect((await readValue('secret', '-', Readable.from([Buffer.from('ab'), Buffer.from('c')]))).toString()).toBe('abc');
  });

  it('refuses a missing file, an empty value, one over the bound, without quoting it', async () => {
    writeFileSync(join(dir, 'big'), Buffer.alloc(LIMITS.secretBytes + 1, 0x41));
    writeFileSync(join(dir, 'empty'), '');
    expect(await refusal(() => readValue('secret', join(dir, 'nope'), Readable.from([])))).toMatch(/not found/);
    expect(await refusal(() => readValue('secret', join(dir, 'empty'), Readable.from([])))).toMatch(/is empty/);
    const m = await refusal(() => readValue('secret', join(dir, 'big'), Readable.from([])));
    expect(m).toMatch(/over 512000 bytes/);
    expect(m).not.toContain('AAAA');
    expect(await refusal(() => readValue('config', '-', Readable.from([Buffer.alloc(LIMITS.configBytes + 1)])))).toMatch(/stdin is over/);
  });
});

describe('what is printed', () => {
  it('plans show secrets by name and revision, and environment variables redacted', () => {
    const plan: DeployPlan = {
      stack: 's', networks: [], volumes: [],
      services: [{ action: 'update', name: 's_web', shortName: 'web', fields: ['environment.PW', 'secrets'], tasksReplaced: 1,
        changes: [{ field: 'environment.PW', redacted: 'changed' }, { field: 'environment.NEW', redacted: 'added' }] }],
      secrets: [{ action: 'create', name: 's_pw', revision: 1 }, { action: 'update', name: 's_key', revision: 3 }, { action: 'unchanged', name: 's_x', revision: 1 }],
      configs: [{ action: 'remove', name: 's_old' }],
    };
    expect(planLines(plan, false)).toEqual([
      'Deploying stack s', 'create   secret s_pw (revision 1)', 'update   secret s_key (revision 3)', 'remove   config s_old',
      'update   s_web (1 task replaced)\n           environment.PW: changed\n           environment.NEW: added',
    ]);
    expect(planLines(plan, true)).toContain('unchanged secret s_x');
  });

  it('secret ls: a table of names, revisions and sizes', () => {
    const now = 1_000_000;
    expect(objectTable([{ id: 'abcdefabcdef1234', name: 'pw', stack: '', labels: {}, revision: 2, size: 12, createdAt: now - 60_000, updatedAt: now }], now)).toBe(
      'ID             NAME   STACK   REVISION   SIZE   CREATED        UPDATED\n' +
      'abcdefabcdef   pw     -       2          12     1 minute ago   less than a second ago\n');
  });
});

describe('the commands against a real API', () => {
  const SECRET = 'cli-s3cret-value';
  const ENV = 'cli-env-pa55word';
  let h: Harness;
  let dir: string;
  let sock: string;
  const outs: string[] = [];
  const io = () => {
    const o = { out: '', err: '' };
    return { o, io: { out: (s: string) => { o.out += s; outs.push(s); }, err: (s: string) => { o.err += s; outs.push(s); }, tty: false } };
  };

  beforeAll(async () => {
    h = await harness();
    dir = mkdtempSync(join(tmpdir(), 'tsswarm-cli-'));
    sock = join(dir, 'api.sock');
    await listenUnix(h.app, sock);
  });
  afterAll(async () => { await h.close(); rmSync(dir, { recursive: true, force: true }); });

  it('secret create from a file and from stdin, ls, inspect, update, rm', async () => {
    writeFileSync(join(dir, 'pw.txt'), SECRET);
    const c = io();
    expect(await run(['secret', 'create', 'db_pw', join(dir, 'pw.txt'), '--host', `unix://${sock}`], c.io)).toBe(0);
    expect(c.o.out).toMatch(/^[0-9a-z]+\n$/);
    const s = io();
    expect(await runObject('secret', ['create', 'other', '-', '--host', `unix://${sock}`], s.io, Readable.from([Buffer.from(`${SECRET}-2`)]))).toBe(0);
    const ls = io();
    expect(await run(['secret', 'ls', '--host', `unix://${sock}`], ls.io)).toBe(0);
    expect(ls.o.out).toMatch(/db_pw\s+-\s+1\s+16/);
    const insp = io();
    expect(await run(['secret', 'inspect', 'db_pw', '--host', `unix://${sock}`], insp.io)).toBe(0);
    expect(JSON.parse(insp.o.out)[0]).toMatchObject({ name: 'db_pw', revision: 1, size: SECRET.length });
    writeFileSync(join(dir, 'pw2.txt'), `${SECRET}-new`);
    const up = io();
    expect(await run(['secret', 'update', 'other', join(dir, 'pw2.txt'), '--host', `unix://${sock}`], up.io)).toBe(0);
    expect(up.o.out).toBe('secret other updated to revision 2\n');
    const rm = io();
    expect(await run(['secret', 'rm', 'other', '--host', `unix://${sock}`], rm.io)).toBe(0);
    expect(rm.o.out).toBe('other\n');
  });

  it('config commands sit beside `tsswarm config` (which still prints a stack)', async () => {
    writeFileSync(join(dir, 'motd'), 'hello');
    const c = io();
    expect(await run(['config', 'create', 'motd', join(dir, 'motd'), '--host', `unix://${sock}`], c.io)).toBe(0);
    const insp = io();
    expect(await run(['config', 'inspect', 'motd', '--host', `unix://${sock}`], insp.io)).toBe(0);
    expect(JSON.parse(insp.o.out)[0].data).toBe(Buffer.from('hello').toString('base64'));
    writeFileSync(join(dir, 'stack.yml'), 'services:\n  web: {image: nginx}\n');
    const p = io();
    expect(await run(['config', '-c', join(dir, 'stack.yml')], p.io)).toBe(0);
    expect(p.o.out).toContain('image: nginx');
  });

  it('deploy --dry-run and deploy send the stack\'s secrets and print no value', async () => {
    writeFileSync(join(dir, 'app.yml'), `services:
  web:
    image: nginx
    environment:
      DB_PASSWORD: ${ENV}
    secrets: [db_pw, api]
    configs: [motd]
secrets:
  db_pw: {external: true}
  api: {file: ./pw.txt}
configs:
  motd: {external: true}
`);
    const dry = io();
    expect(await run(['deploy', '-c', join(dir, 'app.yml'), '--dry-run', 'app', '--host', `unix://${sock}`], dry.io)).toBe(0);
    expect(dry.o.out).toContain('create   secret app_api (revision 1)');
    const real = io();
    expect(await run(['deploy', '-c', join(dir, 'app.yml'), '--detach', 'app', '--host', `unix://${sock}`], real.io)).toBe(0);
    writeFileSync(join(dir, 'app.yml'), `services:
  web:
    image: nginx
    environment:
      DB_PASSWORD: ${ENV}-changed
    secrets: [db_pw, api]
secrets:
  db_pw: {external: true}
  api: {file: ./pw.txt}
`);
    const upd = io();
    expect(await run(['deploy', '-c', join(dir, 'app.yml'), '--dry-run', 'app', '--host', `unix://${sock}`], upd.io)).toBe(0);
    expect(upd.o.out).toContain('environment.DB_PASSWORD: changed');
    const json = io();
    expect(await run(['deploy', '-c', join(dir, 'app.yml'), '--dry-run', '--format', 'json', 'app', '--host', `unix://${sock}`], json.io)).toBe(0);
    const inUse = io();
    await expect(run(['secret', 'rm', 'db_pw', '--host', `unix://${sock}`], inUse.io)).rejects.toMatchObject({ code: 'TSW_ERR_IN_USE' });
    const all = outs.join('');
    for (const v of [SECRET, ENV, Buffer.from(SECRET).toString('base64'), Buffer.from(ENV).toString('base64')]) expect(all).not.toContain(v);
  });
});
