import { afterAll, describe, expect, it } from 'vitest';
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as X509 from '@peculiar/x509';
import {
  BACKDATE_MS, CA_COMMON_NAME, MAX_CSR_PEM_BYTES, createRootCA, crossSign, ipText, issueCert, signCsr, type CAKeyPair, type IssueOptions,
} from '../../../manager/ca/x509.js';
import { certInfo, createCsr, newKeyPem, verifyIssued, x509lib } from '../../../common/pki.js';
import { ErrorCodes } from '../../../common/errors.js';
import { rejected } from './thrown.js';
import { handshake } from './tls.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const DAY = 86_400_000;
const CLUSTER = 'k3p9w1yq0c2x8v7n6m5b4l3z2';
const OID = {
  basicConstraints: '2.5.29.19', keyUsage: '2.5.29.15', extKeyUsage: '2.5.29.37', subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14', authorityKeyIdentifier: '2.5.29.35', serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2',
};

const x = x509lib();
const parse = (pem: string): X509.X509Certificate => new x.X509Certificate(pem);
/** An extension's criticality and DER value (hex), read by @peculiar/x509. */
const ext = (pem: string, oid: string): { critical: boolean; value: string } | undefined => {
  const e = parse(pem).getExtension(oid);
  return e ? { critical: e.critical, value: Buffer.from(e.value).toString('hex') } : undefined;
};
const ski = (pem: string): string => parse(pem).getExtension(x.SubjectKeyIdentifierExtension)!.keyId;
const aki = (pem: string): string | undefined => parse(pem).getExtension(x.AuthorityKeyIdentifierExtension)?.keyId;
/** Extended key usages: `keyUsage` on Node 20, `extKeyUsage` where it was renamed. */
const eku = (c: X509Certificate): string[] | undefined => (c as unknown as { extKeyUsage?: string[] }).extKeyUsage ?? c.keyUsage;

const ca = await createRootCA({ clusterId: CLUSTER, validDays: 3650, now: NOW });
const caX = new X509Certificate(ca.certPem);

async function leaf(opts: Partial<IssueOptions> = {}, issuer: CAKeyPair = ca, csrName = 'ignored') {
  const keyPem = newKeyPem();
  const certPem = await signCsr(issuer, await createCsr(keyPem, csrName), {
    commonName: 'n0d3', role: 'worker', clusterId: CLUSTER, validSeconds: 90 * 86_400, now: NOW, ...opts,
  });
  return { certPem, keyPem, x: new X509Certificate(certPem) };
}

const mgr = await leaf({ role: 'manager', commonName: 'm4n4g3r', dnsNames: ['m1.example', 'localhost'], ips: ['127.0.0.1', '::1'] });
// a rotation 100 days in: the new root, certified by the old
const next = await createRootCA({ clusterId: CLUSTER, validDays: 7300, now: new Date(NOW.getTime() + 100 * DAY) });
const cross = await crossSign(ca, next.certPem, { now: new Date(NOW.getTime() + 100 * DAY) });
// A CA and certificates valid now (the ones above are dated 2026-03-01, and TLS checks dates).
const liveCa = await createRootCA({ clusterId: CLUSTER, validDays: 30 });
const nextCa = await createRootCA({ clusterId: CLUSTER, validDays: 60 });
const crossed = await crossSign(liveCa, nextCa.certPem);

/** A CSR made directly with @peculiar/x509: any key WebCrypto has, any subject and extensions. */
async function rawCsr(alg: EcKeyGenParams | RsaHashedKeyGenParams | Algorithm, sign: Algorithm | EcdsaParams, extra: Partial<X509.Pkcs10CertificateRequestCreateParams> = {}): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey(alg as EcKeyGenParams, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  return (await x.Pkcs10CertificateRequestGenerator.create({ name: 'CN=x', keys, signingAlgorithm: sign, ...extra })).toString('pem');
}

