import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import {
  CA_DIGEST_LENGTH, JOIN_SECRET_LENGTH, JOIN_TOKEN_LENGTH, base36, caDigestOfDer, checkJoinToken, formatJoinToken,
  hashJoinSecret, newJoinSecret, parseJoinToken, requireRole, type JoinSecrets,
} from '../../../common/token.js';
import { thrown } from './thrown.js';

const DIGEST = caDigestOfDer(Buffer.from('a CA certificate'));
const token = (secret: string, caDigest = DIGEST): string => formatJoinToken({ caDigest, secret });


/** No error may show 5 or more characters of a secret in a row. */
/**
 * A run of the secret in an error message. Runs of 8 (the most an error's snippet of a token
 * shows): shorter ones meet the message's own words by chance (a random 25-character secret
 * holds "allow" or "chara" about once in 30,000 tokens), which made this test fail now and then.
 */
function leaks(message: string, secret: string): string | undefined {
  for (let i = 0; i + 8 <= secret.length; i++) if (message.includes(secret.slice(i, i + 8))) return secret.slice(i, i + 8);
  return undefined;
}

describe('secrets and digests', () => {
  it('a secret is 25 characters of lower-case base 36, new each time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const s = newJoinSecret();
      expect(s).toMatch(/^[0-9a-z]{25}$/);
      seen.add(s);
    }
    expect(seen.size).toBe(200);
    expect(JOIN_SECRET_LENGTH).toBe(25);
  });

  it('a CA digest is the SHA-256 of the DER in 50 characters of lower-case base 36, zero-padded', () => {
    const der = Buffer.from('some DER');
    const sha = createHash('sha256').update(der).digest('hex');
    expect(caDigestOfDer(der)).toBe(BigInt(`0x${sha}`).toString(36).padStart(50, '0'));
    expect(CA_DIGEST_LENGTH).toBe(50);
    expect(base36(Buffer.alloc(32, 0xff), 50)).toMatch(/^[0-9a-z]{50}$/);
    expect(base36(Buffer.alloc(32, 0xff), 50)[0]).not.toBe('0'); // 2^256-1 needs all 50 digits
    expect(base36(Buffer.alloc(32), 50)).toBe('0'.repeat(50));
    expect(base36(Buffer.alloc(16, 0xff), 25)).toMatch(/^[0-9a-z]{25}$/);
    expect(() => base36(Buffer.alloc(33, 0xff), 50)).toThrow(RangeError);
  });

  it('hashJoinSecret is the SHA-256 of the secret, in hex; it refuses what is not a secret', () => {
    const s = newJoinSecret();
    expect(hashJoinSecret(s)).toBe(createHash('sha256').update(s).digest('hex'));
    expect(hashJoinSecret(s)).toMatch(/^[0-9a-f]{64}$/);
    expect(thrown(() => hashJoinSecret('short')).code).toBe(ErrorCodes.TOKEN_INVALID);
  });
});

