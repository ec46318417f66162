// The HTTPS API: a real listener on 127.0.0.1 and a real store. Who gets in (a listed client,
// a current manager), who is refused and how (401: no or unverified certificate; 403: verified
// but not allowed), that a refused request changes nothing, and issuing, listing and revoking
// client certificates.

import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientCertExpiry } from '../../../manager/controlapi/routes/cluster.js';
import { listenUnix } from '../../../manager/controlapi/server.js';
import { judgePeer, normaliseSerial, parseListenAddr, type PeerCert } from '../../../manager/controlapi/tls.js';
import { issue, makeKeyAndCsr, serialOf, type TestCert } from '../helpers/tls-certs.js';
import { serviceSpec, stackSpec } from './harness.js';
import { call, httpsHarness, MANAGER_ID, type HttpsHarness } from './tls-harness.js';

let h: HttpsHarness;

beforeAll(async () => { h = await httpsHarness(); });
afterAll(async () => { await h?.close(); });

const deploy = (name: string) => ({ stack: stackSpec(name, { web: serviceSpec() }) });

/** `cert` is refused with `status`/`code`, and a deploy with it changes nothing. */
async function refused(cert: TestCert | undefined, status: number, code: string, message?: RegExp): Promise<void> {
  const before = h.snapshot();
  const r = await call(h, 'POST', '/v1/stacks/deploy', { cert, body: deploy('intruder') });
  expect(r.status, r.text).toBe(status);
  expect(r.body.code).toBe(code);
  if (message) expect(r.body.message).toMatch(message);
  const g = await call(h, 'GET', '/v1/services', { cert });
  expect(g.status).toBe(status);
  expect(h.snapshot()).toBe(before);
}

