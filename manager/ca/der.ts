// A small DER (X.690 Distinguished Encoding Rules) encoder, and the reader the certificate
// builder needs to take fields out of a certificate or a SubjectPublicKeyInfo.
//
// Only what X.509 v3 needs: definite lengths, low tag numbers (< 31), and the universal types
// INTEGER, BOOLEAN, BIT STRING, OCTET STRING, NULL, OBJECT IDENTIFIER, UTF8String,
// PrintableString, IA5String, UTCTime, GeneralizedTime, SEQUENCE and SET (the elements of a
// SET OF sorted by their encodings, as DER requires).

/** Universal tags (X.690 8.x), and the bits of the identifier octet. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30, // constructed
  SET: 0x31, // constructed
} as const;

const CONSTRUCTED = 0x20;
const CONTEXT = 0x80;

/** A DER error: input the encoder refuses, or bytes the reader cannot read. */
export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

/** The length octets: short form below 128, else 0x80|n followed by n big-endian octets. */
export function encodeLength(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new DerError(`bad length ${n}`);
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One element: identifier octet, length, contents. */
export function tlv(tag: number, contents: Uint8Array): Buffer {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) throw new DerError(`bad tag ${tag}`);
  return Buffer.concat([Buffer.from([tag]), encodeLength(contents.length), contents]);
}

export const sequence = (...items: Uint8Array[]): Buffer => tlv(Tag.SEQUENCE, Buffer.concat(items));

/** SET OF: DER sorts the elements by their encodings (X.690 11.6). */
export const setOf = (...items: Uint8Array[]): Buffer =>
  tlv(Tag.SET, Buffer.concat([...items].map((i) => Buffer.from(i)).sort(Buffer.compare)));

export const boolean = (v: boolean): Buffer => tlv(Tag.BOOLEAN, Buffer.from([v ? 0xff : 0x00]));

export const nullValue = (): Buffer => tlv(Tag.NULL, Buffer.alloc(0));

export const octetString = (b: Uint8Array): Buffer => tlv(Tag.OCTET_STRING, b);

/**
 * INTEGER, two's complement in the fewest octets (X.690 8.3.2: the first nine bits are never
 * all zeros or all ones). A Buffer is read as an unsigned big-endian magnitude.
 */
export function integer(v: bigint | number | Uint8Array): Buffer {
  if (v instanceof Uint8Array) {
    let i = 0;
    while (i < v.length - 1 && v[i] === 0) i++;
    const mag = Buffer.from(v.subarray(i));
    if (mag.length === 0) return tlv(Tag.INTEGER, Buffer.from([0]));
    return tlv(Tag.INTEGER, mag[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), mag]) : mag);
  }
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new DerError(`bad integer ${v}`);
  let n = BigInt(v);
  const bytes: number[] = [];
  // Emit low octets until what is left is pure sign extension of the last octet emitted.
  for (;;) {
    const b = Number(n & 0xffn);
    bytes.unshift(b);
    n >>= 8n; // arithmetic shift: -1 stays -1
    if ((n === 0n && (b & 0x80) === 0) || (n === -1n && (b & 0x80) !== 0)) break;
  }
  return tlv(Tag.INTEGER, Buffer.from(bytes));
}

/** BIT STRING with the count of unused bits in the last octet (0 for whole octets, e.g. keys). */
export function bitString(bytes: Uint8Array, unusedBits = 0): Buffer {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7) throw new DerError(`bad unused-bit count ${unusedBits}`);
  if (bytes.length === 0 && unusedBits !== 0) throw new DerError('an empty bit string has no unused bits');
  if (unusedBits && (bytes[bytes.length - 1]! & ((1 << unusedBits) - 1)) !== 0) throw new DerError('the unused bits of a bit string must be zero');
  return tlv(Tag.BIT_STRING, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

/**
 * A named bit list (e.g. KeyUsage): bit 0 is the most significant bit of the first octet,
 * and DER drops trailing zero bits (X.690 11.2.2), so the length depends on the highest bit set.
 */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return bitString(Buffer.alloc(0));
  for (const b of bits) if (!Number.isInteger(b) || b < 0 || b > 255) throw new DerError(`bad bit number ${b}`);
  const highest = Math.max(...bits);
  const out = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const b of bits) out[b >> 3]! |= 0x80 >> (b & 7);
  return bitString(out, 7 - (highest & 7));
}

/** OBJECT IDENTIFIER from dotted text: the first two arcs in one subidentifier, base-128 each. */
export function oid(dotted: string): Buffer {
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(dotted)) throw new DerError(`bad object identifier ${JSON.stringify(dotted.slice(0, 40))}`);
  const arcs = dotted.split('.').map((a) => BigInt(a));
  if (arcs[0]! < 2n && arcs[1]! > 39n) throw new DerError(`bad object identifier ${dotted}: the second arc is above 39`);
  const subs = [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)];
  const out: number[] = [];
  for (let s of subs) {
    const chunk = [Number(s & 0x7fn)];
    for (s >>= 7n; s > 0n; s >>= 7n) chunk.unshift(Number(s & 0x7fn) | 0x80);
    out.push(...chunk);
  }
  return tlv(Tag.OID, Buffer.from(out));
}

export const utf8String = (s: string): Buffer => tlv(Tag.UTF8_STRING, Buffer.from(s, 'utf8'));

export function printableString(s: string): Buffer {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s)) throw new DerError(`not a PrintableString: ${JSON.stringify(s.slice(0, 40))}`);
  return tlv(Tag.PRINTABLE_STRING, Buffer.from(s, 'latin1'));
}

