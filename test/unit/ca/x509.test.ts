import { afterAll, describe, expect, it } from 'vitest';
import { X509Certificate, createHash, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import * as der from '../../../manager/ca/der.js';
import { BACKDATE_MS, OID, createRootCA, ipBytes, issueCert, keyIdentifier, newNodeKey, parseCertificate, publicKeyBits, type CAKeyPair } from '../../../manager/ca/x509.js';
import { ErrorCodes } from '../../../common/errors.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const DAY = 86_400_000;
const CLUSTER = 'k3p9w1yq0c2x8v7n6m5b4l3z2';

const certDer = (pem: string): Buffer => new X509Certificate(pem).raw;
const p256 = (): { privateKey: KeyObject; publicKey: KeyObject } => generateKeyPairSync('ec', { namedCurve: 'P-256' });
/** Extended key usages: `keyUsage` on Node 20, `extKeyUsage` where it was renamed. */
const eku = (x: X509Certificate): string[] | undefined => (x as unknown as { extKeyUsage?: string[] }).extKeyUsage ?? x.keyUsage;

const ca = createRootCA({ commonName: 'tsswarm-ca', organization: CLUSTER, validDays: 3650, now: NOW });
const caX = new X509Certificate(ca.certPem);

function node(role: 'manager' | 'worker', id: string, extra: Partial<Parameters<typeof issueCert>[0]> = {}, issuer: CAKeyPair = ca) {
  const key = newNodeKey();
  const issued = issueCert({
    ca: issuer, publicKey: key.publicKeyPem, commonName: id, organizationalUnit: role, organization: CLUSTER,
    dnsNames: [id], ipAddresses: ['127.0.0.1'], validDays: 90, now: NOW, ...extra,
  });
  return { ...issued, keyPem: key.keyPem, x: new X509Certificate(issued.certPem) };
}

describe('createRootCA', () => {
  it('is a self-signed ECDSA P-256 CA that Node parses and verifies', () => {
    expect(caX.ca).toBe(true);
    expect(caX.subject).toBe(`O=${CLUSTER}\nCN=tsswarm-ca`);
    expect(caX.issuer).toBe(caX.subject);
    expect(caX.verify(caX.publicKey)).toBe(true);
    expect(caX.checkIssued(caX)).toBe(true);
    expect(caX.publicKey.asymmetricKeyType).toBe('ec');
    expect(caX.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(caX.checkPrivateKey(createPrivateKey(ca.keyPem))).toBe(true);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('is valid from an hour before `now` for validDays', () => {
    expect(new Date(caX.validFrom).getTime()).toBe(NOW.getTime() - BACKDATE_MS);
    expect(new Date(caX.validTo).getTime()).toBe(NOW.getTime() + 3650 * DAY);
  });

  it('carries v3, ecdsa-with-SHA256, basicConstraints CA:TRUE and keyUsage keyCertSign|cRLSign (both critical), and its key id', () => {
    const f = parseCertificate(certDer(ca.certPem));
    expect(f.version).toBe(3);
    expect(f.signatureAlgorithm).toBe(OID.ecdsaWithSHA256);
    expect([...f.extensions.keys()].sort()).toEqual([OID.basicConstraints, OID.keyUsage, OID.subjectKeyIdentifier].sort());
    expect(f.extensions.get(OID.basicConstraints)).toEqual({ critical: true, value: Buffer.from('30030101ff', 'hex') });
    expect(f.extensions.get(OID.keyUsage)).toEqual({ critical: true, value: Buffer.from('03020106', 'hex') });
    const ski = f.extensions.get(OID.subjectKeyIdentifier)!;
    expect(ski.critical).toBe(false);
    const sha1 = createHash('sha1').update(publicKeyBits(f.spki)).digest();
    expect(ski.value.equals(der.octetString(sha1))).toBe(true);
    expect(f.issuer.equals(f.subject)).toBe(true);
  });

  it('has a random, positive serial of 20 octets', () => {
    const serials = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const f = parseCertificate(certDer(createRootCA({ commonName: 'x', validDays: 1 }).certPem));
      expect(f.serial.length).toBe(20);
      expect(f.serial[0]! & 0x80).toBe(0);
      expect(f.serial[0]! & 0x40).toBe(0x40);
      serials.add(f.serial.toString('hex'));
    }
    expect(serials.size).toBe(5);
  });

  it('writes GeneralizedTime for dates from 2050 on, which Node reads back', () => {
    const late = createRootCA({ commonName: 'late', validDays: 3650, now: new Date('2045-06-01T00:00:00Z') });
    const x = new X509Certificate(late.certPem);
    expect(new Date(x.validTo).toISOString()).toBe('2055-05-30T00:00:00.000Z');
    expect(x.verify(x.publicKey)).toBe(true);
  });

  it('refuses bad options with INVALID_ARGUMENT', () => {
    for (const opts of [
      { commonName: 'x', validDays: 0 },
      { commonName: 'x', validDays: 1.5 },
      { commonName: 'x', validDays: 36_501 },
      { commonName: '', validDays: 1 },
      { commonName: 'a'.repeat(65), validDays: 1 },
      { commonName: 'a\nb', validDays: 1 },
      { commonName: ' a', validDays: 1 },
      { commonName: 'x', validDays: 1, now: new Date(NaN) },
      { commonName: 'x', organization: '', validDays: 1 },
    ]) {
      expect(() => createRootCA(opts), JSON.stringify(opts)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    }
  });
});

describe('issueCert', () => {
  const mgr = node('manager', 'n0d3m4n4g3r', { dnsNames: ['n0d3m4n4g3r', 'localhost'], ipAddresses: ['127.0.0.1', '::1'] });

  it('is a node certificate signed by the CA: subject O=cluster, OU=role, CN=node id', () => {
    expect(mgr.x.verify(caX.publicKey)).toBe(true);
    expect(mgr.x.checkIssued(caX)).toBe(true);
    expect(mgr.x.ca).toBe(false);
    expect(mgr.x.subject).toBe(`O=${CLUSTER}\nOU=manager\nCN=n0d3m4n4g3r`);
    expect(mgr.x.issuer).toBe(caX.subject);
    expect(mgr.x.serialNumber).toBe(mgr.serialNumber);
    expect(mgr.x.checkPrivateKey(createPrivateKey(mgr.keyPem))).toBe(true);
    // a certificate of another CA does not verify with this one
    const other = createRootCA({ commonName: 'tsswarm-ca', organization: CLUSTER, validDays: 10, now: NOW });
    expect(mgr.x.verify(new X509Certificate(other.certPem).publicKey)).toBe(false);
    expect(mgr.x.checkIssued(new X509Certificate(other.certPem))).toBe(false);
  });

  it('names its DNS names and IPs (SAN), and is for TLS servers and clients (EKU)', () => {
    expect(mgr.x.subjectAltName).toBe('DNS:n0d3m4n4g3r, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(mgr.x.checkHost('localhost')).toBe('localhost');
    expect(mgr.x.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(mgr.x.checkIP('10.0.0.1')).toBeUndefined();
    expect(eku(mgr.x)).toEqual([OID.serverAuth, OID.clientAuth]);
  });

  it('is valid from an hour before `now` for validDays, never past the CA', () => {
    expect(new Date(mgr.x.validFrom).getTime()).toBe(NOW.getTime() - BACKDATE_MS);
    expect(new Date(mgr.x.validTo).getTime()).toBe(NOW.getTime() + 90 * DAY);
    expect(mgr.notAfter.getTime()).toBe(NOW.getTime() + 90 * DAY);
    const long = node('worker', 'w', { validDays: 36_500 });
    expect(new Date(long.x.validTo).getTime()).toBe(new Date(caX.validTo).getTime());
  });

  it('carries CA:FALSE and keyUsage digitalSignature (critical), EKU, SAN, authority and subject key ids', () => {
    const f = parseCertificate(certDer(mgr.certPem));
    const c = parseCertificate(certDer(ca.certPem));
    expect(f.version).toBe(3);
    expect(f.issuer.equals(c.subject)).toBe(true);
    expect(f.extensions.get(OID.basicConstraints)).toEqual({ critical: true, value: Buffer.from('3000', 'hex') });
    expect(f.extensions.get(OID.keyUsage)).toEqual({ critical: true, value: Buffer.from('03020780', 'hex') });
    expect(f.extensions.get(OID.extKeyUsage)?.critical).toBe(false);
    expect(f.extensions.get(OID.subjectAltName)?.critical).toBe(false);
    const caKeyId = keyIdentifier(c.spki);
    expect(f.extensions.get(OID.authorityKeyIdentifier)?.value.equals(der.sequence(der.contextPrimitive(0, caKeyId)))).toBe(true);
    expect(f.extensions.get(OID.subjectKeyIdentifier)?.value.equals(der.octetString(keyIdentifier(f.spki)))).toBe(true);
    expect(f.serial.length).toBe(20);
  });

  it('has no SAN extension when given no names', () => {
    const bare = node('worker', 'w1', { dnsNames: [], ipAddresses: [] });
    expect(parseCertificate(certDer(bare.certPem)).extensions.has(OID.subjectAltName)).toBe(false);
    expect(bare.x.subjectAltName).toBeUndefined();
  });

  it('takes the public key as a KeyObject, an SPKI PEM, or derives it from a private key', () => {
    const { privateKey, publicKey } = p256();
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    for (const k of [publicKey, publicKey.export({ type: 'spki', format: 'pem' }) as string, privateKey]) {
      const c = issueCert({ ca, publicKey: k, commonName: 'n', organizationalUnit: 'worker', organization: CLUSTER, validDays: 1, now: NOW });
      expect(new X509Certificate(c.certPem).publicKey.export({ type: 'spki', format: 'der' }).equals(spki)).toBe(true);
    }
  });

  it('gives RSA keys keyEncipherment too, and accepts Ed25519', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const r = issueCert({ ca, publicKey: rsa, commonName: 'r', organizationalUnit: 'worker', organization: CLUSTER, validDays: 1, now: NOW });
    expect(parseCertificate(certDer(r.certPem)).extensions.get(OID.keyUsage)?.value.toString('hex')).toBe('030205a0');
    const ed = generateKeyPairSync('ed25519').publicKey;
    const e = issueCert({ ca, publicKey: ed, commonName: 'e', organizationalUnit: 'worker', organization: CLUSTER, validDays: 1, now: NOW });
    expect(new X509Certificate(e.certPem).verify(caX.publicKey)).toBe(true);
  });

  it('refuses bad requests with INVALID_ARGUMENT, naming what is wrong', () => {
    const { publicKey } = p256();
    const base = { ca, publicKey, commonName: 'n', organizationalUnit: 'worker' as const, organization: CLUSTER, validDays: 1, now: NOW };
    const other = createRootCA({ commonName: 'other', validDays: 1, now: NOW });
    const leaf = node('worker', 'leaf');
    const cases: Array<[Partial<typeof base> & Record<string, unknown>, RegExp]> = [
      [{ organizationalUnit: 'admin' as never }, /"manager" or "worker"/],
      [{ dnsNames: ['bad name'] }, /not a DNS name/],
      [{ dnsNames: ['-a.b'] }, /not a DNS name/],
      [{ dnsNames: ['a'.repeat(64)] }, /not a DNS name/],
      [{ ipAddresses: ['300.1.1.1'] }, /not an IP address/],
      [{ ipAddresses: ['fe80::1%eth0'] }, /not an IP address/],
      [{ ipAddresses: ['localhost'] }, /not an IP address/],
      [{ commonName: '' }, /commonName/],
      [{ organization: 'x'.repeat(65) }, /organization/],
      [{ ca: { certPem: ca.certPem, keyPem: other.keyPem } }, /does not belong to the CA certificate/],
      [{ ca: { certPem: leaf.certPem, keyPem: leaf.keyPem } }, /not a CA/],
      [{ ca: { certPem: 'junk', keyPem: ca.keyPem } }, /CA certificate cannot be read/],
      [{ ca: { certPem: ca.certPem, keyPem: 'junk' } }, /CA key cannot be read/],
      [{ now: new Date(NOW.getTime() + 3651 * DAY) }, /the CA expired/],
      [{ publicKey: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey }, /too short/],
      [{ publicKey: generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey }, /curve/],
      [{ publicKey: 'not a key' as never }, /not a public key/],
      [{ validDays: 0 }, /validDays/],
    ];
    for (const [change, msg] of cases) {
      expect(() => issueCert({ ...base, ...change }), String(msg)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT, message: expect.stringMatching(msg) }));
    }
  });

  it('encodes IPv4 and IPv6 addresses as 4 and 16 octets', () => {
    const h = (ip: string): string => ipBytes(ip).toString('hex');
    expect(h('10.1.2.3')).toBe('0a010203');
    expect(h('::')).toBe('0'.repeat(32));
    expect(h('::1')).toBe(`${'0'.repeat(31)}1`);
    expect(h('1::')).toBe(`0001${'0'.repeat(28)}`);
    expect(h('2001:db8::8:800:200c:417a')).toBe('20010db80000000000080800200c417a');
    expect(h('1:2:3:4:5:6:7:8')).toBe('00010002000300040005000600070008');
    expect(h('::ffff:192.0.2.1')).toBe('00000000000000000000ffffc0000201');
    expect(h('64:ff9b::192.0.2.33')).toBe('0064ff9b0000000000000000c0000221');
    expect(h('1:2:3:4:5:6:1.2.3.4')).toBe('00010002000300040005000601020304');
  });
});

// ---------------------------------------------------------------------------------------------

const hasOpenssl = spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;

describe.skipIf(!hasOpenssl)('openssl agrees (skipped when there is no openssl binary)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsswarm-ca-'));
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

  it('`openssl verify -x509_strict` accepts the CA and the node certificates', () => {
    const caFile = file('ca.pem', ca.certPem);
    const m = file('manager.pem', node('manager', 'm1').certPem);
    const w = file('worker.pem', node('worker', 'w1', { dnsNames: [], ipAddresses: [] }).certPem);
    // the dates are fixed in 2026: check at a time inside them
    const at = String(Math.floor(NOW.getTime() / 1000) + 60);
    const self = openssl('verify', '-x509_strict', '-attime', at, '-CAfile', caFile, caFile);
    expect(self.out).toContain(`${caFile}: OK`);
    expect(self.status).toBe(0);
    const r = openssl('verify', '-x509_strict', '-attime', at, '-purpose', 'sslserver', '-CAfile', caFile, m);
    expect(r.out).toContain(`${m}: OK`);
    expect(r.status).toBe(0);
    expect(openssl('verify', '-x509_strict', '-attime', at, '-purpose', 'sslclient', '-CAfile', caFile, w).status).toBe(0);
  });

  it('`openssl verify` refuses a certificate of another CA', () => {
    const other = createRootCA({ commonName: 'tsswarm-ca', organization: CLUSTER, validDays: 3650, now: NOW });
    const caFile = file('ca2.pem', ca.certPem);
    const foreign = file('foreign.pem', node('worker', 'w', {}, other).certPem);
    const r = openssl('verify', '-attime', String(Math.floor(NOW.getTime() / 1000) + 60), '-CAfile', caFile, foreign);
    expect(r.status).not.toBe(0);
  });

  it('`openssl x509 -text` reads every field and extension', () => {
    const caText = openssl('x509', '-noout', '-text', '-in', file('ca3.pem', ca.certPem)).out;
    expect(caText).toMatch(/Version: 3 \(0x2\)/);
    expect(caText).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(caText).toMatch(/NIST CURVE: P-256/);
    expect(caText).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
    expect(caText).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(caText).toMatch(/X509v3 Subject Key Identifier/);
    expect(caText).toMatch(/Not Before: Mar {2}1 11:00:00 2026 GMT/);

    const text = openssl('x509', '-noout', '-text', '-in', file('m3.pem', node('manager', 'm1', { ipAddresses: ['127.0.0.1', '2001:db8::1'] }).certPem)).out;
    expect(text).toMatch(new RegExp(`Subject: O = ${CLUSTER}, OU = manager, CN = m1`));
    expect(text).toMatch(new RegExp(`Issuer: O = ${CLUSTER}, CN = tsswarm-ca`));
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s*\n\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toMatch(/DNS:m1, IP Address:127.0.0.1, IP Address:2001:DB8:0:0:0:0:0:1/);
    expect(text).toMatch(/X509v3 Authority Key Identifier/);
    expect(text).not.toMatch(/unable|error/i);
  });

  it('`openssl asn1parse` reads the whole DER without complaint', () => {
    const r = openssl('asn1parse', '-inform', 'PEM', '-in', file('m4.pem', node('worker', 'w4').certPem));
    expect(r.status).toBe(0);
    expect(r.out).not.toMatch(/error/i);
  });
});

