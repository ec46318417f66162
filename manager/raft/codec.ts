// Binary helpers: CRC-32 (shared with the store), and a tiny writer/reader for the WAL and snapshot files.

export { crc32 } from '../../common/crc32.js';

export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  len = 0;
  constructor(cap = 256) {
    this.buf = new Uint8Array(cap);
    this.view = new DataView(this.buf.buffer);
  }
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
    this.view = new DataView(nb.buffer);
  }
  u8(v: number): this {
    this.ensure(1);
    this.buf[this.len++] = v;
    return this;
  }
  u32(v: number): this {
    this.ensure(4);
    this.view.setUint32(this.len, v >>> 0);
    this.len += 4;
    return this;
  }
  /** A non-negative safe integer (53 bits) as 8 bytes. */
  u64(v: number): this {
    this.ensure(8);
    this.view.setUint32(this.len, Math.floor(v / 0x100000000));
    this.view.setUint32(this.len + 4, v >>> 0);
    this.len += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.u32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }
  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }
  /** Reserves 4 bytes, returns their offset (for a length or checksum filled in later). */
  reserve32(): number {
    const at = this.len;
    this.u32(0);
    return at;
  }
  set32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0);
  }
  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
  view32(): Uint8Array {
    return this.buf;
  }
}

export class Reader {
  private view: DataView;
  constructor(
    private buf: Uint8Array,
    public pos = 0,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  u8(): number {
    return this.buf[this.pos++]!;
  }
  u32(): number {
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): number {
    const hi = this.view.getUint32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    this.pos += 8;
    return hi * 0x100000000 + lo;
  }
  bytes(): Uint8Array {
    const n = this.u32();
    const b = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}
