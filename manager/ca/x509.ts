// The certificates the cluster CA makes (RFC 5280), built and signed with @peculiar/x509 on
// Node's WebCrypto (docs/identity.md):
//
//   createRootCA  the cluster root: ECDSA P-256, self-signed, O=<cluster id>, CN=tsswarm-ca,
//                 basicConstraints CA:TRUE (critical), keyUsage keyCertSign|cRLSign
//                 (critical), subjectKeyIdentifier.
//   signCsr       a holder's certificate from its CSR (whose signature proves it holds the
//   issueCert     key), or from a bare public key (a manager certifying its own fresh key):
//                 O=<cluster id>, OU=<role>, CN=<name> whatever the CSR asked for;
//                 basicConstraints CA:FALSE (critical), keyUsage digitalSignature (critical),
//                 extKeyUsage serverAuth+clientAuth, subjectAltName (DNS tsswarm-manager for
//                 managers, plus the names given), authority and subject key identifiers.
//   crossSign     for root rotation: the new root's subject and key, certified by the old root,
//                 so a peer that trusts only the old root accepts leaves of the new one.
//
// Serial numbers are 20 random octets, positive and non-zero (RFC 5280 4.1.2.2). Validity
// starts an hour before `now` (clocks of the nodes disagree a little) and a certificate never
// outlives the CA that signed it.

import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type * as X509 from '@peculiar/x509';
import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import { CERT_ROLES, MANAGER_SERVER_NAME, certDer, cryptoKeyPair, x509lib, type CertRole } from '../../common/pki.js';

/** The CA's subject CN. */
export const CA_COMMON_NAME = 'tsswarm-ca';
/** How far back a certificate's notBefore is set from `now`, for clock skew between nodes. */
export const BACKDATE_MS = 60 * 60 * 1000;
/** The longest validity accepted, in days (100 years). */
export const MAX_VALID_DAYS = 36_500;
/** The largest CSR (PEM) signCsr reads: a P-256 one is under 600 bytes, an RSA-4096 one under 2 KiB. */
export const MAX_CSR_PEM_BYTES = 16 * 1024;

export interface CAKeyPair {
  certPem: string;
  /** PKCS#8 PEM */
  keyPem: string;
}

export interface IssueOptions {
  /** the holder's name: a node id, or a client's name */
  commonName: string;
  role: CertRole;
  clusterId: string;
  /** how long the certificate is valid from `now`, in seconds (cut to the CA's end) */
  validSeconds: number;
  /** the issue time (default: the current time) */
  now?: Date;
  /** DNS names for subjectAltName (managers always get `tsswarm-manager`) */
  dnsNames?: readonly string[];
  /** IPv4/IPv6 addresses for subjectAltName */
  ips?: readonly string[];
}

const bad = (message: string): TsswarmError => new TsswarmError(ErrorCodes.INVALID_ARGUMENT, message);

const KU = { digitalSignature: 1, keyCertSign: 32, cRLSign: 64 } as const; // KeyUsageFlags
const EKU = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' } as const;

/** A new root CA: a P-256 key and its self-signed certificate. */
export async function createRootCA(opts: { clusterId: string; validDays: number; now?: Date }): Promise<CAKeyPair> {
  const x = x509lib();
  const now = checkNow(opts.now);
  const clusterId = checkName('clusterId', opts.clusterId);
  const days = opts.validDays;
  if (!Number.isInteger(days) || days < 1 || days > MAX_VALID_DAYS) throw bad(`validDays must be a whole number of days from 1 to ${MAX_VALID_DAYS}`);
  const keyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const { keys, sign } = await cryptoKeyPair(keyPem);
  const cert = await x.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerial(),
    name: caName(clusterId),
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + days * 86_400_000),
    keys,
    signingAlgorithm: sign,
    extensions: [
      new x.BasicConstraintsExtension(true, undefined, true),
      new x.KeyUsagesExtension(KU.keyCertSign | KU.cRLSign, true),
      await x.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: pem(cert), keyPem };
}

