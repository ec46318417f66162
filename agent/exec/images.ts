// Images from the cluster (docs/images.md): a node whose engine lacks a task's image fetches
// it from a node that has it, through the leader, over the session's mutual-TLS connection; no
// registry is needed. Both ends live here:
//
// - receiving (fetch): say which chain IDs this engine holds (every prefix of every image's
//   layer list), stream what arrives into `docker load`, and try another source when one fails.
//   Concurrent tasks needing one image share one fetch; they show "fetching image X from node Y".
// - sending (ImageQuery, ImageSend): say whether this engine holds an image; stream its
//   `docker save` without the layers whose chain the receiver holds (common/images/stream.ts):
//   each entry goes as soon as the save has written it to a spool file (layers are known by the
//   sha256 of their content, before the manifest comes), shared by concurrent sends of the image.
//
// Bytes are counted at both ends and logged at info ('image fetched', 'image sent').

import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import { heldChains, isImageId, normalizeRef } from '../../common/images/archive.js';
import { GrowingArchive, shipGrowing, type StreamPlan } from '../../common/images/stream.js';
import type { ImageChunk, ImageChunk__Output } from '../../proto/gen/tsswarm/dispatcher/v1/ImageChunk.js';
import type { ImageFetchRequest } from '../../proto/gen/tsswarm/dispatcher/v1/ImageFetchRequest.js';
import { AgentErrorCodes, isEngineUnavailable } from '../errors.js';
import { engineMessage, statusCode } from './container.js';
import { PrepareError } from './resources.js';

/** A FetchImage call as the agent sees it (grpc-js's client readable stream). */
export interface FetchStream {
  on(ev: 'data', fn: (c: ImageChunk__Output) => void): unknown;
  on(ev: 'end', fn: () => void): unknown;
  on(ev: 'error', fn: (e: Error & { code?: number; details?: string }) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  cancel(): void;
}

/** A PushImage call (grpc-js's client writable stream). */
export interface PushStream {
  write(c: ImageChunk): boolean;
  end(): void;
  once(ev: 'drain' | 'error' | 'close', fn: () => void): unknown;
  on(ev: 'error', fn: (e: Error) => void): unknown;
}

/** What the session gives: calls on the manager it is established with. */
export interface ImageWire {
  /** Undefined while there is no session. */
  fetchImage(req: ImageFetchRequest): FetchStream | undefined;
}

/** The answer to ImageQuery / ImageReceive (proto ImageHave without its id). */
export interface ImageAnswer { has: boolean; image_id: string; error: string }

/** How many sources a fetch tries before it gives up. */
export const MAX_SOURCES = 3;
/** gRPC status codes after which asking again cannot help. */
const FINAL_CODES = new Set([3 /* INVALID_ARGUMENT */, 5 /* NOT_FOUND */, 7 /* PERMISSION_DENIED */, 9 /* FAILED_PRECONDITION */, 16 /* UNAUTHENTICATED */, 12 /* UNIMPLEMENTED */]);

interface Fetched {
  ok: boolean; error?: string; code?: number; source?: { node_id: string; hostname: string }; bytes: number; plan?: ImageChunk__Output['plan'];
  /** The image's ID as the source said it; the reference the engine holds it by once loaded. */
  imageId?: string;
  heldAs?: string;
  /** When each stage ended (Date.now()): the source named, the first and the last byte in, the engine's load done. */
  at: { source?: number; firstByte?: number; lastByte?: number; loaded?: number };
}

interface Spool { dir: string; fh?: FileHandle; saved?: Readable; archive?: GrowingArchive; ready: Promise<void>; users: number }

export class ImageShipper {
  private wire?: ImageWire;
  private readonly fetches = new Map<string, Promise<string>>();
  private readonly listeners = new Map<string, Set<(message: string) => void>>();
  private readonly current = new Map<string, string>();
  private readonly spools = new Map<string, Spool>();

  constructor(
    private readonly docker: Dockerode,
    private readonly log: Logger,
    private readonly opts: { spoolDir?: string; chunkBytes?: number } = {},
  ) {}

  setWire(wire: ImageWire): void { this.wire = wire; }