describe('createRootCA', () => {
  it('is a self-signed ECDSA P-256 CA: O=<cluster id>, CN=tsswarm-ca', () => {
    expect(caX.ca).toBe(true);
    expect(caX.subject).toBe(`O=${CLUSTER}\nCN=${CA_COMMON_NAME}`);
    expect(caX.issuer).toBe(caX.subject);
    expect(caX.verify(caX.publicKey)).toBe(true);
    expect(caX.checkIssued(caX)).toBe(true);
    expect(caX.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(caX.checkPrivateKey(createPrivateKey(ca.keyPem))).toBe(true);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(ca.certPem).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
  });

  it('is valid from an hour before `now` for validDays', () => {
    expect(new Date(caX.validFrom).getTime()).toBe(NOW.getTime() - BACKDATE_MS);
    expect(new Date(caX.validTo).getTime()).toBe(NOW.getTime() + 3650 * DAY);
  });

  it('carries basicConstraints CA:TRUE and keyUsage keyCertSign|cRLSign (both critical), and its key id, nothing else', async () => {
    const p = parse(ca.certPem);
    expect(p.extensions.map((e) => e.type).sort()).toEqual([OID.basicConstraints, OID.keyUsage, OID.subjectKeyIdentifier].sort());
    expect(ext(ca.certPem, OID.basicConstraints)).toEqual({ critical: true, value: '30030101ff' });
    expect(ext(ca.certPem, OID.keyUsage)).toEqual({ critical: true, value: '03020106' });
    expect(ext(ca.certPem, OID.subjectKeyIdentifier)?.critical).toBe(false);
    // RFC 5280 4.2.1.2 (1): the SHA-1 of the subjectPublicKey bits
    expect(ski(ca.certPem)).toBe(Buffer.from(await p.publicKey.getKeyIdentifier()).toString('hex'));
    expect(p.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } });
  });

  it('has a random, positive serial of 20 octets', async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const s = certInfo((await createRootCA({ clusterId: 'x', validDays: 1 })).certPem).serial;
      expect(s).toMatch(/^[4-7][0-9a-f]{39}$/);
      serials.add(s);
    }
    expect(serials.size).toBe(4);
  });

  it('writes dates from 2050 on (GeneralizedTime) that Node reads back', async () => {
    const late = await createRootCA({ clusterId: 'late', validDays: 3650, now: new Date('2045-06-01T00:00:00Z') });
    const lx = new X509Certificate(late.certPem);
    expect(new Date(lx.validTo).toISOString()).toBe('2055-05-30T00:00:00.000Z');
    expect(lx.verify(lx.publicKey)).toBe(true);
  });

  it('refuses bad options with INVALID_ARGUMENT', async () => {
    for (const opts of [
      { clusterId: 'x', validDays: 0 },
      { clusterId: 'x', validDays: 1.5 },
      { clusterId: 'x', validDays: 36_501 },
      { clusterId: '', validDays: 1 },
      { clusterId: 'a'.repeat(65), validDays: 1 },
      { clusterId: 'a\nb', validDays: 1 },
      { clusterId: ' a', validDays: 1 },
      { clusterId: 'x', validDays: 1, now: new Date(NaN) },
    ]) {
      expect((await rejected(createRootCA(opts))).code, JSON.stringify(opts)).toBe(ErrorCodes.INVALID_ARGUMENT);
    }
  });
});

