// Images shipped between nodes, through the leader (docs/images.md): no registry needed.
//
// A node whose engine lacks a task's image calls FetchImage. The relay asks the connected
// nodes whether their engine holds it (ImageQuery on their sessions; no periodic store writes),
// picks one (rankSources), tells it to send the image without the layers the asking engine
// already holds (ImageSend), and relays what that node pushes (PushImage) to the asking one.
// Memory stays bounded end to end: a write the asking side has not taken pauses the pushing
// side's stream (HTTP/2 flow control then stops the sender). Either side going away ends the
// other's call with an error; the asking node asks again, excluding that source.
//
// The CLI is a source too: an upload through the API lands on one node (ImageReceive: that node
// calls FetchImage with the upload's id, saying which chains it holds, so the CLI leaves those
// layers out), and the others fetch from there.
//
// Nodes that fetch one image at once, holding the same chains (a service's tasks on several
// nodes), share one stream from the source: a fetch joins a relay whose source has not sent a
// byte yet, and the source's stream is copied to each (the slowest holds it back).
//
// Who may fetch what: only nodes of the cluster (the caller's certificate, checked by the
// dispatcher), and only an image that a task assigned to that node runs (mayFetch).

import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { DIGEST, validImageRef } from '../../common/images/archive.js';
import { newId } from '../../common/ids.js';
import type { TaskObj } from '../store/types.js';
import type { ImageChunk, ImageChunk__Output } from '../../proto/gen/tsswarm/dispatcher/v1/ImageChunk.js';
import type { ImageFetchRequest__Output } from '../../proto/gen/tsswarm/dispatcher/v1/ImageFetchRequest.js';
import type { ImageHave__Output } from '../../proto/gen/tsswarm/dispatcher/v1/ImageHave.js';
import type { ManagerMessage } from '../../proto/gen/tsswarm/dispatcher/v1/ManagerMessage.js';

/** How long the nodes have to say whether they hold an image. */
export const QUERY_TIMEOUT_MS = 3_000;
/** How long a chosen source (or a landing node) has to open its stream. */
export const OPEN_TIMEOUT_MS = 10_000;
/** How long an upload waits for its body, then for the landing node's load. */
export const UPLOAD_IDLE_MS = 60_000;
export const UPLOAD_LOAD_TIMEOUT_MS = 300_000;
/** Bounds on what a node may send in one request. */
export const MAX_HAVE_CHAINS = 100_000;
export const MAX_EXCLUDE = 64;

export type FetchCall = grpc.ServerWritableStream<ImageFetchRequest__Output, ImageChunk>;
export type PushCall = grpc.ServerReadableStream<ImageChunk__Output, unknown>;

/** What the relay needs of the dispatcher. */
export interface ImageRelayHost {
  log: Logger;
  /** Nodes with a session now. */
  connected(): string[];
  /** Write to a node's session; false when it has none. */
  send(nodeId: string, msg: ManagerMessage): boolean;
  hostname(nodeId: string): string;
  /** The tasks of the store (mayFetch looks at them). */
  tasks(): Iterable<TaskObj>;
  now?: () => number;
}

/** A node's answer: it holds the image (with its ID) or not. */
export interface ImageAnswer { nodeId: string; has: boolean; imageId?: string; error?: string }

/**
 * The nodes to ask for an image, best first: those that hold it, not the asking node, not one
 * that failed it already. Ties keep a stable order (by node id), so a test can predict it.
 */
export function rankSources(answers: ImageAnswer[], opts: { requester?: string; exclude?: Iterable<string> } = {}): string[] {
  const exclude = new Set(opts.exclude ?? []);
  if (opts.requester) exclude.add(opts.requester);
  return answers.filter((a) => a.has && !exclude.has(a.nodeId)).map((a) => a.nodeId).sort();
}

/**
 * May `nodeId` fetch `ref`? Only an image that a task assigned to it runs (its spec's image, or
 * the image ID it is pinned to), and only while the task is meant to run.
 */
export function mayFetch(tasks: Iterable<TaskObj>, nodeId: string, ref: string): boolean {
  for (const t of tasks) {
    if (t.nodeId !== nodeId || t.desiredState !== 'running') continue;
    const spec = t.spec as { image?: unknown; image_id?: unknown };
    if (spec.image === ref || spec.image_id === ref) return true;
  }
  return false;
}

