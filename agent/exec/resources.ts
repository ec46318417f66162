// What a task needs on the engine before its container is created: its image, its networks,
// its named volumes. Concurrent requests for the same object share one engine call, and
// what is known to exist is cached, so 50 replicas cost one inspect each, not fifty.
//
// Networks and volumes are the same thing to the agent: a named engine object, created on
// first use with the stack's label (unless declared external: then it must exist), removed
// only if tsswarm created it for that stack and nothing uses it. One handler,
// `EngineResources`, does that for both; a `ResourceKind` holds what differs (how the engine
// inspects, creates and removes each, and a network's driver, internal and attachable flags).

import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import type { NetworkObj, VolumeObj } from '../../common/api/objects.js';
import type { ServiceSpec } from '../../common/spec.js';
import { AgentErrorCodes, TaskError, isEngineUnavailable, type AgentErrorCode } from '../errors.js';
import { LABEL, engineMessage, statusCode } from './container.js';
import type { ImageShipper } from './images.js';

/** A task cannot be prepared on this node (image, network, volume): the task is rejected. */
export class PrepareError extends TaskError {
  constructor(code: AgentErrorCode, message: string) {
    super(code, message);
    this.name = 'PrepareError';
  }
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: timed out after ${Math.round(ms / 1000)}s`)), ms);
    p.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });

/** One engine call per key at a time; a success is remembered, a failure is not. */
class Once<T = void> {
  private readonly done = new Map<string, Promise<T>>();

  get(key: string, fn: () => Promise<T>): Promise<T> {
    let p = this.done.get(key);
    if (!p) {
      p = fn();
      this.done.set(key, p);
      p.catch(() => this.done.delete(key));
    }
    return p;
  }

  delete(key: string): void { this.done.delete(key); }
  clear(): void { this.done.clear(); }
}

export type ResourceObj = NetworkObj | VolumeObj;

/** What differs between networks and volumes on the engine. */
export interface ResourceKind<O extends ResourceObj> {
  kind: O['kind'];
  /** The label naming the store object an engine object was created for. */
  idLabel: string;
  /** Code of a task that cannot have this object. */
  errCode: AgentErrorCode;
  /** Labels and whether containers use it; throws the engine's error (404: missing). */
  inspect(docker: Dockerode, name: string): Promise<{ labels: Record<string, string>; inUse: boolean }>;
  /** Create it with these labels and the spec's settings; returns fields for the log line. */
  create(docker: Dockerode, name: string, labels: Record<string, string>, spec?: O['spec']): Promise<Record<string, unknown>>;
  remove(docker: Dockerode, name: string): Promise<void>;
  /** Engine answers to a removal that mean "still in use, try later". */
  inUseCodes: number[];
}

export const NETWORK: ResourceKind<NetworkObj> = {
  kind: 'network',
  idLabel: LABEL.network,
  errCode: AgentErrorCodes.NETWORK_UNAVAILABLE,
  async inspect(docker, name) {
    const info = (await docker.getNetwork(name).inspect()) as { Labels?: Record<string, string> | null; Containers?: Record<string, unknown> | null };
    return { labels: info.Labels ?? {}, inUse: !!info.Containers && Object.keys(info.Containers).length > 0 };
  },
  async create(docker, name, labels, spec) {
    // One engine per host: the cluster-wide "overlay" is a local bridge here.
    const driver = !spec?.driver || spec.driver === 'overlay' ? 'bridge' : spec.driver;
    await docker.createNetwork({
      Name: name,
      Driver: driver,
      CheckDuplicate: true,
      Internal: spec?.internal ?? false,
      Attachable: true,
      Labels: labels,
      Options: driver === spec?.driver ? spec.driver_opts : {},
    });
    return { driver };
  },
  async remove(docker, name) { await docker.getNetwork(name).remove(); },
  inUseCodes: [403, 409], // has active endpoints
};

export const VOLUME: ResourceKind<VolumeObj> = {
  kind: 'volume',
  idLabel: LABEL.volume,
  errCode: AgentErrorCodes.VOLUME_UNAVAILABLE,
  async inspect(docker, name) {
    const info = (await docker.getVolume(name).inspect()) as { Labels?: Record<string, string> | null };
    return { labels: info.Labels ?? {}, inUse: false }; // the engine refuses the removal (409) instead
  },
  async create(docker, name, labels, spec) {
    await docker.createVolume({ Name: name, Driver: spec?.driver || 'local', DriverOpts: spec?.driver_opts ?? {}, Labels: labels });
    return {};
  },
  async remove(docker, name) { await docker.getVolume(name).remove(); },
  inUseCodes: [409],
};

/** Engine objects of one kind: ensured before a task starts, removed when let go of. */
export class EngineResources<O extends ResourceObj> {
  private readonly known = new Once();

  constructor(
    private readonly docker: Dockerode,
    private readonly log: Logger,
    readonly def: ResourceKind<O>,
  ) {}

  forget(): void { this.known.clear(); }

  /** Make sure the engine object exists. `obj` absent: a stack object nobody described (defaults). */
  ensure(name: string, stack: string, obj?: O): Promise<void> {
    return this.known.get(name, () => this.ensureOnce(name, stack, obj));
  }

  private async ensureOnce(name: string, stack: string, obj?: O): Promise<void> {
    const { kind, errCode } = this.def;
    try {
      await this.def.inspect(this.docker, name);
      return;
    } catch (err) {
      if (statusCode(err) !== 404) throw new PrepareError(isEngineUnavailable(err) ? AgentErrorCodes.ENGINE_UNAVAILABLE : errCode, `inspecting ${kind} ${name}: ${engineMessage(err)}`);
    }
    if (obj?.spec.external) throw new PrepareError(errCode, `${kind} ${name} not found (declared external)`);
    const labels = { ...(obj?.spec.labels ?? {}), [LABEL.stack]: stack, ...(obj ? { [this.def.idLabel]: obj.id } : {}) };
    try {
      const fields = await this.def.create(this.docker, name, labels, obj?.spec);
      this.log.info({ [kind]: name, ...fields }, `${kind} created`);
    } catch (err) {
      if (statusCode(err) === 409) return; // created meanwhile
      throw new PrepareError(isEngineUnavailable(err) ? AgentErrorCodes.ENGINE_UNAVAILABLE : errCode, `creating ${kind} ${name}: ${engineMessage(err)}`);
    }
  }

  /** Remove an object tsswarm created for `stack`, if nothing uses it. False: still in use (retry later). */
  async remove(name: string, stack: string): Promise<boolean> {
    this.known.delete(name);
    let info: { labels: Record<string, string>; inUse: boolean };
    try {
      info = await this.def.inspect(this.docker, name);
    } catch (err) {
      if (statusCode(err) === 404) return true;
      throw err;
    }
    if (info.labels[LABEL.stack] !== stack) return true; // not ours: leave it alone
    if (info.inUse) return false;
    try {
      await this.def.remove(this.docker, name);
      this.log.info({ [this.def.kind]: name }, `${this.def.kind} removed`);
      return true;
    } catch (err) {
      const c = statusCode(err);
      if (c === 404) return true;
      if (c !== undefined && this.def.inUseCodes.includes(c)) return false;
      throw err;
    }
  }
}

/** Everything a task needs before its container: the image, and its networks and volumes. */
export class Resources {
  private readonly images = new Once<string>();
  /** pull_policy always: one pull at a time per image, shared by the tasks that wait for it */
  private readonly pulls = new Once<string>();
  /** pinned images coming from the cluster: one fetch per image ID, shared by the tasks that wait for it */
  private readonly fetches = new Once();
  readonly networks: EngineResources<NetworkObj>;
  readonly volumes: EngineResources<VolumeObj>;

  constructor(
    private readonly docker: Dockerode,
    private readonly log: Logger,
    private readonly pullTimeoutMs = 120_000,
    /** Images from the cluster when no registry serves them (absent: pulls only). */
    private readonly cluster?: Pick<ImageShipper, 'fetch' | 'watch'>,
  ) {
    this.networks = new EngineResources(docker, log, NETWORK);
    this.volumes = new EngineResources(docker, log, VOLUME);
  }

  /** Forget cached knowledge (after resync found something missing, or an engine restart). */
  forget(): void {
    this.images.clear();
    this.networks.forget();
    this.volumes.forget();
  }

  /**
   * The task's image on this node; resolves to the reference its container is created from.
   * Pinned (`imageId`, set when the CLI built the image): exactly that image, whatever the name
   * points at now (see `pinnedImage`). Otherwise by its pull_policy: missing (the default, and
   * build) pulls only when the engine lacks it; always pulls for every task (once at a time per
   * image); never uses what the engine has and fails when it lacks it.
   */
  async ensureImage(image: string, policy: ServiceSpec['pull_policy'] = 'missing', imageId?: string, onStatus?: (message: string) => void): Promise<string> {
    // While it comes from the cluster, the task says from where.
    const unwatch = onStatus && this.cluster?.watch(imageId ?? image, onStatus);
    try {
      if (imageId) return await this.pinnedImage(image, imageId);
      return await this.ensureByName(image, policy);
    } finally {
      unwatch?.();
    }
  }

  /**
   * A pinned image: created by its name when the name resolves to the pinned ID (so `docker ps`
   * shows the name), by the ID itself when the name points elsewhere (a newer build, or an
   * older one during a rollback); a node that has the ID but not the name gets the name. A node
   * without the ID gets it from the cluster (another node that holds it), once for every task
   * that waits for it. Checked for every task, never cached: a name moves when an image is built again.
   */
  private async pinnedImage(image: string, imageId: string): Promise<string> {
    const byName = await this.inspectId(image);
    if (byName === imageId) return image;
    if ((await this.inspectId(imageId)) !== imageId) {
      const short = imageId.replace(/^sha256:/, '').slice(0, 12);
      if (!this.cluster) throw new PrepareError(AgentErrorCodes.IMAGE_NOT_FOUND, `image ${image} (${short}) is not on this node`);
      await this.fetches.get(imageId, async () => {
        try {
          await this.cluster!.fetch(imageId, `image ${image} (${short}) is not on this node`);
        } finally {
          this.fetches.delete(imageId);
        }
      });
    }
    if (byName === undefined) {
      const ref = splitRef(image);
      try {
        await this.docker.getImage(imageId).tag(ref);
        if ((await this.inspectId(image)) === imageId) return image;
      } catch (err) {
        this.log.debug({ image, imageId, err: engineMessage(err) }, 'tagging the pinned image failed; creating from its ID');
      }
    }
    return imageId;
  }

  /** The ID a reference (name or ID) resolves to on this engine; undefined when it does not. */
  private async inspectId(ref: string): Promise<string | undefined> {
    try {
      return (await this.docker.getImage(ref).inspect()).Id;
    } catch (err) {
      if (statusCode(err) !== 404) {
        throw new PrepareError(isEngineUnavailable(err) ? AgentErrorCodes.ENGINE_UNAVAILABLE : AgentErrorCodes.IMAGE_NOT_FOUND, `inspecting image ${ref}: ${engineMessage(err)}`);
      }
      return undefined;
    }
  }

  /** The image by its name; resolves with the reference its container is created from (see ImageShipper.fetch). */
  private ensureByName(image: string, policy: ServiceSpec['pull_policy'] = 'missing'): Promise<string> {
    if (policy === 'always') return this.pulls.get(image, async () => {
      try {
        return await this.pullNow(image);
      } finally {
        this.pulls.delete(image);
      }
    });
    if (policy === 'never') return this.present(image).then((has) => {
      if (!has) throw new PrepareError(AgentErrorCodes.IMAGE_NOT_FOUND, `image ${image} is not on this node and its pull_policy is never`);
      return image;
    });
    return this.images.get(image, () => this.imageOnce(image));
  }

  private async present(image: string): Promise<boolean> {
    return (await this.inspectId(image)) !== undefined;
  }

  private async imageOnce(image: string): Promise<string> {
    if (await this.present(image)) return image;
    return this.pullNow(image);
  }

  private async pullNow(image: string): Promise<string> {
    // An image ID: no registry serves it, only the cluster can.
    if (this.cluster && /^sha256:[0-9a-f]{64}$/.test(image)) return this.cluster.fetch(image, 'an image ID is not pulled');
    this.log.info({ image }, 'pulling image');
    try {
      await withTimeout(this.pull(image), this.pullTimeoutMs, `pulling ${image}`);
      return image;
    } catch (err) {
      this.log.warn({ image, err: engineMessage(err) }, 'pull failed');
      if (this.cluster && !isEngineUnavailable(err)) return this.cluster.fetch(image, `pull failed: ${engineMessage(err)}`);
      throw new PrepareError(AgentErrorCodes.IMAGE_NOT_FOUND, `image ${image} not found (pull failed: ${engineMessage(err)})`);
    }
  }

  private async pull(image: string): Promise<void> {
    const ref = /:[^/]+$|@/.test(image) ? image : `${image}:latest`;
    const stream = await this.docker.pull(ref);
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
        const failed = out?.find((o) => o.error);
        if (err) reject(err);
        else if (failed) reject(new Error(failed.error));
        else resolve();
      });
    });
  }
}

/** name[:tag] -> the engine's tag request ({repo, tag}); no tag is latest. A digest reference is not a tag. */
function splitRef(image: string): { repo: string; tag: string } {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? { repo: image.slice(0, colon), tag: image.slice(colon + 1) || 'latest' } : { repo: image, tag: 'latest' };
}
