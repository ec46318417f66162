// Shipping an image without the layers the receiving engine already holds.
//
// A `docker save` archive holds manifest.json (per image: its config file, its tags, and its
// layer files in order), each image's config (whose rootfs.diff_ids name the layers' content)
// and one layer.tar per layer (with a VERSION and a json of the old format beside it). Docker's
// `load` (classic image store) computes each layer's chain ID and skips the layer when it holds
// that chain already, without opening its file: so a sender may leave those files out. The
// receiver says which chain IDs it holds; this module plans what to send (pure) and writes the
// smaller archive from a spooled one (any order of entries in the original is fine).
//
// Chain IDs: chain(1) = diff(1); chain(n) = sha256(chain(n-1) + " " + diff(n)).

import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { fileReader, indexTar, tarEnd, tarHeader, tarPadding, TarError, type ReadAt, type TarEntry } from './tar.js';

export const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** The chain ID of every prefix of a layer list (diff IDs, bottom first). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`);
  }
  return out;
}

/** One image of a `docker save` manifest.json. */
export interface SaveManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** An archive's manifest.json, checked: every image names a config and its layer files. */
export function parseSaveManifest(text: string): SaveManifestEntry[] {
  let v: unknown;
  try { v = JSON.parse(text); } catch { throw new TarError('manifest.json is not JSON'); }
  if (!Array.isArray(v) || v.length === 0) throw new TarError('manifest.json names no image');
  return v.map((e, i) => {
    const o = e as Record<string, unknown>;
    if (typeof o?.Config !== 'string' || !Array.isArray(o.Layers) || !o.Layers.every((l) => typeof l === 'string')) {
      throw new TarError(`manifest.json image ${i}: Config and Layers must be a file name and a list of file names`);
    }
    return { Config: o.Config, RepoTags: Array.isArray(o.RepoTags) ? o.RepoTags.filter((t): t is string => typeof t === 'string') : null, Layers: o.Layers as string[] };
  });
}

/** An image config's layer list (rootfs.diff_ids). */
export function configDiffIds(text: string, file = 'the image config'): string[] {
  let v: { rootfs?: { diff_ids?: unknown } };
  try { v = JSON.parse(text) as typeof v; } catch { throw new TarError(`${file} is not JSON`); }
  const ids = v?.rootfs?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((d) => typeof d === 'string' && DIGEST.test(d))) throw new TarError(`${file}: rootfs.diff_ids must be a list of sha256 digests`);
  return ids as string[];
}

const dirOf = (p: string): string => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const clean = (p: string): string => p.replace(/^\.\//, '').replace(/\/+$/, '');

/** What to send of an archive. */
export interface ShipPlan {
  /** The entries to copy, in the order to write them (a layer file whose original is skipped is sent in its place). */
  entries: { name: string; from: TarEntry }[];
  /** Layers the receiver lacks (their files are sent) and holds (left out), by diff ID. */
  layersSent: string[];
  layersSkipped: string[];
  /** Bytes of layer content sent, and left out. */
  layerBytesSent: number;
  layerBytesSkipped: number;
}

/**
 * Plan what to send of a `docker save` archive (its entries, manifest, and each image's diff
 * IDs by config file name) to an engine holding the chain IDs in `have`. A layer file is left
 * out when every image that lists it has its chain there; everything else of the archive
 * (manifest, configs, tags) is always sent. A layer file that is a link to a left-out file is
 * sent as a copy of that file's content.
 */
export function planShipment(entries: TarEntry[], manifest: SaveManifestEntry[], diffIdsOf: (config: string) => string[], have: ReadonlySet<string>): ShipPlan {
  const byName = new Map(entries.map((e) => [clean(e.name), e]));
  const needed = new Map<string, string>(); // layer file -> diff id
  const skippable = new Map<string, string>();
  for (const m of manifest) {
    const diffs = diffIdsOf(m.Config);
    if (diffs.length !== m.Layers.length) throw new TarError(`${m.Config} lists ${diffs.length} layers but manifest.json names ${m.Layers.length} files`);
    const chains = chainIds(diffs);
    m.Layers.forEach((file, i) => {
      const f = clean(file);
      if (!byName.has(f)) throw new TarError(`manifest.json names ${file}, which is not in the archive`);
      if (have.has(chains[i])) { if (!needed.has(f)) skippable.set(f, diffs[i]); } else { needed.set(f, diffs[i]); skippable.delete(f); }
    });
  }
  // A skipped layer's directory (VERSION, json) goes too, unless a sent layer lives there.
  const neededDirs = new Set([...needed.keys()].map(dirOf));
  const skippedDirs = new Set([...skippable.keys()].map(dirOf).filter((d) => d && !neededDirs.has(d)));
  const resolve = (e: TarEntry, seen = 0): TarEntry => {
    if ((e.type !== 'symlink' && e.type !== 'hardlink') || seen > 8) return e;
    const target = clean(e.type === 'symlink' ? joinPath(dirOf(clean(e.name)), e.linkname) : e.linkname);
    const t = byName.get(target);
    if (!t) throw new TarError(`${e.name} links to ${e.linkname}, which is not in the archive`);
    return resolve(t, seen + 1);
  };
  const out: ShipPlan['entries'] = [];
  let sentBytes = 0;
  let skippedBytes = 0;
  for (const e of entries) {
    const n = clean(e.name);
    if (skippable.has(n)) { skippedBytes += resolve(e).size; continue; }
    if (skippedDirs.has(n) || skippedDirs.has(dirOf(n))) continue;
    if (needed.has(n)) {
      const src = resolve(e);
      // A link to a file that is not sent would dangle: send the content itself.
      const keepLink = src !== e && !skippable.has(clean(src.name));
      out.push({ name: n, from: keepLink ? e : src });
      sentBytes += src.size;
      continue;
    }
    out.push({ name: e.type === 'dir' ? `${n}/` : n, from: e });
  }
  return { entries: out, layersSent: [...new Set(needed.values())], layersSkipped: [...new Set(skippable.values())], layerBytesSent: sentBytes, layerBytesSkipped: skippedBytes };
}

function joinPath(dir: string, rel: string): string {
  if (rel.startsWith('/')) return rel.slice(1);
  const parts = dir ? dir.split('/') : [];
  for (const p of rel.split('/')) {
    if (p === '..') parts.pop();
    else if (p && p !== '.') parts.push(p);
  }
  return parts.join('/');
}

/** Read an archive's manifest and configs, and plan what to send to an engine holding `have`. */
export async function planArchive(read: ReadAt, total: number, have: ReadonlySet<string>): Promise<ShipPlan & { manifest: SaveManifestEntry[] }> {
  const entries = await indexTar(read, total);
  const byName = new Map(entries.map((e) => [clean(e.name), e]));
  const text = async (name: string): Promise<string> => {
    const e = byName.get(clean(name));
    if (!e || e.type !== 'file') throw new TarError(`the archive has no ${name}`);
    if (e.size > 16 << 20) throw new TarError(`${name} is ${e.size} bytes`);
    return (await read(e.offset, e.size)).toString('utf8');
  };
  const manifest = parseSaveManifest(await text('manifest.json'));
  const diffs = new Map<string, string[]>();
  for (const m of manifest) if (!diffs.has(m.Config)) diffs.set(m.Config, configDiffIds(await text(m.Config), m.Config));
  return { ...planShipment(entries, manifest, (c) => diffs.get(c)!, have), manifest };
}

/** The planned archive, in chunks of at most `chunk` bytes: headers, contents copied from `read`, the end. */
export async function* writePlanned(plan: ShipPlan, read: ReadAt, chunk = 256 << 10): AsyncGenerator<Buffer> {
  for (const { name, from } of plan.entries) {
    const isFile = from.type === 'file';
    yield tarHeader({ name, type: from.type, size: isFile ? from.size : 0, mode: from.mode, mtime: from.mtime, linkname: from.linkname });
    if (!isFile) continue;
    for (let off = 0; off < from.size; off += chunk) yield await read(from.offset + off, Math.min(chunk, from.size - off));
    const pad = tarPadding(from.size);
    if (pad.length) yield pad;
  }
  yield tarEnd();
}

/** Plan and write what to send of a spooled archive file; `planned` is called before the first byte. */
export async function* shipFromFile(path: string, have: ReadonlySet<string>, planned?: (p: ShipPlan & { manifest: SaveManifestEntry[] }) => void, chunk?: number): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const read = fileReader(fh);
    const plan = await planArchive(read, size, have);
    planned?.(plan);
    yield* writePlanned(plan, read, chunk);
  } finally {
    await fh.close();
  }
}

/** The engine's images' layer lists → every chain ID it holds (each prefix of each list). */
export function heldChains(layerLists: Iterable<readonly string[]>): Set<string> {
  const out = new Set<string>();
  for (const l of layerLists) for (const c of chainIds(l)) out.add(c);
  return out;
}

/** A ref to fetch: an image ID (sha256:… in full) or a name with an optional tag or digest. */
export function isImageId(ref: string): boolean {
  return DIGEST.test(ref);
}

/** The form a ref is saved and asked for in: a name without a tag means :latest (as pulls do). */
export function normalizeRef(ref: string): string {
  if (isImageId(ref) || ref.includes('@')) return ref;
  return /:[^/]+$/.test(ref) ? ref : `${ref}:latest`;
}

/** A ref tsswarm will ship: bounded, printable, no spaces (what `docker save` takes). */
export function validImageRef(ref: unknown): ref is string {
  return typeof ref === 'string' && ref.length > 0 && ref.length <= 512 && /^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/.test(ref);
}
