// The certificate primitives every side of a cluster uses: managers, agents and the CLI
// (docs/identity.md). A certificate names its holder in its subject:
//
//   O=<cluster id>, OU=<role>, CN=<name>      role: manager | worker | client
//
// Keys are made by node:crypto; CSRs are built and every certificate is read by
// @peculiar/x509 (no hand-written ASN.1). The manager-only issuing side is manager/ca/x509.ts.
//
// @peculiar/x509 costs 100-500 ms to load, which a CLI command that never touches a
// certificate should not pay: it is loaded on first use (x509lib), synchronously through
// require (it ships CommonJS only, so `import` would load the very same module, only slower).

import { X509Certificate, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import * as tls from 'node:tls';
import type * as X509 from '@peculiar/x509';
import { ErrorCodes, TsswarmError } from './errors.js';
import { caDigestOfDer } from './token.js';

export type CertRole = 'manager' | 'worker' | 'client';
export const CERT_ROLES: readonly CertRole[] = ['manager', 'worker', 'client'];

/** The DNS name every manager certificate carries, and the name a node dials managers by (TLS servername). */
export const MANAGER_SERVER_NAME = 'tsswarm-manager';

export type X509Lib = typeof X509;
let lib: X509Lib | undefined;

/** @peculiar/x509, loaded once, on Node's WebCrypto. */
export function x509lib(): X509Lib {
  if (!lib) {
    const require = createRequire(import.meta.url);
    // The library's dependency injection needs the Reflect metadata API before it loads.
    require('reflect-metadata');
    const l = require('@peculiar/x509') as X509Lib;
    l.cryptoProvider.set(webcrypto as unknown as Crypto);
    lib = l;
  }
  return lib;
}

const bad = (message: string): TsswarmError => new TsswarmError(ErrorCodes.INVALID_ARGUMENT, message);

// ---------------------------------------------------------------------------------------------
// Keys and CSRs

/** A fresh ECDSA P-256 private key, PKCS#8 PEM. */
export function newKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** The WebCrypto algorithm that signs with `key` (SHA-256 throughout), or why it cannot. */
function signingAlgorithm(key: KeyObject): { importAlg: EcKeyImportParams | RsaHashedImportParams; sign: EcdsaParams | Algorithm } {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = { prime256v1: 'P-256', secp384r1: 'P-384' }[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (!curve) throw bad(`the key is on the curve ${key.asymmetricKeyDetails?.namedCurve}: only P-256 and P-384 are accepted`);
    return { importAlg: { name: 'ECDSA', namedCurve: curve }, sign: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams };
  }
  if (type === 'rsa') {
    return { importAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } };
  }
  throw bad(`${type} keys are not accepted: ECDSA P-256/P-384 or RSA`);
}

/** A private key PEM as the WebCrypto key pair @peculiar/x509 signs with. */
export async function cryptoKeyPair(keyPem: string): Promise<{ keys: CryptoKeyPair; sign: EcdsaParams | Algorithm }> {
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw bad(`the private key cannot be read (a PKCS#8 or SEC1 PEM is expected): ${(err as Error).message}`);
  }
  const alg = signingAlgorithm(key);
  const subtle = webcrypto.subtle;
  const privateKey = await subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), alg.importAlg, false, ['sign']);
  const publicKey = await subtle.importKey('spki', createPublicKey(key).export({ type: 'spki', format: 'der' }), alg.importAlg, true, ['verify']);
  return { keys: { privateKey, publicKey } as unknown as CryptoKeyPair, sign: alg.sign };
}

/**
 * A PKCS#10 CSR (PEM) for `keyPem`'s public key, signed by it (ecdsa-with-SHA256 for the
 * keys newKeyPem makes). Its subject is only `CN=<commonName>`: the CA ignores what a CSR
 * asks for and names the holder itself.
 */
export async function createCsr(keyPem: string, commonName: string): Promise<string> {
  if (typeof commonName !== 'string' || commonName.length === 0 || commonName.length > 64) {
    throw bad('commonName must be 1 to 64 characters');
  }
  const x = x509lib();
  const { keys, sign } = await cryptoKeyPair(keyPem);
  const csr = await x.Pkcs10CertificateRequestGenerator.create({
    name: new x.Name([{ CN: [{ utf8String: commonName }] }]),
    keys,
    signingAlgorithm: sign,
  });
  return csr.toString('pem') + '\n';
}

// ---------------------------------------------------------------------------------------------
// PEM

const PEM_LINE = /^-----(BEGIN|END) ([A-Z0-9 ]+)-----$/;

/**
 * The PEM certificates in a bundle, in order, each re-armoured canonically (64-column base64,
 * one trailing newline). Whitespace between blocks is allowed; anything else — text that is
 * not PEM, a block of another kind (a private key), a block whose base64 or certificate does
 * not read — is refused with INVALID_ARGUMENT saying where. Never quotes a block's contents.
 */
