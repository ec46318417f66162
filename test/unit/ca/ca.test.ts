import { afterEach, describe, expect, it } from 'vitest';
import { X509Certificate, createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CA_VALID_DAYS, caDigest, caPaths, initClusterCA, loadClusterCA } from '../../../manager/ca/ca.js';
import { createRootCA, issueCert } from '../../../manager/ca/x509.js';
import { newKeyPem, verifyIssued } from '../../../common/pki.js';
import { ErrorCodes } from '../../../common/errors.js';
import { caDigestOfDer, formatJoinToken, newJoinSecret, parseJoinToken } from '../../../common/token.js';
import { rejected, thrown } from './thrown.js';

const CLUSTER = 'k3p9w1yq0c2x8v7n6m5b4l3z2';
const dirs: string[] = [];
const dataDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'tsswarm-ca-'));
  dirs.push(d);
  return join(d, 'data');
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const mode = (p: string): number => statSync(p).mode & 0o777;


describe('initClusterCA', () => {
  it('writes ca/ca.crt and ca/ca.key (0600) in ca/ (0700), and what it returns is what is on disk', async () => {
    const dir = dataDir();
    const ca = await initClusterCA(dir, CLUSTER);
    const p = caPaths(dir);
    expect(p).toEqual({ dir: join(dir, 'ca'), cert: join(dir, 'ca', 'ca.crt'), key: join(dir, 'ca', 'ca.key') });
    expect(mode(dir)).toBe(0o700);
    expect(mode(p.dir)).toBe(0o700);
    expect(mode(p.cert)).toBe(0o600);
    expect(mode(p.key)).toBe(0o600);
    expect(readFileSync(p.cert, 'utf8')).toBe(ca.certPem);
    expect(readFileSync(p.key, 'utf8')).toBe(ca.keyPem);
    expect(readdirSync(p.dir).sort()).toEqual(['ca.crt', 'ca.key']);
    expect(readdirSync(dir)).toEqual(['ca']); // no temporary directory left behind
  });

  it('is a CA named tsswarm-ca of the cluster, valid for 20 years', async () => {
    const now = new Date('2026-03-01T12:00:00Z');
    const ca = await initClusterCA(dataDir(), CLUSTER, { now });
    expect(ca.cert.ca).toBe(true);
    expect(ca.cert.subject).toBe(`O=${CLUSTER}\nCN=tsswarm-ca`);
    expect(CA_VALID_DAYS).toBe(7300);
    expect(new Date(ca.cert.validTo).getTime()).toBe(now.getTime() + 7300 * 86_400_000);
    expect(ca.digest).toBe(caDigest(ca.certPem));
  });

  it('refuses to overwrite a CA, leaving it as it was', async () => {
    const dir = dataDir();
    const first = await initClusterCA(dir, CLUSTER);
    const err = await rejected(initClusterCA(dir, CLUSTER));
    expect(err.code).toBe(ErrorCodes.DATA_DIR);
    expect(err.message).toContain(join(dir, 'ca'));
    expect(err.message).toMatch(/never overwritten/);
    expect(loadClusterCA(dir).digest).toBe(first.digest);
    expect(readFileSync(caPaths(dir).key, 'utf8')).toBe(first.keyPem);
  });

  it('refuses even when ca/ is there but empty or partial', async () => {
    const dir = dataDir();
    mkdirSync(join(dir, 'ca'), { recursive: true });
    expect((await rejected(initClusterCA(dir, CLUSTER))).code).toBe(ErrorCodes.DATA_DIR);
    writeFileSync(join(dir, 'ca', 'ca.key'), 'x');
    expect((await rejected(initClusterCA(dir, CLUSTER))).code).toBe(ErrorCodes.DATA_DIR);
    expect(readFileSync(join(dir, 'ca', 'ca.key'), 'utf8')).toBe('x');
  });

  it('removes the leftovers of an init that crashed before its rename', async () => {
    const dir = dataDir();
    mkdirSync(join(dir, '.ca-tmp-123-abcd'), { recursive: true });
    writeFileSync(join(dir, '.ca-tmp-123-abcd', 'ca.key'), 'a key that never became the CA');
    await initClusterCA(dir, CLUSTER);
    expect(readdirSync(dir)).toEqual(['ca']);
  });

  it('makes a new CA each time: two clusters have different digests', async () => {
    expect((await initClusterCA(dataDir(), CLUSTER)).digest).not.toBe((await initClusterCA(dataDir(), CLUSTER)).digest);
  });
});