/**
 * A certificate for the key of a CSR. The CSR must carry a signature that verifies with its
 * own key (proof that the requester holds it) and an accepted key (EC P-256/P-384, RSA of
 * 2048 bits or more); everything else it asks for — its subject, its extensions — is ignored:
 * the CA names the holder from `opts`. INVALID_ARGUMENT otherwise, saying why.
 */
export async function signCsr(ca: CAKeyPair, csrPem: string, opts: IssueOptions): Promise<string> {
  const x = x509lib();
  const der = csrDer(csrPem);
  let csr: X509.Pkcs10CertificateRequest;
  try {
    csr = new x.Pkcs10CertificateRequest(Uint8Array.from(der));
  } catch (err) {
    throw bad(`the CSR cannot be read as PKCS#10: ${(err as Error).message}`);
  }
  const spki = Buffer.from(csr.publicKey.rawData);
  checkHolderKey(spki, 'the CSR');
  const verified = await csr.verify().catch(() => false);
  if (!verified) throw bad("the CSR's signature does not verify with the key it carries: it was altered, or not signed by that key");
  return issue(ca, spki, opts);
}

/** signCsr without a CSR: a certificate for `publicKeyPem` (SPKI PEM; a private key PEM is accepted too). */
export async function issueCert(ca: CAKeyPair, publicKeyPem: string, opts: IssueOptions): Promise<string> {
  let spki: Buffer;
  try {
    spki = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  } catch (err) {
    throw bad(`the public key cannot be read (an SPKI PEM is expected): ${(err as Error).message}`);
  }
  checkHolderKey(spki, 'the public key');
  return issue(ca, spki, opts);
}

/**
 * For root CA rotation (as Swarm's): a CA certificate carrying the new root's subject, public
 * key and key identifier, issued and signed by the old root (issuer the old subject, authority
 * key id the old one's), valid as long as the old root. A peer that trusts only the old root
 * accepts a leaf of the new root sent as `leaf + crossSigned`; one that trusts the new root
 * accepts it directly.
 */
export async function crossSign(oldCa: CAKeyPair, newCaCertPem: string, opts: { now?: Date } = {}): Promise<string> {
  const x = x509lib();
  const now = checkNow(opts.now);
  const old = await readCA(oldCa);
  let next: X509.X509Certificate;
  try {
    next = new x.X509Certificate(Uint8Array.from(certDer(newCaCertPem)));
  } catch (err) {
    throw bad(`the new CA certificate cannot be read: ${(err as Error).message}`);
  }
  if (next.getExtension(x.BasicConstraintsExtension)?.ca !== true) throw bad('the new CA certificate is not a CA (basicConstraints CA:TRUE missing)');
  if (!(await next.isSelfSigned())) throw bad('the new CA certificate is not a self-signed root');
  if (Buffer.from(next.publicKey.rawData).equals(Buffer.from(old.cert.publicKey.rawData))) throw bad('the new CA has the same key as the old one: nothing to cross-sign');
  if (now.getTime() > old.cert.notAfter.getTime()) throw bad(`the old CA expired on ${old.cert.notAfter.toISOString()}: it can sign nothing`);
  const notBefore = new Date(Math.max(old.cert.notBefore.getTime(), next.notBefore.getTime()));
  const cert = await x.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: next.subjectName,
    issuer: old.cert.subjectName,
    notBefore,
    notAfter: old.cert.notAfter,
    publicKey: next.publicKey,
    signingKey: old.signingKey,
    signingAlgorithm: old.sign,
    extensions: [
      new x.BasicConstraintsExtension(true, undefined, true),
      new x.KeyUsagesExtension(KU.keyCertSign | KU.cRLSign, true),
      new x.SubjectKeyIdentifierExtension(await keyId(next)),
      new x.AuthorityKeyIdentifierExtension(old.keyId),
    ],
  });
  return pem(cert);
}

// ---------------------------------------------------------------------------------------------