describe('formatJoinToken and parseJoinToken', () => {
  it('TSWTKN-1-<digest>-<secret>, 85 characters, reads back', () => {
    const s = newJoinSecret();
    const t = token(s);
    expect(t).toBe(`TSWTKN-1-${DIGEST}-${s}`);
    expect(t).toHaveLength(85);
    expect(JOIN_TOKEN_LENGTH).toBe(85);
    expect(parseJoinToken(t)).toEqual({ version: 1, caDigest: DIGEST, secret: s });
  });

  it('ignores surrounding whitespace (a pasted newline)', () => {
    const s = newJoinSecret();
    expect(parseJoinToken(`  ${token(s)}\r\n`).secret).toBe(s);
  });

  it('formatJoinToken refuses parts of the wrong shape', () => {
    expect(thrown(() => formatJoinToken({ caDigest: 'abc', secret: newJoinSecret() })).message).toMatch(/CA digest has 3 characters, not 50/);
    expect(thrown(() => formatJoinToken({ caDigest: DIGEST, secret: 'A'.repeat(25) })).message).toMatch(/secret holds "A" at position 1/);
  });

  const s = 'abcdefghij0123456789klmno';
  const good = `TSWTKN-1-${DIGEST}-${s}`;
  const cases: Array<[string, string, RegExp]> = [
    ['empty', '', /it is empty/],
    ['blank', ' \n\t', /it is empty/],
    ['another word', 'hello', /does not start with "TSWTKN-" \(it starts "hell…"\)/],
    ['a bare secret', s, /it starts "abcd…"/],
    ['a Docker Swarm token', `SWMTKN-1-${DIGEST}-${s}`, /Docker Swarm token/],
    ['lower-case prefix', good.toLowerCase(), /upper case/],
    ['the prefix alone', 'TSWTKN-', /version after "TSWTKN-" must be a number such as 1, found ""/],
    ['TSWTKN-1--', 'TSWTKN-1--', /CA digest has 0 characters, not 50/],
    ['TSWTKN-1---', 'TSWTKN-1---', /5 "-"-separated parts, not 4/],
    ['no secret', `TSWTKN-1-${DIGEST}`, /3 "-"-separated parts, not 4/],
    ['an extra part', `${good}-x`, /5 "-"-separated parts/],
    ['version 2', good.replace('-1-', '-2-'), /version 2 is not one this tsswarm reads/],
    ['a version with a leading zero', good.replace('-1-', '-01-'), /must be a number such as 1, found "01"/],
    ['a word for a version', good.replace('-1-', '-one-'), /version .* must be a number such as 1, found "one"/],
    ['a long version', good.replace('-1-', '-12345-'), /must be a number such as 1, found "1234…"/],
    ['a short digest', good.replace(DIGEST, DIGEST.slice(1)), /CA digest has 49 characters, not 50/],
    ['an upper-case digest', good.replace(DIGEST, DIGEST.toUpperCase()), /CA digest holds "[A-Z]" at position \d+/],
    ['a long secret', `${good}p`, /secret has 26 characters, not 25/],
    ['a short secret', good.slice(0, -1), /secret has 24 characters, not 25/],
    ['a symbol in the secret', good.slice(0, -1) + '!', /secret holds "!" at position 25/],
    ['unicode in the secret', good.slice(0, -2) + 'é' + 'a', /secret holds U\+00E9 at position 24/],
    ['an emoji in the secret', good.slice(0, -3) + '😀a', /secret holds U\+1F600 at position 23/],
    ['a NUL in the secret', good.slice(0, -1) + '\u0000', /secret holds U\+0000 at position 25/],
    ['a space inside', good.slice(0, 30) + ' ' + good.slice(31), /CA digest holds U\+0020/],
    ['a control character first', '\u0007' + good, /more than the token: pass only the TSWTKN-… part/],
    ['the whole join command', `tsswarm agent --join 10.0.0.1:4242 --token ${good}`, /more than the token/],
    ['a control character and junk', '\u0007abcdefgh', /does not start with "TSWTKN-" \(it starts "\?abc…"\)/],
    ['too long', good + ' '.repeat(100), /it is 185 characters long; a token has 85/],
  ];
  for (const [name, text, msg] of cases) {
    it(`refuses ${name} with TOKEN_INVALID and says why`, () => {
      const err = thrown(() => parseJoinToken(text));
      expect(err.code).toBe(ErrorCodes.TOKEN_INVALID);
      expect(err.message).toMatch(msg);
      expect(err.message.length).toBeLessThan(400);
      expect(leaks(err.message, s)).toBeUndefined();
    });
  }

  it('refuses what is not a string', () => {
    for (const v of [undefined, null, 42, {}, ['TSWTKN']]) {
      expect(thrown(() => parseJoinToken(v as unknown as string)).message).toMatch(/not text/);
    }
  });

  it('answers a 10 MB string at once, with a short message', () => {
    const huge = `TSWTKN-1-${'a'.repeat(10 * 1024 * 1024)}`;
    const t0 = performance.now();
    const err = thrown(() => parseJoinToken(huge));
    expect(performance.now() - t0).toBeLessThan(100);
    expect(err.code).toBe(ErrorCodes.TOKEN_INVALID);
    expect(err.message).toMatch(/10485769 characters long/);
    expect(err.message.length).toBeLessThan(400);
    const t1 = performance.now();
    thrown(() => parseJoinToken('\u0000'.repeat(10 * 1024 * 1024)));
    thrown(() => parseJoinToken('-'.repeat(140)));
    expect(performance.now() - t1).toBeLessThan(100);
  });
});

describe('parseJoinToken, fuzzed', () => {
  const secretArb = fc.string({ unit: fc.constantFrom(...'0123456789abcdefghijklmnopqrstuvwxyz'), minLength: 25, maxLength: 25 });

  /** Either a valid token (which formats back to its trimmed self) or TOKEN_INVALID, bounded, not leaking `secret`. */
  function check(text: string, secret?: string): void {
    let parsed;
    try {
      parsed = parseJoinToken(text);
    } catch (err) {
      expect(err).toBeInstanceOf(TsswarmError);
      const e = err as TsswarmError;
      expect(e.code).toBe(ErrorCodes.TOKEN_INVALID);
      expect(e.message.length).toBeLessThan(400);
      // eslint-disable-next-line no-control-regex
      expect(e.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
      if (secret) expect(leaks(e.message, secret)).toBeUndefined();
      return;
    }
    expect(formatJoinToken(parsed)).toBe(text.trim());
  }

  it('arbitrary text: valid or TOKEN_INVALID, never anything else', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (t) => check(t)), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ maxLength: 120 }).map((t) => `TSWTKN-${t}`), (t) => check(t)), { numRuns: 2000 });
  });

  it('any secret makes a token that reads back', () => {
    fc.assert(fc.property(secretArb, (secret) => {
      expect(parseJoinToken(token(secret))).toEqual({ version: 1, caDigest: DIGEST, secret });
    }));
  });

  it('a token with one character changed, inserted or removed is refused or still well formed, and no error shows the secret', () => {
    const edit = fc.record({
      secret: secretArb,
      pos: fc.nat({ max: JOIN_TOKEN_LENGTH }),
      kind: fc.constantFrom('replace', 'insert', 'delete', 'truncate'),
      ch: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    });
    fc.assert(fc.property(edit, ({ secret, pos, kind, ch }) => {
      const t = token(secret);
      const mutated =
        kind === 'replace' ? t.slice(0, pos) + ch + t.slice(pos + 1)
        : kind === 'insert' ? t.slice(0, pos) + ch + t.slice(pos)
        : kind === 'delete' ? t.slice(0, pos) + t.slice(pos + 1)
        : t.slice(0, pos);
      check(mutated, secret);
    }), { numRuns: 3000 });
  });
});

