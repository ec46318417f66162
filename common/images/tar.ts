// A minimal tar reader and writer: what shipping images needs of the format, no more.
//
// Reading indexes an archive held in a file (a spooled `docker save`): each entry's name, type,
// size and where its content starts, so that entries can be copied out in any order. It
// understands ustar headers (name + prefix), PAX extended headers (path, linkpath, size) and
// GNU long names; sizes in base-256 as well as octal. Writing makes ustar headers, with a PAX
// header before an entry whose name does not fit.

import { open } from 'node:fs/promises';

export const BLOCK = 512;

export type TarType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';

export interface TarEntry {
  name: string;
  type: TarType;
  size: number;
  mode: number;
  mtime: number;
  linkname: string;
  /** Where the entry's content starts in the archive. */
  offset: number;
}

/** Thrown for an archive that is not a tar this reader understands (the message says where). */
export class TarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarError';
  }
}

const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;

/** A NUL-terminated (or full-width) string field. */
function str(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

/** A numeric field: octal text, or base-256 when its first byte has the high bit set. */
function num(b: Buffer, off: number, len: number): number {
  if (b[off] & 0x80) {
    let v = b[off] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i];
    return v;
  }
  const t = str(b, off, len).trim();
  if (t === '') return 0;
  if (!/^[0-7]+$/.test(t)) throw new TarError(`bad numeric field ${JSON.stringify(t)}`);
  return parseInt(t, 8);
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  return sum === num(h, 148, 8);
}

/** PAX records: "LEN key=value\n" … */
export function parsePax(b: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < b.length) {
    const sp = b.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(b.toString('ascii', i, sp), 10);
    if (!Number.isFinite(len) || len <= 0 || i + len > b.length) throw new TarError('bad PAX record');
    const rec = b.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

const TYPES: Record<string, TarType> = { '0': 'file', '\0': 'file', '7': 'file', '5': 'dir', '2': 'symlink', '1': 'hardlink' };

/** Reads `len` bytes at `pos` of an archive (a file, a buffer in tests). */
export type ReadAt = (pos: number, len: number) => Promise<Buffer>;

/** Every entry of an archive, in order; `total` is its length in bytes. */
export async function indexTar(read: ReadAt, total: number): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  for await (const e of walkTar(read, total)) out.push(e);
  return out;
}

/**
 * The entries of an archive one by one, each once its header is read (`total`: its length, or
 * Infinity for an archive still being written, whose `read` waits for the bytes).
 */
export async function* walkTar(read: ReadAt, total: number): AsyncGenerator<TarEntry> {
  let pos = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  while (pos + BLOCK <= total) {
    const h = await read(pos, BLOCK);
    if (h.every((x) => x === 0)) break; // the end (two zero blocks; one is enough to stop)
    if (!checksumOk(h)) throw new TarError(`bad header checksum at byte ${pos}`);
    const flag = String.fromCharCode(h[156]);
    let size = num(h, 124, 12);
    const body = pos + BLOCK;
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > 1 << 20) throw new TarError(`extended header of ${size} bytes at byte ${pos}`);
      const data = await read(body, size);
      if (flag === 'x') pax = parsePax(data);
      else if (flag === 'L') longName = str(data, 0, data.length);
      else if (flag === 'K') longLink = str(data, 0, data.length);
      pos = body + size + padding(size);
      continue;
    }
    const magic = h.toString('ascii', 257, 262);
    const prefix = magic === 'ustar' ? str(h, 345, 155) : '';
    let name = pax.path ?? longName ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
    if (pax.size !== undefined) size = Number(pax.size);
    const linkname = pax.linkpath ?? longLink ?? str(h, 157, 100);
    name = name.replace(/^\.\//, '');
    if (body + size > total) throw new TarError(`entry ${name} runs past the end of the archive`);
    const entry: TarEntry = { name, type: TYPES[flag] ?? 'other', size, mode: num(h, 100, 8), mtime: num(h, 136, 12), linkname, offset: body };
    pax = {};
    longName = longLink = undefined;
    pos = body + size + padding(size);
    yield entry;
  }
}

/** indexTar over a file on disk. */
export async function indexTarFile(path: string): Promise<TarEntry[]> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    return await indexTar(fileReader(fh), size);
  } finally {
    await fh.close();
  }
}

/** A ReadAt over an open file. */
export const fileReader = (fh: { read(b: Buffer, o: number, l: number, p: number): Promise<{ bytesRead: number }> }): ReadAt => async (pos, len) => {
  const b = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(b, got, len - got, pos + got);
    if (bytesRead === 0) throw new TarError(`archive ends at byte ${pos + got}, ${len - got} bytes short`);
    got += bytesRead;
  }
  return b;
};

// ---------------------------------------------------------------------------------------------
// Writing.

function writeStr(b: Buffer, off: number, len: number, s: string): void {
  const v = Buffer.from(s, 'utf8');
  if (v.length > len) throw new TarError(`field too long: ${s}`);
  v.copy(b, off);
}

function writeNum(b: Buffer, off: number, len: number, n: number): void {
  if (n < 8 ** (len - 1)) {
    writeStr(b, off, len, n.toString(8).padStart(len - 1, '0'));
    return;
  }
  // base-256, big-endian, high bit of the first byte set
  let v = n;
  for (let i = len - 1; i > 0; i--) { b[off + i] = v % 256; v = Math.floor(v / 256); }
  b[off] = 0x80;
}

const FLAGS: Record<TarType, string> = { file: '0', dir: '5', symlink: '2', hardlink: '1', other: '0' };

function ustar(name: string, type: TarType | 'pax', size: number, mode: number, mtime: number, linkname: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  writeStr(h, 0, 100, name);
  writeNum(h, 100, 8, mode & 0o7777);
  writeNum(h, 108, 8, 0);
  writeNum(h, 116, 8, 0);
  writeNum(h, 124, 12, size);
  writeNum(h, 136, 12, Math.max(0, Math.floor(mtime)));
  h[156] = (type === 'pax' ? 'x' : FLAGS[type]).charCodeAt(0);
  writeStr(h, 157, 100, linkname);
  h.write('ustar\u000000', 257, 'latin1');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  writeStr(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** The header block(s) of an entry (a PAX header first when the name or link does not fit). */
export function tarHeader(e: { name: string; type: TarType; size: number; mode?: number; mtime?: number; linkname?: string }): Buffer {
  const mode = e.mode ?? (e.type === 'dir' ? 0o755 : 0o644);
  const mtime = e.mtime ?? 0;
  const link = e.linkname ?? '';
  const long = Buffer.byteLength(e.name) > 99 || Buffer.byteLength(link) > 99;
  const main = ustar(long ? e.name.slice(0, 99).replace(/[^\x20-\x7e]/g, '_') : e.name, e.type, e.type === 'file' ? e.size : 0, mode, mtime, long ? '' : link);
  if (!long) return main;
  const pax = Buffer.from(paxRecord('path', e.name) + (link ? paxRecord('linkpath', link) : ''), 'utf8');
  return Buffer.concat([ustar('PaxHeader', 'pax', pax.length, 0o644, mtime, ''), pax, Buffer.alloc(padding(pax.length)), main]);
}

/** The zero bytes after an entry's content of `size` bytes. */
export const tarPadding = (size: number): Buffer => Buffer.alloc(padding(size));

/** The end of an archive: two zero blocks. */
export const tarEnd = (): Buffer => Buffer.alloc(2 * BLOCK);
