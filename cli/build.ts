// Building the images of a stack's `build:` services, as `docker compose build` does: on the
// Docker engine the CLI sees (DOCKER_HOST, else /var/run/docker.sock), through the engine's
// build API (the classic builder: API 1.41 engines, no BuildKit session). The context folder is
// sent as a tar, .dockerignore honoured (cli/dockerignore.ts); the engine's output is shown as
// it comes, each line prefixed with the service's name. A deploy then pins each service to the
// built image's ID (ServiceSpec.image_id), so every node runs those bits and only a changed
// image rolls the tasks. The build section itself stays here: the spec sent has none.

import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { BUILD_URL_RE } from '../common/api/validate.js';
import { ErrorCodes, TsswarmError } from '../common/errors.js';
import type { BuildSpec, ServiceSpec, StackSpec } from '../common/spec.js';
import { DockerignoreError, IgnoreMatcher, parseDockerignore } from './dockerignore.js';
import { BUILD_CHUNK_BYTES, BUILD_CONTEXT_MAX_BYTES, buildQuery, type BuildBegun, type BuildChunkResponse, type BuildOptionsWire, type BuildStreamLine } from '../common/api/builds.js';
import { errorOf, type ApiClient } from './client.js';
import type { Io } from './io.js';
import { tarStream, type TarEntry } from './tar.js';
import { dockerConnection, engineErrorText } from '../common/docker-host.js';
import type { ImageLocateResponse } from '../common/api/images.js';

/** A client for the engine named by DOCKER_HOST (unix://, tcp://), else the local socket. */
export async function engineFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Dockerode> {
  const { default: Docker } = await import('dockerode');
  return new Docker(dockerConnection(env));
}

/** A service to build: its stack, its name in the stack, the image name it gets, and how. */
export interface BuildTarget {
  stack: string;
  service: string;
  image: string;
  build: BuildSpec;
}

/** The services of `stack` that have a build section (those named in `only`, when given: each must have one). */
export function buildTargets(stack: StackSpec, only: string[] = []): BuildTarget[] {
  for (const name of only) {
    const s = stack.services[name];
    if (!s) throw new TsswarmError(ErrorCodes.SERVICE_NOT_FOUND, `no service ${name} in stack ${stack.name} (or its profiles are not active)`);
    if (!s.build) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `service ${name} has no build section: its image ${s.image} is pulled, not built`);
  }
  return Object.entries(stack.services)
    .filter(([name, s]) => s.build && (only.length === 0 || only.includes(name)))
    .map(([service, s]) => ({ stack: stack.name, service, image: s.image, build: s.build! }));
}

/** The stack as a deploy sends it: each built service pinned to its image's ID, no build sections. */
export function pinImages(stack: StackSpec, ids: Record<string, string>): StackSpec {
  const services: Record<string, ServiceSpec> = {};
  for (const [name, s] of Object.entries(stack.services)) {
    const { build: _b, image_id: _i, ...rest } = s;
    services[name] = ids[name] ? { ...rest, image_id: ids[name] } : rest;
  }
  return { ...stack, services };
}

/**
 * The labels tsswarm puts on an image it builds (the names its containers carry too): a node
 * knows by them which service an image was built for, and prunes old revisions of it
 * (agent/worker/images-gc.ts); images without them are never removed. They win over
 * build.labels of the same name.
 */
export function builtImageLabels(stack: string, service: string): Record<string, string> {
  return { 'tsswarm.stack.namespace': stack, 'tsswarm.service.name': `${stack}_${service}` };
}

// ---- the context ----

/** A context as the engine gets it: the archive, and the Dockerfile's path in it. */
export interface BuildContext {
  /** undefined: the engine fetches the context itself (a git or http URL) */
  entries?: TarEntry[];
  dockerfile: string;
  remote?: string;
}

const toPosix = (p: string): string => p.split(sep).join('/');

/**
 * The files of a build's context, as tar entries (file bytes are read while sending): what
 * .dockerignore leaves, plus the Dockerfile and .dockerignore themselves, always. A Dockerfile
 * outside the context, or given inline, is added under a generated name that .dockerignore
 * then lists, so the engine reads it but a `COPY .` does not see it (as `docker build` does).
 */
