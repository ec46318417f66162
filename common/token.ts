// Join tokens: `TSWTKN-1-<ca digest>-<secret>` (docs/identity.md).
//
//   TSWTKN   the prefix: says what the text is
//   1        the format version
//   digest   the SHA-256 of the cluster CA's certificate (DER), 50 characters of lower-case
//            base 36: a joiner pins the CA it is given against it
//   secret   128 random bits, 25 characters of lower-case base 36: the credential
//
// The token does not say its role. The manager keeps the SHA-256 of the current worker
// secret and of the current manager secret in its replicated store; the role of a token is
// whichever of the two its secret hashes to (checkJoinToken), so only the manager can tell,
// and rotating a role's secret makes its old tokens fail. Both halves are needed to join:
// the digest (public: anyone who sees the CA can compute it) and the secret.
//
// Pure: no I/O but crypto's random bytes, hashing and constant-time comparison. Whatever the
// input, parsing is bounded in time and its errors in length, and no error repeats a secret.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCodes, TsswarmError } from './errors.js';

export const JOIN_TOKEN_PREFIX = 'TSWTKN';
export const JOIN_TOKEN_VERSION = 1;
/** Characters in a CA digest: 256 bits in base 36 (36^50 > 2^256 > 36^49). */
export const CA_DIGEST_LENGTH = 50;
/** Characters in a secret: 128 bits in base 36 (36^25 > 2^128 > 36^24). */
export const JOIN_SECRET_LENGTH = 25;
/** The length of every version-1 token: TSWTKN-1-<50>-<25>. */
export const JOIN_TOKEN_LENGTH = JOIN_TOKEN_PREFIX.length + 3 + CA_DIGEST_LENGTH + 1 + JOIN_SECRET_LENGTH;

export type JoinRole = 'worker' | 'manager';

export interface JoinToken {
  version: number;
  caDigest: string;
  secret: string;
}

/** What the manager keeps: the CA's digest and the SHA-256 (hex) of each role's current secret. */
export interface JoinSecrets {
  caDigest: string;
  workerHash?: string;
  managerHash?: string;
}

/** Bytes as a fixed-width lower-case base-36 number (most significant digit first). */
export function base36(bytes: Uint8Array, width: number): string {
  const n = bytes.length ? BigInt(`0x${Buffer.from(bytes).toString('hex')}`) : 0n;
  const s = n.toString(36);
  if (s.length > width) throw new RangeError(`${bytes.length} bytes do not fit ${width} base-36 digits`);
  return s.padStart(width, '0');
}

/** The digest a token carries for a CA certificate, from the certificate's DER. */
export function caDigestOfDer(certDer: Uint8Array): string {
  return base36(createHash('sha256').update(certDer).digest(), CA_DIGEST_LENGTH);
}

/** A new secret: 128 random bits. */
export function newJoinSecret(): string {
  return base36(randomBytes(16), JOIN_SECRET_LENGTH);
}

/** What the manager stores for a secret: its SHA-256, 64 lower-case hex digits. */
export function hashJoinSecret(secret: string): string {
  checkPart('secret', secret, JOIN_SECRET_LENGTH);
  return createHash('sha256').update(secret, 'latin1').digest('hex');
}

export function formatJoinToken(t: { caDigest: string; secret: string }): string {
  checkPart('CA digest', t.caDigest, CA_DIGEST_LENGTH);
  checkPart('secret', t.secret, JOIN_SECRET_LENGTH);
  return `${JOIN_TOKEN_PREFIX}-${JOIN_TOKEN_VERSION}-${t.caDigest}-${t.secret}`;
}

const HINT = `a join token looks like ${JOIN_TOKEN_PREFIX}-${JOIN_TOKEN_VERSION}-<${CA_DIGEST_LENGTH} characters>-<${JOIN_SECRET_LENGTH} characters>; print one on a manager with \`tsswarm cluster join-token worker\` (or manager)`;

const invalid = (why: string, hint = true): TsswarmError =>
  new TsswarmError(ErrorCodes.TOKEN_INVALID, `invalid join token: ${why}${hint ? ` (${HINT})` : ''}`);

