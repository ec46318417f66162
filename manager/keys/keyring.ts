// The managers' data key and its wrapping, with autolock (docs/identity.md).
//
// Every manager holds the cluster's data key (DEK): 32 random bytes, the same on every manager
// (a joining manager receives it over mutual TLS). It seals what the Raft log and snapshots
// must never hold in clear — secrets, the CA's private key — with AES-256-GCM (Sealer).
//
// On disk the DEK is wrapped (AES-256-GCM) by a key-encryption key (KEK):
//
//   <data dir>/keys/           0700
//   <data dir>/keys/dek.json   0600  { version: 1, wrapped: base64(nonce|ciphertext|tag), kdf }
//   <data dir>/keys/kek        0600  32 random bytes: the KEK, when autolock is off
//
// With autolock on (as Swarm's) there is no `kek`: the KEK is derived with scrypt from the
// user's unlock key (`kdf` records the salt and cost), so a manager's disk alone never opens
// its data key. Every file is replaced by writing a temporary file beside it, fsyncing it,
// renaming it over the old one and fsyncing the directory: a crash leaves the old or the new
// file, never a torn one. Turning autolock off writes the new KEK as `kek.next` first and
// renames it to `kek` last; opening tries `kek`, then `kek.next` (and finishes the rename), so
// a crash between the two steps loses nothing.

import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import { base36 } from '../../common/token.js';
import type { Sealer } from './sealer.js';
import { fsyncDir } from '../../common/durable.js';

export const DATA_KEY_BYTES = 32;
/** What a sealed value starts with: the format (AES-256-GCM, 12-byte nonce, 16-byte tag). */
export const SEALED_PREFIX = 'tsk1:';
export const UNLOCK_KEY_PREFIX = 'TSWKEY';
export const UNLOCK_KEY_VERSION = 1;
/** Base-36 digits of an unlock key's 32 bytes (36^52 > 2^256). */
export const UNLOCK_KEY_DIGITS = 52;
/** scrypt's cost for a new unlock key: 32 MiB and about 0.1 s, once per manager start. */
export const KDF_PARAMS = { N: 2 ** 15, r: 8, p: 1 } as const;

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Additional data of the DEK's wrapping: a wrapped DEK opens as nothing else. */
const WRAP_AAD = Buffer.from('tsswarm/keys/dek.json/v1');

export interface KeyPaths {
  dir: string;
  dek: string;
  kek: string;
  kekNext: string;
}

export const keyPaths = (dataDir: string): KeyPaths => {
  const dir = join(dataDir, 'keys');
  return { dir, dek: join(dir, 'dek.json'), kek: join(dir, 'kek'), kekNext: join(dir, 'kek.next') };
};

interface Kdf {
  salt: string;
  N: number;
  r: number;
  p: number;
}

interface DekFile {
  version: 1;
  wrapped: string;
  kdf: Kdf | null;
}

const corrupt = (message: string): TsswarmError => new TsswarmError(ErrorCodes.CORRUPT, message);
const invalidKey = (why: string): TsswarmError =>
  new TsswarmError(ErrorCodes.UNLOCK_KEY_INVALID, `invalid unlock key: ${why} (an unlock key looks like ${UNLOCK_KEY_PREFIX}-${UNLOCK_KEY_VERSION}-<${UNLOCK_KEY_DIGITS} characters of 0-9a-z>)`);

export class Keyring implements Sealer {
  readonly #dataDir: string;
  readonly #dek: Buffer;

  private constructor(dataDir: string, dek: Buffer) {
    this.#dataDir = dataDir;
    this.#dek = Buffer.from(dek);
  }

