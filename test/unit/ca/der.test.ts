import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as der from '../../../manager/ca/der.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The value of an INTEGER's contents, two's complement. */
function intValue(contents: Buffer): bigint {
  const u = BigInt(`0x${contents.toString('hex')}`);
  return contents[0]! & 0x80 ? u - (1n << BigInt(contents.length * 8)) : u;
}

describe('DER encoder', () => {
  it('writes lengths in the short form below 128 and the shortest long form above', () => {
    expect(hex(der.encodeLength(0))).toBe('00');
    expect(hex(der.encodeLength(127))).toBe('7f');
    expect(hex(der.encodeLength(128))).toBe('8180');
    expect(hex(der.encodeLength(255))).toBe('81ff');
    expect(hex(der.encodeLength(256))).toBe('820100');
    expect(hex(der.encodeLength(65_535))).toBe('82ffff');
    expect(hex(der.encodeLength(65_536))).toBe('83010000');
    expect(() => der.encodeLength(-1)).toThrow(der.DerError);
    expect(() => der.encodeLength(1.5)).toThrow(der.DerError);
  });

  it('writes INTEGERs in the fewest two-complement octets (X.690 8.3)', () => {
    const cases: Array<[bigint | number, string]> = [
      [0, '020100'], [1, '020101'], [127, '02017f'], [128, '02020080'], [255, '020200ff'], [256, '02020100'],
      [-1, '0201ff'], [-128, '020180'], [-129, '0202ff7f'], [-256, '0202ff00'], [2, '020102'],
      [2n ** 64n, '0209010000000000000000'],
    ];
    for (const [v, want] of cases) expect(hex(der.integer(v)), String(v)).toBe(want);
    // unsigned magnitudes, as serial numbers are given
    expect(hex(der.integer(Buffer.from([0x80, 0x01])))).toBe('0203008001');
    expect(hex(der.integer(Buffer.from([0x00, 0x00, 0x7f])))).toBe('02017f');
    expect(hex(der.integer(Buffer.alloc(0)))).toBe('020100');
    expect(hex(der.integer(Buffer.from([0, 0])))).toBe('020100');
  });

  it('any integer reads back as itself, in its minimal form', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }), (v) => {
        const el = der.readElement(der.integer(v));
        expect(el.tag).toBe(der.Tag.INTEGER);
        expect(intValue(el.contents)).toBe(v);
        if (el.contents.length > 1) {
          const nine = (el.contents[0]! << 1) | (el.contents[1]! >> 7);
          expect(nine === 0 || nine === 0x1ff).toBe(false);
        }
      }),
    );
  });

  it('writes OBJECT IDENTIFIERs in base 128 with the first two arcs joined (X.690 8.19)', () => {
    expect(hex(der.oid('1.2.840.113549'))).toBe('06062a864886f70d');
    expect(hex(der.oid('2.5.29.19'))).toBe('0603551d13');
    expect(hex(der.oid('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302');
    expect(hex(der.oid('2.999.3'))).toBe('0603883703'); // X.690's own example
    expect(hex(der.oid('0.0'))).toBe('060100');
    for (const bad of ['', '1', '3.1', '1.40', '1.2.', '1..2', '1.02', 'a.b']) expect(() => der.oid(bad), bad).toThrow(der.DerError);
  });

  it('object identifiers read back as themselves', () => {
    const arc = fc.bigInt({ min: 0n, max: 2n ** 70n });
    const dotted = fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(arc, { maxLength: 8 }), arc)
      .map(([a, b, rest, big]) => [a, a === 2 ? big : b, ...rest].join('.'));
    fc.assert(fc.property(dotted, (o) => {
      const el = der.readElement(der.oid(o));
      expect(der.decodeOid(el.contents)).toBe(o);
    }));
  });

  it('writes named bit lists without trailing zero bits (X.690 11.2.2)', () => {
    expect(hex(der.namedBits([5, 6]))).toBe('03020106'); // keyCertSign | cRLSign
    expect(hex(der.namedBits([0]))).toBe('03020780'); // digitalSignature
    expect(hex(der.namedBits([0, 2]))).toBe('030205a0'); // digitalSignature | keyEncipherment
    expect(hex(der.namedBits([8]))).toBe('0303070080');
    expect(hex(der.namedBits([]))).toBe('030100');
    expect(() => der.bitString(Buffer.from([0x01]), 1)).toThrow(/unused bits/);
  });

  it('writes UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5280 4.1.2.5), whole seconds', () => {
    const t = (iso: string): string => {
      const el = der.readElement(der.time(new Date(iso)));
      return `${el.tag === der.Tag.UTC_TIME ? 'U' : 'G'}:${el.contents.toString('latin1')}`;
    };
    expect(t('2049-12-31T23:59:59.999Z')).toBe('U:491231235959Z');
    expect(t('2050-01-01T00:00:00Z')).toBe('G:20500101000000Z');
    expect(t('1950-01-01T00:00:00Z')).toBe('U:500101000000Z');
    expect(t('1949-12-31T23:59:59Z')).toBe('G:19491231235959Z');
    expect(t('2026-03-04T05:06:07Z')).toBe('U:260304050607Z');
    expect(() => der.time(new Date(NaN))).toThrow(der.DerError);
  });

  it('times read back as themselves', () => {
    fc.assert(fc.property(fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }), (d) => {
      const whole = new Date(Math.floor(d.getTime() / 1000) * 1000);
      expect(der.decodeTime(der.readElement(der.time(d))).toISOString()).toBe(whole.toISOString());
    }));
  });

  it('sorts the elements of a SET OF by their encodings (X.690 11.6)', () => {
    const a = der.utf8String('b');
    const b = der.integer(5);
    const c = der.utf8String('a');
    expect(hex(der.setOf(a, b, c))).toBe(`31${'09'}${hex(b)}${hex(c)}${hex(a)}`);
  });

  it('leaves a non-critical BOOLEAN DEFAULT to the caller, but encodes TRUE as 0xff', () => {
    expect(hex(der.boolean(true))).toBe('0101ff');
    expect(hex(der.boolean(false))).toBe('010100');
    expect(hex(der.nullValue())).toBe('0500');
  });

  it('retags: [n] EXPLICIT wraps, [n] IMPLICIT replaces the tag and keeps constructedness', () => {
    expect(hex(der.explicit(0, der.integer(2)))).toBe('a003020102');
    expect(hex(der.implicit(0, der.octetString(Buffer.from([1, 2]))))).toBe('80020102');
    expect(hex(der.implicit(1, der.sequence(der.nullValue())))).toBe('a1020500');
    expect(hex(der.contextPrimitive(2, Buffer.from('a')))).toBe('820161');
    expect(() => der.explicit(31, Buffer.alloc(0))).toThrow(der.DerError);
  });

  it('checks string types', () => {
    expect(hex(der.printableString('Ab 1'))).toBe('130441622031');
    expect(() => der.printableString('a@b')).toThrow(der.DerError);
    expect(hex(der.ia5String('a@b'))).toBe('1603614062');
    expect(() => der.ia5String('é')).toThrow(der.DerError);
    expect(hex(der.utf8String('é'))).toBe('0c02c3a9');
  });
});

