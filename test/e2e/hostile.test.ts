// Hostile input against a real manager process, over its real unix socket: what a client that
// skips the CLI's parser can send is refused with 4xx and a TSW_ERR_ code, changes nothing, and
// never stops the control loops from converging the services that are fine. The cluster's
// bind-path allow-list, set through the CLI, refuses binds outside it. The data dir is private.

import { request } from 'node:http';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, httpGet, runCli, waitFor } from './harness.js';

interface Reply { status: number; body: string; json?: { code?: string; message?: string } }

function raw(socketPath: string, method: string, path: string, body?: string | Buffer, contentType = 'application/json'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method, headers: body === undefined ? {} : { 'content-type': contentType }, timeout: 20_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => {
        let json: Reply['json'];
        try { json = JSON.parse(text) as Reply['json']; } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, body: text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout'))).on('error', (e) => {
      // A server may close the socket while a huge body is still being written: that is a refusal too.
      if ((e as NodeJS.ErrnoException).code === 'EPIPE' || (e as NodeJS.ErrnoException).code === 'ECONNRESET') resolve({ status: 413, body: '' });
      else reject(e);
    });
    req.end(body);
  });
}

const PORT = 18682;

describe('hostile input against a real manager', () => {
  const c = new Cluster('hostile');
  const stateOf = async () => JSON.stringify({
    services: (await c.json<{ id: string; meta: { version: number } }[]>('service', 'ls')).map((s) => [s.id, s.meta.version]),
    cluster: await c.json<unknown>('cluster', 'inspect'),
  });

  beforeAll(async () => {
    await c.start(true);
    // A good service deployed before the attack: it must keep converging after it.
    const f = c.writeStack('good.yml', `
services:
  web:
    image: tsswarm/busybox:latest
    command: ["sh", "-c", "echo ok > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]
    init: true
    ports: ["127.0.0.1:${PORT}:8080"]
`);
    await c.cliOk('deploy', '-c', f, 'e2ehostile');
  });
  afterAll(async () => { await c.destroy(['e2ehostile', 'e2ebind']); });

  it('refuses every hostile request with 4xx and a code, and stores nothing', async () => {
    const before = await stateOf();
    const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
    const cases: { method: string; path: string; body?: string | Buffer; type?: string; status: number | RegExp; code?: RegExp }[] = [
      { method: 'POST', path: '/v1/stacks/deploy', status: 400, code: /^TSW_ERR_/,
        body: JSON.stringify({ stack: { name: 'raw2', services: { '../../x y': { image: 'busybox', ports: [{ target: -1, published: 99999, protocol: 'sctp', mode: 'weird' }], deploy: { mode: 'replicated', replicas: -5, placement: { constraints: [] } } } } } }) },
      { method: 'POST', path: '/v1/stacks/deploy', status: 400, code: /^TSW_ERR_/, body: JSON.stringify({ stack: { name: 'raw1', services: { web: { image: 'busybox' } } } }) },
      { method: 'POST', path: '/v1/stacks/deploy', status: 400, code: /^TSW_ERR_/, body: `{"stack":{"name":"deep","services":{"web":${deep}}}}` },
      { method: 'POST', path: '/v1/stacks/deploy', status: 413, body: Buffer.alloc(100 << 20, 0x20) },
      { method: 'POST', path: '/v1/stacks/deploy', status: 400, code: /^TSW_ERR_/, body: '{"stack":' },
      { method: 'POST', path: '/v1/stacks/deploy', status: 415, code: /^TSW_ERR_/, body: 'stack=1', type: 'application/x-www-form-urlencoded' },
      { method: 'POST', path: '/v1/services/e2ehostile_web/update', status: 400, code: /^TSW_ERR_/, body: JSON.stringify({ flags: { image: { evil: 1 }, command: 'notalist' } }) },
      { method: 'POST', path: '/v1/services/e2ehostile_web/update', status: 400, code: /^TSW_ERR_/, body: JSON.stringify({ flags: { envAdd: 5 } }) },
      { method: 'POST', path: '/v1/services/e2ehostile_web/update', status: 400, code: /^TSW_ERR_/, body: '' },
      { method: 'POST', path: '/v1/services/e2ehostile_web/scale', status: 400, code: /^TSW_ERR_/, body: '{"replicas":-1}' },
      { method: 'POST', path: '/v1/services/e2ehostile_web/scale', status: 400, code: /^TSW_ERR_/, body: '{"replicas":1000000000000}' },
      { method: 'POST', path: '/v1/services/e2ehostile_web/scale', status: 400, code: /^TSW_ERR_/, body: '{"replicas":1.5}' },
      { method: 'DELETE', path: '/v1/stacks/..%2F..', status: /^4/, code: /^TSW_ERR_/ },
      { method: 'POST', path: '/v1/cluster/update', status: 400, code: /^TSW_ERR_/, body: '{"spec":{"taskHistoryLimit":-3}}' },
    ];
    for (const k of cases) {
      const r = await raw(c.socket, k.method, k.path, k.body, k.type);
      const what = `${k.method} ${k.path} ${String(k.body ?? '').slice(0, 60)}`;
      if (typeof k.status === 'number') expect(r.status, what).toBe(k.status);
      else expect(String(r.status), what).toMatch(k.status);
      if (k.code) expect(r.json?.code, what).toMatch(k.code);
    }
    expect(await stateOf()).toBe(before);
    // The control loops still converge what is fine: scaling the good service works at once.
    await c.cliOk('service', 'scale', 'e2ehostile_web=2');
    expect((await httpGet(PORT)).status).toBe(200);
  });

  it('the bind-path allow-list set through the CLI refuses binds outside it', async () => {
    const f = c.writeStack('bind.yml', `
services:
  etc:
    image: tsswarm/busybox:latest
    command: ["sleep", "3600"]
    init: true
    volumes: ["/etc:/host-etc:ro"]
`);
    await c.cliOk('cluster', 'update', '--bind-allow', '/srv', '--bind-allow', '/data');
    const r = await c.cli('deploy', '-c', f, 'e2ebind', '--detach');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/TSW_ERR_BIND_NOT_ALLOWED/);
    expect(r.stderr).toMatch(/\/etc/);
    expect(await c.cli('service', 'inspect', 'e2ebind_etc')).toMatchObject({ code: 1 });
    // Lifting the policy lets it through, with the parser's warning about /etc.
    await c.cliOk('cluster', 'update', '--bind-allow-any');
    const ok = await c.cli('deploy', '-c', f, 'e2ebind', '--detach');
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/warning: .*\/etc/);
  });
});

