// A manager whose data dir fills up (a 2 MiB tmpfs): writes that cannot be made durable are
// refused with TSW_ERR_DISK_FULL and never acknowledged, the API stays up, the manager says so
// once in its log, and once space is freed it carries on; after a kill -9 and a restart every
// acknowledged deploy is there. Needs root (mount); skipped otherwise.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBody } from '../../common/api/types.js';
import { parseStack } from '../../common/stack/index.js';
import { waitFor } from './harness.js';
import { ManagerProc } from './managers.js';

const PREFIX = '/tmp/tsswarm-mgrfull-';
const root = process.getuid?.() === 0;

/** Unmounts and removes what earlier runs left (a run that was killed). */
function cleanStale(): void {
  for (const name of readdirSync('/tmp')) {
    const dir = `/tmp/${name}`;
    if (!dir.startsWith(PREFIX) || dir.endsWith('.log')) continue;
    try { execFileSync('umount', ['-l', dir], { stdio: 'ignore' }); } catch { /* not mounted */ }
    rmSync(dir, { recursive: true, force: true });
  }
}

const stack = (name: string) => parseStack([{ path: '/s/stack.yml', text: `
services:
  app:
    image: tsswarm/busybox:latest
    environment:
      PAD: "${'x'.repeat(4000)}"
` }], { env: {}, readFile: () => { throw Object.assign(new Error('none'), { code: 'ENOENT' }); }, projectName: name, cwd: '/s' }).stack;

describe.skipIf(!root)('a manager on a full disk', () => {
  let mount = '';
  let m: ManagerProc;
  const acknowledged: string[] = [];

  beforeAll(() => {
    cleanStale();
    mount = mkdtempSync(PREFIX);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', mount]);
    mkdirSync(join(mount, 'data'));
    // Its log outside the full disk: what it says about the disk must be readable.
    m = new ManagerProc('full', join(mount, 'data'), `${mount}.log`);
  });

  afterAll(async () => {
    await m?.kill9();
    cleanStale();
    rmSync(`${mount}.log`, { force: true });
  });

  const deploy = (name: string) => m.api<ErrorBody>('POST', '/v1/stacks/deploy', { stack: stack(name) });

  it('refuses what it cannot make durable, stays up, logs once, and carries on when space is freed', async () => {
    await m.init('127.0.0.1');
    // Most of the space goes to a ballast file; the rest fills with deploys.
    const free = Number(execFileSync('df', ['--output=avail', '-B1', mount]).toString().split('\n')[1]);
    writeFileSync(join(mount, 'ballast'), Buffer.alloc(Math.max(0, free - 300 * 1024)));
    let refused: { status: number; body: ErrorBody } | undefined;
    for (let i = 0; i < 500 && !refused; i++) {
      const r = await deploy(`s${i}`);
      if (r.status === 200) acknowledged.push(`s${i}`);
      else refused = r;
    }
    expect(refused, 'the disk never filled').toBeDefined();
    expect(refused!.body.code).toBe('TSW_ERR_DISK_FULL');
    expect(acknowledged.length).toBeGreaterThan(0);
    // The API answers, more writes are refused the same way, and the log says it once.
    expect((await m.api('GET', '/v1/stacks')).status).toBe(200);
    expect((await deploy('again')).body.code).toBe('TSW_ERR_DISK_FULL');
    const full = () => readFileSync(m.logFile, 'utf8').split('\n').filter((l) => l.includes('data dir full')).length;
    expect(full()).toBe(1);
    expect(m.running).toBe(true);

    rmSync(join(mount, 'ballast'));
    await waitFor('a deploy accepted once space is back', async () => {
      const r = await deploy('after');
      return r.status === 200;
    }, 30_000, 250);
    acknowledged.push('after');
    expect(readFileSync(m.logFile, 'utf8')).toMatch(/data dir writable again/);
    expect(full()).toBe(1);
  });

  it('after kill -9 and a restart, every acknowledged deploy is there', async () => {
    await m.kill9();
    await m.restart();
    await m.answering();
    const stacks = (await m.api<{ name: string }[]>('GET', '/v1/stacks')).body.map((s) => s.name);
    for (const name of acknowledged) expect(stacks).toContain(name);
  });
});
