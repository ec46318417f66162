// What a task needs on the engine before its container is created: its image, its networks,
// its named volumes. Concurrent requests for the same object share one engine call, and
// what is known to exist is cached, so 50 replicas cost one inspect each, not fifty.

import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import type { NetworkObj, VolumeObj } from '../../common/api/objects.js';
import { LABEL, engineMessage, statusCode } from './container.js';

export class PrepareError extends Error {}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: timed out after ${Math.round(ms / 1000)}s`)), ms);
    p.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });

export class Resources {
  private readonly images = new Map<string, Promise<void>>();
  private readonly networks = new Map<string, Promise<void>>();
  private readonly volumes = new Map<string, Promise<void>>();

  constructor(
    private readonly docker: Dockerode,
    private readonly log: Logger,
    private readonly pullTimeoutMs = 120_000,
  ) {}

  /** Forget cached knowledge (after resync found something missing, or an engine restart). */
  forget(): void {
    this.images.clear();
    this.networks.clear();
    this.volumes.clear();
  }

  ensureImage(image: string): Promise<void> {
    let p = this.images.get(image);
    if (!p) {
      p = this.imageOnce(image);
      this.images.set(image, p);
      p.catch(() => this.images.delete(image));
    }
    return p;
  }

  private async imageOnce(image: string): Promise<void> {
    try {
      await this.docker.getImage(image).inspect();
      return;
    } catch (err) {
      if (statusCode(err) !== 404) throw new PrepareError(`inspecting image ${image}: ${engineMessage(err)}`);
    }
    this.log.info({ image }, 'pulling image');
    try {
      await withTimeout(this.pull(image), this.pullTimeoutMs, `pulling ${image}`);
    } catch (err) {
      this.log.warn({ image, err: engineMessage(err) }, 'pull failed');
      throw new PrepareError(`image ${image} not found (pull failed: ${engineMessage(err)})`);
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

  /** Make sure the engine network exists. `obj` absent: a stack network nobody described (bridge defaults). */
  ensureNetwork(name: string, stack: string, obj?: NetworkObj): Promise<void> {
    let p = this.networks.get(name);
    if (!p) {
      p = this.networkOnce(name, stack, obj);
      this.networks.set(name, p);
      p.catch(() => this.networks.delete(name));
    }
    return p;
  }

  private async networkOnce(name: string, stack: string, obj?: NetworkObj): Promise<void> {
    try {
      await this.docker.getNetwork(name).inspect();
      return;
    } catch (err) {
      if (statusCode(err) !== 404) throw new PrepareError(`inspecting network ${name}: ${engineMessage(err)}`);
    }
    if (obj?.spec.external) throw new PrepareError(`network ${name} not found (declared external)`);
    const spec = obj?.spec;
    // One engine per host: the cluster-wide "overlay" is a local bridge here.
    const driver = !spec?.driver || spec.driver === 'overlay' ? 'bridge' : spec.driver;
    try {
      await this.docker.createNetwork({
        Name: name,
        Driver: driver,
        CheckDuplicate: true,
        Internal: spec?.internal ?? false,
        Attachable: true,
        Labels: { ...(spec?.labels ?? {}), [LABEL.stack]: stack, ...(obj ? { [LABEL.network]: obj.id } : {}) },
        Options: driver === spec?.driver ? spec.driver_opts : {},
      });
      this.log.info({ network: name, driver }, 'network created');
    } catch (err) {
      if (statusCode(err) === 409) return; // created meanwhile
      throw new PrepareError(`creating network ${name}: ${engineMessage(err)}`);
    }
  }

  ensureVolume(name: string, stack: string, obj?: VolumeObj): Promise<void> {
    let p = this.volumes.get(name);
    if (!p) {
      p = this.volumeOnce(name, stack, obj);
      this.volumes.set(name, p);
      p.catch(() => this.volumes.delete(name));
    }
    return p;
  }

  private async volumeOnce(name: string, stack: string, obj?: VolumeObj): Promise<void> {
    try {
      await this.docker.getVolume(name).inspect();
      return;
    } catch (err) {
      if (statusCode(err) !== 404) throw new PrepareError(`inspecting volume ${name}: ${engineMessage(err)}`);
    }
    if (obj?.spec.external) throw new PrepareError(`volume ${name} not found (declared external)`);
    try {
      await this.docker.createVolume({
        Name: name,
        Driver: obj?.spec.driver || 'local',
        DriverOpts: obj?.spec.driver_opts ?? {},
        Labels: { ...(obj?.spec.labels ?? {}), [LABEL.stack]: stack, ...(obj ? { [LABEL.volume]: obj.id } : {}) },
      });
      this.log.info({ volume: name }, 'volume created');
    } catch (err) {
      throw new PrepareError(`creating volume ${name}: ${engineMessage(err)}`);
    }
  }

  /** Remove a network tsswarm created, if no container uses it. False: still in use (retry later). */
  async removeNetwork(name: string, stack: string): Promise<boolean> {
    this.networks.delete(name);
    let info: { Labels?: Record<string, string>; Containers?: Record<string, unknown> };
    try {
      info = await this.docker.getNetwork(name).inspect();
    } catch (err) {
      if (statusCode(err) === 404) return true;
      throw err;
    }
    if (info.Labels?.[LABEL.stack] !== stack) return true; // not ours: leave it alone
    if (info.Containers && Object.keys(info.Containers).length > 0) return false;
    try {
      await this.docker.getNetwork(name).remove();
      this.log.info({ network: name }, 'network removed');
      return true;
    } catch (err) {
      const c = statusCode(err);
      if (c === 404) return true;
      if (c === 403 || c === 409) return false; // has active endpoints
      throw err;
    }
  }

  /** Remove a volume tsswarm created for `stack`. False: still in use (retry later). */
  async removeVolume(name: string, stack: string): Promise<boolean> {
    this.volumes.delete(name);
    let info: { Labels?: Record<string, string> | null };
    try {
      info = await this.docker.getVolume(name).inspect();
    } catch (err) {
      if (statusCode(err) === 404) return true;
      throw err;
    }
    if (info.Labels?.[LABEL.stack] !== stack) return true;
    try {
      await this.docker.getVolume(name).remove();
      this.log.info({ volume: name }, 'volume removed');
      return true;
    } catch (err) {
      const c = statusCode(err);
      if (c === 404) return true;
      if (c === 409) return false; // in use
      throw err;
    }
  }
}
