// Secrets against a real manager process, through the CLI: `secret create` from a file, ls and
// inspect (never the value), a stack deployed with its own secret and an external one (the
// services get the references resolved), `stack rm` removing the stack's own secret; the whole
// data dir (store, Raft log, snapshots, the manager's log), every file recursively, holds
// neither the value nor its base64.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, filesUnder, waitFor } from './harness.js';

const STACK = 'e2esecrets';
const VALUE = `e2e-s3cret-${process.pid}-value`;
const STACK_VALUE = `e2e-stack-s3cret-${process.pid}`;
const FORBIDDEN = [VALUE, STACK_VALUE, Buffer.from(VALUE).toString('base64'), Buffer.from(STACK_VALUE).toString('base64')];

interface View { id: string; name: string; stack: string; revision: number; size: number }
interface Svc { name: string; spec: { secrets?: { source: string; id?: string; revision?: number }[] } }


describe('secrets through the CLI against a real manager', () => {
  const c = new Cluster('secrets');
  // Values live outside the data dir, as a user's files would.
  const valuesDir = mkdtempSync(join(tmpdir(), 'tsswarm-e2e-values-'));

  beforeAll(async () => { await c.start(); });
  afterAll(async () => {
    await c.destroy([STACK]);
    rmSync(valuesDir, { recursive: true, force: true });
  });

  it('creates a secret from a file; ls and inspect show it without its value', async () => {
    const file = join(valuesDir, 'pw.txt');
    writeFileSync(file, VALUE);
    const id = (await c.cliOk('secret', 'create', 'e2e_pw', file, '--label', 'team=e2e')).trim();
    expect(id).toMatch(/^[0-9a-z]+$/);
    const ls = await c.json<View[]>('secret', 'ls');
    expect(ls).toEqual([expect.objectContaining({ id, name: 'e2e_pw', stack: '', revision: 1, size: VALUE.length })]);
    const table = await c.cliOk('secret', 'ls');
    expect(table).toContain('e2e_pw');
    const inspect = await c.cliOk('secret', 'inspect', 'e2e_pw');
    expect(JSON.parse(inspect)[0]).toMatchObject({ id, labels: { team: 'e2e' } });
    for (const v of FORBIDDEN) expect(table + inspect).not.toContain(v);
  });

  it('deploys a stack with its own secret and an external one, then stack rm removes its own', async () => {
    writeFileSync(join(valuesDir, 'stack-pw.txt'), STACK_VALUE);
    const f = c.writeStack('stack.yml', `
services:
  app:
    image: tsswarm/busybox:latest
    command: ["sleep", "3600"]
    init: true
    environment:
      PLAIN: visible
    secrets:
      - own_pw
      - source: e2e_pw
        target: /etc/shared.pw
        mode: 0400
secrets:
  own_pw:
    file: ${join(valuesDir, 'stack-pw.txt')}
  e2e_pw:
    external: true
`);
    const dry = await c.cli('deploy', '-c', f, '--dry-run', STACK);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`create   secret ${STACK}_own_pw (revision 1)`);
    await c.cliOk('deploy', '-c', f, '--detach', STACK);
    const secrets = await c.json<View[]>('secret', 'ls');
    const own = secrets.find((s) => s.name === `${STACK}_own_pw`)!;
    expect(own).toMatchObject({ stack: STACK, revision: 1, size: STACK_VALUE.length });
    const svc = (await c.json<Svc[]>('service', 'inspect', `${STACK}_app`))[0];
    expect(svc.spec.secrets).toEqual([
      expect.objectContaining({ source: `${STACK}_own_pw`, target: 'own_pw', id: own.id, revision: 1 }),
      expect.objectContaining({ source: 'e2e_pw', target: '/etc/shared.pw', mode: 0o400, revision: 1 }),
    ]);
    // In use: refused, naming the service.
    const rm = await c.cli('secret', 'rm', 'e2e_pw');
    expect(rm.code).toBe(1);
    expect(rm.stderr).toContain('TSW_ERR_IN_USE');
    expect(rm.stderr).toContain(`${STACK}_app`);

    const out = await c.cliOk('stack', 'rm', STACK);
    expect(out).toContain(`Removing secret ${STACK}_own_pw`);
    await waitFor('the stack\'s own secret to be gone', async () => !(await c.json<View[]>('secret', 'ls')).some((s) => s.name === `${STACK}_own_pw`));
    await c.cliOk('secret', 'rm', 'e2e_pw');
    expect(await c.json<View[]>('secret', 'ls')).toEqual([]);
  });

  it('no file of the data dir holds a value or its base64', async () => {
    // A backup is the store's snapshot: it must not hold one either.
    await c.cliOk('cluster', 'backup', join(c.dataDir, 'backup.bin'));
    const files = filesUnder(c.dataDir).filter((p) => !p.endsWith('.sock'));
    expect(files.length).toBeGreaterThan(3);
    for (const p of files) {
      const text = readFileSync(p).toString('latin1');
      for (const v of FORBIDDEN) expect(text.includes(v), `${p} holds ${v}`).toBe(false);
    }
  });
});
