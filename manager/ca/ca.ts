// The cluster CA on disk: `<data dir>/ca/ca.crt` and `<data dir>/ca/ca.key` (docs/identity.md).
//
// `tsswarm manager --init` creates it (initClusterCA); every manager start reads it back
// (loadClusterCA). Both files are written into a private temporary directory next to `ca`,
// fsynced, and that directory is renamed to `ca` in one step: a crash leaves either no CA or
// the whole CA, never a key without its certificate. An existing CA is never overwritten.

import { X509Certificate, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import { caDigest } from '../../common/pki.js';
import { createRootCA } from './x509.js';
import { fsyncDir } from '../../common/durable.js';

export { caDigest } from '../../common/pki.js';
export { CA_COMMON_NAME } from './x509.js';
/** How long a cluster CA is valid: 20 years, as Swarm's. */
export const CA_VALID_DAYS = 7300;

export interface ClusterCA {
  certPem: string;
  /** PKCS#8 PEM */
  keyPem: string;
  cert: X509Certificate;
  key: KeyObject;
  /** caDigest(certPem): what join tokens carry */
  digest: string;
}

export const caPaths = (dataDir: string): { dir: string; cert: string; key: string } => {
  const dir = join(dataDir, 'ca');
  return { dir, cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
};

/**
 * Create the cluster CA in `<dataDir>/ca` (the data dir is created if missing, 0700).
 * Refuses if a CA is there already. `opts` are for tests.
 */
export async function initClusterCA(dataDir: string, clusterId: string, opts: { now?: Date; validDays?: number } = {}): Promise<ClusterCA> {
  const { dir, cert, key } = caPaths(dataDir);
  if (existsSync(dir)) {
    throw new TsswarmError(ErrorCodes.DATA_DIR, `${dir} exists already: a cluster CA is never overwritten (start the manager without --init, or choose another --data-dir)`);
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Leftovers of an init that crashed before its rename hold a private key: remove them.
  for (const name of readdirSync(dataDir)) if (name.startsWith('.ca-tmp-')) rmSync(join(dataDir, name), { recursive: true, force: true });

  const pair = await createRootCA({ clusterId, validDays: opts.validDays ?? CA_VALID_DAYS, now: opts.now });
  const tmp = join(dataDir, `.ca-tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(tmp, { mode: 0o700 });
    chmodSync(tmp, 0o700); // whatever the umask
    writeDurably(join(tmp, 'ca.key'), pair.keyPem);
    writeDurably(join(tmp, 'ca.crt'), pair.certPem);
    fsyncDir(tmp);
    renameSync(tmp, dir); // fails (ENOTEMPTY/EEXIST) if a CA appeared meanwhile
    fsyncDir(dataDir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOTEMPTY' || e.code === 'EEXIST') {
      throw new TsswarmError(ErrorCodes.DATA_DIR, `${dir} exists already: a cluster CA is never overwritten`);
    }
    throw new TsswarmError(ErrorCodes.DATA_DIR, `cannot write the cluster CA to ${dir}: ${e.message}`);
  }
  return loadClusterCA(dataDir, { cert, key });
}

/** Read the cluster CA back, checking that the key belongs to the certificate and that it is a CA. */
export function loadClusterCA(dataDir: string, paths: { cert: string; key: string } = caPaths(dataDir)): ClusterCA {
  const certPem = readFile(paths.cert, 'certificate');
  const keyPem = readFile(paths.key, 'private key');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new TsswarmError(ErrorCodes.CORRUPT, `${paths.cert} is not a PEM certificate: ${(err as Error).message}`);
  }
  if (!cert.ca) throw new TsswarmError(ErrorCodes.CORRUPT, `${paths.cert} is not a CA certificate (basicConstraints CA:TRUE missing)`);
  if (!cert.verify(cert.publicKey)) throw new TsswarmError(ErrorCodes.CORRUPT, `${paths.cert} is not self-signed (its signature does not verify with its own key)`);
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new TsswarmError(ErrorCodes.CORRUPT, `${paths.key} is not a PEM private key: ${(err as Error).message}`);
  }
  const spki = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });
  if (!spki(createPublicKey(key)).equals(spki(cert.publicKey))) {
    throw new TsswarmError(ErrorCodes.CORRUPT, `${paths.key} does not belong to ${paths.cert} (their public keys differ)`);
  }
  return { certPem, keyPem, cert, key, digest: caDigest(cert) };
}

function readFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') {
      throw new TsswarmError(ErrorCodes.DATA_DIR, `the cluster CA's ${what} ${path} is missing: the data dir was not made by \`tsswarm manager --init\`, or it was damaged`);
    }
    throw new TsswarmError(ErrorCodes.DATA_DIR, `cannot read the cluster CA's ${what} ${path}: ${e.message}`);
  }
}

/** Create `path` (0600, never an existing file), write it, fsync it. */
function writeDurably(path: string, text: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    const buf = Buffer.from(text, 'utf8');
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600); // whatever the umask
}
