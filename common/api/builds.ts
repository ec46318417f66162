// API types of a build on a cluster node (`tsswarm deploy|build --builder-node NODE`, docs/images.md):
// the CLI names the node and the build's options, sends the context (a tar, .dockerignore
// applied) in base64 chunks, then reads the engine's output as it comes (NDJSON) and the
// resulting image ID. The image stays on that node; the others fetch it from there.

import { ErrorCodes, TsswarmError, type ErrorDetail } from '../errors.js';
import { validImageRef } from '../images/archive.js';
import { BUILD_URL_RE } from './validate.js';

/** What the node's engine builds (POST /v1/builds, and BuildDown.options_json to the node). */
export interface BuildOptionsWire {
  /** the service it is for (messages name it) */
  service: string;
  /** the name the image gets, and more tags */
  image: string;
  tags?: string[];
  /** the Dockerfile's path in the context */
  dockerfile: string;
  /** a git or http URL the engine fetches the context from (then no context is sent) */
  remote?: string;
  args?: Record<string, string>;
  labels?: Record<string, string>;
  target?: string;
  network?: string;
  extraHosts?: string[];
  cacheFrom?: string[];
  shmSize?: number;
  noCache?: boolean;
  pull?: boolean;
}

/** The engine's build query (POST /build, the classic builder) for these options: the CLI's local builds and a node's. */
export function buildQuery(o: BuildOptionsWire): Record<string, unknown> {
  const q: Record<string, unknown> = { t: [o.image, ...(o.tags ?? [])], dockerfile: o.dockerfile, rm: true, forcerm: true };
  if (o.remote) q.remote = o.remote;
  if (o.args && Object.keys(o.args).length) q.buildargs = o.args;
  if (o.labels && Object.keys(o.labels).length) q.labels = o.labels;
  if (o.target) q.target = o.target;
  if (o.network) q.networkmode = o.network;
  if (o.extraHosts?.length) q.extrahosts = o.extraHosts;
  if (o.cacheFrom?.length) q.cachefrom = JSON.stringify(o.cacheFrom);
  if (o.shmSize !== undefined) q.shmsize = o.shmSize;
  if (o.noCache) q.nocache = true;
  if (o.pull) q.pull = true;
  return q;
}

/** POST /v1/builds */
export interface BuildBeginRequest extends BuildOptionsWire {
  /** the node that builds: its id (or a unique prefix) or hostname */
  node: string;
}
export interface BuildBegun { id: string; node: string; hostname: string }

/** POST /v1/builds/:id/chunks: the next bytes of the context, base64 (at most BUILD_CHUNK_BYTES decoded). */
export interface BuildChunk { data: string }
export interface BuildChunkResponse { received: number }

/**
 * POST /v1/builds/:id/done: the context is complete; the answer streams NDJSON lines, each a
 * BuildStreamLine: the engine's events as it sends them, then one result.
 */
export type BuildStreamLine =
  | { event: BuildEngineEvent }
  | { result: { imageId: string } | { error: string } };

/** One event of the engine's build output (the engine's JSON, as `docker build` gets it). */
export interface BuildEngineEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

export const BUILD_CHUNK_BYTES = 4 << 20;
/** The largest context a build through the API takes (the sum of its chunks). */
export const BUILD_CONTEXT_MAX_BYTES = 512 << 20;

const MAX_LIST = 256;
const MAX_STR = 4096;

/**
 * A build request, checked field by field (the API's own check, beyond the shape): the options
 * as the node gets them. Throws TSW_ERR_INVALID_ARGUMENT naming each bad field.
 */