describe('checkJoinToken and requireRole', () => {
  const worker = newJoinSecret();
  const manager = newJoinSecret();
  const stored: JoinSecrets = { caDigest: DIGEST, workerHash: hashJoinSecret(worker), managerHash: hashJoinSecret(manager) };

  it("a token's role is the stored hash its secret matches", () => {
    expect(checkJoinToken(token(worker), stored)).toBe('worker');
    expect(checkJoinToken(token(manager), stored)).toBe('manager');
  });

  it('requireRole: a worker token does not join a manager, nor a manager token an agent', () => {
    expect(requireRole(token(worker), 'worker', stored)).toBe('worker');
    expect(requireRole(token(manager), 'manager', stored)).toBe('manager');
    const e1 = thrown(() => requireRole(token(worker), 'manager', stored));
    expect(e1.code).toBe(ErrorCodes.TOKEN_INVALID);
    expect(e1.message).toMatch(/this token is for workers: use the manager token to join a manager/);
    const e2 = thrown(() => requireRole(token(manager), 'worker', stored));
    expect(e2.code).toBe(ErrorCodes.TOKEN_INVALID);
    expect(e2.message).toMatch(/this token is for managers: use the worker token to join an agent/);
  });

  it('rotation: a new secret makes the old tokens fail, the other role unchanged', () => {
    const next = newJoinSecret();
    const rotated = { ...stored, workerHash: hashJoinSecret(next) };
    const err = thrown(() => checkJoinToken(token(worker), rotated));
    expect(err.code).toBe(ErrorCodes.TOKEN_INVALID);
    expect(err.message).toMatch(/not a current one: the token was rotated or mistyped/);
    expect(leaks(err.message, worker)).toBeUndefined();
    expect(checkJoinToken(token(next), rotated)).toBe('worker');
    expect(checkJoinToken(token(manager), rotated)).toBe('manager');
  });

  it("refuses a token of another cluster's CA, even with a current secret", () => {
    const other = caDigestOfDer(Buffer.from('another CA'));
    const err = thrown(() => checkJoinToken(token(worker, other), stored));
    expect(err.code).toBe(ErrorCodes.TOKEN_INVALID);
    expect(err.message).toMatch(/CA digest is not this cluster's CA/);
  });

  it('a role with no stored hash (or a malformed one) admits no token', () => {
    expect(thrown(() => checkJoinToken(token(manager), { caDigest: DIGEST, workerHash: stored.workerHash })).message).toMatch(/not a current one/);
    expect(thrown(() => checkJoinToken(token(worker), { ...stored, workerHash: 'zz' })).message).toMatch(/not a current one/);
    // an all-zero hash is what a missing one compares against: it must not match either
    expect(thrown(() => checkJoinToken(token(worker), { ...stored, workerHash: undefined })).code).toBe(ErrorCodes.TOKEN_INVALID);
  });

  it('refuses to decide when both roles have the same secret', () => {
    const same = { caDigest: DIGEST, workerHash: hashJoinSecret(worker), managerHash: hashJoinSecret(worker) };
    expect(thrown(() => checkJoinToken(token(worker), same)).code).toBe(ErrorCodes.INTERNAL);
  });

  it('no text but the current tokens (give or take surrounding whitespace) is admitted, fuzzed', () => {
    const current = new Map([[token(worker), 'worker'], [token(manager), 'manager']]);
    const near = fc.tuple(fc.constantFrom(token(worker), token(manager)), fc.nat({ max: 84 }), fc.string({ unit: 'binary', maxLength: 2 }), fc.nat({ max: 2 }))
      .map(([t, pos, ins, del]) => t.slice(0, pos) + ins + t.slice(pos + del));
    fc.assert(fc.property(fc.oneof(near, fc.string({ unit: 'binary', maxLength: 100 })), (text) => {
      let role: string | undefined;
      try {
        role = checkJoinToken(text, stored);
      } catch (err) {
        expect((err as TsswarmError).code).toBe(ErrorCodes.TOKEN_INVALID);
        return;
      }
      expect(current.get(text.trim())).toBe(role);
    }), { numRuns: 3000 });
  });

  it('malformed tokens are refused before any comparison, with the parse error', () => {
    expect(thrown(() => checkJoinToken('TSWTKN-1--', stored)).message).toMatch(/CA digest has 0 characters/);
    expect(thrown(() => requireRole('x'.repeat(10_000_000), 'worker', stored)).message).toMatch(/10000000 characters long/);
  });
});