export function ia5String(s: string): Buffer {
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(s)) throw new DerError(`not an IA5String (ASCII only): ${JSON.stringify(s.slice(0, 40))}`);
  return tlv(Tag.IA5_STRING, Buffer.from(s, 'latin1'));
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/**
 * An X.509 Time (RFC 5280 4.1.2.5): UTCTime YYMMDDHHMMSSZ for 1950–2049, GeneralizedTime
 * YYYYMMDDHHMMSSZ otherwise; always UTC, whole seconds (milliseconds are dropped).
 */
export function time(d: Date): Buffer {
  const ms = d.getTime();
  if (!Number.isFinite(ms)) throw new DerError('bad date');
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) throw new DerError(`year ${y} cannot be encoded`);
  const rest = `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y <= 2049) return tlv(Tag.UTC_TIME, Buffer.from(`${pad(y % 100)}${rest}`, 'latin1'));
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(`${pad(y, 4)}${rest}`, 'latin1'));
}

/** [n] EXPLICIT: the element wrapped in a constructed context-specific tag. */
export const explicit = (n: number, inner: Uint8Array): Buffer => tlv(CONTEXT | CONSTRUCTED | checkTagNumber(n), inner);

/**
 * [n] IMPLICIT: the element's own tag replaced by a context-specific one, keeping its
 * contents (and whether it is constructed).
 */
export function implicit(n: number, element: Uint8Array): Buffer {
  const el = readElement(element);
  if (el.end !== element.length) throw new DerError('implicit tagging takes exactly one element');
  return tlv(CONTEXT | (el.tag & CONSTRUCTED) | checkTagNumber(n), el.contents);
}

/** [n] IMPLICIT of a primitive type, from its contents octets (e.g. GeneralName's dNSName). */
export const contextPrimitive = (n: number, contents: Uint8Array): Buffer => tlv(CONTEXT | checkTagNumber(n), contents);

function checkTagNumber(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new DerError(`bad tag number ${n}`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Reading

/** One element read from a buffer: its tag, the bytes of the whole element and of its contents. */
export interface DerElement {
  tag: number;
  /** the whole element (identifier, length and contents) */
  raw: Buffer;
  contents: Buffer;
  /** offset just past the element in the buffer it was read from */
  end: number;
}

/**
 * Read the element at `offset`. Strict: a definite length in its shortest form, within the
 * buffer; no high tag numbers, no indefinite lengths.
 */
export function readElement(buf: Uint8Array, offset = 0): DerElement {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (offset + 2 > b.length) throw new DerError(`truncated element at offset ${offset}`);
  const tag = b[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`high tag numbers are not supported (offset ${offset})`);
  let len = b[offset + 1]!;
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError(`indefinite length at offset ${offset}`);
    if (n > 4) throw new DerError(`length of ${n} octets at offset ${offset} is too long`);
    if (pos + n > b.length) throw new DerError(`truncated length at offset ${offset}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[pos + i]!;
    if (b[pos] === 0 || len < 0x80) throw new DerError(`length at offset ${offset} is not in its shortest form`);
    pos += n;
  }
  const end = pos + len;
  if (end > b.length) throw new DerError(`element at offset ${offset} runs past the end (${len} octets, ${b.length - pos} left)`);
  return { tag, raw: b.subarray(offset, end), contents: b.subarray(pos, end), end };
}

/** The elements inside a constructed element's contents, in order. */
export function readChildren(contents: Uint8Array): DerElement[] {
  const out: DerElement[] = [];
  for (let off = 0; off < contents.length; ) {
    const el = readElement(contents, off);
    out.push(el);
    off = el.end;
  }
  return out;
}

/** Read one element of the given tag that fills the buffer exactly. */
export function readExactly(buf: Uint8Array, tag: number, what: string): DerElement {
  const el = readElement(buf);
  if (el.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${el.tag.toString(16)}`);
  if (el.end !== buf.length) throw new DerError(`${what}: ${buf.length - el.end} octets after the element`);
  return el;
}

/** Dotted text of an OBJECT IDENTIFIER's contents. */
export function decodeOid(contents: Uint8Array): string {
  if (contents.length === 0) throw new DerError('empty object identifier');
  const subs: bigint[] = [];
  let v = 0n;
  for (let i = 0; i < contents.length; i++) {
    const c = contents[i]!;
    if (v === 0n && c === 0x80) throw new DerError('object identifier subidentifier not in its shortest form');
    v = (v << 7n) | BigInt(c & 0x7f);
    if (!(c & 0x80)) {
      subs.push(v);
      v = 0n;
    } else if (i === contents.length - 1) {
      throw new DerError('truncated object identifier');
    }
  }
  const first = subs[0]!;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...subs.slice(1)].join('.');
}

// ---------------------------------------------------------------------------------------------
// PEM (RFC 7468)

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The DER of the first PEM block with this label. */
export function fromPem(pem: string, label: string): Buffer {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*?)-----END ${label}-----`);
  const m = re.exec(pem);
  if (!m) throw new DerError(`no "${label}" PEM block`);
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}

/** A UTCTime's or GeneralizedTime's contents as a Date (the forms `time` writes: whole seconds, Z). */
export function decodeTime(el: DerElement): Date {
  const s = el.contents.toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (el.tag === Tag.UTC_TIME && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy; // RFC 5280 4.1.2.5.1
  } else if (el.tag === Tag.GENERALIZED_TIME && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    year = Number(m[1]);
  } else {
    throw new DerError(`not a UTCTime or GeneralizedTime in whole seconds: ${JSON.stringify(s.slice(0, 20))}`);
  }
  const d = new Date(0);
  d.setUTCFullYear(year, Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), 0);
  return d;
}