export function checkBuildRequest(body: unknown): BuildBeginRequest {
  const details: ErrorDetail[] = [];
  const bad = (field: string, message: string): void => { details.push({ field, message }); };
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'body: an object', [{ field: 'body', message: 'not an object' }]);
  const known = new Set(['node', 'service', 'image', 'tags', 'dockerfile', 'remote', 'args', 'labels', 'target', 'network', 'extraHosts', 'cacheFrom', 'shmSize', 'noCache', 'pull']);
  for (const k of Object.keys(b)) if (!known.has(k)) bad(`body.${k}`, 'unknown field');
  const str = (k: string, required: boolean, max = 256): string | undefined => {
    const v = b[k];
    if (v === undefined) { if (required) bad(`body.${k}`, 'required'); return undefined; }
    if (typeof v !== 'string' || v.length === 0 || v.length > max) { bad(`body.${k}`, `a string of 1 to ${max} characters`); return undefined; }
    if (/[\0\n\r]/.test(v)) { bad(`body.${k}`, 'no NUL or line breaks'); return undefined; }
    return v;
  };
  const node = str('node', true);
  const service = str('service', true);
  const image = str('image', true, 512);
  if (image !== undefined && !validImageRef(image)) bad('body.image', 'an image name[:tag]');
  const dockerfile = str('dockerfile', true, 1024);
  if (dockerfile !== undefined && (dockerfile.startsWith('/') || dockerfile.split('/').includes('..'))) bad('body.dockerfile', 'a path inside the context (not absolute, no ..)');
  const remote = str('remote', false, 2048);
  if (remote !== undefined && !BUILD_URL_RE.test(remote)) bad('body.remote', 'a git or http URL');
  const target = str('target', false);
  const network = str('network', false);
  const list = (k: string, each?: (s: string) => boolean, what = 'string'): string[] | undefined => {
    const v = b[k];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length > MAX_LIST) { bad(`body.${k}`, `a list of at most ${MAX_LIST} ${what}s`); return undefined; }
    v.forEach((s, i) => { if (typeof s !== 'string' || !s || s.length > MAX_STR || (each && !each(s))) bad(`body.${k}[${i}]`, `a ${what}`); });
    return v as string[];
  };
  const tags = list('tags', validImageRef, 'image name[:tag]');
  const extraHosts = list('extraHosts', (s) => /^[^\s:=]+[:=]\S+$/.test(s), 'host:ip');
  const cacheFrom = list('cacheFrom');
  const map = (k: string): Record<string, string> | undefined => {
    const v = b[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.keys(v).length > MAX_LIST) { bad(`body.${k}`, `an object of at most ${MAX_LIST} string values`); return undefined; }
    for (const [key, val] of Object.entries(v)) {
      if (!key || key.length > 256 || /[\0=]/.test(key)) bad(`body.${k}.${key}`, 'a name without = or NUL');
      else if (typeof val !== 'string' || val.length > MAX_STR) bad(`body.${k}.${key}`, `a string of at most ${MAX_STR} characters`);
    }
    return v as Record<string, string>;
  };
  const args = map('args');
  const labels = map('labels');
  if (b.shmSize !== undefined && (!Number.isSafeInteger(b.shmSize) || (b.shmSize as number) < 0)) bad('body.shmSize', 'a byte count');
  for (const k of ['noCache', 'pull']) if (b[k] !== undefined && typeof b[k] !== 'boolean') bad(`body.${k}`, 'true or false');
  if (details.length) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `invalid build request: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`, details);
  return {
    node: node!, service: service!, image: image!, dockerfile: dockerfile!,
    ...(tags ? { tags } : {}), ...(remote ? { remote } : {}), ...(args ? { args } : {}), ...(labels ? { labels } : {}),
    ...(target ? { target } : {}), ...(network ? { network } : {}), ...(extraHosts ? { extraHosts } : {}), ...(cacheFrom ? { cacheFrom } : {}),
    ...(b.shmSize !== undefined ? { shmSize: b.shmSize as number } : {}),
    ...(b.noCache !== undefined ? { noCache: b.noCache as boolean } : {}), ...(b.pull !== undefined ? { pull: b.pull as boolean } : {}),
  };
}