  /** Status messages while `image` is being fetched (the tasks waiting for it show them). */
  watch(image: string, listener: (message: string) => void): () => void {
    let set = this.listeners.get(image);
    if (!set) this.listeners.set(image, (set = new Set()));
    set.add(listener);
    const cur = this.current.get(image);
    if (cur) listener(cur);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(image);
    };
  }

  private status(image: string, message: string): void {
    this.current.set(image, message);
    for (const l of this.listeners.get(image) ?? []) l(message);
  }

  /**
   * Get `image` from the cluster (`why`: what was tried before, for the error). Concurrent calls
   * for one image share one fetch. Resolves with the reference the engine holds it by: `image`,
   * or its ID when a load cannot give it that name (a `name@digest` reference: the registry
   * digest is not in the archive). Throws a PrepareError naming every source tried.
   */
  fetch(image: string, why: string): Promise<string> {
    let p = this.fetches.get(image);
    if (!p) {
      p = this.fetchOnce(image, why).finally(() => { this.fetches.delete(image); this.current.delete(image); });
      this.fetches.set(image, p);
    }
    return p;
  }

  private async fetchOnce(image: string, why: string): Promise<string> {
    const fail = (tried: string): PrepareError => new PrepareError(AgentErrorCodes.IMAGE_NOT_FOUND, `image ${image} not found (${why}; from the cluster: ${tried})`);
    const t0 = Date.now();
    const have = await this.chains();
    const tChains = Date.now();
    const exclude: string[] = [];
    const tried: string[] = [];
    for (let attempt = 0; attempt < MAX_SOURCES; attempt++) {
      const call = this.wire?.fetchImage({ ref: image, have_chains: have, exclude_nodes: exclude });
      if (!call) throw fail([...tried, 'no session with a manager'].join('; '));
      this.status(image, `fetching image ${image} from the cluster`);
      const r = await this.receive(image, call);
      if (r.ok) {
        const ms = Date.now() - t0;
        this.log.info({
          image, from: r.source?.hostname, fromNode: r.source?.node_id, bytes: r.bytes, ms,
          stages: stages(t0, tChains, r.at),
          layersSent: r.plan?.layers_sent, layersSkipped: r.plan?.layers_skipped, layerBytesSent: r.plan?.layer_bytes_sent, layerBytesSkipped: r.plan?.layer_bytes_skipped,
        }, 'image fetched');
        return r.heldAs ?? image;
      }
      tried.push(r.source ? `${r.source.hostname}: ${r.error}` : String(r.error));
      if (!r.source?.node_id || (r.code !== undefined && FINAL_CODES.has(r.code))) break;
      exclude.push(r.source.node_id);
      this.log.warn({ image, from: r.source.hostname, err: r.error }, 'fetching the image failed; trying another node');
    }
    throw fail(tried.join('; '));
  }

  /** Stream a FetchImage call into `docker load`; ok once the engine holds `image`. */
  private receive(image: string, call: FetchStream, onSource?: (s: { node_id: string; hostname: string }) => void): Promise<Fetched> {
    return new Promise<Fetched>((resolve) => {
      const out: Fetched = { ok: false, bytes: 0, at: {} };
      const pass = new PassThrough({ highWaterMark: 1 << 20 });
      // A failed fetch destroys it with the reason, which the result carries (not an uncaught error).
      pass.on('error', () => undefined);
      let loading: Promise<void> | undefined;
      const startLoad = (): Promise<void> => (loading ??= this.load(pass));
      let settled = false;
      const settle = (error?: string, code?: number): void => {
        if (settled) return;
        settled = true;
        if (error) {
          out.error = error;
          out.code = code;
          pass.destroy(new Error(error));
          void (loading ?? Promise.resolve()).catch(() => undefined).then(() => resolve(out));
          return;
        }
        pass.end();
        out.at.lastByte = Date.now();
        startLoad().then(async () => {
          out.at.loaded = Date.now();
          if (await this.inspect(image)) return image;
          // A digest reference: the load restores the image and its tags, not the registry digest.
          return out.imageId && (await this.inspect(out.imageId))?.Id === out.imageId ? out.imageId : undefined;
        }).then((heldAs) => {
          if (!heldAs) { out.error = 'the engine loaded the archive but does not hold the image after it'; resolve(out); return; }
          out.ok = true;
          out.heldAs = heldAs;
          resolve(out);
        }, (err: unknown) => { out.error = `loading it failed: ${engineMessage(err)}`; resolve(out); });
      };
      call.on('data', (c) => {
        if (settled) return;
        if (c.source) {
          out.at.source ??= Date.now();
          out.source = { node_id: c.source.node_id, hostname: c.source.hostname || c.source.node_id };
          if (c.source.image_id) out.imageId = c.source.image_id;
          this.status(image, `fetching image ${image} from ${out.source.node_id ? `node ${out.source.hostname}` : out.source.hostname}`);
          onSource?.(out.source);
        }
        if (c.plan) out.plan = c.plan;
        if (c.data?.length) {
          void startLoad().catch((err: unknown) => { call.cancel(); settle(`loading it failed: ${engineMessage(err)}`); });
          out.at.firstByte ??= Date.now();
          out.bytes += c.data.length;
          if (!pass.write(c.data)) {
            call.pause();
            pass.once('drain', () => call.resume());
          }
        }
      });
      call.on('error', (e) => settle(e.details || e.message, e.code));
      call.on('end', () => settle());
    });
  }