describe('the data dir is private', () => {
  it('manager --init on an existing 0755 dir leaves it 0700, its files 0600', async () => {
    const parent = mkdtempSync('/tmp/tsswarm-e2e-perm-');
    const dir = join(parent, 'data');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'notes.txt'), 'x', { mode: 0o644 });
    // A manager of its own on this dir, without an agent: only its files are under test.
    const r = runCli(['manager', '--init', '--listen-addr', '127.0.0.1:0', '--data-dir', dir, '--no-agent'], {});
    try {
      await waitFor('the API socket', () => { try { return statSync(join(dir, 'tsswarm.sock')).isSocket(); } catch { return false; } }, 30_000);
      const mode = (p: string) => (statSync(join(dir, p)).mode & 0o777).toString(8);
      expect(mode('.')).toBe('700');
      expect(mode('notes.txt')).toBe('600');
      expect(mode('cluster.json')).toBe('600');
      expect(mode('raft')).toBe('700');
      expect(mode('raft/wal')).toBe('700');
      // Keys: the keyring (the data key, wrapped) and this manager's certificate and sealed key.
      expect(mode('keys')).toBe('700');
      expect(mode('keys/dek.json')).toBe('600');
      expect(mode('keys/kek')).toBe('600');
      expect(mode('certs')).toBe('700');
      expect(mode('certs/node.key')).toBe('600');
      expect(mode('certs/node.crt')).toBe('600');
      // The CA's key lives sealed in the store: no copy in clear.
      expect(() => statSync(join(dir, 'ca'))).toThrow(/ENOENT/);
      expect(mode('tsswarm.sock')).toBe('600');
      expect(mode('dispatcher.sock')).toBe('600');
    } finally {
      // The manager goes even when a check failed (it would outlive the test otherwise).
      try { process.kill(Number(readFileSync(join(dir, 'manager.pid'), 'utf8')), 'SIGTERM'); } catch { /* not started */ }
      await r;
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
