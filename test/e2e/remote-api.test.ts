// The HTTPS API of a real manager process, for remote CLIs: a client certificate from `cluster
// client-cert` is the only credential. Without one, with another CA's, with a worker's, or once
// revoked, a request gets 401/403 and changes nothing.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinCluster } from '../../proto/identity-client.js';
import { runCli } from './harness.js';
import { ManagerProc } from './managers.js';

interface Answer { status: number; body: string }

/** A raw HTTPS request to the manager (the server is checked against the cluster CA). */
function call(port: number, method: string, path: string, tls: { ca: string; cert?: string; key?: string }, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.10', port, method, path, ca: tls.ca, cert: tls.cert, key: tls.key, servername: 'tsswarm-manager',
      checkServerIdentity: () => undefined, timeout: 10_000,
      headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe('the HTTPS API of a real manager', () => {
  const m = new ManagerProc('remote');
  const tmp = mkdtempSync('/tmp/tsswarm-remote-test-');
  const bundle = join(tmp, 'laptop');
  let port: number;
  let ca: string;

  beforeAll(async () => {
    await m.init('127.0.0.10', ['--api-addr', '127.0.0.10:0']);
    const info = (await m.api<{ apiAddr?: string }>('GET', '/v1/info')).body;
    expect(info.apiAddr).toMatch(/^127\.0\.0\.10:\d+$/);
    port = Number(info.apiAddr!.split(':')[1]);
    await m.cliOk('cluster', 'client-cert', 'laptop', '--out', bundle);
    ca = readFileSync(join(bundle, 'ca.pem'), 'utf8');
  }, 90_000);

  afterAll(async () => {
    await m.stop();
    m.remove();
    rmSync(tmp, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => runCli(args, { TSSWARM_HOST: '' });

  it('a client certificate from `cluster client-cert` works through a context and through flags', async () => {
    const viaContext = await cli('node', 'ls', '--context', bundle);
    expect(viaContext.stderr).toBe('');
    expect(viaContext.code).toBe(0);
    const viaFlags = await cli('secret', 'ls', '--host', `https://127.0.0.10:${port}`, '--tlscacert', join(bundle, 'ca.pem'), '--tlscert', join(bundle, 'cert.pem'), '--tlskey', join(bundle, 'key.pem'));
    expect(viaFlags.code).toBe(0);
    // Its key never left this machine: the key file is the bundle's own, 0600.
    expect(readFileSync(join(bundle, 'key.pem'), 'utf8')).toMatch(/PRIVATE KEY/);
  });

  it("no certificate, another CA's, or a worker's: 401/403 and nothing changes", async () => {
    const before = (await m.api<unknown[]>('GET', '/v1/secrets')).body;
    const create = { name: 'intruded', data: Buffer.from('x').toString('base64'), labels: {} };
    const none = await call(port, 'POST', '/v1/secrets', { ca }, create);
    expect(none.status).toBe(401);
    expect(none.body).toContain('TSW_ERR_UNAUTHENTICATED');

    const dir = mkdtempSync(join(tmp, 'foreign-'));
    const run = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
    run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-subj', '/CN=tsswarm-ca', '-days', '2', '-out', 'ca.crt');
    run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'c.key', '-subj', '/OU=client/CN=laptop', '-out', 'c.csr');
    writeFileSync(join(dir, 'ext'), 'extendedKeyUsage=clientAuth\n');
    run('x509', '-req', '-in', 'c.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'ext', '-out', 'c.crt');
    const foreign = await call(port, 'POST', '/v1/secrets', { ca, cert: readFileSync(join(dir, 'c.crt'), 'utf8'), key: readFileSync(join(dir, 'c.key'), 'utf8') }, create);
    expect(foreign.status).toBe(401);

    const worker = await joinCluster(m.addr, { token: await m.token('worker'), role: 'worker', nodeId: 'remotew', hostname: 'x' });
    const asWorker = await call(port, 'POST', '/v1/secrets', { ca, cert: worker.certPem, key: worker.keyPem }, create);
    expect(asWorker.status).toBe(403);
    expect(asWorker.body).toContain('TSW_ERR_PERMISSION_DENIED');

    expect((await m.api<unknown[]>('GET', '/v1/secrets')).body).toEqual(before);
  });

  it('a revoked client certificate is refused from its next request on', async () => {
    const tls = { ca, cert: readFileSync(join(bundle, 'cert.pem'), 'utf8'), key: readFileSync(join(bundle, 'key.pem'), 'utf8') };
    expect((await call(port, 'GET', '/v1/nodes', tls)).status).toBe(200);
    await m.cliOk('cluster', 'client-cert', 'rm', 'laptop');
    const after = await call(port, 'GET', '/v1/nodes', tls);
    expect(after.status).toBe(403);
    const viaContext = await cli('node', 'ls', '--context', bundle);
    expect(viaContext.code).not.toBe(0);
    expect(viaContext.stderr).toContain('TSW_ERR_PERMISSION_DENIED');
  });
});
