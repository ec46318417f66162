// A build context as a tar stream (the headers from common/images/tar.ts): what a build context
// is sent to the engine as. Entries are written one after the other as a stream
// of Buffers; a file's bytes are read while they are sent, never held whole.

import { createReadStream } from 'node:fs';
import { tarEnd, tarHeader, tarPadding } from '../common/images/tar.js';

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

/** The header block(s) of one entry (common/images/tar.ts writes them: ustar, PAX for long names). */
export function entryHeader(e: TarEntry): Buffer {
  const size = e.type === 'file' ? (e.size ?? 0) : 0;
  const name = e.type === 'dir' && !e.name.endsWith('/') ? `${e.name}/` : e.name;
  return tarHeader({ name, type: e.type, size, mode: e.mode, mtime: e.mtime, linkname: e.linkname });
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
    yield tarPadding(size);
  }
  yield tarEnd();
}
