// Autolock, end to end, on a real manager process: turned on, it prints an unlock key and the
// data key on disk is wrapped by it (no `keys/kek`); a restarted manager serves nothing but
// `/v1/info` (locked) and binds no gRPC port until `tsswarm manager unlock` gives it the right
// key (a wrong one is refused and changes nothing); `--unlock-key-file` starts it directly; a
// backup taken under autolock restores on a new data dir with the key, and is refused without
// it; turned off, `keys/kek` is back and a restart needs no key.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliResult } from './harness.js';
import { ROOT, filesUnder, waitFor } from './harness.js';
import { ManagerProc } from './managers.js';

const BIN = join(ROOT, 'bin', 'tsswarm.js');
const SECRET = 'al_db_pw';
const VALUE = `S3cr3t-${randomBytes(16).toString('hex')}`;
const KEY_RE = /TSWKEY-1-[0-9a-z]{52}/;

/** The CLI against `m`'s socket with `input` on its standard input (where `manager unlock` reads the key). */
function cliIn(m: ManagerProc, input: string, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, TSSWARM_HOST: `unix://${m.socket}` }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('close', (code) => { clearTimeout(t); resolve({ code: code ?? -1, stdout, stderr }); });
    p.stdin.end(input);
  });
}

/** Whether a TCP (`host:port`) or unix socket accepts a connection: one attempt, bounded. */
function accepts(target: { host: string; port: number } | { path: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(target as { host: string; port: number });
    const done = (v: boolean) => { clearTimeout(t); s.destroy(); resolve(v); };
    const t = setTimeout(() => done(false), 3000);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

const hostPort = (addr: string): { host: string; port: number } => {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
};


type Info = { locked?: boolean };

describe('autolock on a real manager', () => {
  const m = new ManagerProc('autolock');
  const others: ManagerProc[] = [];
  // The operator's files (the value, the key, the backup): outside every data dir.
  const work = mkdtempSync(join(tmpdir(), 'tsswarm-e2e-autolock-'));
  const valueFile = join(work, 'value.txt');
  const keyFile = join(work, 'unlock.key');
  const backupFile = join(work, 'backup.bin');
  let key = '';
  let grpc: { host: string; port: number };
  let secretId = '';

  const kek = (p: ManagerProc) => join(p.dataDir, 'keys', 'kek');
  const info = async (p: ManagerProc) => p.api<Info>('GET', '/v1/info');
  /**
   * Waits until `p` serves its whole API (after an unlock the locked server closes before the
   * API listens); says whether any answer meanwhile was a locked one.
   */
  const serving = async (p: ManagerProc): Promise<{ sawLocked: boolean }> => {
    let exited = false;
    let sawLocked = false;
    await waitFor(`${p.name} to serve its API`, async () => {
      if (!p.running) { exited = true; return true; }
      const r = await info(p).catch(() => undefined);
      if (r?.status === 200 && r.body.locked === true) { sawLocked = true; return false; }
      return r?.status === 200 && (await p.cli('secret', 'ls')).code === 0;
    }, 60_000, 100);
    if (exited) throw new Error(`${p.name} exited:\n${p.logTail()}`);
    return { sawLocked };
  };
  /** The secret made before opens with the data key: giving the same value again is no change. */
  const secretOpens = async (p: ManagerProc): Promise<void> => {
    expect(await p.cliOk('secret', 'update', SECRET, valueFile)).toContain(`secret ${SECRET} unchanged (revision 1)`);
  };
  const linesWith = (p: ManagerProc, text: string): number => readFileSync(p.logFile, 'utf8').split('\n').filter((l) => l.includes(text)).length;
  const lockedLines = (p: ManagerProc): number => linesWith(p, 'this manager is locked (autolock)');
  /**
   * After a restart that must not lock: once the log holds the new start's "API listening" (it
   * writes asynchronously), it holds no new "locked" line, which would have come before it.
   */
  const neverLocked = async (p: ManagerProc, lockedBefore: number, listeningBefore: number): Promise<void> => {
    await waitFor('the start logged', () => linesWith(p, '"msg":"API listening"') > listeningBefore, 10_000);
    expect(lockedLines(p)).toBe(lockedBefore);
  };

  beforeAll(async () => {
    writeFileSync(valueFile, VALUE);
    await m.init('127.0.0.7');
    grpc = hostPort(m.addr);
    secretId = (await m.cliOk('secret', 'create', SECRET, valueFile)).trim();
  }, 120_000);

  afterAll(async () => {
    for (const p of [m, ...others]) await p.kill9();
    for (const p of [m, ...others]) p.remove();
    rmSync(work, { recursive: true, force: true });
  });

  it('cluster update --autolock=true prints an unlock key, unlock-key -q the same; keys/kek goes', async () => {
    expect(existsSync(kek(m))).toBe(true);
    const out = await m.cliOk('cluster', 'update', '--autolock=true');
    expect(out).toMatch(KEY_RE);
    key = KEY_RE.exec(out)![0];
    expect((await m.cliOk('cluster', 'unlock-key', '-q')).trim()).toBe(key);
    writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
    // This manager wraps its data key with the unlock key: no key in clear in its data dir.
    await waitFor('keys/kek gone (the data key wrapped by the unlock key)', () => !existsSync(kek(m)), 30_000);
    const dek = JSON.parse(readFileSync(join(m.dataDir, 'keys', 'dek.json'), 'utf8')) as { kdf: unknown };
    expect(dek.kdf).not.toBeNull();
    const cluster = await m.cliOk('cluster', 'inspect');
    expect(JSON.parse(cluster)).toMatchObject({ autolock: {} });
    expect(cluster).not.toContain(key);
    for (const p of filesUnder(m.dataDir)) expect(readFileSync(p).toString('latin1').includes(key), `${p} holds the unlock key`).toBe(false);
  });

  it('a restarted manager is locked: only /v1/info answers (locked), every other route 423, no gRPC port', async () => {
    await m.stop();
    expect(await accepts(grpc)).toBe(false);
    const before = lockedLines(m);
    await m.restart();
    await waitFor('the restarted manager to say it is locked', async () => (await info(m).catch(() => undefined))?.body.locked === true, 30_000);
    expect(m.running).toBe(true);
    await waitFor('one "locked" line in the log', () => lockedLines(m) === before + 1, 10_000);
    for (const [method, path] of [['GET', '/v1/services'], ['GET', '/v1/secrets'], ['GET', `/v1/secrets/${SECRET}`], ['GET', '/v1/cluster'], ['GET', '/v1/cluster/unlock-key'], ['GET', '/v1/cluster/backup'], ['GET', '/v1/nodes'], ['POST', '/v1/cluster/autolock']] as const) {
      const r = await m.api<{ code: string }>(method, path, method === 'POST' ? { enabled: false } : undefined);
      expect(r.status, `${method} ${path}`).toBe(423);
      expect(r.body.code, `${method} ${path}`).toBe('TSW_ERR_CLUSTER_LOCKED');
    }
    const ls = await m.cli('secret', 'ls');
    expect(ls.code).toBe(1);
    expect(ls.stderr).toContain('TSW_ERR_CLUSTER_LOCKED');
    // Neither Raft nor the dispatcher runs: the gRPC port is not bound, nor the agents' socket.
    expect(await accepts(grpc)).toBe(false);
    expect(await accepts({ path: join(m.dataDir, 'dispatcher.sock') })).toBe(false);
    expect(existsSync(kek(m))).toBe(false);
  });

  it('manager unlock: a wrong key is refused and it stays locked; the right key starts it with its state', async () => {
    const wrong = `TSWKEY-1-${'0'.repeat(51)}1`;
    for (const bad of [wrong, 'not-an-unlock-key']) {
      const r = await cliIn(m, `${bad}\n`, 'manager', 'unlock');
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain('TSW_ERR_UNLOCK_KEY_INVALID');
      expect(r.stderr).not.toContain(bad);
      expect((await info(m)).body.locked).toBe(true);
      expect(await accepts(grpc)).toBe(false);
    }
    const r = await cliIn(m, `${key}\n`, 'manager', 'unlock');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Manager unlocked: starting');
    await serving(m);
    await waitFor('the gRPC port bound', () => accepts(grpc), 30_000);
    const inspect = JSON.parse(await m.cliOk('secret', 'inspect', SECRET)) as { id: string; revision: number }[];
    expect(inspect[0]).toMatchObject({ id: secretId, revision: 1, size: VALUE.length });
    await secretOpens(m);
    expect((await m.cliOk('cluster', 'unlock-key', '-q')).trim()).toBe(key);
  });

  it('a restart with --unlock-key-file starts directly', async () => {
    await m.stop();
    // Its log, whole now that it exited (it writes asynchronously), never held a key given.
    const log = readFileSync(m.logFile, 'utf8');
    expect(log).toContain('unlock refused');
    for (const k of [key, `TSWKEY-1-${'0'.repeat(51)}1`, 'not-an-unlock-key']) expect(log).not.toContain(k);
    const [locked, listening] = [lockedLines(m), linesWith(m, '"msg":"API listening"')];
    await m.restart(['--unlock-key-file', keyFile]);
    // No answer until it serves is a locked one.
    expect(await serving(m)).toEqual({ sawLocked: false });
    await neverLocked(m, locked, listening);
    await secretOpens(m);
    expect(existsSync(kek(m))).toBe(false);
  });

  it('a backup taken under autolock restores on a new data dir with the unlock key, and is refused without it', async () => {
    expect((await m.cliOk('cluster', 'backup', backupFile))).toContain(backupFile);
    const bytes = readFileSync(backupFile).toString('latin1');
    for (const v of [VALUE, Buffer.from(VALUE).toString('base64'), key]) expect(bytes.includes(v)).toBe(false);

    // Without the key: the manager exits, saying why.
    const refused = new ManagerProc('al-refused');
    others.push(refused);
    await expect(refused.init('127.0.0.7', ['--restore', backupFile])).rejects.toThrow(/exited/);
    expect(refused.proc!.exitCode).toBe(1);
    expect(refused.logTail()).toContain('TSW_ERR_CLUSTER_LOCKED');
    expect(refused.logTail()).toContain('--unlock-key-file');

    // With it: the restored cluster opens the secret, and a stack uses it as external.
    const restored = new ManagerProc('al-restored');
    others.push(restored);
    await restored.init('127.0.0.7', ['--restore', backupFile, '--unlock-key-file', keyFile]);
    expect(await serving(restored)).toEqual({ sawLocked: false });
    const inspect = JSON.parse(await restored.cliOk('secret', 'inspect', SECRET)) as { id: string }[];
    expect(inspect[0]).toMatchObject({ id: secretId, revision: 1, size: VALUE.length });
    await secretOpens(restored);
    // Still under autolock: no key in clear, and the same unlock key.
    expect(existsSync(kek(restored))).toBe(false);
    expect((await restored.cliOk('cluster', 'unlock-key', '-q')).trim()).toBe(key);
    const stack = join(work, 'stack.yml');
    writeFileSync(stack, `
services:
  app:
    image: tsswarm/busybox:latest
    command: ["sleep", "3600"]
    secrets: [${SECRET}]
secrets:
  ${SECRET}:
    external: true
`);
    const out = await restored.cliOk('deploy', '-c', stack, '--detach', 'e2eautolock');
    expect(out).toContain('create   e2eautolock_app');
    const svc = (JSON.parse(await restored.cliOk('service', 'inspect', 'e2eautolock_app')) as { spec: { secrets: unknown[] } }[])[0]!;
    expect(svc.spec.secrets).toEqual([expect.objectContaining({ source: SECRET, id: secretId, revision: 1 })]);
    await restored.stop();
  });

  it('autolock off: keys/kek is back and a restart needs no key', async () => {
    const out = await m.cliOk('cluster', 'update', '--autolock=false');
    expect(out).not.toMatch(KEY_RE);
    // No key to show: a script can test it (exit 1, nothing printed with -q).
    const q = await m.cli('cluster', 'unlock-key', '-q');
    expect([q.code, q.stdout]).toEqual([1, '']);
    expect((await m.cli('cluster', 'unlock-key')).stdout).toContain('Autolock is off');
    await waitFor('keys/kek back (the data key wrapped by a key of the data dir)', () => existsSync(kek(m)), 30_000);
    const dek = JSON.parse(readFileSync(join(m.dataDir, 'keys', 'dek.json'), 'utf8')) as { kdf: unknown };
    expect(dek.kdf).toBeNull();
    await m.stop();
    const [locked, listening] = [lockedLines(m), linesWith(m, '"msg":"API listening"')];
    await m.restart();
    expect(await serving(m)).toEqual({ sawLocked: false });
    await neverLocked(m, locked, listening);
    await secretOpens(m);
    expect(JSON.parse(await m.cliOk('cluster', 'inspect'))).not.toHaveProperty('autolock');
  });
});