  /** A new keyring in `<dataDir>/keys`: a fresh data key (or `dek`, received from the cluster), autolock off. */
  static create(dataDir: string, dek?: Buffer): Keyring {
    if (dek !== undefined && (!Buffer.isBuffer(dek) || dek.length !== DATA_KEY_BYTES)) {
      throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `the data key must be ${DATA_KEY_BYTES} bytes`);
    }
    const paths = keyPaths(dataDir);
    if (existsSync(paths.dek)) {
      throw new TsswarmError(ErrorCodes.DATA_DIR, `${paths.dek} exists already: a data key is never overwritten`);
    }
    const key = dek ?? randomBytes(DATA_KEY_BYTES);
    ensureDir(dataDir, paths.dir);
    const kek = randomBytes(DATA_KEY_BYTES);
    writeAtomic(paths.dir, paths.kek, kek);
    writeAtomic(paths.dir, paths.dek, dekJson({ version: 1, wrapped: wrap(kek, key), kdf: null }));
    removeFiles(paths.dir, [paths.kekNext]);
    return new Keyring(dataDir, key);
  }

  /** Whether `<dataDir>/keys/dek.json` exists. */
  static exists(dataDir: string): boolean {
    return existsSync(keyPaths(dataDir).dek);
  }

  /** Whether autolock is on (a KDF is recorded): opening needs the unlock key. False without a keyring; CORRUPT if it is damaged. */
  static isLocked(dataDir: string): boolean {
    const paths = keyPaths(dataDir);
    if (!existsSync(paths.dek)) return false;
    return readDekFile(paths.dek).kdf !== null;
  }

  /**
   * The keyring of `<dataDir>/keys`. With autolock on, `unlockKey` is required:
   * CLUSTER_LOCKED without it, UNLOCK_KEY_INVALID if it does not open the data key. A missing
   * keyring is DATA_DIR; a damaged file is CORRUPT, naming it.
   */
  static open(dataDir: string, unlockKey?: string): Keyring {
    const paths = keyPaths(dataDir);
    if (!existsSync(paths.dek)) {
      throw new TsswarmError(ErrorCodes.DATA_DIR, `${paths.dek} is missing: this manager has no data key (it was not made by \`tsswarm manager --init\` or a join, or it was damaged)`);
    }
    const file = readDekFile(paths.dek);
    if (file.kdf) {
      if (unlockKey === undefined) {
        throw new TsswarmError(ErrorCodes.CLUSTER_LOCKED, 'this manager is locked (autolock is on): run `tsswarm manager unlock`, or pass the unlock key');
      }
      const kek = deriveKek(Keyring.parseUnlockKey(unlockKey), file.kdf);
      const dek = unwrap(kek, file.wrapped);
      if (!dek) throw new TsswarmError(ErrorCodes.UNLOCK_KEY_INVALID, "the unlock key does not open this manager's data key");
      // A KEK left by autolock being turned on just before a crash wraps nothing current.
      removeFiles(paths.dir, [paths.kek, paths.kekNext]);
      return new Keyring(dataDir, dek);
    }
    const candidates = [paths.kek, paths.kekNext].filter((p) => existsSync(p));
    if (candidates.length === 0) throw corrupt(`${paths.kek} is missing: ${paths.dek} cannot be opened without it`);
    for (const path of candidates) {
      const kek = readFile(path);
      if (kek.length !== DATA_KEY_BYTES) continue;
      const dek = unwrap(kek, file.wrapped);
      if (!dek) continue;
      if (path === paths.kekNext) {
        // autolock was turned off and the new KEK's rename did not happen: finish it.
        renameSync(paths.kekNext, paths.kek);
        fsyncDir(paths.dir);
      }
      return new Keyring(dataDir, dek);
    }
    throw corrupt(`${paths.dek} does not open with ${paths.kek}: one of them is damaged`);
  }

  /** `plain` sealed with the data key for `aad`: `tsk1:<base64 nonce|ciphertext|tag>`. */
  seal(plain: Buffer, aad: string): string {
    if (!Buffer.isBuffer(plain)) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'only bytes (a Buffer) can be sealed');
    const nonce = randomBytes(NONCE_BYTES);
    const c = createCipheriv('aes-256-gcm', this.#dek, nonce);
    c.setAAD(aadBytes(aad));
    const ct = Buffer.concat([c.update(plain), c.final()]);
    return SEALED_PREFIX + Buffer.concat([nonce, ct, c.getAuthTag()]).toString('base64');
  }

  /** The value `sealed` holds; CORRUPT (naming only `aad`) if it was not sealed by this data key for `aad`, or was altered. */
  open(sealed: string, aad: string): Buffer {
    const where = JSON.stringify(String(aad).slice(0, 100));
    if (typeof sealed !== 'string' || !sealed.startsWith(SEALED_PREFIX)) throw corrupt(`the value sealed for ${where} is not a sealed value (${SEALED_PREFIX}…)`);
    const b64 = sealed.slice(SEALED_PREFIX.length);
    const raw = Buffer.from(b64, 'base64');
    if (raw.length < NONCE_BYTES + TAG_BYTES || raw.toString('base64') !== b64) throw corrupt(`the value sealed for ${where} is truncated or not base64`);
    const d = createDecipheriv('aes-256-gcm', this.#dek, raw.subarray(0, NONCE_BYTES));
    d.setAAD(aadBytes(aad));
    d.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    try {
      return Buffer.concat([d.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), d.final()]);
    } catch {
      throw corrupt(`the value sealed for ${where} does not open with this cluster's data key: it was altered, sealed for another place, or by another cluster`);
    }
  }

  /**
   * The data key as a backup carries it (JSON): wrapped by `unlockKey` when autolock is on (the
   * backup then restores only with that key), else in clear (the backup is then as private
   * as the data dir it comes from).
   */
  exportDataKey(unlockKey?: string): string {
    if (unlockKey === undefined) return JSON.stringify({ version: 1, dataKey: this.#dek.toString('base64') });
    const kdf: Kdf = { salt: randomBytes(16).toString('base64'), ...KDF_PARAMS };
    return JSON.stringify({ version: 1, wrapped: wrap(deriveKek(Keyring.parseUnlockKey(unlockKey), kdf), this.#dek), kdf });
  }

  /** The data key a backup carries (exportDataKey); CLUSTER_LOCKED / UNLOCK_KEY_INVALID when it is wrapped and the key is missing or wrong. */
  static importDataKey(text: string, unlockKey?: string): Buffer {
    let j: { version?: unknown; dataKey?: unknown; wrapped?: unknown; kdf?: Kdf };
    try { j = JSON.parse(text) as typeof j; } catch { throw corrupt('the backup\'s key record is not JSON'); }
    if (j.version !== 1) throw corrupt(`the backup's key record has version ${JSON.stringify(j.version)}, not 1`);
    if (typeof j.dataKey === 'string') {
      const dek = Buffer.from(j.dataKey, 'base64');
      if (dek.length !== DATA_KEY_BYTES) throw corrupt('the backup\'s data key has the wrong length');
      return dek;
    }
    if (typeof j.wrapped !== 'string' || !j.kdf) throw corrupt('the backup\'s key record holds no data key');
    if (unlockKey === undefined) throw new TsswarmError(ErrorCodes.CLUSTER_LOCKED, 'this backup was taken with autolock on: give the unlock key of that time (--unlock-key-file FILE)');
    const dek = unwrap(deriveKek(Keyring.parseUnlockKey(unlockKey), j.kdf), j.wrapped);
    if (!dek) throw new TsswarmError(ErrorCodes.UNLOCK_KEY_INVALID, 'the unlock key does not open this backup\'s data key');
    return dek;
  }

  /** The data key itself (a copy), for handing to a joining manager over mutual TLS. */
  dataKey(): Buffer {
    return Buffer.from(this.#dek);
  }

  /**
   * Rewrap the data key: under `unlockKey` (autolock on; `keys/kek` is removed), or under a
   * fresh random KEK (autolock off). Each step is atomic; a crash between steps opens as before
   * or as after.
   */
  setAutolock(unlockKey: string | undefined): void {
    const paths = keyPaths(this.#dataDir);
    ensureDir(this.#dataDir, paths.dir);
    if (unlockKey !== undefined) {
      const kdf: Kdf = { salt: randomBytes(16).toString('base64'), ...KDF_PARAMS };
      const kek = deriveKek(Keyring.parseUnlockKey(unlockKey), kdf);
      writeAtomic(paths.dir, paths.dek, dekJson({ version: 1, wrapped: wrap(kek, this.#dek), kdf }));
      removeFiles(paths.dir, [paths.kek, paths.kekNext]);
      return;
    }
    const kek = randomBytes(DATA_KEY_BYTES);
    writeAtomic(paths.dir, paths.kekNext, kek);
    writeAtomic(paths.dir, paths.dek, dekJson({ version: 1, wrapped: wrap(kek, this.#dek), kdf: null }));
    renameSync(paths.kekNext, paths.kek);
    fsyncDir(paths.dir);
  }

  /** A new unlock key: `TSWKEY-1-` and 32 random bytes as 52 characters of lower-case base 36. */
  static newUnlockKey(): string {
    return `${UNLOCK_KEY_PREFIX}-${UNLOCK_KEY_VERSION}-${base36(randomBytes(DATA_KEY_BYTES), UNLOCK_KEY_DIGITS)}`;
  }

  /**
   * The 32 bytes an unlock key stands for. Surrounding whitespace is ignored; anything else
   * that is not `TSWKEY-1-<52 × 0-9a-z>` throws UNLOCK_KEY_INVALID saying what is wrong (and
   * never repeating the key).
   */
  static parseUnlockKey(s: string): Buffer {
    if (typeof s !== 'string') throw invalidKey('it is not text');
    if (s.length > 200) throw invalidKey(`it is ${s.length} characters long`);
    const t = s.trim();
    if (t.length === 0) throw invalidKey('it is empty');
    const head = `${UNLOCK_KEY_PREFIX}-${UNLOCK_KEY_VERSION}-`;
    if (!t.startsWith(head)) {
      if (t.toUpperCase().startsWith(head)) throw invalidKey(`it must start with "${head}" in upper case`);
      if (/^SWMKEY-/i.test(t)) throw invalidKey('this is a Docker Swarm unlock key (SWMKEY-…), not a tsswarm one');
      if (t.startsWith(`${UNLOCK_KEY_PREFIX}-`)) throw invalidKey(`only version ${UNLOCK_KEY_VERSION} keys are read ("${head}")`);
      throw invalidKey(`it does not start with "${head}"`);
    }
    const digits = t.slice(head.length);
    for (let i = 0; i < digits.length && i <= UNLOCK_KEY_DIGITS; i++) {
      const c = digits.charCodeAt(i);
      if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a))) {
        const shown = c > 0x20 && c < 0x7f ? `"${digits[i]}"` : `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
        throw invalidKey(`it holds ${shown} at position ${head.length + i + 1}: only 0-9 and a-z may follow "${head}"`);
      }
    }
    if (digits.length !== UNLOCK_KEY_DIGITS) throw invalidKey(`it has ${digits.length} characters after "${head}", not ${UNLOCK_KEY_DIGITS}`);
    let n = 0n;
    for (const ch of digits) n = n * 36n + BigInt(parseInt(ch, 36));
    if (n >= 1n << 256n) throw invalidKey('it is mistyped (its value is larger than any key)');
    return Buffer.from(n.toString(16).padStart(64, '0'), 'hex');
  }
}

// ---------------------------------------------------------------------------------------------

function aadBytes(aad: string): Buffer {
  if (typeof aad !== 'string' || aad.length === 0) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'a sealed value needs its place (aad), e.g. "secret/<id>"');
  return Buffer.from(aad, 'utf8');
}

function wrap(kek: Buffer, dek: Buffer): string {
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv('aes-256-gcm', kek, nonce);
  c.setAAD(WRAP_AAD);
  const ct = Buffer.concat([c.update(dek), c.final()]);
  return Buffer.concat([nonce, ct, c.getAuthTag()]).toString('base64');
}

/** The DEK, or undefined when `kek` does not open `wrapped` (wrong key, or altered). */
function unwrap(kek: Buffer, wrapped: string): Buffer | undefined {
  const raw = Buffer.from(wrapped, 'base64');
  if (raw.length !== NONCE_BYTES + DATA_KEY_BYTES + TAG_BYTES) return undefined;
  const d = createDecipheriv('aes-256-gcm', kek, raw.subarray(0, NONCE_BYTES));
  d.setAAD(WRAP_AAD);
  d.setAuthTag(raw.subarray(NONCE_BYTES + DATA_KEY_BYTES));
  try {
    return Buffer.concat([d.update(raw.subarray(NONCE_BYTES, NONCE_BYTES + DATA_KEY_BYTES)), d.final()]);
  } catch {
    return undefined;
  }
}

function deriveKek(unlock: Buffer, kdf: Kdf): Buffer {
  return scryptSync(unlock, Buffer.from(kdf.salt, 'base64'), DATA_KEY_BYTES, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r + (1 << 20) });
}

function dekJson(f: DekFile): string {
  return `${JSON.stringify(f, null, 2)}\n`;
}

const isPow2 = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** dek.json, checked: its shape, and KDF costs bounded (a damaged file must not cost gigabytes). */
function readDekFile(path: string): DekFile {
  let f: unknown;
  try {
    f = JSON.parse(readFile(path).toString('utf8'));
  } catch (err) {
    if (err instanceof TsswarmError) throw err;
    throw corrupt(`${path} is damaged: it is not JSON`);
  }
  const o = f as Partial<DekFile> | null;
  if (!o || typeof o !== 'object' || o.version !== 1) throw corrupt(`${path} is damaged: version 1 expected`);
  if (typeof o.wrapped !== 'string' || Buffer.from(o.wrapped, 'base64').length !== NONCE_BYTES + DATA_KEY_BYTES + TAG_BYTES) {
    throw corrupt(`${path} is damaged: "wrapped" is not a wrapped data key`);
  }
  const k = o.kdf;
  if (k !== null) {
    const ok = !!k && typeof k === 'object' && typeof k.salt === 'string' && Buffer.from(k.salt, 'base64').length >= 16
      && isPow2(k.N) && k.N >= 2 ** 10 && k.N <= 2 ** 20 && Number.isInteger(k.r) && k.r >= 1 && k.r <= 32 && Number.isInteger(k.p) && k.p >= 1 && k.p <= 16;
    if (!ok) throw corrupt(`${path} is damaged: "kdf" is not { salt, N, r, p } within bounds`);
  }
  return { version: 1, wrapped: o.wrapped, kdf: k ? { salt: k.salt, N: k.N, r: k.r, p: k.p } : null };
}

function readFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new TsswarmError(ErrorCodes.DATA_DIR, `cannot read ${path}: ${(err as Error).message}`);
  }
}

/** `<dataDir>` and `<dataDir>/keys`, made if missing, and the keys dir private (0700) whatever the umask. */
function ensureDir(dataDir: string, dir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  } catch (err) {
    throw new TsswarmError(ErrorCodes.DATA_DIR, `cannot make ${dir}: ${(err as Error).message}`);
  }
}

const TMP = '.tmp-';

/** Replace `path` with `data`: a temporary file (0600) written and fsynced, renamed over it, the directory fsynced. */
function writeAtomic(dir: string, path: string, data: string | Buffer): void {
  removeLeftovers(dir);
  const tmp = `${path}${TMP}${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      fchmodSync(fd, 0o600); // whatever the umask
      const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    fsyncDir(dir);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new TsswarmError(ErrorCodes.DATA_DIR, `cannot write ${path}: ${(err as Error).message}`);
  }
}

/** Temporary files of a write that crashed before its rename: never read, removed by the next write. */
function removeLeftovers(dir: string): void {
  for (const name of readdirSync(dir)) if (name.includes(TMP)) rmSync(join(dir, name), { force: true });
}

function removeFiles(dir: string, paths: string[]): void {
  let removed = false;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    rmSync(p, { force: true });
    removed = true;
  }
  if (removed) fsyncDir(dir);
}