async function issue(ca: CAKeyPair, spki: Buffer, opts: IssueOptions): Promise<string> {
  const x = x509lib();
  if (typeof opts !== 'object' || opts === null) throw bad('the issue options are missing');
  const now = checkNow(opts.now);
  if (!CERT_ROLES.includes(opts.role)) {
    throw bad(`role must be "manager", "worker" or "client", not ${JSON.stringify(String(opts.role).slice(0, 20))}`);
  }
  const commonName = checkName('commonName', opts.commonName);
  const clusterId = checkName('clusterId', opts.clusterId);
  const secs = opts.validSeconds;
  if (!Number.isInteger(secs) || secs < 1 || secs > MAX_VALID_DAYS * 86_400) throw bad(`validSeconds must be a whole number of seconds from 1 to ${MAX_VALID_DAYS * 86_400}`);
  const san = subjectAltNames(opts.role === 'manager' ? [MANAGER_SERVER_NAME, ...(opts.dnsNames ?? [])] : opts.dnsNames ?? [], opts.ips ?? []);
  const c = await readCA(ca);
  if (now.getTime() > c.cert.notAfter.getTime()) throw bad(`the CA expired on ${c.cert.notAfter.toISOString()}: it can issue no certificate`);
  // Whole seconds: what the certificate says is exactly what was computed.
  const t = Math.floor(now.getTime() / 1000) * 1000;
  const notBefore = new Date(Math.max(t - BACKDATE_MS, c.cert.notBefore.getTime()));
  const notAfter = new Date(Math.min(t + secs * 1000, c.cert.notAfter.getTime()));
  const cert = await x.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: new x.Name([{ O: [{ utf8String: clusterId }] }, { OU: [{ utf8String: opts.role }] }, { CN: [{ utf8String: commonName }] }]),
    // The CA's subject as it is in the CA certificate: chain building compares the two.
    issuer: c.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: Uint8Array.from(spki),
    signingKey: c.signingKey,
    signingAlgorithm: c.sign,
    extensions: [
      new x.BasicConstraintsExtension(false, undefined, true),
      new x.KeyUsagesExtension(KU.digitalSignature, true),
      new x.ExtendedKeyUsageExtension([EKU.serverAuth, EKU.clientAuth], false),
      ...(san.length ? [new x.SubjectAlternativeNameExtension(san, false)] : []),
      new x.AuthorityKeyIdentifierExtension(c.keyId),
      await x.SubjectKeyIdentifierExtension.create(Uint8Array.from(spki)),
    ],
  });
  return pem(cert);
}

interface ReadCA {
  cert: X509.X509Certificate;
  signingKey: CryptoKey;
  sign: EcdsaParams | Algorithm;
  /** the CA's subjectKeyIdentifier, hex */
  keyId: string;
}