  /** `docker load` of a stream; rejects with the engine's error. */
  private async load(input: Readable): Promise<void> {
    const res = (await this.docker.loadImage(input, { quiet: true })) as NodeJS.ReadableStream;
    let text = '';
    for await (const c of res as AsyncIterable<Buffer>) text += c.toString('utf8');
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let m: { error?: string; errorDetail?: { message?: string } };
      try { m = JSON.parse(line) as typeof m; } catch { continue; }
      if (m.error || m.errorDetail) throw new Error(m.errorDetail?.message ?? m.error);
    }
  }

  private async inspect(ref: string): Promise<{ Id: string; RootFS?: { Layers?: string[] } } | undefined> {
    try {
      return (await this.docker.getImage(ref).inspect()) as { Id: string; RootFS?: { Layers?: string[] } };
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** Every chain ID this engine holds: each prefix of each image's layer list. */
  async chains(): Promise<string[]> {
    const images = (await this.docker.listImages({ all: true })) as { Id: string }[];
    const lists: string[][] = [];
    for (let i = 0; i < images.length; i += 8) {
      const batch = await Promise.all(images.slice(i, i + 8).map((im) => this.inspect(im.Id).catch(() => undefined)));
      for (const b of batch) if (b?.RootFS?.Layers?.length) lists.push(b.RootFS.Layers);
    }
    return [...heldChains(lists)];
  }

  // -------------------------------------------------------------------------------------------
  // Sending.

  /** ImageQuery: does this engine hold `ref`? */
  async query(ref: string): Promise<ImageAnswer> {
    try {
      const info = await this.inspect(normalizeRef(ref));
      return { has: !!info, image_id: info?.Id ?? '', error: '' };
    } catch (err) {
      return { has: false, image_id: '', error: engineMessage(err) };
    }
  }

  /** ImageSend: stream `ref` without the layers of `have` into `push`. */
  async send(requestId: string, ref: string, have: string[], push: PushStream): Promise<void> {
    let cut: Error | undefined;
    push.on('error', (e) => { cut = e; });
    const t0 = Date.now();
    let bytes = 0;
    let tSpool = 0;
    let plan: StreamPlan | undefined;
    let spool: Spool | undefined;
    let info: { Id: string; RootFS?: { Layers?: string[] } } | undefined;
    try {
      info = await this.inspect(normalizeRef(ref));
      if (!info) throw new Error(`this node's engine does not hold image ${ref}`);
      spool = await this.spool(info.Id, normalizeRef(ref));
      tSpool = Date.now();
      for await (const chunk of shipGrowing(spool.archive!, info.Id, info.RootFS?.Layers ?? [], new Set(have), (p) => { plan = p; }, this.opts.chunkBytes)) {
        if (cut) throw cut;
        bytes += chunk.length;
        if (!push.write({ request_id: requestId, data: chunk })) {
          await new Promise<void>((resolve) => { push.once('drain', resolve); push.once('error', resolve); push.once('close', resolve); });
        }
      }
      if (cut) throw cut;
      const p = plan!;
      push.write({ request_id: requestId, plan: { layers_sent: p.layersSent.length, layers_skipped: p.layersSkipped.length, layer_bytes_sent: p.layerBytesSent, layer_bytes_skipped: p.layerBytesSkipped } });
      push.end();
      this.log.info({
        image: ref, imageId: info.Id, bytes, ms: Date.now() - t0, saveOpenMs: tSpool - t0, layersSent: plan?.layersSent.length, layersSkipped: plan?.layersSkipped.length,
        layerBytesSent: plan?.layerBytesSent, layerBytesSkipped: plan?.layerBytesSkipped,
      }, 'image sent');
    } catch (err) {
      const msg = cut ? `the relay ended: ${cut.message}` : engineMessage(err);
      this.log.warn({ image: ref, bytes, err: msg }, 'sending the image failed');
      if (!cut) {
        push.write({ request_id: requestId, error: isEngineUnavailable(err) ? `the engine does not answer: ${msg}` : msg });
        push.end();
      }
    } finally {
      if (spool) this.release(spool);
    }
  }

  /**
   * `docker save` of an image into a file, readable while it grows (resolves once the save has
   * begun); shared by concurrent sends of that image.
   */
  private spool(imageId: string, ref: string): Promise<Spool> {
    const key = `${imageId} ${ref}`;
    const cur = this.spools.get(key);
    if (cur) { cur.users++; return cur.ready.then(() => cur); }
    const s: Spool = { dir: '', users: 1, ready: Promise.resolve() };
    s.ready = (async () => {
      s.dir = await mkdtemp(join(this.opts.spoolDir ?? tmpdir(), 'tsswarm-ship-'));
      s.fh = await open(join(s.dir, 'image.tar'), 'w+');
      s.saved = (await this.docker.getImage(ref).get()) as unknown as Readable;
      s.archive = new GrowingArchive(s.fh, s.saved);
      // A spool whose save failed is not shared with the sends that come after.
      s.archive.done.catch(() => { if (this.spools.get(key) === s) this.spools.delete(key); });
    })();
    this.spools.set(key, s);
    s.ready.catch(() => this.release(s, true));
    return s.ready.then(() => s);
  }

  private release(s: Spool, failed = false): void {
    if (!failed && --s.users > 0) return;
    for (const [k, v] of this.spools) if (v === s) this.spools.delete(k);
    s.archive?.abort(new Error('no send needs the spool any more'));
    s.saved?.destroy();
    void (async () => {
      await s.archive?.done.catch(() => undefined);
      await s.fh?.close().catch(() => undefined);
      if (s.dir) await rm(s.dir, { recursive: true, force: true });
    })();
  }

  // -------------------------------------------------------------------------------------------
  // Uploads through the API landing here.

  /** ImageReceive: take upload `uploadId` of `ref` (an archive from the CLI) into the engine. */
  async receiveUpload(uploadId: string, ref: string): Promise<ImageAnswer> {
    try {
      const have = await this.chains();
      const call = this.wire?.fetchImage({ ref, have_chains: have, upload_id: uploadId });
      if (!call) return { has: false, image_id: '', error: 'no session with a manager' };
      const r = await this.receive(ref, call);
      if (!r.ok) return { has: false, image_id: '', error: r.error ?? 'failed' };
      const info = await this.inspect(normalizeRef(ref));
      this.log.info({ image: ref, from: 'upload', bytes: r.bytes, layersSent: r.plan?.layers_sent, layersSkipped: r.plan?.layers_skipped }, 'image fetched');
      return { has: true, image_id: info?.Id ?? '', error: '' };
    } catch (err) {
      return { has: false, image_id: '', error: engineMessage(err) };
    }
  }
}

/** A fetch's stages in ms, each from the end of the one before: the engine's chains listed, the source found, the first byte, the last, the load. */
function stages(t0: number, tChains: number, at: Fetched['at']): Record<string, number | undefined> {
  const d = (a?: number, b?: number) => (a !== undefined && b !== undefined ? a - b : undefined);
  return { chains: tChains - t0, query: d(at.source, tChains), firstByte: d(at.firstByte, at.source), transfer: d(at.lastByte, at.firstByte), loadTail: d(at.loaded, at.lastByte) };
}

/** Images worth asking a registry for: not an ID (no registry serves those). */
export const pullable = (image: string): boolean => !isImageId(image);