/** A FetchImage request, checked: the message names the field. */
export function checkFetchRequest(r: ImageFetchRequest__Output): { ref: string; have: string[]; exclude: string[]; uploadId: string } | { error: string } {
  if (!validImageRef(r.ref)) return { error: 'ref: an image name[:tag], name@digest or sha256:<id> of at most 512 characters' };
  const have = r.have_chains ?? [];
  if (have.length > MAX_HAVE_CHAINS) return { error: `have_chains: at most ${MAX_HAVE_CHAINS} chain IDs` };
  if (!have.every((c) => DIGEST.test(c))) return { error: 'have_chains: each must be a sha256:<64 hex> chain ID' };
  const exclude = r.exclude_nodes ?? [];
  if (exclude.length > MAX_EXCLUDE || !exclude.every((n) => typeof n === 'string' && n.length <= 128)) return { error: `exclude_nodes: at most ${MAX_EXCLUDE} node ids` };
  const uploadId = r.upload_id ?? '';
  if (uploadId.length > 128) return { error: 'upload_id: too long' };
  return { ref: r.ref, have, exclude, uploadId };
}

const grpcError = (code: grpc.status, details: string): grpc.ServiceError =>
  Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });

interface Query { ref: string; pending: Set<string>; answers: ImageAnswer[]; done: () => void }

/** A relay in progress: the source's stream into the calls of the nodes fetching it. */
interface Relay {
  id: string;
  ref: string;
  /** The ref and the chains the fetching nodes hold: who may join. */
  key: string;
  source: string;
  imageId: string;
  /** `full`: it has not taken what it was given (its write said to wait for 'drain'). */
  targets: { call: FetchCall; requester: string; full: boolean }[];
  push?: PushCall;
  bytes: number;
  /** A byte has gone: no one may join any more. */
  started: boolean;
  opened: () => void;
  ended: boolean;
  fail: (code: grpc.status, why: string) => void;
}

/** Fetches that may share one stream: the same ref, the same chains held. */
const relayKey = (ref: string, have: string[]): string => `${ref}\n${createHash('sha256').update([...have].sort().join(',')).digest('hex')}`;

/** An upload through the API, waiting for its landing node's FetchImage, then its body. */
interface Upload {
  id: string;
  ref: string;
  nodeId: string;
  call?: FetchCall;
  have?: string[];
  onCall?: () => void;
  onResult?: (r: ImageHave__Output) => void;
  timer?: NodeJS.Timeout;
  used: boolean;
  bytes?: number;
}

export class ImageRelay {
  private readonly queries = new Map<string, Query>();
  private readonly relays = new Map<string, Relay>();
  private readonly uploads = new Map<string, Upload>();

  constructor(private readonly host: ImageRelayHost) {}

  /** Which connected nodes hold `ref` (all asked at once; a node that does not answer in time counts as not). */
  query(ref: string, skip: Iterable<string> = [], timeoutMs = QUERY_TIMEOUT_MS): Promise<ImageAnswer[]> {
    const skipped = new Set(skip);
    const nodes = this.host.connected().filter((n) => !skipped.has(n));
    if (nodes.length === 0) return Promise.resolve([]);
    const id = newId();
    return new Promise((resolve) => {
      const q: Query = { ref, pending: new Set(), answers: [], done: () => undefined };
      const timer = setTimeout(() => q.done(), timeoutMs);
      q.done = () => {
        clearTimeout(timer);
        this.queries.delete(id);
        for (const n of q.pending) q.answers.push({ nodeId: n, has: false, error: 'no answer in time' });
        q.pending.clear();
        resolve(q.answers);
      };
      this.queries.set(id, q);
      for (const n of nodes) if (this.host.send(n, { image_query: { query_id: id, ref } })) q.pending.add(n);
      if (q.pending.size === 0) q.done();
    });
  }

  /** A node's ImageHave: an answer to a query, or the outcome of an upload it received. */
  onHave(nodeId: string, m: ImageHave__Output): void {
    const q = this.queries.get(m.query_id);
    if (q) {
      if (!q.pending.delete(nodeId)) return;
      q.answers.push({ nodeId, has: !!m.has, imageId: m.image_id || undefined, error: m.error || undefined });
      if (q.pending.size === 0) q.done();
      return;
    }
    const u = this.uploads.get(m.query_id);
    if (u && u.nodeId === nodeId) u.onResult?.(m);
  }