describe('signCsr', () => {

  it('names the holder O=<cluster>, OU=<role>, CN=<name>, whatever the CSR asked for', async () => {
    expect(mgr.x.subject).toBe(`O=${CLUSTER}\nOU=manager\nCN=m4n4g3r`);
    expect(mgr.x.issuer).toBe(caX.subject);
    expect(mgr.x.checkIssued(caX)).toBe(true);
    expect(mgr.x.verify(caX.publicKey)).toBe(true);
    expect(mgr.x.ca).toBe(false);
    expect(mgr.x.checkPrivateKey(createPrivateKey(mgr.keyPem))).toBe(true);
    // a CSR asking to be a CA of another cluster, with its own names, gets none of it
    const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
    const greedy = await x.Pkcs10CertificateRequestGenerator.create({
      name: 'O=other, OU=manager, CN=evil', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
      extensions: [new x.BasicConstraintsExtension(true, undefined, true), new x.SubjectAlternativeNameExtension([{ type: 'dns', value: 'evil.example' }])],
    });
    const c = await signCsr(ca, greedy.toString('pem'), { commonName: 'w1', role: 'worker', clusterId: CLUSTER, validSeconds: 60, now: NOW });
    expect(new X509Certificate(c).subject).toBe(`O=${CLUSTER}\nOU=worker\nCN=w1`);
    expect(new X509Certificate(c).ca).toBe(false);
    expect(new X509Certificate(c).subjectAltName).toBeUndefined();
  });

  it("copies the CA's subject into the issuer byte for byte", () => {
    const caSubject = Buffer.from(parse(ca.certPem).subjectName.toArrayBuffer());
    expect(caX.raw.includes(caSubject)).toBe(true);
    expect(Buffer.from(parse(mgr.certPem).issuerName.toArrayBuffer()).equals(caSubject)).toBe(true);
    expect(mgr.x.raw.includes(caSubject)).toBe(true);
  });

  it('names managers tsswarm-manager (plus the names given) and is for TLS servers and clients', async () => {
    expect(mgr.x.subjectAltName).toBe('DNS:tsswarm-manager, DNS:m1.example, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(mgr.x.checkHost('tsswarm-manager')).toBe('tsswarm-manager');
    expect(mgr.x.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(mgr.x.checkIP('10.0.0.1')).toBeUndefined();
    expect(eku(mgr.x)).toEqual([OID.serverAuth, OID.clientAuth]);
    const w = await leaf({ role: 'worker', dnsNames: ['w.example'] });
    expect(w.x.subjectAltName).toBe('DNS:w.example');
    const bare = await leaf({ role: 'client', commonName: 'alice' });
    expect(bare.x.subjectAltName).toBeUndefined();
    expect(ext(bare.certPem, OID.subjectAltName)).toBeUndefined();
    const v6 = await leaf({ ips: ['::ffff:192.0.2.1', '2001:db8::8:800:200c:417a'] });
    expect(v6.x.subjectAltName).toBe('IP Address:0:0:0:0:0:FFFF:C000:201, IP Address:2001:DB8:0:0:8:800:200C:417A');
  });

  it('carries CA:FALSE and keyUsage digitalSignature (critical), EKU, and the authority and subject key ids', async () => {
    expect(ext(mgr.certPem, OID.basicConstraints)).toEqual({ critical: true, value: '3000' });
    expect(ext(mgr.certPem, OID.keyUsage)).toEqual({ critical: true, value: '03020780' });
    expect(ext(mgr.certPem, OID.extKeyUsage)?.critical).toBe(false);
    expect(ext(mgr.certPem, OID.subjectAltName)?.critical).toBe(false);
    expect(aki(mgr.certPem)).toBe(ski(ca.certPem));
    expect(ski(mgr.certPem)).toBe(Buffer.from(await parse(mgr.certPem).publicKey.getKeyIdentifier()).toString('hex'));
    expect(certInfo(mgr.certPem).serial).toMatch(/^[4-7][0-9a-f]{39}$/);
  });

  it('is valid from an hour before `now` for validSeconds (10 s is fine), never past the CA nor before it', async () => {
    expect(new Date(mgr.x.validFrom).getTime()).toBe(NOW.getTime() - BACKDATE_MS);
    expect(new Date(mgr.x.validTo).getTime()).toBe(NOW.getTime() + 90 * DAY);
    const short = await leaf({ validSeconds: 10, now: new Date(NOW.getTime() + 5 * DAY + 999) });
    expect(new Date(short.x.validTo).getTime()).toBe(NOW.getTime() + 5 * DAY + 10_000);
    expect(new Date(short.x.validFrom).getTime()).toBe(NOW.getTime() + 5 * DAY - BACKDATE_MS);
    const long = await leaf({ validSeconds: 36_500 * 86_400 });
    expect(new Date(long.x.validTo).getTime()).toBe(new Date(caX.validTo).getTime());
    const early = await leaf({ now: new Date(NOW.getTime() - 30 * 60_000) }); // before the CA was an hour old
    expect(new Date(early.x.validFrom).getTime()).toBe(new Date(caX.validFrom).getTime());
  });

  it('accepts P-384 and RSA keys of 2048 bits', async () => {
    const p384 = await rawCsr({ name: 'ECDSA', namedCurve: 'P-384' }, { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams);
    expect(verifyIssued(await signCsr(ca, p384, { commonName: 'p', role: 'worker', clusterId: CLUSTER, validSeconds: 60, now: NOW }), ca.certPem, NOW)).toBe(true);
    const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const rsa = await signCsr(ca, await createCsr(rsaKey, 'r'), { commonName: 'r', role: 'worker', clusterId: CLUSTER, validSeconds: 60, now: NOW });
    expect(new X509Certificate(rsa).publicKey.asymmetricKeyType).toBe('rsa');
    expect(verifyIssued(rsa, ca.certPem, NOW)).toBe(true);
  });

  it('refuses a CSR whose signature does not verify: a changed subject, a changed signature', async () => {
    const csr = await createCsr(newKeyPem(), 'tamper-me');
    const der = Buffer.from(csr.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    const armour = (d: Buffer): string => `-----BEGIN CERTIFICATE REQUEST-----\n${d.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE REQUEST-----\n`;
    const at = der.indexOf('tamper-me');
    expect(at).toBeGreaterThan(0);
    const renamed = Buffer.from(der);
    renamed.write('tamper-ME', at, 'latin1');
    const resigned = Buffer.from(der);
    resigned[resigned.length - 1] ^= 0x01;
    for (const bad of [armour(renamed), armour(resigned)]) {
      const err = await rejected(signCsr(ca, bad, { commonName: 'n', role: 'worker', clusterId: CLUSTER, validSeconds: 60, now: NOW }));
      expect(err.code).toBe(ErrorCodes.INVALID_ARGUMENT);
      expect(err.message).toMatch(/signature does not verify/);
    }
    // the untouched one is fine
    await signCsr(ca, armour(der), { commonName: 'n', role: 'worker', clusterId: CLUSTER, validSeconds: 60, now: NOW });
  });

  it('refuses bad requests with INVALID_ARGUMENT, naming what is wrong', async () => {
    const good = await createCsr(newKeyPem(), 'n');
    const other = await createRootCA({ clusterId: CLUSTER, validDays: 1, now: NOW });
    const notCa = await leaf();
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const base: IssueOptions = { commonName: 'n', role: 'worker', clusterId: CLUSTER, validSeconds: 60, now: NOW };
    const cases: Array<[string, CAKeyPair, string, Partial<IssueOptions>, RegExp]> = [
      ['role', ca, good, { role: 'admin' as never }, /"manager", "worker" or "client"/],
      ['long name', ca, good, { commonName: 'a'.repeat(65) }, /commonName is longer than 64/],
      ['control char', ca, good, { commonName: 'a\u0007' }, /commonName holds a control character/],
      ['empty cluster', ca, good, { clusterId: '' }, /clusterId must be a non-empty string/],
      ['validSeconds 0', ca, good, { validSeconds: 0 }, /validSeconds/],
      ['validSeconds 1.5', ca, good, { validSeconds: 1.5 }, /validSeconds/],
      ['dns', ca, good, { dnsNames: ['bad name'] }, /not a DNS name/],
      ['dns label', ca, good, { dnsNames: ['-a.b'] }, /not a DNS name/],
      ['ip', ca, good, { ips: ['300.1.1.1'] }, /not an IP address/],
      ['ip zone', ca, good, { ips: ['fe80::1%eth0'] }, /not an IP address/],
      ['ip name', ca, good, { ips: ['localhost'] }, /not an IP address/],
      ['bad now', ca, good, { now: new Date(NaN) }, /now must be a valid Date/],
      ['expired CA', ca, good, { now: new Date(NOW.getTime() + 3651 * DAY) }, /the CA expired/],
      ['foreign key', { certPem: ca.certPem, keyPem: other.keyPem }, good, {}, /does not belong to the CA certificate/],
      ['leaf as CA', { certPem: notCa.certPem, keyPem: notCa.keyPem }, good, {}, /not a CA/],
      ['junk CA cert', { certPem: 'junk', keyPem: ca.keyPem }, good, {}, /CA certificate cannot be read/],
      ['junk CA key', { certPem: ca.certPem, keyPem: 'junk' }, good, {}, /CA key cannot be read/],
      ['not PEM', ca, 'junk', {}, /not one PEM CERTIFICATE REQUEST block/],
      ['two CSRs', ca, good + good, {}, /not one PEM CERTIFICATE REQUEST block/],
      ['a certificate', ca, ca.certPem, {}, /not one PEM CERTIFICATE REQUEST block/],
      ['not DER', ca, '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', {}, /cannot be read as PKCS#10/],
      ['bad base64', ca, '-----BEGIN CERTIFICATE REQUEST-----\nA=A=\n-----END CERTIFICATE REQUEST-----\n', {}, /not valid base64/],
      ['oversized', ca, good.replace('\n', '\n' + ' '.repeat(MAX_CSR_PEM_BYTES)), {}, /at most 16384 are accepted/],
      ['RSA 1024', ca, await createCsr(rsa1024, 'r'), {}, /RSA key of 1024 bits is too short/],
      ['P-521', ca, await rawCsr({ name: 'ECDSA', namedCurve: 'P-521' }, { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams), {}, /curve secp521r1 is not accepted/],
      ['Ed25519', ca, await rawCsr({ name: 'Ed25519' }, { name: 'Ed25519' }), {}, /ed25519 keys are not accepted/],
    ];
    for (const [what, issuer, csr, change, msg] of cases) {
      const err = await rejected(signCsr(issuer, csr, { ...base, ...change }));
      expect(err.code, what).toBe(ErrorCodes.INVALID_ARGUMENT);
      expect(err.message, what).toMatch(msg);
    }
  });
});

describe('issueCert', () => {
  it('certifies a bare public key (SPKI PEM, or derived from a private key PEM) like signCsr', async () => {
    const key = newKeyPem();
    const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    for (const k of [createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string, key]) {
      const c = new X509Certificate(await issueCert(ca, k, { commonName: 'm', role: 'manager', clusterId: CLUSTER, validSeconds: 60, now: NOW }));
      expect(c.publicKey.export({ type: 'spki', format: 'der' }).equals(spki)).toBe(true);
      expect(c.subject).toBe(`O=${CLUSTER}\nOU=manager\nCN=m`);
      expect(c.subjectAltName).toBe('DNS:tsswarm-manager');
    }
  });

  it('refuses what is not a key, and weak keys', async () => {
    const opts: IssueOptions = { commonName: 'm', role: 'manager', clusterId: CLUSTER, validSeconds: 60, now: NOW };
    expect((await rejected(issueCert(ca, 'junk', opts))).message).toMatch(/public key cannot be read/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect((await rejected(issueCert(ca, rsa, opts))).message).toMatch(/too short/);
    const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect((await rejected(issueCert(ca, ed, opts))).message).toMatch(/ed25519 keys are not accepted/);
  });

  it('writes IPv6 addresses in plain hex groups for the encoder', () => {
    expect(ipText('10.1.2.3')).toBe('10.1.2.3');
    expect(ipText('::ffff:192.0.2.1')).toBe('::ffff:c000:201');
    expect(ipText('1:2:3:4:5:6:1.2.3.4')).toBe('1:2:3:4:5:6:102:304');
    expect(ipText('2001:DB8::1')).toBe('2001:db8::1');
  });
});

describe('crossSign', () => {

  it("is the new root's subject, key and key id, issued and signed by the old root, valid as long as it", () => {
    const c = new X509Certificate(cross);
    const n = new X509Certificate(next.certPem);
    expect(c.subject).toBe(n.subject);
    expect(c.publicKey.export({ type: 'spki', format: 'der' }).equals(n.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
    expect(ski(cross)).toBe(ski(next.certPem));
    expect(c.issuer).toBe(caX.subject);
    expect(aki(cross)).toBe(ski(ca.certPem));
    expect(c.verify(caX.publicKey)).toBe(true);
    expect(c.ca).toBe(true);
    expect(ext(cross, OID.basicConstraints)).toEqual({ critical: true, value: '30030101ff' });
    expect(ext(cross, OID.keyUsage)).toEqual({ critical: true, value: '03020106' });
    expect(new Date(c.validTo).getTime()).toBe(new Date(caX.validTo).getTime());
    expect(new Date(c.validFrom).getTime()).toBe(new Date(n.validFrom).getTime());
    const at = new Date(NOW.getTime() + 101 * DAY);
    expect(verifyIssued(cross, ca.certPem, at)).toBe(true);
    expect(verifyIssued(cross, next.certPem, at)).toBe(false);
  });

  it('refuses what is not a new self-signed root with a key of its own', async () => {
    const l = await leaf();
    expect((await rejected(crossSign(ca, l.certPem))).message).toMatch(/not a CA/);
    expect((await rejected(crossSign(ca, cross))).message).toMatch(/not a self-signed root/);
    expect((await rejected(crossSign(ca, ca.certPem))).message).toMatch(/same key/);
    expect((await rejected(crossSign(ca, 'junk'))).message).toMatch(/cannot be read/);
    expect((await rejected(crossSign({ certPem: ca.certPem, keyPem: next.keyPem }, next.certPem))).message).toMatch(/does not belong/);
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
  // the dates are fixed in 2026: check at a time inside them
  const at = String(Math.floor(NOW.getTime() / 1000) + 60);

  it('`openssl verify -x509_strict` accepts the CA and every profile for its purpose', async () => {
    const caFile = file('ca.pem', ca.certPem);
    const self = openssl('verify', '-x509_strict', '-attime', at, '-CAfile', caFile, caFile);
    expect(self.out).toContain(`${caFile}: OK`);
    expect(self.status).toBe(0);
    const profiles: Array<[string, Partial<IssueOptions>, string[]]> = [
      ['manager', { role: 'manager', ips: ['127.0.0.1'] }, ['sslserver', 'sslclient']],
      ['worker', { role: 'worker' }, ['sslserver', 'sslclient']],
      ['client', { role: 'client', commonName: 'alice' }, ['sslclient']],
    ];
    for (const [name, opts, purposes] of profiles) {
      const f = file(`${name}.pem`, (await leaf(opts)).certPem);
      for (const purpose of purposes) {
        const r = openssl('verify', '-x509_strict', '-attime', at, '-purpose', purpose, '-CAfile', caFile, f);
        expect(r.out, `${name} ${purpose}`).toContain(`${f}: OK`);
        expect(r.status).toBe(0);
      }
    }
  });

  it('`openssl verify` refuses a certificate of another CA', async () => {
    const other = await createRootCA({ clusterId: CLUSTER, validDays: 3650, now: NOW });
    const foreign = file('foreign.pem', (await leaf({}, other)).certPem);
    expect(openssl('verify', '-attime', at, '-CAfile', file('ca2.pem', ca.certPem), foreign).status).not.toBe(0);
  });

  it('`openssl verify -x509_strict` accepts a new root\'s leaf through the cross-signed certificate, trusting only the old root', async () => {
    const when = new Date(NOW.getTime() + DAY);
    const next = await createRootCA({ clusterId: CLUSTER, validDays: 7300, now: when });
    const cross = await crossSign(ca, next.certPem, { now: when });
    const l = file('new-leaf.pem', (await leaf({ role: 'manager', now: when }, next)).certPem);
    const t = String(Math.floor(when.getTime() / 1000) + 60);
    const viaOld = openssl('verify', '-x509_strict', '-attime', t, '-CAfile', file('old.pem', ca.certPem), '-untrusted', file('cross.pem', cross), l);
    expect(viaOld.out).toContain(`${l}: OK`);
    const viaNew = openssl('verify', '-x509_strict', '-attime', t, '-CAfile', file('new.pem', next.certPem), l);
    expect(viaNew.out).toContain(`${l}: OK`);
    const without = openssl('verify', '-x509_strict', '-attime', t, '-CAfile', file('old2.pem', ca.certPem), l);
    expect(without.status).not.toBe(0);
    expect(openssl('verify', '-x509_strict', '-attime', t, '-CAfile', file('old3.pem', ca.certPem), file('cross2.pem', cross)).status).toBe(0);
  });

  it('`openssl x509 -text` reads every field and extension', async () => {
    const caText = openssl('x509', '-noout', '-text', '-in', file('ca3.pem', ca.certPem)).out;
    expect(caText).toMatch(/Version: 3 \(0x2\)/);
    expect(caText).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(caText).toMatch(/NIST CURVE: P-256/);
    expect(caText).toMatch(new RegExp(`Subject: O = ${CLUSTER}, CN = tsswarm-ca`));
    expect(caText).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE\n/);
    expect(caText).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(caText).toMatch(/X509v3 Subject Key Identifier/);
    expect(caText).toMatch(/Not Before: Mar {2}1 11:00:00 2026 GMT/);

    const text = openssl('x509', '-noout', '-text', '-in', file('m3.pem', (await leaf({ role: 'manager', commonName: 'm1', ips: ['127.0.0.1', '2001:db8::1'] })).certPem)).out;
    expect(text).toMatch(new RegExp(`Subject: O = ${CLUSTER}, OU = manager, CN = m1`));
    expect(text).toMatch(new RegExp(`Issuer: O = ${CLUSTER}, CN = tsswarm-ca`));
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s*\n\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toMatch(/DNS:tsswarm-manager, IP Address:127.0.0.1, IP Address:2001:DB8:0:0:0:0:0:1/);
    expect(text).toMatch(/X509v3 Authority Key Identifier/);
    expect(text).not.toMatch(/unable|error/i);
  });

  it('`openssl asn1parse` reads the whole DER without complaint', async () => {
    for (const pem of [ca.certPem, (await leaf()).certPem]) {
      const r = openssl('asn1parse', '-inform', 'PEM', '-in', file('a.pem', pem));
      expect(r.status).toBe(0);
      expect(r.out).not.toMatch(/error/i);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('the certificates work for mutual TLS', () => {
  const live = async (role: 'manager' | 'worker' | 'client', id: string, issuer: CAKeyPair = liveCa) => {
    const l = await leaf({ role, commonName: id, now: undefined, validSeconds: 3600 }, issuer);
    return { cert: l.certPem, key: l.keyPem };
  };

  it('a manager server and a worker client, each trusting only the CA, authenticate each other by name tsswarm-manager', async () => {
    const r = await handshake({ ...(await live('manager', 'm1')), ca: liveCa.certPem, strict: true }, { ...(await live('worker', 'w1')), ca: liveCa.certPem, servername: 'tsswarm-manager' });
    expect(r.clientError).toBeUndefined();
    expect(r.client?.authorized).toBe(true);
    expect(r.server?.authorized).toBe(true);
    expect(r.echoed).toBe('echo:hi');
    expect(r.server?.peer?.subject).toMatchObject({ O: CLUSTER, OU: 'worker', CN: 'w1' });
  });

  it('the server refuses a client certificate from another CA; the client refuses a server of another CA or not named as dialled', async () => {
    const foreignCa = await createRootCA({ clusterId: CLUSTER, validDays: 30 });
    const lenient = await handshake({ ...(await live('manager', 'm1')), ca: liveCa.certPem, strict: false }, { ...(await live('client', 'c', foreignCa)), ca: liveCa.certPem, servername: 'tsswarm-manager' });
    expect(lenient.server?.authorized).toBe(false);
    expect(lenient.server?.error).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i);
    const r1 = await handshake({ ...(await live('manager', 'm1', foreignCa)), ca: liveCa.certPem, strict: true }, { ...(await live('worker', 'w1')), ca: liveCa.certPem, servername: 'tsswarm-manager' });
    expect(r1.clientError?.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const r2 = await handshake({ ...(await live('worker', 'w2')), ca: liveCa.certPem, strict: true }, { ...(await live('worker', 'w1')), ca: liveCa.certPem, servername: 'tsswarm-manager' });
    expect(r2.clientError?.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  describe('during a root rotation', () => {

    it('a leaf of the new root sent with the cross-signed certificate is accepted by peers trusting only the old root, and by peers trusting only the new one', async () => {
      const server = await live('manager', 'm-new', nextCa);
      const chain = { cert: server.cert + crossed, key: server.key };
      // the client trusts only the old root
      const oldOnly = await handshake({ ...chain, ca: [liveCa.certPem, nextCa.certPem], strict: true }, { ...(await live('worker', 'w-old')), ca: liveCa.certPem, servername: 'tsswarm-manager' });
      expect(oldOnly.clientError).toBeUndefined();
      expect(oldOnly.client?.authorized).toBe(true);
      expect(oldOnly.echoed).toBe('echo:hi');
      // the client trusts only the new root
      const newOnly = await handshake({ ...chain, ca: [liveCa.certPem, nextCa.certPem], strict: true }, { ...(await live('worker', 'w-new', nextCa)), ca: nextCa.certPem, servername: 'tsswarm-manager' });
      expect(newOnly.clientError).toBeUndefined();
      expect(newOnly.client?.authorized).toBe(true);
      expect(newOnly.echoed).toBe('echo:hi');
      // and a server trusting only the old root accepts a client of the new root sending the cross-signed certificate
      const w = await live('worker', 'w-new', nextCa);
      const serverOld = await handshake({ ...(await live('manager', 'm-old')), ca: liveCa.certPem, strict: true }, { cert: w.cert + crossed, key: w.key, ca: liveCa.certPem, servername: 'tsswarm-manager' });
      expect(serverOld.server?.authorized).toBe(true);
      expect(serverOld.server?.peer?.subject).toMatchObject({ OU: 'worker', CN: 'w-new' });
      // without the cross-signed certificate, a peer trusting only the old root refuses the new leaf
      const bare = await handshake({ ...server, ca: liveCa.certPem, strict: true }, { ...(await live('worker', 'w-old')), ca: liveCa.certPem, servername: 'tsswarm-manager' });
      expect(bare.clientError?.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    });

    it('a leaf of the old root is accepted by a peer trusting [old, new]', async () => {
      const r = await handshake({ ...(await live('manager', 'm-old')), ca: [liveCa.certPem, nextCa.certPem], strict: true }, { ...(await live('worker', 'w-new', nextCa)), ca: [liveCa.certPem, nextCa.certPem], servername: 'tsswarm-manager' });
      expect(r.clientError).toBeUndefined();
      expect(r.client?.authorized).toBe(true);
      expect(r.server?.authorized).toBe(true);
      expect(r.echoed).toBe('echo:hi');
    });
  });
});