// ---------------------------------------------------------------------------------------------

interface Side { authorized: boolean; error?: string; peer?: tls.PeerCertificate }

/**
 * One TLS connection on 127.0.0.1 (an ephemeral port). The server asks for a client
 * certificate; `strictServer` says whether it refuses one that does not verify.
 */
async function handshake(
  server: { certPem: string; keyPem: string; ca: string; strict: boolean },
  client: { certPem: string; keyPem: string; ca: string },
): Promise<{ server?: Side; client?: Side; clientError?: NodeJS.ErrnoException; serverError?: NodeJS.ErrnoException; echoed?: string }> {
  const srv = tls.createServer({ cert: server.certPem, key: server.keyPem, ca: [server.ca], requestCert: true, rejectUnauthorized: server.strict });
  const serverSide = new Promise<Side>((resolve) => {
    srv.on('secureConnection', (s) => {
      resolve({ authorized: s.authorized, error: s.authorizationError ? String(s.authorizationError) : undefined, peer: s.getPeerCertificate() });
      s.on('data', (d) => s.end(`echo:${d}`));
      s.on('error', () => {});
    });
  });
  const serverError = new Promise<NodeJS.ErrnoException>((resolve) => srv.on('tlsClientError', resolve));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as AddressInfo;
  const sock = tls.connect({ host: '127.0.0.1', port, cert: client.certPem, key: client.keyPem, ca: [client.ca] });
  try {
    const outcome = await new Promise<{ client?: Side; clientError?: NodeJS.ErrnoException; echoed?: string }>((resolve) => {
      let data = '';
      sock.on('error', (err) => resolve({ clientError: err }));
      sock.on('secureConnect', () => {
        sock.write('hi');
        sock.on('data', (d) => (data += d));
        sock.on('end', () => resolve({ client: { authorized: sock.authorized }, echoed: data }));
      });
      sock.on('close', () => resolve({ clientError: Object.assign(new Error('closed'), { code: 'CLOSED' }) }));
    });
    const first = await Promise.race([serverSide.then((s) => ({ s })), serverError.then((e) => ({ e }))]);
    return { ...outcome, server: 's' in first ? first.s : undefined, serverError: 'e' in first ? first.e : undefined };
  } finally {
    sock.destroy();
    await new Promise((r) => srv.close(r));
  }
}

