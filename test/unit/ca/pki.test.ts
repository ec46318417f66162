import { afterAll, describe, expect, it } from 'vitest';
import { X509Certificate, createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MANAGER_SERVER_NAME, caDigest, certInfo, createCsr, fetchPinnedCA, newKeyPem, normalizeSerial, pemBlocks, splitHostPort, verifyIssued, x509lib,
} from '../../../common/pki.js';
import { caDigestOfDer } from '../../../common/token.js';
import { ErrorCodes } from '../../../common/errors.js';
import { createRootCA, crossSign, issueCert, signCsr, type CAKeyPair, type IssueOptions } from '../../../manager/ca/x509.js';
import { rejected, thrown } from './thrown.js';
import { tlsServer } from './tls.js';

const CLUSTER = 'k3p9w1yq0c2x8v7n6m5b4l3z2';
const HOUR = 3_600_000;

const leafOf = async (ca: CAKeyPair, opts: Partial<IssueOptions> = {}): Promise<{ certPem: string; keyPem: string }> => {
  const keyPem = newKeyPem();
  const certPem = await signCsr(ca, await createCsr(keyPem, 'x'), { commonName: 'm1', role: 'manager', clusterId: CLUSTER, validSeconds: 3600, ...opts });
  return { certPem, keyPem };
};

const hasOpenssl = spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'tsswarm-pki-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const openssl = (...args: string[]): { status: number | null; out: string } => {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
};

describe('newKeyPem and createCsr', () => {
  it('makes a fresh P-256 key as PKCS#8 PEM', () => {
    const a = newKeyPem();
    expect(a).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const k = createPrivateKey(a);
    expect(k.asymmetricKeyType).toBe('ec');
    expect(k.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(newKeyPem()).not.toBe(a);
  });

  it('makes a CSR for the key, signed by it, naming the common name', async () => {
    const key = newKeyPem();
    const csr = await createCsr(key, 'n0d3');
    expect(csr).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+-----END CERTIFICATE REQUEST-----\n$/);
    const x = new (x509lib().Pkcs10CertificateRequest)(csr);
    expect(x.subject).toBe('CN=n0d3');
    expect(await x.verify()).toBe(true);
    expect(x.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } });
    const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    expect(Buffer.from(x.publicKey.rawData).equals(spki)).toBe(true);
  });

  it.skipIf(!hasOpenssl)('`openssl req -verify` accepts the CSR', async () => {
    const r = openssl('req', '-verify', '-noout', '-text', '-in', file('csr.pem', await createCsr(newKeyPem(), 'n1')));
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/verify OK/);
    expect(r.out).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(r.out).toMatch(/Subject: CN = n1/);
  });

  it('refuses keys it cannot sign with, and names that are empty or too long', async () => {
    expect((await rejected(createCsr('junk', 'n'))).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect((await rejected(createCsr(ed, 'n'))).message).toMatch(/ed25519 keys are not accepted/);
    expect((await rejected(createCsr(newKeyPem(), ''))).message).toMatch(/commonName/);
    expect((await rejected(createCsr(newKeyPem(), 'a'.repeat(65)))).message).toMatch(/commonName/);
  });
});

