import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring, SEALED_PREFIX, keyPaths } from '../../../manager/keys/keyring.js';
import type { Sealer } from '../../../manager/keys/sealer.js';
import { ErrorCodes } from '../../../common/errors.js';
import { thrown } from '../ca/thrown.js';

const dirs: string[] = [];
const dataDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'tsswarm-keys-'));
  dirs.push(d);
  return join(d, 'data');
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const mode = (p: string): number => statSync(p).mode & 0o777;


/** Every file under `dir`, recursively. */
function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Fails if any file under `dir` holds the key: raw, hex (either case), base64 or base64url. */
function expectNotInClear(dir: string, key: Buffer): void {
  const forms = [key, Buffer.from(key.toString('hex')), Buffer.from(key.toString('hex').toUpperCase()), Buffer.from(key.toString('base64')), Buffer.from(key.toString('base64url'))];
  for (const f of files(dir)) {
    const bytes = readFileSync(f);
    for (const form of forms) expect(bytes.includes(form), `${f} holds the data key`).toBe(false);
  }
}

describe('create, exists, open', () => {
  it('writes keys/ (0700) with dek.json and kek (0600) whatever the umask and whatever was there', () => {
    const dir = dataDir();
    mkdirSync(join(dir, 'keys'), { recursive: true });
    chmodSync(join(dir, 'keys'), 0o755);
    const old = process.umask(0o000);
    let k: Keyring;
    try {
      expect(Keyring.exists(dir)).toBe(false);
      k = Keyring.create(dir);
    } finally {
      process.umask(old);
    }
    const p = keyPaths(dir);
    expect(Keyring.exists(dir)).toBe(true);
    expect(mode(p.dir)).toBe(0o700);
    expect(mode(p.dek)).toBe(0o600);
    expect(mode(p.kek)).toBe(0o600);
    expect(readdirSync(p.dir).sort()).toEqual(['dek.json', 'kek']);
    expect(readFileSync(p.kek).length).toBe(32);
    const file = JSON.parse(readFileSync(p.dek, 'utf8'));
    expect(Object.keys(file).sort()).toEqual(['kdf', 'version', 'wrapped']);
    expect(file.version).toBe(1);
    expect(file.kdf).toBeNull();
    expect(Buffer.from(file.wrapped, 'base64').length).toBe(12 + 32 + 16);
    expect(k.dataKey().length).toBe(32);
    expect(Keyring.isLocked(dir)).toBe(false);
    expect(Keyring.open(dir).dataKey().equals(k.dataKey())).toBe(true);
  });

  it('takes the data key it is given (a joining manager), and refuses one of the wrong size', () => {
    const dek = randomBytes(32);
    const dir = dataDir();
    expect(Keyring.create(dir, dek).dataKey().equals(dek)).toBe(true);
    expect(Keyring.open(dir).dataKey().equals(dek)).toBe(true);
    expect(thrown(() => Keyring.create(dataDir(), randomBytes(16))).code).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  it('never overwrites a data key', () => {
    const dir = dataDir();
    const k = Keyring.create(dir);
    const before = readFileSync(keyPaths(dir).dek);
    const err = thrown(() => Keyring.create(dir));
    expect(err.code).toBe(ErrorCodes.DATA_DIR);
    expect(err.message).toContain(keyPaths(dir).dek);
    expect(readFileSync(keyPaths(dir).dek).equals(before)).toBe(true);
    expect(Keyring.open(dir).dataKey().equals(k.dataKey())).toBe(true);
  });

  it('names what is missing or damaged', () => {
    const dir = dataDir();
    const missing = thrown(() => Keyring.open(dir));
    expect(missing.code).toBe(ErrorCodes.DATA_DIR);
    expect(missing.message).toContain(keyPaths(dir).dek);
    Keyring.create(dir);
    const p = keyPaths(dir);
    const good = readFileSync(p.dek, 'utf8');
    const damaged: Array<[string, string]> = [
      ['not JSON', '{"version":1,'],
      ['other version', JSON.stringify({ ...JSON.parse(good), version: 2 })],
      ['short wrap', JSON.stringify({ ...JSON.parse(good), wrapped: 'AAAA' })],
      ['absurd KDF', JSON.stringify({ ...JSON.parse(good), kdf: { salt: randomBytes(16).toString('base64'), N: 2 ** 30, r: 8, p: 1 } })],
      ['KDF without salt', JSON.stringify({ ...JSON.parse(good), kdf: { N: 2 ** 15, r: 8, p: 1 } })],
    ];
    for (const [what, text] of damaged) {
      writeFileSync(p.dek, text);
      const err = thrown(() => Keyring.open(dir));
      expect(err.code, what).toBe(ErrorCodes.CORRUPT);
      expect(err.message, what).toContain(p.dek);
      expect(thrown(() => Keyring.isLocked(dir)).code, what).toBe(ErrorCodes.CORRUPT);
    }
    writeFileSync(p.dek, good);
    const kek = readFileSync(p.kek);
    writeFileSync(p.kek, randomBytes(32));
    const wrongKek = thrown(() => Keyring.open(dir));
    expect(wrongKek.code).toBe(ErrorCodes.CORRUPT);
    expect(wrongKek.message).toContain(p.kek);
    rmSync(p.kek);
    const noKek = thrown(() => Keyring.open(dir));
    expect(noKek.code).toBe(ErrorCodes.CORRUPT);
    expect(noKek.message).toContain(p.kek);
    writeFileSync(p.kek, kek);
    Keyring.open(dir);
  });
});

describe('seal and open', () => {
  const k: Sealer = Keyring.create(dataDir());

  it('round-trips any bytes, with a fresh nonce each time', () => {
    for (const plain of [Buffer.alloc(0), Buffer.from('hunter2'), randomBytes(100_000)]) {
      const s = k.seal(plain, 'secret/abc');
      expect(s.startsWith(SEALED_PREFIX)).toBe(true);
      expect(s).toMatch(/^tsk1:[A-Za-z0-9+/]+=*$/);
      expect(k.open(s, 'secret/abc').equals(plain)).toBe(true);
    }
    expect(k.seal(Buffer.from('x'), 'ca-key')).not.toBe(k.seal(Buffer.from('x'), 'ca-key'));
  });

  it('opens only for the place it was sealed for', () => {
    const s = k.seal(Buffer.from('the CA key'), 'ca-key');
    const err = thrown(() => k.open(s, 'node-key'));
    expect(err.code).toBe(ErrorCodes.CORRUPT);
    expect(err.message).toContain('"node-key"');
    expect(err.message).not.toContain('the CA key');
    expect(k.open(s, 'ca-key').toString()).toBe('the CA key');
  });

  it('refuses any change: nonce, ciphertext, tag, truncation, another format, another cluster', () => {
    const s = k.seal(Buffer.from('a secret value'), 'secret/1');
    const raw = Buffer.from(s.slice(SEALED_PREFIX.length), 'base64');
    const flip = (i: number): string => {
      const b = Buffer.from(raw);
      b[i] ^= 0x01;
      return SEALED_PREFIX + b.toString('base64');
    };
    const bad = [
      flip(0), flip(11), flip(12), flip(raw.length - 17), flip(raw.length - 1),
      SEALED_PREFIX + raw.subarray(0, 20).toString('base64'),
      s.slice(0, -4),
      s.replace('tsk1:', 'tsk2:'),
      raw.toString('base64'),
      Keyring.create(dataDir()).seal(Buffer.from('a secret value'), 'secret/1'),
    ];
    for (const b of bad) {
      const err = thrown(() => k.open(b, 'secret/1'));
      expect(err.code).toBe(ErrorCodes.CORRUPT);
      expect(err.message).not.toContain('a secret value');
    }
  });

  it('survives a reopen: the data key is the same', () => {
    const dir = dataDir();
    const a = Keyring.create(dir);
    const s = a.seal(Buffer.from('v'), 'secret/x');
    expect(Keyring.open(dir).open(s, 'secret/x').toString()).toBe('v');
  });
});

describe('autolock', () => {
  it('on, off, on with a new key: the data key never changes, only what opens it', () => {
    const dir = dataDir();
    const p = keyPaths(dir);
    const k = Keyring.create(dir);
    const sealed = k.seal(Buffer.from('kept'), 'secret/k');
    const key1 = Keyring.newUnlockKey();

    k.setAutolock(key1);
    expect(Keyring.isLocked(dir)).toBe(true);
    expect(existsSync(p.kek)).toBe(false);
    expect(readdirSync(p.dir)).toEqual(['dek.json']);
    expect(mode(p.dek)).toBe(0o600);
    const kdf = JSON.parse(readFileSync(p.dek, 'utf8')).kdf;
    expect(kdf).toMatchObject({ N: 2 ** 15, r: 8, p: 1 });
    expect(Buffer.from(kdf.salt, 'base64').length).toBe(16);
    const locked = thrown(() => Keyring.open(dir));
    expect(locked.code).toBe(ErrorCodes.CLUSTER_LOCKED);
    expect(locked.httpStatus).toBe(423);
    expect(locked.message).toMatch(/tsswarm manager unlock/);
    const wrong = thrown(() => Keyring.open(dir, Keyring.newUnlockKey()));
    expect(wrong.code).toBe(ErrorCodes.UNLOCK_KEY_INVALID);
    expect(wrong.httpStatus).toBe(403);
    expect(wrong.message).toBe("the unlock key does not open this manager's data key");
    const opened = Keyring.open(dir, ` ${key1}\n`);
    expect(opened.dataKey().equals(k.dataKey())).toBe(true);
    expect(opened.open(sealed, 'secret/k').toString()).toBe('kept');

    opened.setAutolock(undefined);
    expect(Keyring.isLocked(dir)).toBe(false);
    expect(readdirSync(p.dir).sort()).toEqual(['dek.json', 'kek']);
    expect(mode(p.kek)).toBe(0o600);
    expect(Keyring.open(dir).dataKey().equals(k.dataKey())).toBe(true);
    expect(Keyring.open(dir, key1).dataKey().equals(k.dataKey())).toBe(true); // a key given when none is needed is ignored

    const key2 = Keyring.newUnlockKey();
    k.setAutolock(key2);
    expect(thrown(() => Keyring.open(dir, key1)).code).toBe(ErrorCodes.UNLOCK_KEY_INVALID);
    expect(Keyring.open(dir, key2).open(sealed, 'secret/k').toString()).toBe('kept');
    // a new key: rotating it is just another setAutolock
    const key3 = Keyring.newUnlockKey();
    k.setAutolock(key3);
    expect(thrown(() => Keyring.open(dir, key2)).code).toBe(ErrorCodes.UNLOCK_KEY_INVALID);
    expect(Keyring.open(dir, key3).dataKey().equals(k.dataKey())).toBe(true);
  });

  it('never writes the data key in clear, whatever the state', () => {
    const dir = dataDir();
    const k = Keyring.create(dir);
    const dek = k.dataKey();
    expectNotInClear(dir, dek);
    k.setAutolock(Keyring.newUnlockKey());
    expectNotInClear(dir, dek);
    k.setAutolock(undefined);
    expectNotInClear(dir, dek);
    const joined = dataDir();
    Keyring.create(joined, dek);
    expectNotInClear(joined, dek);
  });
});

describe('crashes', () => {
  it('a temporary file left by a crash before its rename is ignored, then removed by the next write', () => {
    const dir = dataDir();
    const k = Keyring.create(dir);
    const p = keyPaths(dir);
    writeFileSync(`${p.dek}.tmp-999-abcd`, '{"version":1,"wrapped":"tor');
    writeFileSync(`${p.kek}.tmp-999-abcd`, randomBytes(7));
    expect(Keyring.open(dir).dataKey().equals(k.dataKey())).toBe(true);
    k.setAutolock(Keyring.newUnlockKey());
    expect(readdirSync(p.dir)).toEqual(['dek.json']);
  });

  it('autolock turned on: a crash after dek.json was rewritten but before kek was removed opens as locked', () => {
    const dir = dataDir();
    const k = Keyring.create(dir);
    const p = keyPaths(dir);
    const saved = join(dir, 'kek.saved');
    copyFileSync(p.kek, saved);
    const key = Keyring.newUnlockKey();
    k.setAutolock(key);
    renameSync(saved, p.kek); // the removal never happened
    expect(thrown(() => Keyring.open(dir)).code).toBe(ErrorCodes.CLUSTER_LOCKED);
    expect(Keyring.open(dir, key).dataKey().equals(k.dataKey())).toBe(true);
    expect(existsSync(p.kek)).toBe(false); // the stale KEK is cleaned up
  });

  it('autolock turned off: a crash after dek.json was rewritten but before kek.next became kek opens, and finishes the rename', () => {
    const dir = dataDir();
    const k = Keyring.create(dir);
    const p = keyPaths(dir);
    k.setAutolock(undefined); // dek.json under a new KEK
    renameSync(p.kek, p.kekNext); // as if the last rename had not happened…
    writeFileSync(p.kek, randomBytes(32)); // …and the old KEK were still there
    expect(Keyring.open(dir).dataKey().equals(k.dataKey())).toBe(true);
    expect(existsSync(p.kekNext)).toBe(false);
    expect(Keyring.open(dir).dataKey().equals(k.dataKey())).toBe(true);
  });

  it('autolock turned off: a crash before dek.json was rewritten opens as before', () => {
    const dir = dataDir();
    const k = Keyring.create(dir);
    const p = keyPaths(dir);
    const key = Keyring.newUnlockKey();
    k.setAutolock(key);
    writeFileSync(p.kekNext, randomBytes(32)); // the new KEK written, nothing else
    expect(Keyring.isLocked(dir)).toBe(true);
    expect(Keyring.open(dir, key).dataKey().equals(k.dataKey())).toBe(true);
  });
});

describe('unlock keys', () => {
  it('are TSWKEY-1- and 52 characters of base 36, each new', () => {
    const a = Keyring.newUnlockKey();
    expect(a).toMatch(/^TSWKEY-1-[0-9a-z]{52}$/);
    expect(Keyring.newUnlockKey()).not.toBe(a);
    expect(Keyring.parseUnlockKey(a).length).toBe(32);
    expect(Keyring.parseUnlockKey(`\n${a} `).equals(Keyring.parseUnlockKey(a))).toBe(true);
  });

  it('refuse typos clearly, never repeating the key', () => {
    const a = Keyring.newUnlockKey();
    const digits = a.slice('TSWKEY-1-'.length);
    const cases: Array<[string, RegExp]> = [
      ['', /it is empty/],
      [a.toLowerCase(), /in upper case/],
      [a.replace('TSWKEY', 'SWMKEY'), /Docker Swarm unlock key/],
      [a.replace('TSWKEY-1-', 'TSWKEY-2-'), /only version 1/],
      [`TSWTKN-1-${digits}`, /does not start with "TSWKEY-1-"/],
      [a.slice(0, -1), /51 characters after "TSWKEY-1-", not 52/],
      [`${a}0`, /53 characters/],
      [a.slice(0, 20) + 'O' + a.slice(21), /holds "O" at position 21/],
      [a.slice(0, 20) + ' ' + a.slice(21), /holds U\+0020 at position 21/],
      [`TSWKEY-1-${'z'.repeat(52)}`, /mistyped/],
      ['x'.repeat(500), /500 characters long/],
    ];
    for (const [text, msg] of cases) {
      const err = thrown(() => Keyring.parseUnlockKey(text));
      expect(err.code, text.slice(0, 12)).toBe(ErrorCodes.UNLOCK_KEY_INVALID);
      expect(err.message, text.slice(0, 12)).toMatch(msg);
      for (let i = 0; i + 5 <= digits.length; i++) expect(err.message).not.toContain(digits.slice(i, i + 5));
    }
  });

  it('a malformed key is refused before any KDF runs', () => {
    const dir = dataDir();
    const k = Keyring.create(dir);
    k.setAutolock(Keyring.newUnlockKey());
    expect(thrown(() => Keyring.open(dir, 'TSWKEY-1-short')).message).toMatch(/invalid unlock key/);
    expect(thrown(() => k.setAutolock('nope')).code).toBe(ErrorCodes.UNLOCK_KEY_INVALID);
  });
});