describe('who may use the HTTPS API', () => {
  it('no client certificate: 401, and nothing changes', async () => {
    await refused(undefined, 401, 'TSW_ERR_UNAUTHENTICATED', /no client certificate/);
  });

  it('a certificate of another CA: 401', async () => {
    await refused(h.pki.foreignClient, 401, 'TSW_ERR_UNAUTHENTICATED', /not signed by this cluster's CA/);
  });

  it('an expired certificate: 401', async () => {
    await refused(h.pki.expiredClient, 401, 'TSW_ERR_UNAUTHENTICATED', /expired/);
  });

  it("a worker's certificate: 403", async () => {
    await refused(h.pki.worker, 403, 'TSW_ERR_PERMISSION_DENIED', /worker/);
  });

  it('a client certificate of another cluster: 403', async () => {
    await refused(h.pki.otherClusterClient, 403, 'TSW_ERR_PERMISSION_DENIED', /another cluster/);
  });

  it('a client certificate the cluster does not list: 403', async () => {
    await refused(issue(h.pki.ca, 'client', 'bob'), 403, 'TSW_ERR_PERMISSION_DENIED', /revoked or replaced/);
  });

  it("a manager certificate of a node that is no manager: 403", async () => {
    await refused(issue(h.pki.ca, 'manager', 'gone'), 403, 'TSW_ERR_PERMISSION_DENIED', /not a current manager/);
  });

  it('an unknown route is refused the same way (no 404 before the check)', async () => {
    const r = await call(h, 'GET', '/v1/nothing-here');
    expect(r.status).toBe(401);
  });

  it('a listed client: reads and writes work', async () => {
    const d = await call(h, 'POST', '/v1/stacks/deploy', { cert: h.pki.client, body: deploy('app') });
    expect(d.status, d.text).toBe(200);
    const r = await call(h, 'GET', '/v1/services', { cert: h.pki.client });
    expect(r.status).toBe(200);
    expect(r.body.map((s: { name: string }) => s.name)).toContain('app_web');
  });

  it("a current manager's certificate: 200", async () => {
    const r = await call(h, 'GET', '/v1/info', { cert: h.pki.manager });
    expect(r.status, r.text).toBe(200);
    expect(r.body.nodeId).toBe(MANAGER_ID);
  });

  it('a refusal is logged once per connection, with the peer and the reason', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = h.warnings.length;
    try {
      for (let i = 0; i < 3; i++) expect((await call(h, 'GET', '/v1/services', { cert: h.pki.worker, agent })).status).toBe(403);
    } finally { agent.destroy(); }
    const logged = h.warnings.slice(before).filter((w) => w.msg === 'refused an HTTPS API request');
    expect(logged).toHaveLength(1);
    expect(logged[0]!.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(logged[0]!.reason).toMatch(/worker/);
  });

  it('the unix socket is not concerned: the same app answers there without a certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsswarm-sock-'));
    try {
      // After listenHttps made the app ready: the order of the two listeners does not matter.
      await listenUnix(h.app, join(dir, 'api.sock'));
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ socketPath: join(dir, 'api.sock'), path: '/v1/services' }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(200);
      expect((await h.app.inject({ method: 'GET', url: '/v1/services' })).statusCode).toBe(200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('client certificates', () => {
  it('issued for a CSR: the certificate works, is listed, and revoking it refuses the next request', async () => {
    const { keyPem, csrPem } = makeKeyAndCsr(h.pki.dir, 'whatever');
    const r = await call(h, 'POST', '/v1/cluster/client-certs', { cert: h.pki.client, body: { name: 'ci-bot', csr: csrPem, expiry: '30d' } });
    expect(r.status, r.text).toBe(200);
    expect(r.body.caPems).toEqual([h.pki.ca.certPem]);
    expect(r.body.serial).toBe(serialOf(r.body.certPem));
    expect(Math.abs(r.body.notAfter - (Date.now() + 30 * 86_400_000))).toBeLessThan(120_000);
    const bot: TestCert = { certPem: r.body.certPem, keyPem, serial: r.body.serial, notAfter: r.body.notAfter };

    // Over one kept-alive connection: the revocation applies to the next request on it.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await call(h, 'GET', '/v1/services', { cert: bot, agent })).status).toBe(200);
      const ls = await call(h, 'GET', '/v1/cluster/client-certs', { cert: bot, agent });
      expect(ls.body.find((c: { name: string }) => c.name === 'ci-bot')).toEqual({ name: 'ci-bot', serial: bot.serial, notAfter: bot.notAfter, createdAt: expect.any(Number) });
      expect(ls.text).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
      const rm = await call(h, 'DELETE', '/v1/cluster/client-certs/ci-bot', { cert: h.pki.client });
      expect(rm.status, rm.text).toBe(200);
      const after = await call(h, 'GET', '/v1/services', { cert: bot, agent });
      expect(after.status).toBe(403);
      expect(after.body.code).toBe('TSW_ERR_PERMISSION_DENIED');
    } finally { agent.destroy(); }
  });

  it('a second certificate for a name replaces the first', async () => {
    const issueFor = async (name: string): Promise<TestCert> => {
      const { keyPem, csrPem } = makeKeyAndCsr(h.pki.dir, name);
      const r = await call(h, 'POST', '/v1/cluster/client-certs', { cert: h.pki.client, body: { name, csr: csrPem } });
      expect(r.status, r.text).toBe(200);
      expect(Math.abs(r.body.notAfter - (Date.now() + 90 * 86_400_000))).toBeLessThan(120_000);
      return { certPem: r.body.certPem, keyPem, serial: r.body.serial, notAfter: r.body.notAfter };
    };
    const first = await issueFor('laptop');
    const second = await issueFor('laptop');
    expect((await call(h, 'GET', '/v1/info', { cert: first })).status).toBe(403);
    expect((await call(h, 'GET', '/v1/info', { cert: second })).status).toBe(200);
    const ls = await call(h, 'GET', '/v1/cluster/client-certs', { cert: second });
    expect(ls.body.filter((c: { name: string }) => c.name === 'laptop')).toHaveLength(1);
  });

  it.each([
    [{ name: '', csr: 'x' }, 'name'],
    [{ name: 'a b', csr: 'x' }, 'name'],
    [{ name: 'x'.repeat(65), csr: 'x' }, 'name'],
    [{ name: 'ok', csr: 'not a csr' }, 'csr'],
    [{ name: 'ok', csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', expiry: '2y' }, 'expiry'],
    [{ name: 'ok', csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', expiry: '366d' }, 'expiry'],
    [{ name: 'ok', csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', expiry: '10m' }, 'expiry'],
    [{ name: 'ok', csr: 'x', extra: 1 }, 'extra'],
  ])('a bad request %j is refused naming %s, and nothing changes', async (body, field) => {
    const before = h.snapshot();
    const r = await call(h, 'POST', '/v1/cluster/client-certs', { cert: h.pki.client, body });
    expect(r.status, r.text).toBe(400);
    expect(r.body.code).toBe('TSW_ERR_INVALID_ARGUMENT');
    expect(r.body.details.map((d: { field?: string }) => d.field)).toContain(field);
    expect(h.snapshot()).toBe(before);
  });

  it('revoking an unknown name: 404 TSW_ERR_CLIENT_CERT_NOT_FOUND', async () => {
    const r = await call(h, 'DELETE', '/v1/cluster/client-certs/nobody', { cert: h.pki.client });
    expect(r.status).toBe(404);
    expect(r.body.code).toBe('TSW_ERR_CLIENT_CERT_NOT_FOUND');
  });

  it('without the right credentials nothing is issued', async () => {
    const { csrPem } = makeKeyAndCsr(h.pki.dir, 'sneaky');
    const before = h.snapshot();
    const r = await call(h, 'POST', '/v1/cluster/client-certs', { body: { name: 'sneaky', csr: csrPem } });
    expect(r.status).toBe(401);
    const w = await call(h, 'POST', '/v1/cluster/client-certs', { cert: h.pki.worker, body: { name: 'sneaky', csr: csrPem } });
    expect(w.status).toBe(403);
    expect(h.snapshot()).toBe(before);
  });
});

describe('update(): certificate renewal and CA rotation', () => {
  it('a client that trusts only the new CA connects once the listener has the new certificate', async () => {
    const ca2 = h.pki.ca2.certPem;
    // Before: the manager's certificate is from the first CA.
    await expect(call(h, 'GET', '/v1/info', { cert: h.pki.client, ca: ca2 })).rejects.toMatchObject({ code: expect.stringMatching(/UNABLE_TO|CERT|SELF_SIGNED/) });
    h.listener.update({ certPem: h.pki.manager2.certPem, keyPem: h.pki.manager2.keyPem, caPems: [h.pki.ca.certPem, ca2], clusterId: h.pki.clusterId });
    try {
      const r = await call(h, 'GET', '/v1/info', { cert: h.pki.client, ca: ca2 });
      expect(r.status, r.text).toBe(200);
      // Clients of the new root are verified too (both are trusted during the rotation).
      const fromNext = issue(h.pki.ca2, 'client', 'alice');
      expect((await call(h, 'GET', '/v1/info', { cert: fromNext, ca: ca2 })).body.code).toBe('TSW_ERR_PERMISSION_DENIED'); // verified, not listed
      // A client trusting only the old root does not accept the new-root server certificate.
      await expect(call(h, 'GET', '/v1/info', { cert: h.pki.client })).rejects.toMatchObject({ code: expect.stringMatching(/UNABLE_TO|CERT|SELF_SIGNED/) });
    } finally {
      h.listener.update({ certPem: h.pki.manager.certPem, keyPem: h.pki.manager.keyPem, caPems: [h.pki.ca.certPem], clusterId: h.pki.clusterId });
    }
  });

  it('a key that does not match its certificate is refused and the listener keeps what it had', async () => {
    expect(() => h.listener.update({ certPem: h.pki.manager2.certPem, keyPem: h.pki.manager.keyPem, caPems: [h.pki.ca.certPem], clusterId: h.pki.clusterId })).toThrow();
    expect((await call(h, 'GET', '/v1/info', { cert: h.pki.client })).status).toBe(200);
  });
});

describe('judgePeer (pure)', () => {
  const now = 1_000_000;
  const peer = (over: Partial<PeerCert>): PeerCert => ({ present: true, verified: true, o: 'c', ou: 'client', cn: 'alice', serial: '0abc', notAfter: now + 1, ...over });
  const cluster = { managers: [{ raftId: 1, nodeId: 'm1', addr: 'a:1', desired: 'voter' as const }], clientCerts: [{ name: 'alice', serial: 'ABC', notAfter: now + 1, createdAt: 0 }] };
  it.each([
    [peer({}), true],
    [peer({ serial: 'abd' }), 'TSW_ERR_PERMISSION_DENIED'],
    [peer({ cn: 'bob' }), 'TSW_ERR_PERMISSION_DENIED'],
    [peer({ notAfter: now }), 'TSW_ERR_UNAUTHENTICATED'],
    [peer({ verified: false, verifyError: 'CERT_HAS_EXPIRED' }), 'TSW_ERR_UNAUTHENTICATED'],
    [peer({ present: false, verified: false }), 'TSW_ERR_UNAUTHENTICATED'],
    [peer({ o: undefined }), 'TSW_ERR_PERMISSION_DENIED'],
    [peer({ ou: 'manager', cn: 'm1' }), true],
    [peer({ ou: 'manager', cn: 'm2' }), 'TSW_ERR_PERMISSION_DENIED'],
    [peer({ ou: 'worker' }), 'TSW_ERR_PERMISSION_DENIED'],
    [peer({ ou: undefined }), 'TSW_ERR_PERMISSION_DENIED'],
  ])('%j', (p, want) => {
    const v = judgePeer(p, 'c', cluster, now);
    expect(v.ok ? true : v.code).toBe(want);
  });

  it('no cluster object: only refusals', () => {
    expect(judgePeer(peer({}), 'c', undefined, now).ok).toBe(false);
  });

  it('serials compare as numbers written in hex', () => {
    expect(normaliseSerial('00:0A:bC')).toBe('abc');
    expect(normaliseSerial('000')).toBe('0');
  });
});

describe('addresses and durations', () => {
  it.each([
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ['[::1]:4243', { host: '::1', port: 4243 }],
    ['manager.example:443', { host: 'manager.example', port: 443 }],
  ])('listen address %s', (s, want) => expect(parseListenAddr(s)).toEqual(want));

  it.each(['4243', ':4243', 'a:99999', '::1:4243', 'a b:1'])('refuses listen address %s', (s) => {
    expect(() => parseListenAddr(s)).toThrow(/HTTPS API address/);
  });

  it.each([
    [undefined, 90 * 86_400],
    ['90d', 90 * 86_400],
    ['1d12h', 36 * 3600],
    ['720h', 30 * 86_400],
    ['365d', 365 * 86_400],
    ['1h', 3600],
  ])('expiry %s', (s, secs) => expect(clientCertExpiry(s)).toBe(secs));
});
