// Pinning the images a deploy names (docs/images.md#pinning): so that every node runs the same
// bits and a rolling update knows what changed, as `docker stack deploy` does. Asked of the
// Docker engine this command sees (DOCKER_HOST):
//  - an image it holds that no registry gave it (built or loaded here: no RepoDigests) is pinned
//    to its ID (ServiceSpec.image_id); a node without it gets it from the cluster at once,
//    without trying a registry first;
//  - any other name is resolved to its registry digest through the engine
//    (GET /distribution/{name}/json: the engine asks the registry, with its credentials), and
//    the service runs `name:tag@sha256:…`;
//  - a name neither way gives (no registry answers) stays as it is, with Swarm's warning: each
//    node then resolves it on its own.
// `--resolve-image never` leaves every name as written. Services built by the deploy are pinned
// already (cli/build.ts); `pull_policy: always | never` services are left to their policy.

import type Dockerode from 'dockerode';
import type { ServiceSpec, StackSpec } from '../common/spec.js';
import { dockerConnection, engineErrorText } from '../common/docker-host.js';
import { checkImageRef } from '../common/api/validate.js';
import type { Io } from './io.js';

export type ResolveImageMode = 'always' | 'never';
export const RESOLVE_IMAGE_MODES: readonly ResolveImageMode[] = ['always', 'never'];

/** An image ID and a registry digest look alike: sha256 and 64 lowercase hex digits. */
const SHA256_RE = /^sha256:[0-9a-f]{64}$/;

/** What the engine says of one image name. */
export type Resolution =
  | { kind: 'id'; id: string }
  | { kind: 'digest'; digest: string }
  | { kind: 'unresolved'; why: string };

/** What one engine can be asked (dockerode in use; a fake in unit tests). */
export interface ImageOracle {
  /** The local image's ID and registry digests; undefined when the engine does not hold it. */
  local(ref: string): Promise<{ id: string; repoDigests: string[] } | undefined>;
  /** The registry's digest of `ref` (throws when no registry answers). */
  distribution(ref: string): Promise<string>;
}

/** `name[:tag]` + digest -> `name[:tag]@digest` (the tag kept for people reading `service ls`). */
export function withDigest(ref: string, digest: string): string {
  const at = ref.indexOf('@');
  return `${at >= 0 ? ref.slice(0, at) : ref}@${digest}`;
}

/** Whether a service is pinned here: not built (those are), not pinned already, policy not always/never. */
function pinnable(s: ServiceSpec): boolean {
  if (s.image_id || s.build || s.pull_policy === 'always' || s.pull_policy === 'never') return false;
  // Only well-formed names reach the engine's API (they become part of a URL path).
  return !!s.image && checkImageRef(s.image) === undefined && !SHA256_RE.test(s.image) && !/@sha256:[0-9a-f]{64}$/.test(s.image);
}

/** The names to resolve, each with the services that run it. */
function candidates(stack: StackSpec): Map<string, string[]> {
  const byRef = new Map<string, string[]>();
  for (const [name, s] of Object.entries(stack.services)) if (pinnable(s)) byRef.set(s.image, [...(byRef.get(s.image) ?? []), name]);
  return byRef;
}

/** How one name resolves: a local-only image by ID, else the registry's digest. Pure of I/O but the oracle's. */
export async function resolveOne(ref: string, oracle: ImageOracle): Promise<Resolution> {
  let local: { id: string; repoDigests: string[] } | undefined;
  try {
    local = await oracle.local(ref);
  } catch (err) {
    return { kind: 'unresolved', why: `the engine cannot be asked for it: ${(err as Error).message}` };
  }
  if (local && local.repoDigests.length === 0 && SHA256_RE.test(local.id)) return { kind: 'id', id: local.id };
  try {
    const digest = await oracle.distribution(ref);
    if (SHA256_RE.test(digest)) return { kind: 'digest', digest };
    return { kind: 'unresolved', why: `the registry gave no usable digest (${JSON.stringify(String(digest).slice(0, 80))})` };
  } catch (err) {
    return { kind: 'unresolved', why: (err as Error).message };
  }
}

/**
 * The pin a service deployed before holds for `ref`, if any: the same name pinned to an ID or a
 * digest. A deploy that cannot resolve the name now (the registry is down) keeps it rather than
 * sending nodes an unpinned name they may not be able to pull.
 */
export function previousPin(ref: string, before: ServiceSpec | undefined): Exclude<Resolution, { kind: 'unresolved' }> | undefined {
  if (!before) return undefined;
  if (before.image === ref && before.image_id && SHA256_RE.test(before.image_id)) return { kind: 'id', id: before.image_id };
  const at = before.image.indexOf('@');
  if (at >= 0 && before.image.slice(0, at) === ref.replace(/@.*$/, '') && SHA256_RE.test(before.image.slice(at + 1))) return { kind: 'digest', digest: before.image.slice(at + 1) };
  return undefined;
}

/**
 * The stack with its images pinned by `resolutions` (ref -> how it resolved); a service whose
 * name did not resolve keeps the pin it was deployed with (`deployed`: service key -> spec).
 */