describe('certInfo', () => {
  it('reads the holder, serial, validity, CA flag and fingerprints, from PEM or DER', async () => {
    const ca = await createRootCA({ clusterId: CLUSTER, validDays: 30 });
    const leaf = await leafOf(ca, { commonName: 'w7', role: 'worker', validSeconds: 600 });
    const x = new X509Certificate(leaf.certPem);
    const info = certInfo(leaf.certPem);
    expect(info).toEqual({
      commonName: 'w7',
      role: 'worker',
      clusterId: CLUSTER,
      serial: x.serialNumber.toLowerCase(),
      notBefore: new Date(x.validFrom),
      notAfter: new Date(x.validTo),
      isCA: false,
      fingerprint256: x.fingerprint256.replace(/:/g, '').toLowerCase(),
      publicKeySpkiSha256: createHash('sha256').update(createPublicKey(leaf.keyPem).export({ type: 'spki', format: 'der' })).digest('hex'),
    });
    expect(info.serial).toMatch(/^[1-9a-f][0-9a-f]{39}$/);
    expect(certInfo(x.raw)).toEqual(info);
    const c = certInfo(ca.certPem);
    expect(c).toMatchObject({ commonName: 'tsswarm-ca', clusterId: CLUSTER, isCA: true });
    expect(c.role).toBeUndefined();
    // the client role too
    expect(certInfo((await leafOf(ca, { role: 'client', commonName: 'alice' })).certPem)).toMatchObject({ role: 'client', commonName: 'alice' });
  });

  it.skipIf(!hasOpenssl)("the serial is openssl's, in lower case", async () => {
    const ca = await createRootCA({ clusterId: CLUSTER, validDays: 30 });
    const leaf = await leafOf(ca);
    const r = openssl('x509', '-noout', '-serial', '-in', file('serial.pem', leaf.certPem));
    expect(r.out.trim()).toBe(`serial=${certInfo(leaf.certPem).serial.toUpperCase()}`);
  });

  it('normalizes serials: lower case, no leading zeros', () => {
    expect(normalizeSerial('00AB01')).toBe('ab01');
    expect(normalizeSerial('0')).toBe('0');
    expect(normalizeSerial('000')).toBe('0');
  });

  it('reads the subject attribute by attribute: a value holding a comma or newline cannot pose as a role', async () => {
    const x = x509lib();
    const { keys } = await (await import('../../../common/pki.js')).cryptoKeyPair(newKeyPem());
    const make = async (name: unknown) =>
      (await x.X509CertificateGenerator.createSelfSigned({ name: new x.Name(name as never), keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as Algorithm })).toString('pem');
    const sneaky = certInfo(await make([{ O: [{ utf8String: 'c, OU=manager' }] }, { CN: [{ utf8String: 'n\nOU=manager' }] }]));
    expect(sneaky.role).toBeUndefined();
    expect(sneaky.clusterId).toBe('c, OU=manager');
    expect(sneaky.commonName).toBe('n\nOU=manager');
    const two = certInfo(await make([{ O: [{ utf8String: 'c' }] }, { OU: [{ utf8String: 'worker' }] }, { OU: [{ utf8String: 'manager' }] }, { CN: [{ utf8String: 'n' }] }]));
    expect(two.role).toBeUndefined();
    const none = certInfo(await make([{ OU: [{ utf8String: 'admin' }] }]));
    expect(none).toMatchObject({ commonName: '', clusterId: undefined, role: undefined });
  });

  it('refuses what is not a certificate', () => {
    expect(thrown(() => certInfo('junk')).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(thrown(() => certInfo(Buffer.from('30030101ff', 'hex'))).code).toBe(ErrorCodes.INVALID_ARGUMENT);
  });
});

describe('caDigest', () => {
  it("is caDigestOfDer of the certificate's DER, from PEM, DER or a parsed certificate", async () => {
    const ca = await createRootCA({ clusterId: CLUSTER, validDays: 1 });
    const x = new X509Certificate(ca.certPem);
    const d = caDigest(ca.certPem);
    expect(d).toBe(caDigestOfDer(x.raw));
    expect(d).toMatch(/^[0-9a-z]{50}$/);
    expect(caDigest(x.raw)).toBe(d);
    expect(caDigest(x)).toBe(d);
  });
});

describe('pemBlocks', () => {
  it('returns the certificates of a bundle in order, canonically armoured', async () => {
    const a = (await createRootCA({ clusterId: 'a', validDays: 1 })).certPem;
    const b = (await createRootCA({ clusterId: 'b', validDays: 1 })).certPem;
    expect(pemBlocks(`${a}${b}`)).toEqual([a, b]);
    expect(pemBlocks(`\n\n${a.replace(/\n/g, '\r\n')}\n  \n${b}\n`)).toEqual([a, b]);
    expect(pemBlocks('')).toEqual([]);
  });

  it('refuses anything else between or inside blocks, never quoting a block', async () => {
    const a = (await createRootCA({ clusterId: 'a', validDays: 1 })).certPem;
    const key = newKeyPem();
    const cases: Array<[string, RegExp]> = [
      [`${a}garbage\n${a}`, new RegExp(`not PEM at line ${a.split('\n').length}`)],
      [`# a comment\n${a}`, /not PEM at line 1/],
      [`${a}${key}`, /a PRIVATE KEY block at line \d+: only certificates/],
      [a.replace('-----END CERTIFICATE-----\n', ''), /no -----END CERTIFICATE----- line/],
      [a.replace(/\n(.)/, '\n*$1'), /not base64 at line 2/],
      [a.replace('-----END CERTIFICATE-----', '-----END X509 CRL-----'), /ends with/],
      ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', /cannot be read/],
    ];
    for (const [text, msg] of cases) {
      const err = thrown(() => pemBlocks(text));
      expect(err.code, String(msg)).toBe(ErrorCodes.INVALID_ARGUMENT);
      expect(err.message, String(msg)).toMatch(msg);
      expect(err.message).not.toContain(key.split('\n')[1]!.slice(0, 16));
    }
  });
});

describe('verifyIssued', () => {
  it("is true for the CA's own leaf, false for a foreign CA's, a non-CA issuer, or outside validity", async () => {
    const ca = await createRootCA({ clusterId: CLUSTER, validDays: 30 });
    const foreign = await createRootCA({ clusterId: CLUSTER, validDays: 30 });
    const leaf = await leafOf(ca, { validSeconds: 600 });
    expect(verifyIssued(leaf.certPem, ca.certPem)).toBe(true);
    expect(verifyIssued(leaf.certPem, foreign.certPem)).toBe(false); // same subject, other key
    expect(verifyIssued((await leafOf(foreign)).certPem, ca.certPem)).toBe(false);
    expect(verifyIssued(leaf.certPem, leaf.certPem)).toBe(false);
    expect(verifyIssued(leaf.certPem, ca.certPem, new Date(Date.now() + 2 * HOUR))).toBe(false); // leaf expired
    expect(verifyIssued(leaf.certPem, ca.certPem, new Date(Date.now() - 2 * HOUR))).toBe(false); // not yet valid
    expect(verifyIssued('junk', ca.certPem)).toBe(false);
    expect(verifyIssued(ca.certPem, ca.certPem)).toBe(true); // a root issued itself
  });
});

describe('splitHostPort', () => {
  it('reads host:port and [v6]:port', () => {
    expect(splitHostPort('10.0.0.1:4242')).toEqual({ host: '10.0.0.1', port: 4242 });
    expect(splitHostPort('m1.example:1')).toEqual({ host: 'm1.example', port: 1 });
    expect(splitHostPort('[::1]:65535')).toEqual({ host: '::1', port: 65535 });
    for (const bad of ['', 'host', 'host:', 'host:0', 'host:65536', '::1:80', 'a b:1']) expect(thrown(() => splitHostPort(bad)).code, bad).toBe(ErrorCodes.INVALID_ARGUMENT);
  });
});

describe('fetchPinnedCA', () => {
  it('returns the CA a manager presents (leaf + root) when it matches the digest', async () => {
    const ca = await createRootCA({ clusterId: CLUSTER, validDays: 30 });
    const leaf = await leafOf(ca);
    const srv = await tlsServer({ cert: leaf.certPem + ca.certPem, key: leaf.keyPem, ALPNProtocols: ['h2'] });
    try {
      expect(await fetchPinnedCA(srv.addr, caDigest(ca.certPem), 5000)).toEqual([ca.certPem]);
    } finally {
      await srv.close();
    }
  });

  it("refuses a foreign chain, and a foreign leaf sent with this cluster's CA", async () => {
    const ca = await createRootCA({ clusterId: CLUSTER, validDays: 30 });
    const foreign = await createRootCA({ clusterId: CLUSTER, validDays: 30 });
    const fleaf = await leafOf(foreign);
    for (const chain of [fleaf.certPem + foreign.certPem, fleaf.certPem + ca.certPem]) {
      const srv = await tlsServer({ cert: chain, key: fleaf.keyPem });
      try {
        const err = await rejected(fetchPinnedCA(srv.addr, caDigest(ca.certPem), 5000));
        expect(err.code).toBe(ErrorCodes.TOKEN_INVALID);
        expect(err.message).toBe(`the manager at ${srv.addr} presented a cluster CA that does not match the join token's digest: refusing to join`);
      } finally {
        await srv.close();
      }
    }
  });

  it('during a root rotation, pins the old root through the cross-signed certificate and returns both', async () => {
    const old = await createRootCA({ clusterId: CLUSTER, validDays: 30 });
    const next = await createRootCA({ clusterId: CLUSTER, validDays: 60 });
    const cross = await crossSign(old, next.certPem);
    const leaf = await leafOf(next);
    const srv = await tlsServer({ cert: leaf.certPem + cross + old.certPem, key: leaf.keyPem });
    try {
      expect(await fetchPinnedCA(srv.addr, caDigest(old.certPem), 5000)).toEqual([old.certPem, cross]);
      // a token of the new root does not match this chain (the new root is not in it)
      expect((await rejected(fetchPinnedCA(srv.addr, caDigest(next.certPem), 5000))).code).toBe(ErrorCodes.TOKEN_INVALID);
    } finally {
      await srv.close();
    }
    const srv2 = await tlsServer({ cert: leaf.certPem + next.certPem, key: leaf.keyPem });
    try {
      expect(await fetchPinnedCA(srv2.addr, caDigest(next.certPem), 5000)).toEqual([next.certPem]);
    } finally {
      await srv2.close();
    }
    // the whole chain, in path order, pins for a token of either root
    const srv3 = await tlsServer({ cert: leaf.certPem + next.certPem + cross + old.certPem, key: leaf.keyPem });
    try {
      expect(await fetchPinnedCA(srv3.addr, caDigest(old.certPem), 5000)).toEqual([old.certPem, cross, next.certPem]);
      expect(await fetchPinnedCA(srv3.addr, caDigest(next.certPem), 5000)).toEqual([next.certPem]);
    } finally {
      await srv3.close();
    }
    // out of order, the joiner cannot follow the chain to the old root
    const srv4 = await tlsServer({ cert: leaf.certPem + old.certPem + cross, key: leaf.keyPem });
    try {
      expect((await rejected(fetchPinnedCA(srv4.addr, caDigest(old.certPem), 5000))).code).toBe(ErrorCodes.TOKEN_INVALID);
    } finally {
      await srv4.close();
    }
  });

  it('is UNAVAILABLE, naming the address, when nothing listens or nothing answers in time', async () => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const closedAddr = `127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise((r) => probe.close(r));
    const refused = await rejected(fetchPinnedCA(closedAddr, caDigest((await createRootCA({ clusterId: 'x', validDays: 1 })).certPem), 5000));
    expect(refused.code).toBe(ErrorCodes.UNAVAILABLE);
    expect(refused.message).toContain(closedAddr);

    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const silentAddr = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const t0 = Date.now();
      const err = await rejected(fetchPinnedCA(silentAddr, 'x'.repeat(50), 200));
      expect(err.code).toBe(ErrorCodes.UNAVAILABLE);
      expect(err.message).toBe(`cannot reach the manager at ${silentAddr}: no TLS handshake within 200 ms`);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('dials with the servername managers are named by', () => {
    expect(MANAGER_SERVER_NAME).toBe('tsswarm-manager');
  });
});

describe('issueCert takes a bare public key', () => {
  it('certifies it like a CSR would', async () => {
    const ca = await createRootCA({ clusterId: CLUSTER, validDays: 3 });
    const key = newKeyPem();
    const pub = createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string;
    const cert = await issueCert(ca, pub, { commonName: 'm9', role: 'manager', clusterId: CLUSTER, validSeconds: 60 });
    expect(certInfo(cert)).toMatchObject({ commonName: 'm9', role: 'manager', clusterId: CLUSTER });
    expect(new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(verifyIssued(cert, ca.certPem)).toBe(true);
  });
});