  /** A node's session ended: it answers no query, and what it was sending or receiving is cut. */
  sessionEnded(nodeId: string): void {
    for (const q of this.queries.values()) {
      if (!q.pending.delete(nodeId)) continue;
      q.answers.push({ nodeId, has: false, error: 'session ended' });
      if (q.pending.size === 0) q.done();
    }
    for (const r of [...this.relays.values()]) if (r.source === nodeId) r.fail(grpc.status.UNAVAILABLE, `node ${this.host.hostname(nodeId)} went away while sending image ${r.ref}`);
    for (const u of [...this.uploads.values()]) if (u.nodeId === nodeId) u.onResult?.({ query_id: u.id, has: false, image_id: '', error: `node ${this.host.hostname(nodeId)} went away while receiving the upload` });
  }

  /** FetchImage from `requester` (a node of the cluster). */
  async onFetch(call: FetchCall, requester: string): Promise<void> {
    call.on('error', () => undefined);
    const req = checkFetchRequest(call.request);
    if ('error' in req) { call.emit('error', grpcError(grpc.status.INVALID_ARGUMENT, req.error)); return; }
    if (req.uploadId) { this.attachUpload(call, requester, req.uploadId, req.have); return; }
    const { ref } = req;
    if (!mayFetch(this.host.tasks(), requester, ref)) {
      this.host.log.warn({ node: requester, image: ref }, 'refused an image fetch: no task of that node runs it');
      call.emit('error', grpcError(grpc.status.PERMISSION_DENIED, `no task assigned to this node runs image ${ref}`));
      return;
    }
    const key = relayKey(ref, req.have);
    if (this.join(call, requester, key, req.exclude)) return;
    let gone = false;
    call.on('cancelled', () => { gone = true; });
    const tq = Date.now();
    const answers = await this.query(ref, [requester, ...req.exclude]);
    const queryMs = Date.now() - tq;
    if (gone) return;
    const sources = rankSources(answers, { requester, exclude: req.exclude });
    if (sources.length === 0) {
      const asked = answers.map((a) => this.host.hostname(a.nodeId)).join(', ');
      const tried = req.exclude.length ? `; failed already: ${req.exclude.map((n) => this.host.hostname(n)).join(', ')}` : '';
      call.emit('error', grpcError(grpc.status.NOT_FOUND, `no other node of the cluster holds image ${ref} (asked: ${asked || 'none connected'}${tried})`));
      return;
    }
    const source = sources[0];
    const imageId = answers.find((a) => a.nodeId === source)?.imageId ?? '';
    // Another node may have asked for the same meanwhile.
    if (this.join(call, requester, key, req.exclude)) return;
    this.relay(call, requester, source, ref, req.have, imageId, key, queryMs);
  }

  /** Join a relay of the same image to the same chains that has not started: true when joined. */
  private join(call: FetchCall, requester: string, key: string, exclude: string[]): boolean {
    for (const r of this.relays.values()) {
      if (r.key !== key || r.started || r.ended || r.source === requester || exclude.includes(r.source) || r.targets.some((t) => t.requester === requester)) continue;
      this.addTarget(r, call, requester);
      this.host.log.info({ image: r.ref, from: r.source, to: requester }, 'joined an image relay');
      return true;
    }
    return false;
  }

  private addTarget(r: Relay, call: FetchCall, requester: string): void {
    const t = { call, requester, full: false };
    r.targets.push(t);
    call.on('drain', () => { t.full = false; this.resumeWhenDrained(r); });
    call.on('cancelled', () => {
      if (r.ended || !r.targets.includes(t)) return;
      r.targets = r.targets.filter((x) => x !== t);
      // The others go on; the source is cut only when no one is left.
      if (r.targets.length === 0) r.fail(grpc.status.CANCELLED, `the node fetching image ${r.ref} went away`);
      else this.resumeWhenDrained(r);
    });
    call.write({ source: { node_id: r.source, hostname: this.host.hostname(r.source), image_id: r.imageId } });
  }

  /** Resume the source's stream once every fetching node has taken what it was given. */
  private resumeWhenDrained(r: Relay): void {
    if (r.push && !r.ended && r.targets.every((t) => !t.full)) r.push.resume();
  }