export function pemBlocks(text: string): string[] {
  if (typeof text !== 'string') throw bad('the certificate bundle is not text');
  const lines = text.split(/\r?\n/);
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!.trim();
    if (line === '') {
      i++;
      continue;
    }
    const begin = PEM_LINE.exec(line);
    if (!begin || begin[1] !== 'BEGIN') {
      throw bad(`the certificate bundle holds text that is not PEM at line ${i + 1} (only -----BEGIN CERTIFICATE----- blocks and blank lines may appear)`);
    }
    const label = begin[2]!;
    if (label !== 'CERTIFICATE') throw bad(`the certificate bundle holds a ${label} block at line ${i + 1}: only certificates are expected`);
    const start = i;
    const body: string[] = [];
    for (i++; ; i++) {
      if (i >= lines.length) throw bad(`the certificate that starts at line ${start + 1} has no -----END CERTIFICATE----- line`);
      const l = lines[i]!.trim();
      const end = PEM_LINE.exec(l);
      if (end) {
        if (end[1] !== 'END' || end[2] !== label) throw bad(`the certificate that starts at line ${start + 1} ends with "${l.slice(0, 40)}" at line ${i + 1}`);
        i++;
        break;
      }
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(l)) throw bad(`the certificate that starts at line ${start + 1} holds a character that is not base64 at line ${i + 1}`);
      body.push(l);
    }
    const b64 = body.join('');
    const der = Buffer.from(b64, 'base64');
    if (der.length === 0 || der.toString('base64') !== b64) throw bad(`the certificate that starts at line ${start + 1} is not valid base64`);
    try {
      new X509Certificate(der);
    } catch (err) {
      throw bad(`the certificate that starts at line ${start + 1} cannot be read: ${(err as Error).message}`);
    }
    out.push(derToPem(der));
  }
  return out;
}

/** A certificate's DER as PEM. */
export function derToPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
}

/** The DER of a certificate given as PEM (the first of a bundle) or as DER. */
export function certDer(cert: string | Uint8Array): Buffer {
  if (typeof cert !== 'string') return Buffer.from(cert);
  const first = pemBlocks(cert)[0];
  if (!first) throw bad('no PEM certificate was given (-----BEGIN CERTIFICATE----- missing)');
  return new X509Certificate(first).raw;
}

// ---------------------------------------------------------------------------------------------
// Reading certificates

export interface CertInfo {
  /** the subject's CN ('' unless it has exactly one) */
  commonName: string;
  /** the subject's OU when it is exactly one of manager | worker | client */
  role?: CertRole;
  /** the subject's O when it has exactly one */
  clusterId?: string;
  /** the serial number: lower-case hex without leading zeros (what the store records) */
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** basicConstraints CA:TRUE */
  isCA: boolean;
  /** SHA-256 of the certificate's DER, lower-case hex */
  fingerprint256: string;
  /** SHA-256 of the SubjectPublicKeyInfo's DER, lower-case hex: names the key whatever certifies it */
  publicKeySpkiSha256: string;
}

/** A serial number (hex, any case, maybe zero-padded) in the one form the cluster records it. */
export function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

function parsed(cert: string | Uint8Array): { der: Buffer; x: X509.X509Certificate } {
  const der = certDer(cert);
  try {
    return { der, x: new (x509lib().X509Certificate)(Uint8Array.from(der)) };
  } catch (err) {
    throw bad(`the certificate cannot be read: ${(err as Error).message}`);
  }
}

/** What a certificate says of its holder. Throws INVALID_ARGUMENT if it is not a certificate. */
export function certInfo(cert: string | Buffer): CertInfo {
  const { der, x } = parsed(cert);
  const lib = x509lib();
  // The subject is read attribute by attribute from its ASN.1, never from a printed form, so
  // a value holding a comma, an equals sign or a newline cannot pose as another attribute.
  const one = (field: string): string | undefined => {
    const values = x.subjectName.getField(field);
    return values.length === 1 ? values[0] : undefined;
  };
  const ou = one('OU');
  const bc = x.getExtension(lib.BasicConstraintsExtension);
  return {
    commonName: one('CN') ?? '',
    role: CERT_ROLES.includes(ou as CertRole) ? (ou as CertRole) : undefined,
    clusterId: one('O'),
    serial: normalizeSerial(x.serialNumber),
    notBefore: x.notBefore,
    notAfter: x.notAfter,
    isCA: bc?.ca === true,
    fingerprint256: createHash('sha256').update(der).digest('hex'),
    publicKeySpkiSha256: createHash('sha256').update(Buffer.from(x.publicKey.rawData)).digest('hex'),
  };
}

