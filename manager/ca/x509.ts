// X.509 v3 certificates (RFC 5280) built with Node's crypto and the DER encoder next door:
// Node can make keys and sign, but not build certificates; this does the building.
//
//   createRootCA  a self-signed cluster root: ECDSA P-256, ecdsa-with-SHA256,
//                 basicConstraints CA:TRUE (critical), keyUsage keyCertSign|cRLSign (critical),
//                 subjectKeyIdentifier.
//   issueCert     a node certificate signed by that root: subject O=<cluster id>,
//                 OU=<role>, CN=<node id>; basicConstraints CA:FALSE (critical), keyUsage
//                 digitalSignature (+keyEncipherment for RSA keys) (critical), extKeyUsage
//                 serverAuth+clientAuth, subjectAltName (DNS names and IPs),
//                 authorityKeyIdentifier, subjectKeyIdentifier.
//
// Serial numbers are 20 random octets, positive and non-zero (RFC 5280 4.1.2.2). Validity
// starts an hour before `now` (clocks of the nodes disagree a little) and lasts `validDays`
// from `now`; a node certificate never outlives its CA.

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import * as der from './der.js';

export const OID = {
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  organizationalUnitName: '2.5.4.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** KeyUsage bit numbers (RFC 5280 4.2.1.3). */
const KeyUsageBit = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

/** How far back a certificate's notBefore is set from `now`, for clock skew between nodes. */
export const BACKDATE_MS = 60 * 60 * 1000;
/** The longest validity accepted, in days (100 years). */
export const MAX_VALID_DAYS = 36_500;

export type NodeRole = 'manager' | 'worker';

export interface RootCAOptions {
  /** the CA's subject CN, e.g. `tsswarm-ca` */
  commonName: string;
  /** the CA's subject O (the cluster id), if any */
  organization?: string;
  validDays: number;
  /** the issue time (default: the current time) */
  now?: Date;
}

export interface CAKeyPair {
  certPem: string;
  /** PKCS#8 PEM */
  keyPem: string;
}

export interface IssueCertOptions {
  /** the issuing CA: its certificate and private key (what createRootCA or loadClusterCA returns) */
  ca: { certPem: string; keyPem: string | KeyObject };
  /** the node's public key: a KeyObject or a PEM (SPKI) */
  publicKey: KeyObject | string;
  /** the node id */
  commonName: string;
  /** the node's role */
  organizationalUnit: NodeRole;
  /** the cluster id */
  organization: string;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  validDays: number;
  now?: Date;
}

export interface IssuedCert {
  certPem: string;
  /** upper-case hex, as `X509Certificate.serialNumber` prints it */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

const bad = (message: string): TsswarmError => new TsswarmError(ErrorCodes.INVALID_ARGUMENT, message);

/** A new root CA: a P-256 key and its self-signed certificate. */
export function createRootCA(opts: RootCAOptions): CAKeyPair {
  const now = checkNow(opts.now);
  const { notBefore, notAfter } = validity(now, opts.validDays);
  const name = encodeName([
    ...(opts.organization !== undefined ? [[OID.organizationName, checkAttr('organization', opts.organization)] as const] : []),
    [OID.commonName, checkAttr('commonName', opts.commonName)],
  ]);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const extensions = [
    extension(OID.basicConstraints, true, der.sequence(der.boolean(true))),
    extension(OID.keyUsage, true, der.namedBits([KeyUsageBit.keyCertSign, KeyUsageBit.cRLSign])),
    extension(OID.subjectKeyIdentifier, false, der.octetString(keyIdentifier(spki))),
  ];
  const certDer = signCertificate(privateKey, { serial: newSerial(), issuer: name, subject: name, notBefore, notAfter, spki, extensions });
  return { certPem: der.toPem('CERTIFICATE', certDer), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** A node certificate for `publicKey`, signed by the CA. */
export function issueCert(opts: IssueCertOptions): IssuedCert {
  const now = checkNow(opts.now);
  if (opts.organizationalUnit !== 'manager' && opts.organizationalUnit !== 'worker') {
    throw bad(`the role (organizationalUnit) must be "manager" or "worker", not ${JSON.stringify(String(opts.organizationalUnit).slice(0, 20))}`);
  }
  const ca = readCA(opts.ca);
  if (now.getTime() > ca.notAfter.getTime()) throw bad(`the CA expired on ${ca.notAfter.toISOString()}: it can issue no certificate`);
  const spki = subjectKey(opts.publicKey);
  const { notBefore, notAfter: wanted } = validity(now, opts.validDays);
  const notAfter = wanted.getTime() > ca.notAfter.getTime() ? ca.notAfter : wanted;
  const subject = encodeName([
    [OID.organizationName, checkAttr('organization', opts.organization)],
    [OID.organizationalUnitName, opts.organizationalUnit],
    [OID.commonName, checkAttr('commonName', opts.commonName)],
  ]);
  const san = generalNames(opts.dnsNames ?? [], opts.ipAddresses ?? []);
  const keyType = createPublicKey({ key: spki, format: 'der', type: 'spki' }).asymmetricKeyType;
  const usage: number[] = [KeyUsageBit.digitalSignature, ...(keyType === 'rsa' ? [KeyUsageBit.keyEncipherment] : [])];
  const extensions = [
    extension(OID.basicConstraints, true, der.sequence()),
    extension(OID.keyUsage, true, der.namedBits(usage)),
    extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth), der.oid(OID.clientAuth))),
    ...(san ? [extension(OID.subjectAltName, false, san)] : []),
    extension(OID.authorityKeyIdentifier, false, der.sequence(der.contextPrimitive(0, ca.keyId))),
    extension(OID.subjectKeyIdentifier, false, der.octetString(keyIdentifier(spki))),
  ];
  const serial = newSerial();
  const certDer = signCertificate(ca.key, { serial, issuer: ca.subject, subject, notBefore, notAfter, spki, extensions });
  return { certPem: der.toPem('CERTIFICATE', certDer), serialNumber: serial.toString('hex').toUpperCase(), notBefore, notAfter };
}

/** A new P-256 key pair for a node, as PEM (PKCS#8 private, SPKI public). */
export function newNodeKey(): { keyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

// ---------------------------------------------------------------------------------------------
// Reading a certificate

/** The parts of a certificate the builder needs, read from its DER. */
export interface CertificateFields {
  /** the DER of the TBSCertificate */
  tbs: Buffer;
  version: number;
  serial: Buffer;
  /** the DER of the issuer and subject Names, byte for byte */
  issuer: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** the DER of the SubjectPublicKeyInfo */
  spki: Buffer;
  extensions: Map<string, { critical: boolean; value: Buffer }>;
  signatureAlgorithm: string;
  signature: Buffer;
}

export function parseCertificate(certDer: Uint8Array): CertificateFields {
  const cert = der.readExactly(certDer, der.Tag.SEQUENCE, 'Certificate');
  const [tbsEl, algEl, sigEl, ...extra] = der.readChildren(cert.contents);
  if (!tbsEl || !algEl || !sigEl || extra.length) throw new der.DerError('Certificate: expected three elements');
  const parts = der.readChildren(tbsEl.contents);
  let i = 0;
  let version = 1;
  if (parts[0]?.tag === 0xa0) {
    const v = der.readExactly(parts[0].contents, der.Tag.INTEGER, 'version');
    version = v.contents.readUIntBE(0, Math.min(v.contents.length, 6)) + 1;
    i++;
  }
  const take = (tag: number, what: string): der.DerElement => {
    const el = parts[i++];
    if (!el || el.tag !== tag) throw new der.DerError(`TBSCertificate: ${what} missing or of the wrong type`);
    return el;
  };
  const serial = take(der.Tag.INTEGER, 'serialNumber').contents;
  take(der.Tag.SEQUENCE, 'signature');
  const issuer = take(der.Tag.SEQUENCE, 'issuer').raw;
  const validityEl = take(der.Tag.SEQUENCE, 'validity');
  const [nb, na] = der.readChildren(validityEl.contents);
  if (!nb || !na) throw new der.DerError('TBSCertificate: validity needs two times');
  const subject = take(der.Tag.SEQUENCE, 'subject').raw;
  const spki = take(der.Tag.SEQUENCE, 'subjectPublicKeyInfo').raw;
  const extensions = new Map<string, { critical: boolean; value: Buffer }>();
  for (; i < parts.length; i++) {
    if (parts[i]!.tag !== 0xa3) continue; // issuerUniqueID, subjectUniqueID
    const list = der.readExactly(parts[i]!.contents, der.Tag.SEQUENCE, 'extensions');
    for (const ext of der.readChildren(list.contents)) {
      const f = der.readChildren(ext.contents);
      const id = der.decodeOid(f[0]!.tag === der.Tag.OID ? f[0]!.contents : Buffer.alloc(0));
      const critical = f.length === 3 && f[1]!.tag === der.Tag.BOOLEAN && f[1]!.contents[0] !== 0;
      const value = f[f.length - 1]!;
      if (value.tag !== der.Tag.OCTET_STRING) throw new der.DerError(`extension ${id}: value is not an OCTET STRING`);
      extensions.set(id, { critical, value: value.contents });
    }
  }
  const alg = der.readChildren(algEl.contents)[0];
  if (!alg || alg.tag !== der.Tag.OID) throw new der.DerError('Certificate: signatureAlgorithm has no OID');
  if (sigEl.tag !== der.Tag.BIT_STRING) throw new der.DerError('Certificate: signatureValue is not a BIT STRING');
  return {
    tbs: tbsEl.raw,
    version,
    serial,
    issuer,
    subject,
    notBefore: der.decodeTime(nb),
    notAfter: der.decodeTime(na),
    spki,
    extensions,
    signatureAlgorithm: der.decodeOid(alg.contents),
    signature: sigEl.contents.subarray(1),
  };
}

/** The subjectPublicKey bits of a SubjectPublicKeyInfo. */
export function publicKeyBits(spki: Uint8Array): Buffer {
  const seq = der.readExactly(spki, der.Tag.SEQUENCE, 'SubjectPublicKeyInfo');
  const [alg, bits] = der.readChildren(seq.contents);
  if (alg?.tag !== der.Tag.SEQUENCE || bits?.tag !== der.Tag.BIT_STRING || bits.contents[0] !== 0) {
    throw new der.DerError('SubjectPublicKeyInfo: expected an algorithm and a whole-octet BIT STRING');
  }
  return bits.contents.subarray(1);
}

/** A key identifier, RFC 5280 4.2.1.2 method (1): the SHA-1 of the subjectPublicKey bits. */
export const keyIdentifier = (spki: Uint8Array): Buffer => createHash('sha1').update(publicKeyBits(spki)).digest();

// ---------------------------------------------------------------------------------------------
// Building

interface TbsInput {
  serial: Buffer;
  issuer: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  extensions: Buffer[];
}

function signCertificate(caKey: KeyObject, t: TbsInput): Buffer {
  const algorithm = der.sequence(der.oid(OID.ecdsaWithSHA256)); // parameters absent (RFC 5758 3.2)
  const tbs = der.sequence(
    der.explicit(0, der.integer(2)), // v3
    der.integer(t.serial),
    algorithm,
    t.issuer,
    der.sequence(der.time(t.notBefore), der.time(t.notAfter)),
    t.subject,
    t.spki,
    der.explicit(3, der.sequence(...t.extensions)),
  );
  const signature = sign('sha256', tbs, { key: caKey, dsaEncoding: 'der' });
  return der.sequence(tbs, algorithm, der.bitString(signature));
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
function extension(id: string, critical: boolean, value: Buffer): Buffer {
  // DER leaves out a value equal to its DEFAULT: a non-critical extension has no BOOLEAN.
  return der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

/** Name: one attribute per RDN, in the order given (most significant first). */
function encodeName(attrs: ReadonlyArray<readonly [string, string]>): Buffer {
  return der.sequence(...attrs.map(([type, value]) => der.setOf(der.sequence(der.oid(type), der.utf8String(value)))));
}

/** 20 random octets, positive (top bit clear) and non-zero (next bit set): 158 random bits. */
function newSerial(): Buffer {
  const b = randomBytes(20);
  b[0] = (b[0]! & 0x3f) | 0x40;
  return b;
}

function checkNow(now: Date | undefined): Date {
  const d = now ?? new Date();
  if (!(d instanceof Date) || !Number.isFinite(d.getTime())) throw bad('`now` must be a valid Date');
  return new Date(Math.floor(d.getTime() / 1000) * 1000); // whole seconds, as certificates hold them
}

function validity(now: Date, validDays: number): { notBefore: Date; notAfter: Date } {
  if (!Number.isInteger(validDays) || validDays < 1 || validDays > MAX_VALID_DAYS) {
    throw bad(`validDays must be a whole number of days from 1 to ${MAX_VALID_DAYS}, not ${validDays}`);
  }
  const notAfter = new Date(now.getTime() + validDays * 86_400_000);
  if (notAfter.getUTCFullYear() > 9999) throw bad('the certificate would expire after the year 9999');
  return { notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter };
}

/** ub-common-name, ub-organization-name, ub-organizational-unit-name are all 64 (RFC 5280 A.1). */
function checkAttr(what: string, v: string): string {
  if (typeof v !== 'string' || v.length === 0) throw bad(`${what} must be a non-empty string`);
  if ([...v].length > 64) throw bad(`${what} is longer than 64 characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(v)) throw bad(`${what} holds a control character`);
  if (v !== v.trim()) throw bad(`${what} starts or ends with a space`);
  return v;
}

function subjectKey(publicKey: KeyObject | string): Buffer {
  let key: KeyObject;
  try {
    key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey.type === 'public' ? publicKey : createPublicKey(publicKey);
  } catch (err) {
    throw bad(`publicKey is not a public key (a KeyObject or an SPKI PEM): ${(err as Error).message}`);
  }
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ec') {
    if (!['prime256v1', 'secp384r1', 'secp521r1'].includes(details.namedCurve ?? '')) throw bad(`publicKey: the curve ${details.namedCurve} is not accepted (P-256, P-384, P-521)`);
  } else if (type === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048) throw bad(`publicKey: an RSA key of ${details.modulusLength} bits is too short (2048 at least)`);
  } else if (type !== 'ed25519') {
    throw bad(`publicKey: ${type} keys are not accepted (EC P-256/P-384/P-521, RSA, Ed25519)`);
  }
  return key.export({ type: 'spki', format: 'der' });
}

interface ReadCA {
  key: KeyObject;
  subject: Buffer;
  keyId: Buffer;
  notAfter: Date;
}

function readCA(ca: IssueCertOptions['ca']): ReadCA {
  let fields: CertificateFields;
  try {
    fields = parseCertificate(der.fromPem(ca.certPem, 'CERTIFICATE'));
  } catch (err) {
    throw bad(`the CA certificate cannot be read: ${(err as Error).message}`);
  }
  let key: KeyObject;
  try {
    key = typeof ca.keyPem === 'string' ? createPrivateKey(ca.keyPem) : ca.keyPem;
  } catch (err) {
    throw bad(`the CA key cannot be read: ${(err as Error).message}`);
  }
  if (key.type !== 'private') throw bad('the CA key is not a private key');
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw bad('the CA key is not an ECDSA P-256 key: only those sign tsswarm certificates');
  }
  if (!createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(fields.spki)) {
    throw bad("the CA key does not belong to the CA certificate (their public keys differ)");
  }
  const bc = fields.extensions.get(OID.basicConstraints);
  if (!bc || !isCA(bc.value)) throw bad('the CA certificate is not a CA (basicConstraints CA:TRUE missing)');
  const ski = fields.extensions.get(OID.subjectKeyIdentifier);
  const keyId = ski ? der.readExactly(ski.value, der.Tag.OCTET_STRING, 'subjectKeyIdentifier').contents : keyIdentifier(fields.spki);
  return { key, subject: fields.subject, keyId, notAfter: fields.notAfter };
}

function isCA(basicConstraints: Buffer): boolean {
  const seq = der.readExactly(basicConstraints, der.Tag.SEQUENCE, 'basicConstraints');
  const first = der.readChildren(seq.contents)[0];
  return first?.tag === der.Tag.BOOLEAN && first.contents[0] !== 0;
}

/** GeneralNames for subjectAltName: dNSName [2] IA5String, iPAddress [7] OCTET STRING. */
function generalNames(dnsNames: readonly string[], ips: readonly string[]): Buffer | undefined {
  const names: Buffer[] = [];
  for (const n of new Set(dnsNames)) {
    if (!isDnsName(n)) throw bad(`${JSON.stringify(String(n).slice(0, 64))} is not a DNS name (letters, digits and hyphens in dot-separated labels)`);
    names.push(der.contextPrimitive(2, Buffer.from(n, 'latin1')));
  }
  for (const ip of new Set(ips)) names.push(der.contextPrimitive(7, ipBytes(ip)));
  return names.length ? der.sequence(...names) : undefined;
}

function isDnsName(n: string): boolean {
  if (typeof n !== 'string' || n.length === 0 || n.length > 253) return false;
  return n.split('.').every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

/** The 4 or 16 octets of an IPv4 or IPv6 address (no zone). */
export function ipBytes(ip: string): Buffer {
  const kind = typeof ip === 'string' ? isIP(ip) : 0;
  if (kind === 4) return Buffer.from(ip.split('.').map(Number));
  if (kind === 6 && !ip.includes('%')) {
    // isIP has checked the syntax: expand `::` and a trailing dotted IPv4 part.
    let text = ip;
    const tail: number[] = [];
    const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4) {
      const o = v4[2]!.split('.').map(Number);
      tail.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
      text = v4[1]!.endsWith('::') ? v4[1]! : v4[1]!.slice(0, -1);
    }
    const hex = (s: string): number[] => (s ? s.split(':').map((h) => parseInt(h, 16)) : []);
    const gap = text.indexOf('::');
    let groups: number[];
    if (gap < 0) {
      groups = [...hex(text), ...tail];
    } else {
      const left = hex(text.slice(0, gap));
      const right = [...hex(text.slice(gap + 2)), ...tail];
      groups = [...left, ...new Array<number>(Math.max(0, 8 - left.length - right.length)).fill(0), ...right];
    }
    if (groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff)) {
      const out = Buffer.alloc(16);
      groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
      return out;
    }
  }
  throw bad(`${JSON.stringify(String(ip).slice(0, 64))} is not an IP address (IPv4 or IPv6, without a zone)`);
}