  private relay(call: FetchCall, requester: string, source: string, ref: string, have: string[], imageId: string, key: string, queryMs?: number): void {
    const id = newId();
    const open: { timer?: NodeJS.Timeout } = {};
    const r: Relay = {
      id, ref, key, source, imageId, targets: [], bytes: 0, started: false, ended: false,
      opened: () => clearTimeout(open.timer),
      fail: (code, why) => {
        if (r.ended) return;
        r.ended = true;
        clearTimeout(open.timer);
        this.relays.delete(id);
        this.host.log.warn({ image: ref, from: source, to: r.targets.map((t) => t.requester), bytes: r.bytes, err: why }, 'image relay failed');
        for (const t of r.targets) t.call.emit('error', grpcError(code, why));
        r.push?.emit('tsswarm-cut', why);
      },
    };
    this.relays.set(id, r);
    this.addTarget(r, call, requester);
    if (!this.host.send(source, { image_send: { request_id: id, ref, have_chains: have } })) {
      r.fail(grpc.status.UNAVAILABLE, `node ${this.host.hostname(source)} has no session`);
      return;
    }
    open.timer = setTimeout(() => r.fail(grpc.status.UNAVAILABLE, `node ${this.host.hostname(source)} did not start sending image ${ref} within ${OPEN_TIMEOUT_MS / 1000} s`), OPEN_TIMEOUT_MS);
    this.host.log.info({ image: ref, from: source, to: requester, haveChains: have.length, queryMs }, 'relaying an image');
  }

  /** PushImage from `pusher` (undefined: the manager's own agent, over its local socket). */
  onPush(call: PushCall, cb: grpc.sendUnaryData<unknown>, pusher: string | undefined, localNode?: string): void {
    let r: Relay | undefined;
    let done = false;
    const finish = (err?: grpc.ServiceError): void => {
      if (done) return;
      done = true;
      if (err) cb(err); else cb(null, {});
    };
    call.on('error', () => undefined);
    call.on('tsswarm-cut', (why: string) => finish(grpcError(grpc.status.CANCELLED, why)));
    call.on('data', (c: ImageChunk__Output) => {
      if (done) return;
      if (!r) {
        const found = this.relays.get(c.request_id);
        const who = pusher ?? localNode;
        if (!found || found.push || found.source !== who) { finish(grpcError(grpc.status.PERMISSION_DENIED, 'no image was asked of this node under that request id')); return; }
        r = found;
        r.push = call;
        r.opened();
      }
      const rel = r;
      if (rel.ended) { finish(grpcError(grpc.status.CANCELLED, 'the relay ended')); return; }
      if (c.error) { rel.fail(grpc.status.UNAVAILABLE, `node ${this.host.hostname(rel.source)} cannot send image ${rel.ref}: ${String(c.error).slice(0, 512)}`); finish(); return; }
      const out: ImageChunk = {};
      if (c.plan) out.plan = c.plan;
      if (c.data?.length) { out.data = c.data; rel.bytes += c.data.length; rel.started = true; }
      if (!out.plan && !out.data) return;
      // Backpressure: what a fetching node has not taken yet holds the source back.
      let full = false;
      for (const t of rel.targets) if (!t.call.write(out)) full = t.full = true;
      if (full) call.pause();
    });
    call.on('end', () => {
      if (!r) { finish(grpcError(grpc.status.INVALID_ARGUMENT, 'no chunk sent')); return; }
      const rel = r;
      if (!rel.ended) {
        rel.ended = true;
        this.relays.delete(rel.id);
        for (const t of rel.targets) t.call.end();
        this.host.log.info({ image: rel.ref, from: rel.source, to: rel.targets.map((t) => t.requester), bytes: rel.bytes }, 'image relayed');
      }
      finish();
    });
    call.on('cancelled', () => {
      if (r) r.fail(grpc.status.UNAVAILABLE, `node ${this.host.hostname(r.source)} stopped sending image ${r.ref}`);
      finish();
    });
  }

  // -------------------------------------------------------------------------------------------
  // Uploads through the API.