describe('loadClusterCA', () => {
  it('reads back the CA init wrote, key and all', async () => {
    const dir = dataDir();
    const made = await initClusterCA(dir, CLUSTER);
    const ca = loadClusterCA(dir);
    expect(ca.certPem).toBe(made.certPem);
    expect(ca.keyPem).toBe(made.keyPem);
    expect(ca.digest).toBe(made.digest);
    expect(ca.cert.checkPrivateKey(ca.key)).toBe(true);
    // and it issues certificates that verify against it
    const node = await issueCert(ca, newKeyPem(), { commonName: 'n1', role: 'worker', clusterId: CLUSTER, validSeconds: 90 * 86_400 });
    expect(new X509Certificate(node).checkIssued(ca.cert)).toBe(true);
    expect(new X509Certificate(node).verify(ca.cert.publicKey)).toBe(true);
    expect(verifyIssued(node, ca.certPem)).toBe(true);
  });

  it('names the missing file: no CA at all, or a key without its certificate', async () => {
    const dir = dataDir();
    const e1 = thrown(() => loadClusterCA(dir));
    expect(e1.code).toBe(ErrorCodes.DATA_DIR);
    expect(e1.message).toContain(join(dir, 'ca', 'ca.crt'));
    expect(e1.message).toMatch(/certificate .* is missing/);
    await initClusterCA(dir, CLUSTER);
    rmSync(caPaths(dir).key);
    const e2 = thrown(() => loadClusterCA(dir));
    expect(e2.code).toBe(ErrorCodes.DATA_DIR);
    expect(e2.message).toContain(caPaths(dir).key);
    expect(e2.message).toMatch(/private key .* is missing/);
  });

  it('names the damaged file: a certificate or key that is not PEM', async () => {
    const dir = dataDir();
    const ca = await initClusterCA(dir, CLUSTER);
    const { cert, key } = caPaths(dir);
    writeFileSync(cert, 'garbage');
    const e1 = thrown(() => loadClusterCA(dir));
    expect(e1.code).toBe(ErrorCodes.CORRUPT);
    expect(e1.message).toContain(cert);
    writeFileSync(cert, ca.certPem);
    writeFileSync(key, ca.keyPem.slice(0, 60));
    const e2 = thrown(() => loadClusterCA(dir));
    expect(e2.code).toBe(ErrorCodes.CORRUPT);
    expect(e2.message).toContain(key);
  });

  it("refuses a key of another CA, and a certificate that is not a CA's", async () => {
    const dir = dataDir();
    const ca = await initClusterCA(dir, CLUSTER);
    const { cert, key } = caPaths(dir);
    writeFileSync(key, (await createRootCA({ clusterId: CLUSTER, validDays: 1 })).keyPem);
    const e1 = thrown(() => loadClusterCA(dir));
    expect(e1.code).toBe(ErrorCodes.CORRUPT);
    expect(e1.message).toBe(`${key} does not belong to ${cert} (their public keys differ)`);
    writeFileSync(key, ca.keyPem);
    const leaf = await issueCert(ca, newKeyPem(), { commonName: 'n', role: 'manager', clusterId: CLUSTER, validSeconds: 86_400 });
    writeFileSync(cert, leaf);
    const e2 = thrown(() => loadClusterCA(dir));
    expect(e2.code).toBe(ErrorCodes.CORRUPT);
    expect(e2.message).toMatch(new RegExp(`${cert} is not a CA certificate`));
  });
});

describe('caDigest', () => {
  it('is the SHA-256 of the DER certificate in 50 characters of lower-case base 36', async () => {
    const { certPem } = await createRootCA({ clusterId: CLUSTER, validDays: 1 });
    const x = new X509Certificate(certPem);
    const sha = createHash('sha256').update(x.raw).digest('hex');
    expect(x.fingerprint256.replace(/:/g, '').toLowerCase()).toBe(sha);
    const d = caDigest(certPem);
    expect(d).toMatch(/^[0-9a-z]{50}$/);
    expect(d).toBe(BigInt(`0x${sha}`).toString(36).padStart(50, '0'));
    expect(caDigest(x)).toBe(d);
    expect(caDigestOfDer(x.raw)).toBe(d); // what a joiner computes from the certificate it is shown
  });

  it('is what a join token carries: a token made from the CA reads back with its digest', async () => {
    const ca = await initClusterCA(dataDir(), CLUSTER);
    const t = formatJoinToken({ caDigest: ca.digest, secret: newJoinSecret() });
    expect(parseJoinToken(t).caDigest).toBe(ca.digest);
  });
});

it('the data dir is created when missing (0700), nested', async () => {
  const dir = join(dataDir(), 'a', 'b');
  await initClusterCA(dir, CLUSTER);
  expect(existsSync(caPaths(dir).cert)).toBe(true);
  expect(mode(dir)).toBe(0o700);
});