describe('the certificates work for mutual TLS (what issue 15 builds on)', () => {
  // A CA and certificates valid now (the ones above are dated 2026-03-01, and TLS checks dates).
  const liveCa = createRootCA({ commonName: 'tsswarm-ca', organization: CLUSTER, validDays: 30 });
  const live = (role: 'manager' | 'worker', id: string, names: boolean, issuer: CAKeyPair = liveCa) =>
    node(role, id, { dnsNames: names ? [id] : [], ipAddresses: names ? ['127.0.0.1'] : [], now: undefined, validDays: 1 }, issuer);

  it('a server with a manager certificate and a client with a worker certificate, each trusting only the CA, authenticate each other', async () => {
    const server = live('manager', 'm1', true);
    const client = live('worker', 'w1', false);
    const r = await handshake({ ...server, ca: liveCa.certPem, strict: true }, { ...client, ca: liveCa.certPem });
    expect(r.clientError).toBeUndefined();
    expect(r.client?.authorized).toBe(true);
    expect(r.server?.authorized).toBe(true);
    expect(r.echoed).toBe('echo:hi');
    expect(r.server?.peer?.subject).toMatchObject({ O: CLUSTER, OU: 'worker', CN: 'w1' });
  });

  it('the server refuses a client certificate from another CA', async () => {
    const server = live('manager', 'm1', true);
    const foreignCa = createRootCA({ commonName: 'tsswarm-ca', organization: CLUSTER, validDays: 30 });
    const client = live('worker', 'w1', false, foreignCa);
    const lenient = await handshake({ ...server, ca: liveCa.certPem, strict: false }, { ...client, ca: liveCa.certPem });
    expect(lenient.server?.authorized).toBe(false);
    expect(lenient.server?.error).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i);
    const strict = await handshake({ ...server, ca: liveCa.certPem, strict: true }, { ...client, ca: liveCa.certPem });
    expect(strict.server).toBeUndefined();
    expect(strict.serverError).toBeDefined();
    expect(strict.echoed ?? '').toBe(''); // TLS 1.3: the client may finish first, but nothing comes back
  });

  it('the client refuses a server whose certificate is from another CA, or does not name the address dialled', async () => {
    const client = live('worker', 'w1', false);
    const foreignCa = createRootCA({ commonName: 'tsswarm-ca', organization: CLUSTER, validDays: 30 });
    const foreign = live('manager', 'm1', true, foreignCa);
    const r1 = await handshake({ ...foreign, ca: liveCa.certPem, strict: true }, { ...client, ca: liveCa.certPem });
    expect(r1.clientError?.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const unnamed = live('manager', 'm2', false);
    const r2 = await handshake({ ...unnamed, ca: liveCa.certPem, strict: true }, { ...client, ca: liveCa.certPem });
    expect(r2.clientError?.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });
});