/** The CA's certificate and key, checked: a CA, an ECDSA P-256 key, the key of that certificate. */
async function readCA(ca: CAKeyPair): Promise<ReadCA> {
  const x = x509lib();
  if (typeof ca !== 'object' || ca === null) throw bad('the CA is missing');
  let cert: X509.X509Certificate;
  try {
    cert = new x.X509Certificate(Uint8Array.from(certDer(ca.certPem)));
  } catch (err) {
    throw bad(`the CA certificate cannot be read: ${(err as Error).message}`);
  }
  if (cert.getExtension(x.BasicConstraintsExtension)?.ca !== true) throw bad('the CA certificate is not a CA (basicConstraints CA:TRUE missing)');
  let key: KeyObject;
  try {
    key = createPrivateKey(ca.keyPem);
  } catch (err) {
    throw bad(`the CA key cannot be read: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw bad('the CA key is not an ECDSA P-256 key: only those sign tsswarm certificates');
  }
  if (!createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(Buffer.from(cert.publicKey.rawData))) {
    throw bad('the CA key does not belong to the CA certificate (their public keys differ)');
  }
  const { keys, sign } = await cryptoKeyPair(ca.keyPem);
  return { cert, signingKey: keys.privateKey, sign, keyId: await keyId(cert) };
}

/** A certificate's subjectKeyIdentifier (hex), or the RFC 5280 one of its key when it has none. */
async function keyId(cert: X509.X509Certificate): Promise<string> {
  const x = x509lib();
  const ski = cert.getExtension(x.SubjectKeyIdentifierExtension)?.keyId;
  return ski ?? Buffer.from(await cert.publicKey.getKeyIdentifier()).toString('hex');
}

/** The holder's key must be one TLS peers accept and that is not weak. */
function checkHolderKey(spki: Buffer, what: string): void {
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ec') {
    if (!['prime256v1', 'secp384r1'].includes(details.namedCurve ?? '')) throw bad(`${what}: the curve ${details.namedCurve} is not accepted (P-256, P-384)`);
  } else if (type === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048) throw bad(`${what}: an RSA key of ${details.modulusLength} bits is too short (2048 at least)`);
  } else {
    throw bad(`${what}: ${type} keys are not accepted (EC P-256/P-384, RSA of 2048 bits or more)`);
  }
}

/** The DER of a CSR PEM: one CERTIFICATE REQUEST block and nothing else, bounded in size. */
function csrDer(csrPem: string): Buffer {
  if (typeof csrPem !== 'string') throw bad('the CSR is not text (a PEM CERTIFICATE REQUEST is expected)');
  const size = Buffer.byteLength(csrPem);
  if (size > MAX_CSR_PEM_BYTES) throw bad(`the CSR is ${size} bytes: at most ${MAX_CSR_PEM_BYTES} are accepted`);
  const m = /^\s*-----BEGIN (NEW )?CERTIFICATE REQUEST-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END (NEW )?CERTIFICATE REQUEST-----\s*$/.exec(csrPem);
  if (!m) throw bad('the CSR is not one PEM CERTIFICATE REQUEST block');
  const b64 = m[2]!.replace(/\r?\n/g, '');
  const der = Buffer.from(b64, 'base64');
  if (der.length === 0 || der.toString('base64') !== b64) throw bad('the CSR is not valid base64');
  return der;
}

/** A certificate's PEM, with one trailing newline. */
function pem(cert: X509.X509Certificate): string {
  return `${cert.toString('pem').trimEnd()}\n`;
}

function caName(clusterId: string): X509.Name {
  return new (x509lib().Name)([{ O: [{ utf8String: clusterId }] }, { CN: [{ utf8String: CA_COMMON_NAME }] }]);
}

/** 20 random octets, hex: the top bit clear (positive) and the next set (exactly 20 octets, never zero). */
function newSerial(): string {
  const b = randomBytes(20);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return b.toString('hex');
}

function checkNow(now: Date | undefined): Date {
  const d = now ?? new Date();
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw bad('now must be a valid Date');
  return d;
}

/** ub-common-name, ub-organization-name, ub-organizational-unit-name are all 64 (RFC 5280 A.1). */
function checkName(what: string, v: string): string {
  if (typeof v !== 'string' || v.length === 0) throw bad(`${what} must be a non-empty string`);
  if ([...v].length > 64) throw bad(`${what} is longer than 64 characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(v)) throw bad(`${what} holds a control character`);
  if (v !== v.trim()) throw bad(`${what} starts or ends with a space`);
  return v;
}

/** subjectAltName entries: DNS names checked, addresses checked and written as @peculiar/x509 reads them. */
function subjectAltNames(dnsNames: readonly string[], ips: readonly string[]): X509.JsonGeneralNames {
  if (!Array.isArray(dnsNames)) throw bad('dnsNames must be a list');
  if (!Array.isArray(ips)) throw bad('ips must be a list');
  const out: X509.JsonGeneralNames = [];
  for (const n of new Set(dnsNames)) {
    if (!isDnsName(n)) throw bad(`${JSON.stringify(String(n).slice(0, 64))} is not a DNS name (letters, digits and hyphens in dot-separated labels)`);
    out.push({ type: 'dns', value: n });
  }
  for (const ip of new Set(ips.map(ipText))) out.push({ type: 'ip', value: ip });
  return out;
}

function isDnsName(n: string): boolean {
  if (typeof n !== 'string' || n.length === 0 || n.length > 253) return false;
  return n.split('.').every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

/** An IPv4 address as is; an IPv6 one in plain hex groups (a dotted IPv4 tail rewritten), no zone. */
export function ipText(ip: string): string {
  const kind = typeof ip === 'string' ? isIP(ip) : 0;
  if (kind === 4) return ip;
  if (kind === 6 && !ip.includes('%')) return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  throw bad(`${JSON.stringify(String(ip).slice(0, 64))} is not an IP address (IPv4 or IPv6, without a zone)`);
}
