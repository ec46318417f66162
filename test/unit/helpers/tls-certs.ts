// Certificates for TLS tests, made with the `openssl` CLI in a temp dir: a cluster CA, and
// certificates with the cluster's profile (O=<cluster id>, OU=<role>, CN=<name>, ECDSA P-256,
// serverAuth+clientAuth), valid now or already expired. `signCsr` is a stand-in for the
// cluster's signer (ClusterApi.signClientCert).

import { execFileSync } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  dir: string;
  certPem: string;
  keyFile: string;
  certFile: string;
  clusterId: string;
}

export interface TestCert {
  certPem: string;
  keyPem: string;
  /** Lower-case hex, no leading zeros. */
  serial: string;
  notAfter: number;
}

const openssl = (args: string[], cwd?: string): string => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

export const serialOf = (certPem: string): string => new X509Certificate(certPem).serialNumber.toLowerCase().replace(/^0+(?=.)/, '');
export const notAfterOf = (certPem: string): number => Date.parse(new X509Certificate(certPem).validTo);

/** A temp dir for a test's certificates; `cleanup` removes it. */
export function certDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tsswarm-certs-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A root CA (ECDSA P-256), subject O=<clusterId>, CN=tsswarm-ca, set up for `openssl ca`. */
export function makeCa(parent: string, name: string, clusterId: string): TestCa {
  const dir = join(parent, name);
  mkdirSync(join(dir, 'issued'), { recursive: true });
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'openssl.cnf'), [
    '[ca]', 'default_ca = test_ca',
    '[test_ca]', `dir = ${dir}`, 'database = $dir/index.txt', 'new_certs_dir = $dir/issued', 'certificate = $dir/ca.pem',
    'private_key = $dir/ca.key', 'rand_serial = yes', 'default_md = sha256', 'policy = any', 'unique_subject = no',
    'copy_extensions = none', 'default_days = 30',
    '[any]', 'organizationName = optional', 'organizationalUnitName = optional', 'commonName = supplied',
    '[leaf]', 'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = serverAuth,clientAuth',
    '[manager]', 'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = serverAuth,clientAuth',
    'subjectAltName = DNS:tsswarm-manager', '',
  ].join('\n'));
  openssl(['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem',
    '-subj', `/O=${clusterId}/CN=tsswarm-ca`, '-days', '3650',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return { dir, certPem: readFileSync(join(dir, 'ca.pem'), 'utf8'), keyFile: join(dir, 'ca.key'), certFile: join(dir, 'ca.pem'), clusterId };
}

/** A P-256 key (PKCS#8 PEM) and a CSR for it. */
export function makeKeyAndCsr(dir: string, cn: string): { keyPem: string; csrPem: string } {
  const base = join(dir, `req-${randomBytes(6).toString('hex')}`);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${base}.key`]);
  openssl(['req', '-new', '-key', `${base}.key`, '-subj', `/CN=${cn}`, '-out', `${base}.csr`]);
  return { keyPem: readFileSync(`${base}.key`, 'utf8'), csrPem: readFileSync(`${base}.csr`, 'utf8') };
}

/**
 * Signs `csrPem` with `ca`, the subject set to O=<cluster id>, OU=`role`, CN=`cn` (whatever the
 * CSR said). `expired`: valid for a day in 2020; else `seconds` from an hour ago.
 */
export function signCsr(ca: TestCa, csrPem: string, role: string, cn: string, opts: { expired?: boolean; seconds?: number; o?: string } = {}): TestCert & { keyPem: '' } {
  const base = join(ca.dir, `csr-${randomBytes(6).toString('hex')}`);
  writeFileSync(`${base}.csr`, csrPem);
  const ts = (ms: number) => new Date(ms).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
  const now = Date.now();
  const [start, end] = opts.expired
    ? ['20200101000000Z', '20200102000000Z']
    : [ts(now - 3_600_000), ts(now + (opts.seconds ?? 30 * 86_400) * 1000)];
  openssl(['ca', '-batch', '-config', join(ca.dir, 'openssl.cnf'), '-in', `${base}.csr`, '-out', `${base}.pem`, '-notext', '-preserveDN',
    '-subj', `/O=${opts.o ?? ca.clusterId}/OU=${role}/CN=${cn}`, '-startdate', start, '-enddate', end,
    '-extensions', role === 'manager' ? 'manager' : 'leaf']);
  const certPem = readFileSync(`${base}.pem`, 'utf8');
  return { certPem, keyPem: '', serial: serialOf(certPem), notAfter: notAfterOf(certPem) };
}

/** A key and a certificate for it, of `role` and `cn`. */
export function issue(ca: TestCa, role: string, cn: string, opts: { expired?: boolean; seconds?: number; o?: string } = {}): TestCert {
  const { keyPem, csrPem } = makeKeyAndCsr(ca.dir, cn);
  return { ...signCsr(ca, csrPem, role, cn, opts), keyPem };
}

/** Everything the HTTPS tests use: two CAs of one cluster (a rotation), and one of elsewhere. */
export interface TestPki {
  dir: string;
  clusterId: string;
  ca: TestCa;
  /** The cluster's next root (CA rotation). */
  ca2: TestCa;
  /** Another CA, claiming the same cluster id. */
  foreign: TestCa;
  manager: TestCert;
  /** The manager's certificate from the next root. */
  manager2: TestCert;
  client: TestCert;
  worker: TestCert;
  foreignClient: TestCert;
  expiredClient: TestCert;
  /** A client certificate of another cluster, from this CA. */
  otherClusterClient: TestCert;
  cleanup(): void;
}

export function testPki(clusterId = 'cluster1', managerId = 'mgr1'): TestPki {
  const { dir, cleanup } = certDir();
  const ca = makeCa(dir, 'ca', clusterId);
  const ca2 = makeCa(dir, 'ca2', clusterId);
  const foreign = makeCa(dir, 'foreign', clusterId);
  return {
    dir, clusterId, ca, ca2, foreign, cleanup,
    manager: issue(ca, 'manager', managerId),
    manager2: issue(ca2, 'manager', managerId),
    client: issue(ca, 'client', 'alice'),
    worker: issue(ca, 'worker', 'w1'),
    foreignClient: issue(foreign, 'client', 'alice'),
    expiredClient: issue(ca, 'client', 'alice', { expired: true }),
    otherClusterClient: issue(ca, 'client', 'alice', { o: 'cluster2' }),
  };
}