/** The SHA-256 of a CA certificate's DER in the join-token form (common/token.ts caDigestOfDer). */
export function caDigest(cert: string | Uint8Array | X509Certificate): string {
  return caDigestOfDer(cert instanceof X509Certificate ? cert.raw : certDer(cert));
}

/**
 * Whether `leaf` was issued by `ca`: its issuer is the CA's subject (and its authority key id
 * the CA's key id, when both are there), its signature verifies with the CA's key, the CA is
 * a CA, and both are valid at `now`. False (never a throw) for anything that does not read.
 */
export function verifyIssued(leafPem: string | Uint8Array, caPem: string | Uint8Array, now: Date = new Date()): boolean {
  try {
    const leaf = new X509Certificate(certDer(leafPem));
    const ca = new X509Certificate(certDer(caPem));
    if (!ca.ca || !leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return false;
    const t = now.getTime();
    const valid = (c: X509Certificate): boolean => {
      const info = parsed(c.raw).x;
      return info.notBefore.getTime() <= t && t <= info.notAfter.getTime();
    };
    return valid(leaf) && valid(ca);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Pinning the cluster CA from a join token

/** `host:port` (`[v6]:port` for IPv6) as tls.connect's host and port; INVALID_ARGUMENT otherwise. */
export function splitHostPort(addr: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(typeof addr === 'string' ? addr : '');
  const port = m ? Number(m[3]) : 0;
  if (!m || port < 1 || port > 65_535) throw bad(`${JSON.stringify(String(addr).slice(0, 80))} is not an address: HOST:PORT (or [IPv6]:PORT) is expected`);
  return { host: (m[1] ?? m[2])!, port };
}

/** The certificates a TLS peer presented, leaf first, following issuerCertificate until it repeats. */
export function peerChain(socket: tls.TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  const seen = new Set<string>();
  let c: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(c.raw);
    c = c.issuerCertificate;
  }
  return out;
}

/**
 * The cluster CA, for a joiner that holds only a join token: a raw TLS connection to the
 * manager at `addr` (no verification: nothing is trusted yet; nothing but the handshake is
 * sent), the chain it presents, and in it the certificate whose caDigest is the token's
 * `digest`. The manager's own certificate must be issued by that CA — directly, or through a
 * CA certificate in the chain the pinned CA signed (a cross-signed new root during CA
 * rotation). Returns the pinned CA's PEM first, then any other CA certificate in the chain
 * whose key it vouches for (the cross-signed certificate, and the new root's self-signed one).
 *
 * TOKEN_INVALID when no certificate matches or the leaf is not issued by the one that does;
 * UNAVAILABLE, naming the address, when the manager cannot be reached in `timeoutMs`.
 */
export async function fetchPinnedCA(addr: string, digest: string, timeoutMs: number): Promise<string[]> {
  const { host, port } = splitHostPort(addr);
  const chain = await new Promise<Buffer[]>((resolve, reject) => {
    const socket = tls.connect({ host, port, servername: MANAGER_SERVER_NAME, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    let settled = false;
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
      socket.destroy();
    };
    const fail = (why: string): void => finish(() => reject(new TsswarmError(ErrorCodes.UNAVAILABLE, `cannot reach the manager at ${addr}: ${why}`)));
    const timer = setTimeout(() => fail(`no TLS handshake within ${timeoutMs} ms`), timeoutMs);
    socket.once('secureConnect', () => finish(() => resolve(peerChain(socket))));
    socket.on('error', (err) => fail(err.message));
    socket.once('close', () => fail('the connection closed before the TLS handshake finished'));
  });
  const mismatch = (): TsswarmError =>
    new TsswarmError(ErrorCodes.TOKEN_INVALID, `the manager at ${addr} presented a cluster CA that does not match the join token's digest: refusing to join`);
  const [leaf, ...rest] = chain;
  const pinned = chain.find((c) => caDigestOfDer(c) === digest);
  if (!leaf || !pinned || !new X509Certificate(pinned).ca) throw mismatch();
  const now = new Date();
  const intermediates = rest.filter((c) => !c.equals(pinned) && new X509Certificate(c).ca);
  const issued = pinned.equals(leaf) ? false : verifyIssued(leaf, pinned, now) || intermediates.some((i) => verifyIssued(leaf, i, now) && verifyIssued(i, pinned, now));
  if (!issued) throw mismatch();
  // The CA certificates the pinned one vouches for: those it signed, and a self-signed root
  // whose key is one of those (the new root of a rotation, certified by the old).
  const signed = intermediates.filter((c) => verifyIssued(c, pinned, now));
  const spki = (c: Buffer): string => certInfo(c).publicKeySpkiSha256;
  const keys = new Set(signed.map(spki));
  const roots = intermediates.filter((c) => !signed.includes(c) && keys.has(spki(c)) && verifyIssued(c, c, now));
  return [pinned, ...signed, ...roots].map(derToPem);
}