export function applyResolutions(stack: StackSpec, resolutions: Map<string, Resolution>, deployed: Record<string, ServiceSpec> = {}): StackSpec {
  const services: Record<string, ServiceSpec> = {};
  for (const [name, s] of Object.entries(stack.services)) {
    let r: Resolution | undefined = pinnable(s) ? resolutions.get(s.image) : undefined;
    if (r?.kind === 'unresolved') r = previousPin(s.image, deployed[name]) ?? r;
    if (r?.kind === 'id') services[name] = { ...s, image_id: r.id };
    else if (r?.kind === 'digest') services[name] = { ...s, image: withDigest(s.image, r.digest) };
    else services[name] = s;
  }
  return { ...stack, services };
}

/** The oracle of a dockerode client: inspect, and the distribution endpoint bounded by `timeoutMs`. */
export function engineOracle(docker: Dockerode, timeoutMs = 10_000): ImageOracle {
  return {
    async local(ref) {
      try {
        const info = await docker.getImage(ref).inspect();
        return { id: info.Id, repoDigests: info.RepoDigests ?? [] };
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return undefined;
        throw err;
      }
    },
    async distribution(ref) {
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), timeoutMs);
      try {
        const res = await new Promise<{ Descriptor?: { digest?: string } }>((resolve, reject) => {
          docker.modem.dial({
            path: `/distribution/${ref}/json`, method: 'GET', abortSignal: ac.signal,
            statusCodes: { 200: true, 401: 'unauthorized', 403: 'forbidden', 404: 'not found', 500: 'server error' },
          } as Parameters<Dockerode['modem']['dial']>[0], (err: unknown, data: unknown) => err ? reject(err) : resolve(data as { Descriptor?: { digest?: string } }));
        });
        return res.Descriptor?.digest ?? '';
      } catch (err) {
        if (ac.signal.aborted) throw new Error(`no registry answered within ${timeoutMs / 1000} s`);
        throw new Error(engineErrorText(err));
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Is the engine there? (bounded: a laptop without Docker deploys as before). */
export async function engineAnswers(docker: Dockerode, ms = 2_000): Promise<boolean> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    await (docker.ping as unknown as (o: { abortSignal: AbortSignal }) => Promise<unknown>).call(docker, { abortSignal: ac.signal });
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Pin the stack's images (see the top of this file). Names it cannot pin go as written, each
 * with a warning; without an engine to ask, every name does, with one warning.
 */
export async function resolveImages(stack: StackSpec, io: Io, opts: {
  mode?: ResolveImageMode; env?: NodeJS.ProcessEnv; oracle?: ImageOracle;
  /** The stack's services as deployed now (service key -> spec), asked only when a name does not resolve. */
  deployed?: () => Promise<Record<string, ServiceSpec>>;
} = {}): Promise<StackSpec> {
  if (opts.mode === 'never') return stack;
  const byRef = candidates(stack);
  if (byRef.size === 0) return stack;
  const refs = [...byRef.keys()];
  let oracle = opts.oracle;
  let noEngine = '';
  if (!oracle) {
    const { default: Docker } = await import('dockerode');
    const docker = new Docker(dockerConnection(opts.env ?? process.env));
    if (await engineAnswers(docker)) oracle = engineOracle(docker);
    else noEngine = `no Docker engine answers at ${(opts.env ?? process.env).DOCKER_HOST ?? 'unix:///var/run/docker.sock'}`;
  }
  const got = oracle ? await Promise.all(refs.map((ref) => resolveOne(ref, oracle!))) : refs.map((): Resolution => ({ kind: 'unresolved', why: noEngine }));
  const resolutions = new Map(refs.map((ref, i) => [ref, got[i]!]));
  const unresolved = [...resolutions].filter(([, r]) => r.kind === 'unresolved');
  let deployed: Record<string, ServiceSpec> = {};
  if (unresolved.length && opts.deployed) deployed = await opts.deployed().catch(() => ({}));
  if (noEngine) {
    // One line for them all (a machine without Docker, e.g. with --builder-node); what was
    // pinned before stays pinned, so redeploying from here changes nothing.
    const kept = [...byRef].flatMap(([ref, svcs]) => svcs.filter((svc) => previousPin(ref, deployed[svc])));
    io.err(`warning: ${noEngine}: images are not pinned${kept.length ? ` (${kept.join(', ')} keep the images they were deployed with)` : ''}; each node resolves ${kept.length ? 'the others' : 'them'} on its own\n`);
    return applyResolutions(stack, resolutions, deployed);
  }
  for (const [ref, r] of unresolved) {
    const why = (r as { why: string }).why;
    for (const svc of byRef.get(ref)!) {
      const kept = previousPin(ref, deployed[svc]);
      if (kept) io.err(`warning: image ${ref} (${svc}) could not be resolved (${why}); it keeps the ${kept.kind === 'id' ? `image ID ${kept.id.slice(7, 19)}` : `digest ${kept.digest}`} it was deployed with\n`);
      else io.err(`warning: image ${ref} (${svc}) could not be accessed on a registry to record its digest (${why}); each node will resolve it on its own, possibly running different versions of the image\n`);
    }
  }
  return applyResolutions(stack, resolutions, deployed);
}