  /**
   * An upload of `ref` lands on `nodeId`: the node is told (ImageReceive) and answers with a
   * FetchImage saying which chains its engine holds. Resolves with the upload's id and those
   * chains (the uploader leaves their layers out).
   */
  beginUpload(ref: string, nodeId: string): Promise<{ id: string; haveChains: string[] }> {
    const id = newId();
    const u: Upload = { id, ref, nodeId, used: false };
    this.uploads.set(id, u);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.dropUpload(u, `node ${this.host.hostname(nodeId)} did not take the upload within ${OPEN_TIMEOUT_MS / 1000} s`); reject(new Error(`node ${this.host.hostname(nodeId)} did not take the upload in time`)); }, OPEN_TIMEOUT_MS);
      u.onCall = () => {
        clearTimeout(timer);
        u.timer = setTimeout(() => this.dropUpload(u, 'the upload\'s body did not come in time'), UPLOAD_IDLE_MS);
        resolve({ id, haveChains: u.have ?? [] });
      };
      if (!this.host.send(nodeId, { image_receive: { upload_id: id, ref } })) {
        clearTimeout(timer);
        this.uploads.delete(id);
        reject(new Error(`node ${this.host.hostname(nodeId)} has no session`));
      }
    });
  }

  private attachUpload(call: FetchCall, requester: string, id: string, have: string[]): void {
    const u = this.uploads.get(id);
    if (!u || u.nodeId !== requester || u.call) { call.emit('error', grpcError(grpc.status.PERMISSION_DENIED, 'no upload is waiting for this node under that id')); return; }
    u.call = call;
    u.have = have;
    // grpc-js says 'cancelled' after a call it ended too: only before the body is complete does it mean the node left.
    call.on('cancelled', () => { if (!u.used) this.dropUpload(u, 'the landing node went away'); });
    call.write({ source: { node_id: '', hostname: 'an upload through the API', image_id: '' } });
    u.onCall?.();
  }

  private dropUpload(u: Upload, why: string): void {
    if (!this.uploads.delete(u.id)) return;
    if (u.timer) clearTimeout(u.timer);
    u.call?.emit('error', grpcError(grpc.status.CANCELLED, why));
    u.onResult?.({ query_id: u.id, has: false, image_id: '', error: why });
  }

  /** The next bytes of upload `id`, relayed to its node; resolves once the node's stream takes more. */
  async uploadChunk(id: string, data: Buffer, plan?: ImageChunk['plan']): Promise<number> {
    const u = this.uploads.get(id);
    if (!u || !u.call || u.used) throw new Error(`no upload ${id} is waiting for its body`);
    if (u.timer) clearTimeout(u.timer);
    u.timer = setTimeout(() => this.dropUpload(u, 'the upload\'s body stopped coming'), UPLOAD_IDLE_MS);
    const call = u.call;
    if (plan) call.write({ plan });
    u.bytes = (u.bytes ?? 0) + data.length;
    if (data.length && !call.write({ data })) await new Promise<void>((resolve) => { call.once('drain', resolve); call.once('cancelled', resolve); });
    if (!this.uploads.has(id)) throw new Error('the landing node went away during the upload');
    return u.bytes;
  }

  /** The upload's body is complete: resolves once its node says it loaded the image (or why not). */
  async finishUpload(id: string): Promise<{ nodeId: string; bytes: number; imageId?: string; error?: string }> {
    const u = this.uploads.get(id);
    if (!u || !u.call || u.used) throw new Error(`no upload ${id} is waiting for its body`);
    u.used = true;
    if (u.timer) clearTimeout(u.timer);
    const result = new Promise<ImageHave__Output>((resolve) => {
      const timer = setTimeout(() => resolve({ query_id: id, has: false, image_id: '', error: `node ${this.host.hostname(u.nodeId)} did not say it loaded the image within ${UPLOAD_LOAD_TIMEOUT_MS / 1000} s` }), UPLOAD_LOAD_TIMEOUT_MS);
      u.onResult = (m) => { clearTimeout(timer); resolve(m); };
    });
    u.call.end();
    const r = await result;
    this.uploads.delete(id);
    const bytes = u.bytes ?? 0;
    this.host.log.info({ image: u.ref, to: u.nodeId, bytes, loaded: r.has, err: r.error || undefined }, 'image upload relayed');
    return { nodeId: u.nodeId, bytes, imageId: r.image_id || undefined, error: r.has ? undefined : (r.error || 'the node could not load the image') };
  }

  /** The whole body at once (chunks, then finish). */
  async putUpload(id: string, body: AsyncIterable<Buffer>, plan?: ImageChunk['plan']): Promise<{ nodeId: string; bytes: number; imageId?: string; error?: string }> {
    let first = true;
    for await (const chunk of body) {
      await this.uploadChunk(id, chunk, first ? plan : undefined);
      first = false;
    }
    return this.finishUpload(id);
  }
}
