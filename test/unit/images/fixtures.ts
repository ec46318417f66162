// Archives for the image tests: made with tarHeader, read back from memory.
import { tarEnd, tarHeader, tarPadding, TarError, type ReadAt } from '../../../common/images/tar.js';

/** An archive of files (and dirs / links) made with tarHeader. */
export function archive(items: { name: string; data?: Buffer | string; type?: 'file' | 'dir' | 'symlink'; linkname?: string }[]): Buffer {
  const parts: Buffer[] = [];
  for (const it of items) {
    const data = Buffer.from(it.data ?? '');
    const type = it.type ?? 'file';
    parts.push(tarHeader({ name: it.name, type, size: data.length, linkname: it.linkname }));
    if (type === 'file') parts.push(data, tarPadding(data.length));
  }
  parts.push(tarEnd());
  return Buffer.concat(parts);
}

/** Reads `b` as a file would be read; past its end is an error. */
export const bufReader = (b: Buffer): ReadAt => async (pos, len) => {
  if (pos + len > b.length) throw new TarError('short');
  return b.subarray(pos, pos + len);
};