describe('DER reader', () => {
  it('reads nested elements and their offsets', () => {
    const seq = der.sequence(der.integer(1), der.sequence(der.boolean(true)), der.octetString(Buffer.alloc(200)));
    const top = der.readExactly(seq, der.Tag.SEQUENCE, 'test');
    const kids = der.readChildren(top.contents);
    expect(kids.map((k) => k.tag)).toEqual([der.Tag.INTEGER, der.Tag.SEQUENCE, der.Tag.OCTET_STRING]);
    expect(kids[2]!.contents.length).toBe(200);
    expect(Buffer.concat(kids.map((k) => k.raw)).equals(top.contents)).toBe(true);
  });

  it('refuses what is not DER: long-form lengths that fit the short form, indefinite lengths, truncation', () => {
    expect(() => der.readElement(Buffer.from('048101ff', 'hex'))).toThrow(/shortest form/);
    expect(() => der.readElement(Buffer.from('04820001ff', 'hex'))).toThrow(/shortest form/);
    expect(() => der.readElement(Buffer.from('3080', 'hex'))).toThrow(/indefinite/);
    expect(() => der.readElement(Buffer.from('0405abcd', 'hex'))).toThrow(/past the end/);
    expect(() => der.readElement(Buffer.from('04', 'hex'))).toThrow(/truncated/);
    expect(() => der.readElement(Buffer.from('1f0100', 'hex'))).toThrow(/high tag/);
    expect(() => der.readElement(Buffer.from('0485ffffffffff', 'hex'))).toThrow(/too long/);
    expect(() => der.readExactly(Buffer.from('0500' + '00', 'hex'), der.Tag.NULL, 'x')).toThrow(/after the element/);
    expect(() => der.decodeOid(Buffer.from('2a81', 'hex'))).toThrow(/truncated/);
    expect(() => der.decodeOid(Buffer.from('8001', 'hex'))).toThrow(/shortest form/);
  });

  it('never throws anything but a DerError, nor reads out of bounds, on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        const el = der.readElement(bytes);
        expect(el.end).toBeLessThanOrEqual(bytes.length);
        if (el.tag & 0x20) der.readChildren(el.contents);
      } catch (err) {
        expect(err).toBeInstanceOf(der.DerError);
      }
    }));
  });

  it('lengths of every size read back', () => {
    for (const n of [0, 1, 127, 128, 255, 256, 4095, 65_536]) {
      const el = der.readElement(der.octetString(Buffer.alloc(n, 7)));
      expect(el.contents.length).toBe(n);
    }
  });
});

describe('PEM', () => {
  it('wraps at 64 columns and reads back', () => {
    const data = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
    const pem = der.toPem('CERTIFICATE', data);
    const lines = pem.trim().split('\n');
    expect(lines[0]).toBe('-----BEGIN CERTIFICATE-----');
    expect(lines.at(-1)).toBe('-----END CERTIFICATE-----');
    expect(lines.slice(1, -1).every((l) => l.length <= 64)).toBe(true);
    expect(der.fromPem(`junk\n${pem}`, 'CERTIFICATE').equals(data)).toBe(true);
    expect(() => der.fromPem(pem, 'PRIVATE KEY')).toThrow(/no "PRIVATE KEY" PEM block/);
  });
});
