// Pruning the images tsswarm built, on this node: lists the labelled images and every
// container, asks prune.ts which to remove, removes them (never forced: an image the engine
// says is in use stays). One pass at a time; a pass asked for while one runs runs after it.

import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import { engineMessage, LABEL } from '../exec/container.js';
import { imagesToPrune, type BuiltImage } from './prune.js';

export interface ImagePrunerOptions {
  /** Revisions kept per service. */
  keep: number;
  /** The image IDs the tasks this node holds are pinned to. */
  assigned: () => Iterable<string>;
  /** At most this many removals per pass. */
  bound?: number;
}

export class ImagePruner {
  private running?: Promise<void>;
  private again = false;

  constructor(private readonly docker: Dockerode, private readonly log: Logger, private readonly opts: ImagePrunerOptions) {}

  /** Run a pass (after the one running, if any); resolves when a pass that began after this call ended. */
  prune(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running.then(() => this.running ?? Promise.resolve());
    }
    const p = this.pass().finally(() => {
      this.running = undefined;
      if (this.again) { this.again = false; void this.prune(); }
    });
    this.running = p;
    return p;
  }

  private async pass(): Promise<void> {
    let images: Dockerode.ImageInfo[];
    let containers: Dockerode.ContainerInfo[];
    try {
      images = await this.docker.listImages({ filters: JSON.stringify({ label: [LABEL.serviceName] }) } as Dockerode.ListImagesOptions);
      containers = await this.docker.listContainers({ all: true });
    } catch (err) {
      this.log.warn({ err: engineMessage(err) }, 'image pruning: listing the engine failed; will retry');
      return;
    }
    const built: BuiltImage[] = [];
    const service = new Map<string, string>();
    for (const i of images) {
      const s = i.Labels?.[LABEL.serviceName];
      if (!s) continue;
      built.push({ id: i.Id, service: s, created: i.Created });
      service.set(i.Id, s);
    }
    const ids = imagesToPrune({
      images: built,
      usedByContainers: containers.map((c) => c.ImageID),
      assigned: this.opts.assigned(),
      keep: this.opts.keep,
      bound: this.opts.bound,
    });
    for (const id of ids) {
      // assigned since the listing (a rollback to it, say): it stays
      if (new Set(this.opts.assigned()).has(id)) continue;
      try {
        await this.docker.getImage(id).remove();
        this.log.info({ image: id, service: service.get(id) }, 'image removed');
      } catch (err) {
        const code = (err as { statusCode?: number }).statusCode;
        // 404: gone already; 409: in use, or tagged in several repositories: left as it is.
        if (code === 404) continue;
        this.log[code === 409 ? 'debug' : 'warn']({ image: id, service: service.get(id), err: engineMessage(err) }, 'image not removed');
      }
    }
  }
}
