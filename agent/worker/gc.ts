// Garbage collection on this node: networks and volumes the manager let go of (removed once no
// container uses them, retried on every resync; only objects tsswarm created for that stack),
// and orphan containers (labelled for this node, task not assigned; only after a full set).

import type { Logger } from 'pino';
import type { ResourceObj, EngineResources } from '../exec/resources.js';
import { engineMessage } from '../exec/container.js';
import type { Assignments, ResourceOp } from './assignments.js';

type Kind = ResourceObj['kind'];

export class ResourceGC {
  /** kind -> engine name -> stack, waiting to be removed. */
  private readonly pending: Record<Kind, Map<string, string>> = { network: new Map(), volume: new Map() };

  constructor(
    private readonly handlers: { [K in Kind]: EngineResources<Extract<ResourceObj, { kind: K }>> },
    private readonly log: Logger,
    /** Still assigned under that name: never remove it. */
    private readonly wanted: (kind: Kind, name: string) => boolean,
  ) {}

  get size(): number { return this.pending.network.size + this.pending.volume.size; }

  /** Record what an assignment let go of or wants again. */
  apply(ops: ResourceOp[]): void {
    for (const o of ops) {
      if (o.op === 'release') this.pending[o.kind].set(o.name, o.stack);
      else this.pending[o.kind].delete(o.name);
    }
  }

  /** Try every pending removal once; what is still in use stays pending. */
  async sweep(): Promise<void> {
    for (const kind of ['network', 'volume'] as const) {
      for (const [name, stack] of [...this.pending[kind]]) {
        if (this.wanted(kind, name)) { this.pending[kind].delete(name); continue; }
        try {
          if (await this.handlers[kind].remove(name, stack)) this.pending[kind].delete(name);
        } catch (err) {
          this.log.warn({ [kind]: name, err: engineMessage(err) }, `removing ${kind} failed; will retry`);
        }
      }
    }
  }
}

/** Task ids of this node's containers whose task is not assigned: removable once a full set arrived. */
export function orphans(containerTaskIds: Iterable<string>, a: Assignments): string[] {
  if (!a.fullReceived) return [];
  return [...containerTaskIds].filter((id) => id && !a.tasks.has(id));
}