/** A character as the error shows it: itself when printable ASCII, else its code point. */
function showChar(c: string): string {
  const cp = c.codePointAt(0)!;
  return cp > 0x20 && cp < 0x7f ? `"${c}"` : `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** At most a few characters of text, printable ASCII only, for an error message. */
function snippet(text: string, max = 8): string {
  const shown = [...text.slice(0, max + 2)].slice(0, max).map((c) => (/^[\x21-\x7e]$/.test(c) ? c : '?')).join('');
  return JSON.stringify(shown + (text.length > max ? '…' : ''));
}

/** A token part: exactly `length` of 0-9a-z; the error names the part and never shows it. */
function partProblem(name: string, part: string, length: number): string | undefined {
  if (typeof part !== 'string') return `the ${name} is not text`;
  for (let i = 0; i < part.length && i < length + 1; i++) {
    const c = part.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a))) {
      const ch = String.fromCodePoint(part.codePointAt(i)!);
      return `the ${name} holds ${showChar(ch)} at position ${i + 1}: only 0-9 and a-z are allowed`;
    }
  }
  if (part.length !== length) return `the ${name} has ${part.length} characters, not ${length}`;
  return undefined;
}

function checkPart(name: string, part: string, length: number): void {
  const p = partProblem(name, part, length);
  if (p) throw invalid(p, false);
}

/**
 * Read a token. Surrounding whitespace (a pasted newline) is ignored; anything else that is
 * not exactly `TSWTKN-1-<digest>-<secret>` throws TOKEN_INVALID saying what is wrong.
 */
export function parseJoinToken(text: string): JoinToken {
  if (typeof text !== 'string') throw invalid('it is not text');
  // Bounded before anything scans the text: a 10 MB paste costs nothing.
  if (text.length > JOIN_TOKEN_LENGTH + 64) throw invalid(`it is ${text.length} characters long; a token has ${JOIN_TOKEN_LENGTH}`);
  const t = text.trim();
  if (t.length === 0) throw invalid('it is empty');
  if (!t.startsWith(`${JOIN_TOKEN_PREFIX}-`)) {
    if (/^SWMTKN-/i.test(t)) throw invalid('this is a Docker Swarm token (SWMTKN-…), not a tsswarm one');
    if (t.toUpperCase().startsWith(`${JOIN_TOKEN_PREFIX}-`)) throw invalid(`it must start with "${JOIN_TOKEN_PREFIX}-" in upper case`);
    if (t.includes(`${JOIN_TOKEN_PREFIX}-`)) throw invalid(`there is more than the token: pass only the ${JOIN_TOKEN_PREFIX}-… part, not the text around it`);
    throw invalid(`it does not start with "${JOIN_TOKEN_PREFIX}-" (it starts ${snippet(t, 4)})`);
  }
  const parts = t.split('-');
  const version = parts[1] ?? '';
  if (!/^(0|[1-9][0-9]{0,2})$/.test(version)) {
    throw invalid(`the version after "${JOIN_TOKEN_PREFIX}-" must be a number such as ${JOIN_TOKEN_VERSION}, found ${snippet(version, 4)}`);
  }
  if (Number(version) !== JOIN_TOKEN_VERSION) {
    throw invalid(`version ${Number(version)} is not one this tsswarm reads (it reads version ${JOIN_TOKEN_VERSION}): use a tsswarm of the manager's version`, false);
  }
  if (parts.length !== 4) {
    throw invalid(`it has ${parts.length} "-"-separated parts, not 4 (${JOIN_TOKEN_PREFIX}, version, CA digest, secret)`);
  }
  const [, , caDigest, secret] = parts as [string, string, string, string];
  const p = partProblem('CA digest', caDigest, CA_DIGEST_LENGTH) ?? partProblem('secret', secret, JOIN_SECRET_LENGTH);
  if (p) throw invalid(p);
  return { version: JOIN_TOKEN_VERSION, caDigest, secret };
}

const HASH_RE = /^[0-9a-f]{64}$/;

/** Equal, in time that depends only on the lengths (which are public: fixed by the format). */
function same(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The role a token joins as: its CA digest must be this cluster's, and its secret must hash
 * to the stored worker or manager hash. Throws TOKEN_INVALID otherwise.
 */
export function checkJoinToken(token: string, stored: JoinSecrets): JoinRole {
  const t = parseJoinToken(token);
  const digestOk = same(Buffer.from(t.caDigest, 'latin1'), Buffer.from(String(stored.caDigest), 'latin1'));
  const hash = createHash('sha256').update(t.secret, 'latin1').digest();
  const stored32 = (h: string | undefined): Buffer => (typeof h === 'string' && HASH_RE.test(h) ? Buffer.from(h, 'hex') : Buffer.alloc(32));
  const worker = stored.workerHash !== undefined && HASH_RE.test(stored.workerHash);
  const manager = stored.managerHash !== undefined && HASH_RE.test(stored.managerHash);
  // Both comparisons always run: the time taken does not say which (if either) matched.
  const isWorker = same(hash, stored32(stored.workerHash)) && worker;
  const isManager = same(hash, stored32(stored.managerHash)) && manager;
  if (!digestOk) {
    throw invalid("its CA digest is not this cluster's CA: the token is for another cluster, or it was mistyped", false);
  }
  if (isWorker && isManager) throw new TsswarmError(ErrorCodes.INTERNAL, 'the stored worker and manager join secrets are the same: rotate one');
  if (isManager) return 'manager';
  if (isWorker) return 'worker';
  throw invalid('its secret is not a current one: the token was rotated or mistyped; print the current one with `tsswarm cluster join-token worker` (or manager)', false);
}

/** checkJoinToken, and the token's role must be `want`: a worker token does not make a manager. */
export function requireRole(token: string, want: JoinRole, stored: JoinSecrets): JoinRole {
  const role = checkJoinToken(token, stored);
  if (role === want) return role;
  if (role === 'worker') {
    throw invalid('this token is for workers: use the manager token to join a manager (`tsswarm cluster join-token manager`)', false);
  }
  throw invalid('this token is for managers: use the worker token to join an agent (`tsswarm cluster join-token worker`)', false);
}