export function buildContext(b: BuildSpec, service: string): BuildContext {
  const fail = (msg: string): never => { throw new TsswarmError(ErrorCodes.BUILD_FAILED, `service ${service}: ${msg}`); };
  if (BUILD_URL_RE.test(b.context)) {
    if (b.dockerfile_inline !== undefined) fail('dockerfile_inline needs a context folder, not a URL');
    return { remote: b.context, dockerfile: b.dockerfile ?? 'Dockerfile' };
  }
  const root = b.context;
  const st = statSync(root, { throwIfNoEntry: false });
  if (!st) fail(`build context ${root} does not exist`);
  if (!st!.isDirectory()) fail(`build context ${root} is not a folder`);

  // the Dockerfile: inside the context (sent as it is), or outside / inline (added)
  let dockerfile = 'Dockerfile';
  let extra: Buffer | undefined;
  if (b.dockerfile_inline !== undefined) extra = Buffer.from(b.dockerfile_inline);
  else {
    const abs = isAbsolute(b.dockerfile ?? '') ? b.dockerfile! : resolve(root, b.dockerfile ?? 'Dockerfile');
    const rel = toPosix(relative(root, abs));
    const df = statSync(abs, { throwIfNoEntry: false });
    if (!df?.isFile()) fail(`no Dockerfile at ${abs}`);
    if (rel.startsWith('../') || rel === '..' || isAbsolute(rel)) extra = readFileSync(abs);
    else dockerfile = rel;
  }
  const added = extra ? `.dockerfile.${createHash('sha256').update(extra).digest('hex').slice(0, 12)}` : undefined;
  if (added) dockerfile = added;

  let ignoreText = '';
  try {
    ignoreText = readFileSync(join(root, '.dockerignore'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') fail(`cannot read ${join(root, '.dockerignore')}: ${(e as Error).message}`);
  }
  let matcher: IgnoreMatcher;
  try {
    matcher = new IgnoreMatcher(parseDockerignore(ignoreText));
  } catch (e) {
    if (e instanceof DockerignoreError) fail(`${join(root, '.dockerignore')}: ${e.message}`);
    throw e;
  }
  const always = new Set(['.dockerignore', dockerfile]);
  const entries: TarEntry[] = [];
  const walk = (dirAbs: string, dirRel: string) => {
    for (const name of readdirSync(dirAbs).sort()) {
      const abs = join(dirAbs, name);
      const rel = dirRel ? `${dirRel}/${name}` : name;
      const ls = lstatSync(abs, { throwIfNoEntry: false });
      if (!ls) continue;
      if (rel === '.dockerignore' && added) continue; // written below, with the added Dockerfile listed
      const out = matcher.excluded(rel) && !always.has(rel);
      const mtime = Math.floor(ls.mtimeMs / 1000);
      if (ls.isDirectory()) {
        if (!out) entries.push({ name: rel, type: 'dir', mode: ls.mode, mtime });
        if (!out || matcher.mayReinclude(rel) || [...always].some((a) => a.startsWith(`${rel}/`))) walk(abs, rel);
      } else if (out) continue;
      else if (ls.isFile()) entries.push({ name: rel, type: 'file', mode: ls.mode, mtime, size: ls.size, source: abs });
      else if (ls.isSymbolicLink()) entries.push({ name: rel, type: 'symlink', mode: ls.mode, mtime, linkname: readlinkSync(abs) });
      // sockets, fifos and devices are not sent (as docker build)
    }
  };
  walk(root, '');
  if (added && extra) {
    const now = Math.floor(Date.now() / 1000);
    const ignore = Buffer.from(`${ignoreText}${ignoreText && !ignoreText.endsWith('\n') ? '\n' : ''}${added}\n`);
    entries.push({ name: '.dockerignore', type: 'file', mode: 0o644, mtime: now, size: ignore.length, source: ignore });
    entries.push({ name: added, type: 'file', mode: 0o644, mtime: now, size: extra.length, source: extra });
  }
  return { entries, dockerfile };
}

// ---- the build ----

interface BuildEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

/**
 * The engine's build output as the CLI shows it, each line prefixed `service | `, wherever the
 * build runs (this engine, or a node's); remembers the step running, for the error.
 */
class BuildOutput {
  private step = '';
  private partial = '';

  constructor(private readonly service: string, private readonly io: Io) {}

  event(ev: BuildEvent): void {
    if (ev.stream) this.say(ev.stream);
    else if (ev.status) this.say(`${ev.status}\n`);
  }

  flush(): void {
    if (this.partial) this.say('\n');
  }

  /** TSW_ERR_BUILD_FAILED naming the service and the step. */
  failed(failure: string): TsswarmError {
    const at = /^Step (\d+\/\d+) : (.*)$/.exec(this.step);
    const where = at ? ` at step ${at[1]} (${at[2]})` : '';
    return new TsswarmError(ErrorCodes.BUILD_FAILED, `build of service ${this.service} failed${where}: ${failure.trim()}`);
  }

  private say(text: string): void {
    this.partial += text;
    const lines = this.partial.split('\n');
    this.partial = lines.pop() ?? '';
    for (const l of lines) {
      const line = l.replace(/\r/g, '');
      if (/^Step \d+\/\d+ : /.test(line)) this.step = line;
      this.io.err(`${this.service} | ${line}\n`);
    }
  }
}

/** What the engine's classic builder cannot do for this build: refused before anything is sent. */
function unsupported(t: BuildTarget): string | undefined {
  if (t.build.secrets?.length) {
    return `build.secrets needs BuildKit, and tsswarm builds with the engine's classic builder, which has no build secrets (RUN --mount=type=secret); build this image with docker buildx and give it as image:, or drop build.secrets`;
  }
  if (t.build.ssh?.length) {
    return `build.ssh needs BuildKit, and tsswarm builds with the engine's classic builder, which cannot forward an SSH agent or keys; build this image with docker buildx and give it as image:, or drop build.ssh`;
  }
  return undefined;
}

export interface BuildOptions {
  /** --no-cache: every step again */
  noCache?: boolean;
  /** --pull: newer FROM images first */
  pull?: boolean;
}

/**
 * Build each target in turn (live output on `io.err`, each line prefixed `service | `);
 * returns each service's image ID. The first failure stops: TSW_ERR_BUILD_FAILED naming the
 * service and the step.
 */
export function buildImages(docker: Dockerode, targets: BuildTarget[], io: Io, opts: BuildOptions = {}): Promise<Record<string, string>> {
  return buildEach(targets, (t) => buildOne(docker, t, io, opts));
}

/** Refuse what cannot be built before anything is, then build each target in turn with `one`. */
async function buildEach(targets: BuildTarget[], one: (t: BuildTarget) => Promise<string>): Promise<Record<string, string>> {
  for (const t of targets) {
    const why = unsupported(t);
    if (why) throw new TsswarmError(ErrorCodes.BUILD_FAILED, `service ${t.service}: ${why}`);
  }
  const ids: Record<string, string> = {};
  for (const t of targets) ids[t.service] = await one(t);
  return ids;
}

async function buildOne(docker: Dockerode, t: BuildTarget, io: Io, opts: BuildOptions): Promise<string> {
  const ctx = buildContext(t.build, t.service);
  io.err(`Building ${t.service} (image ${t.image}) from ${t.build.context}\n`);
  // The same options a node's engine gets (--builder-node), hence the same build.
  const query = buildQuery(wireOptions(t, ctx, opts));
  const body = ctx.entries ? Readable.from(tarStream(ctx.entries)) : Readable.from([]);

  const out = new BuildOutput(t.service, io);
  let id: string | undefined;
  let failure: string | undefined;
  try {
    const stream = await docker.buildImage(body as unknown as NodeJS.ReadableStream, query as Dockerode.ImageBuildOptions);
    await new Promise<void>((res, rej) => {
      docker.modem.followProgress(stream, (err: Error | null) => (err ? rej(err) : res()), (ev: BuildEvent) => {
        out.event(ev);
        if (ev.aux?.ID) id = ev.aux.ID;
        if (ev.error) failure ??= ev.errorDetail?.message ?? ev.error;
      });
    });
  } catch (err) {
    failure ??= engineMessage(err);
  }
  out.flush();
  if (failure !== undefined) throw out.failed(failure);
  // the name now points at the new image: its ID is what the spec pins
  const info = await docker.getImage(t.image).inspect().catch((err: unknown) => {
    throw new TsswarmError(ErrorCodes.BUILD_FAILED, `service ${t.service}: the build ended but image ${t.image} is not on the engine (${engineMessage(err)})`);
  });
  if (id && id !== info.Id) throw new TsswarmError(ErrorCodes.BUILD_FAILED, `service ${t.service}: image ${t.image} is ${info.Id}, not the ${id} just built (built again meanwhile?)`);
  io.err(`Built ${t.service}: ${t.image} ${info.Id.slice(7, 19)}\n`);
  return info.Id;
}

/**
 * `deploy --no-build` (and --dry-run): the IDs of the images built last, by name. A missing
 * image is an error (`required`), or left unpinned.
 */
export async function builtImageIds(docker: Dockerode, targets: BuildTarget[], required: boolean): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (const t of targets) {
    try {
      ids[t.service] = (await docker.getImage(t.image).inspect()).Id;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw new TsswarmError(ErrorCodes.UNAVAILABLE, `the Docker engine cannot be asked for image ${t.image}: ${engineMessage(err)}`);
      if (required) {
        throw new TsswarmError(ErrorCodes.IMAGE_NOT_BUILT, `image ${t.image} of service ${t.service} is not built on this engine: run tsswarm build ${t.service} (or deploy without --no-build)`);
      }
    }
  }
  return ids;
}

function engineMessage(err: unknown): string {
  const code = (err as { code?: string })?.code;
  if (code === 'ENOENT' || code === 'ECONNREFUSED') return `no Docker engine at ${process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'} (${code}); set DOCKER_HOST`;
  return engineErrorText(err);
}

/**
 * What a deploy sends: with builds (default), each `build:` service built now and pinned; with
 * `noBuild`, pinned to what was built last (it must exist); `dryRun` builds nothing and pins
 * what exists. A stack without builds goes as it is, and no engine is asked.
 */
export async function imagesForDeploy(stack: StackSpec, io: Io, opts: { noBuild?: boolean; dryRun?: boolean; builder?: RemoteBuilder } = {}): Promise<StackSpec> {
  const targets = buildTargets(stack);
  if (targets.length === 0) return pinImages(stack, {});
  if (opts.builder) {
    const { client, node } = opts.builder;
    if (opts.noBuild || opts.dryRun) return pinImages(stack, await builtImageIdsOn(client, node, targets, io, !opts.dryRun));
    return pinImages(stack, await buildImagesOn(client, node, targets, io));
  }
  const docker = await engineFromEnv();
  try {
    await docker.ping();
  } catch (err) {
    if (opts.dryRun) {
      io.err(`warning: the Docker engine cannot be reached (${engineMessage(err)}): the plan shows ${targets.map((t) => t.service).join(', ')} unpinned\n`);
      return pinImages(stack, {});
    }
    throw new TsswarmError(ErrorCodes.UNAVAILABLE, `${targets.map((t) => t.service).join(', ')} ${targets.length === 1 ? 'is' : 'are'} built on the Docker engine this command sees, and it cannot be reached: ${engineMessage(err)}`);
  }
  const ids = opts.noBuild || opts.dryRun ? await builtImageIds(docker, targets, !opts.dryRun) : await buildImages(docker, targets, io);
  return pinImages(stack, ids);
}

// ---- on a cluster node (--builder-node) ----

/** `--builder-node NODE`: builds run on that node's engine, through the API. */
export interface RemoteBuilder { client: ApiClient; node: string }

/** The options a node's engine builds with (common/api/builds.ts). */
export function wireOptions(t: BuildTarget, ctx: BuildContext, opts: BuildOptions = {}): BuildOptionsWire {
  const b = t.build;
  const o: BuildOptionsWire = { service: t.service, image: t.image, dockerfile: ctx.dockerfile };
  if (b.tags?.length) o.tags = b.tags;
  if (ctx.remote) o.remote = ctx.remote;
  if (b.args && Object.keys(b.args).length) o.args = b.args;
  // tsswarm's own labels too: the builder node prunes old revisions by them, as any node does
  o.labels = { ...(b.labels ?? {}), ...builtImageLabels(t.stack, t.service) };
  if (b.target) o.target = b.target;
  if (b.network) o.network = b.network;
  if (b.extra_hosts?.length) o.extraHosts = b.extra_hosts;
  if (b.cache_from?.length) o.cacheFrom = b.cache_from;
  if (b.shm_size !== undefined) o.shmSize = b.shm_size;
  if (b.no_cache || opts.noCache) o.noCache = true;
  if (b.pull || opts.pull) o.pull = true;
  return o;
}

/** The context's size as a tar (headers, padded data, the end blocks). */
export function tarSize(entries: TarEntry[]): number {
  return entries.reduce((n, e) => n + 512 + (e.type === 'file' ? Math.ceil((e.size ?? 0) / 512) * 512 : 0), 1024);
}

/**
 * Build each target in turn on node `node` (live output on `io.err`, as a local build shows it);
 * returns each service's image ID. The first failure stops, naming the service and the step.
 */
export function buildImagesOn(client: ApiClient, node: string, targets: BuildTarget[], io: Io, opts: BuildOptions = {}): Promise<Record<string, string>> {
  return buildEach(targets, (t) => buildOneOn(client, node, t, io, opts));
}

async function buildOneOn(client: ApiClient, node: string, t: BuildTarget, io: Io, opts: BuildOptions): Promise<string> {
  const ctx = buildContext(t.build, t.service);
  const size = ctx.entries ? tarSize(ctx.entries) : 0;
  if (size > BUILD_CONTEXT_MAX_BYTES) {
    throw new TsswarmError(ErrorCodes.BUILD_FAILED, `service ${t.service}: the build context ${t.build.context} is ${(size / 2 ** 20).toFixed(1)} MiB, more than the ${BUILD_CONTEXT_MAX_BYTES >> 20} MiB a build on a node takes (list what the build does not need in .dockerignore)`);
  }
  const begun = await client.call<BuildBegun>('POST', '/v1/builds', { node, ...wireOptions(t, ctx, opts) });
  io.err(`Building ${t.service} (image ${t.image}) from ${t.build.context} on node ${begun.hostname}\n`);
  if (ctx.entries) {
    let pending: Buffer[] = [];
    let held = 0;
    const send = async (buf: Buffer) => { await client.call<BuildChunkResponse>('POST', `/v1/builds/${begun.id}/chunks`, { data: buf.toString('base64') }); };
    for await (const piece of tarStream(ctx.entries)) {
      pending.push(piece);
      held += piece.length;
      while (held >= BUILD_CHUNK_BYTES) {
        const all = Buffer.concat(pending);
        await send(all.subarray(0, BUILD_CHUNK_BYTES));
        pending = [all.subarray(BUILD_CHUNK_BYTES)];
        held = pending[0].length;
      }
    }
    if (held) await send(Buffer.concat(pending));
  }
  const res = await client.raw('POST', `/v1/builds/${begun.id}/done`);
  if (res.status >= 400) throw await errorOf(res);
  const out = new BuildOutput(t.service, io);
  let failure: string | undefined;
  let imageId: string | undefined;
  for await (const line of createInterface({ input: res.stream as Readable, crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    let l: BuildStreamLine;
    try { l = JSON.parse(line) as BuildStreamLine; } catch { continue; }
    if ('event' in l) {
      out.event(l.event);
      if (l.event.error) failure ??= l.event.errorDetail?.message ?? l.event.error;
    } else if ('result' in l) {
      if ('error' in l.result) failure ??= l.result.error;
      else imageId = l.result.imageId;
    }
  }
  out.flush();
  if (failure !== undefined) throw out.failed(failure);
  if (!imageId) throw new TsswarmError(ErrorCodes.BUILD_FAILED, `build of service ${t.service} on node ${begun.hostname}: the answer ended without a result (the manager went away?)`);
  io.err(`Built ${t.service}: ${t.image} ${imageId.slice(7, 19)} on node ${begun.hostname}\n`);
  return imageId;
}

/** `--no-build` / --dry-run with --builder-node: the IDs of the images named so on that node. */
async function builtImageIdsOn(client: ApiClient, node: string, targets: BuildTarget[], io: Io, required: boolean): Promise<Record<string, string>> {
  const r = await client.call<ImageLocateResponse>('POST', '/v1/images/locate', { refs: targets.map((t) => t.image) });
  const ids: Record<string, string> = {};
  for (const t of targets) {
    const hit = r.images.find((i) => i.ref === t.image)?.nodes.find((n) => n.hostname === node || n.id === node || n.id.startsWith(node));
    if (hit?.imageId) ids[t.service] = hit.imageId;
    else if (required) throw new TsswarmError(ErrorCodes.IMAGE_NOT_BUILT, `image ${t.image} of service ${t.service} is not built on node ${node}: run tsswarm build --builder-node ${node} ${t.service} (or deploy without --no-build)`);
    else io.err(`warning: image ${t.image} of service ${t.service} is not on node ${node}: the plan shows it unpinned\n`);
  }
  return ids;
}
