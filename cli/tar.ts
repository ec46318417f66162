// A tar archive writer (POSIX ustar, with pax headers for long names and large sizes): what a
// build context is sent to the engine as. Entries are written one after the other as a stream
// of Buffers; a file's bytes are read while they are sent, never held whole.

import { createReadStream } from 'node:fs';

const BLOCK = 512;

export interface TarEntry {
  /** path inside the archive, `/`-separated, no leading `/` */
  name: string;
  type: 'file' | 'dir' | 'symlink';
  /** permission bits */
  mode: number;
  /** seconds since the epoch */
  mtime: number;
  /** file: its size in bytes */
  size?: number;
  /** symlink: where it points */
  linkname?: string;
  /** file: the path to read its bytes from, or the bytes themselves */
  source?: string | Buffer;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`);
}

function header(name: string, type: string, mode: number, size: number, mtime: number, linkname = ''): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid 0, gid 0: as `docker build` sends a context
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(Math.max(0, Math.floor(mtime)), 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(type, 156, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0' + '00', 257, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

const pad = (n: number): Buffer => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);

/** The header block(s) of one entry: a pax header first when a name, link or size does not fit ustar. */
export function entryHeader(e: TarEntry): Buffer {
  const size = e.type === 'file' ? (e.size ?? 0) : 0;
  const name = e.type === 'dir' && !e.name.endsWith('/') ? `${e.name}/` : e.name;
  const link = e.linkname ?? '';
  const pax: Buffer[] = [];
  if (Buffer.byteLength(name) > 100) pax.push(paxRecord('path', name));
  if (Buffer.byteLength(link) > 100) pax.push(paxRecord('linkpath', link));
  if (size > 0o77777777777) pax.push(paxRecord('size', String(size)));
  const type = e.type === 'file' ? '0' : e.type === 'dir' ? '5' : '2';
  const main = header(Buffer.byteLength(name) > 100 ? name.slice(0, 99) : name, type, e.mode, size > 0o77777777777 ? 0 : size, e.mtime, Buffer.byteLength(link) > 100 ? '' : link);
  if (pax.length === 0) return main;
  const body = Buffer.concat(pax);
  return Buffer.concat([header('PaxHeader', 'x', 0o644, body.length, e.mtime), body, pad(body.length), main]);
}

/** The archive as a stream of Buffers: each entry's header, its bytes padded to a block, then the two zero blocks that end it. */
export async function* tarStream(entries: AsyncIterable<TarEntry> | Iterable<TarEntry>): AsyncGenerator<Buffer> {
  for await (const e of entries) {
    yield entryHeader(e);
    if (e.type !== 'file') continue;
    const size = e.size ?? 0;
    if (Buffer.isBuffer(e.source)) {
      yield e.source.subarray(0, size);
      if (e.source.length < size) yield Buffer.alloc(size - e.source.length);
    } else if (e.source !== undefined && size > 0) {
      // exactly `size` bytes, even if the file changed since it was looked at
      let sent = 0;
      for await (const chunk of createReadStream(e.source, { end: size - 1 })) {
        const b = chunk as Buffer;
        yield b;
        sent += b.length;
      }
      if (sent < size) yield Buffer.alloc(size - sent);
    }
    yield pad(size);
  }
  yield Buffer.alloc(BLOCK * 2);
}
