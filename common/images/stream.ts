// Shipping an image while `docker save` is still writing it.
//
// The save is written to a spool file as it comes (disk, not memory, takes what the senders have
// not sent yet) and indexed as it grows: each entry once complete, each regular file with the
// sha256 of its content. A layer file's sha256 is its diff ID, so a sender knows which entries are
// layers the receiver holds without waiting for manifest.json (the last entry of a save): it sends
// every other entry as soon as it is on disk, in the archive's order, and links (whose targets
// may come later) at the end. `docker load` reads the whole archive before it looks at it, so the
// order of entries does not matter to it. Concurrent sends of one image share one spool.
//
// What may be left out is decided by chain, as for a spooled archive (archive.ts): a diff ID is
// left out when every position of the image's layer list that has it has its chain held.

import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { chainIds, type ShipPlan } from './archive.js';
import { fileReader, tarEnd, tarHeader, tarPadding, TarError, walkTar, type ReadAt, type TarEntry } from './tar.js';

/** An entry of a growing archive; regular files with the sha256 of their content. */
export interface GrownEntry extends TarEntry { digest?: string }

/** Files hashed and copied in pieces of this size. */
const PIECE = 1 << 20;

/** An archive being written to a file, indexed as it grows. */
export class GrowingArchive {
  readonly entries: GrownEntry[] = [];
  /** Bytes on disk. */
  private written = 0;
  private ended = false;
  private indexed = false;
  private failure?: Error;
  private waiters: (() => void)[] = [];
  private readonly fileRead: ReadAt;
  /** Resolves once the whole archive is on disk and indexed; rejects with why not. */
  readonly done: Promise<void>;

  constructor(private readonly fh: FileHandle, source: AsyncIterable<Buffer>) {
    this.fileRead = fileReader(fh);
    const filled = this.fill(source);
    const indexed = this.index();
    this.done = Promise.all([filled, indexed]).then(() => undefined);
    this.done.catch(() => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Waits until something changes (more bytes, an entry, the end, a failure). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private fail(err: unknown): never {
    this.failure ??= err instanceof Error ? err : new Error(String(err));
    this.wake();
    throw this.failure;
  }

  private async fill(source: AsyncIterable<Buffer>): Promise<void> {
    try {
      for await (const c of source) {
        let off = 0;
        while (off < c.length) off += (await this.fh.write(c, off, c.length - off, this.written + off)).bytesWritten;
        this.written += c.length;
        this.wake();
        if (this.failure) return;
      }
      this.ended = true;
      this.wake();
    } catch (err) {
      this.fail(err);
    }
  }

  /** `len` bytes at `pos`, once they are on disk. */
  readonly read: ReadAt = async (pos, len) => {
    while (pos + len > this.written) {
      if (this.failure) throw this.failure;
      if (this.ended) throw new TarError(`archive ends at byte ${this.written}, ${pos + len - this.written} bytes short`);
      await this.changed();
    }
    return this.fileRead(pos, len);
  };

  private async index(): Promise<void> {
    try {
      for await (const e of walkTar(this.read, Infinity)) {
        const g: GrownEntry = e;
        if (e.type === 'file') {
          const h = createHash('sha256');
          for (let off = 0; off < e.size; off += PIECE) h.update(await this.read(e.offset + off, Math.min(PIECE, e.size - off)));
          g.digest = `sha256:${h.digest('hex')}`;
        }
        this.entries.push(g);
        this.wake();
      }
      this.indexed = true;
      this.wake();
    } catch (err) {
      this.fail(err);
    }
  }

  /** The entries from `from` on as they come; ends after the last. */
  async *from(from = 0): AsyncGenerator<GrownEntry> {
    let i = from;
    for (;;) {
      while (i < this.entries.length) yield this.entries[i++];
      if (this.failure) throw this.failure;
      if (this.indexed) return;
      await this.changed();
    }
  }

  /** Stop taking the source (a failure of the sender's own). */
  abort(why: Error): void {
    this.failure ??= why;
    this.wake();
  }
}

const clean = (p: string): string => p.replace(/^\.\//, '').replace(/\/+$/, '');
const dirOf = (p: string): string => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');

function linkTarget(e: TarEntry): string {
  if (e.type === 'hardlink' || e.linkname.startsWith('/')) return clean(e.linkname.replace(/^\/+/, ''));
  const parts = dirOf(clean(e.name)).split('/').filter(Boolean);
  for (const p of e.linkname.split('/')) {
    if (p === '..') parts.pop();
    else if (p && p !== '.') parts.push(p);
  }
  return parts.join('/');
}

/** What a streamed send left out and sent (ShipPlan without its entries). */
export type StreamPlan = Omit<ShipPlan, 'entries'>;

/**
 * What to send of a growing `docker save` of the image whose layer list is `diffIds` (and whose
 * ID is `imageId`), to an engine holding the chains in `have`: chunks of at most `chunk` bytes,
 * as soon as each entry is on disk. `planned` gets the plan after the last byte. Throws when the
 * archive turns out not to hold that image (its config is not in it), so that a receiver never
 * takes another image for it.
 */
export async function* shipGrowing(archive: GrowingArchive, imageId: string, diffIds: readonly string[], have: ReadonlySet<string>, planned?: (p: StreamPlan) => void, chunk = 256 << 10): AsyncGenerator<Buffer> {
  const chains = chainIds(diffIds);
  const needed = new Set<string>();
  for (let i = 0; i < diffIds.length; i++) if (!have.has(chains[i])) needed.add(diffIds[i]);
  const skippable = new Set(diffIds.filter((d) => !needed.has(d)));
  const plan: StreamPlan = { layersSent: [], layersSkipped: [], layerBytesSent: 0, layerBytesSkipped: 0 };
  const skippedNames = new Set<string>();
  const links: GrownEntry[] = [];
  const hex = imageId.replace(/^sha256:/, '');
  let sawConfig = false;
  const copy = async function* (name: string, e: GrownEntry): AsyncGenerator<Buffer> {
    const isFile = e.type === 'file';
    yield tarHeader({ name, type: e.type, size: isFile ? e.size : 0, mode: e.mode, mtime: e.mtime, linkname: e.linkname });
    if (!isFile) return;
    for (let off = 0; off < e.size; off += chunk) yield await archive.read(e.offset + off, Math.min(chunk, e.size - off));
    const pad = tarPadding(e.size);
    if (pad.length) yield pad;
  };
  for await (const e of archive.from()) {
    const name = clean(e.name);
    if (name === `${hex}.json` || name === `blobs/sha256/${hex}`) sawConfig = true;
    if (e.type === 'symlink' || e.type === 'hardlink') { links.push(e); continue; }
    if (e.type === 'file' && e.digest && skippable.has(e.digest)) {
      skippedNames.add(name);
      if (!plan.layersSkipped.includes(e.digest)) plan.layersSkipped.push(e.digest);
      plan.layerBytesSkipped += e.size;
      continue;
    }
    if (e.type === 'file' && e.digest && needed.has(e.digest)) {
      if (!plan.layersSent.includes(e.digest)) plan.layersSent.push(e.digest);
      plan.layerBytesSent += e.size;
    }
    yield* copy(e.type === 'dir' ? `${name}/` : name, e);
  }
  if (!sawConfig) throw new TarError(`the saved archive does not hold image ${imageId} (it changed while it was saved?)`);
  // A link to a file left out goes too: it is the same layer, which the receiver holds.
  for (const e of links) if (!skippedNames.has(linkTarget(e))) yield* copy(clean(e.name), e);
  yield tarEnd();
  planned?.(plan);
}
