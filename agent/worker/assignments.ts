// What the manager assigned to this node, as the session delivers it: a full set (everything
// this node holds; what is not in it was taken away) or incremental changes. No engine here:
// applying a change says which tasks to look at again and which networks/volumes were let go.

import { networkFullName, volumeFullName, type MountSpec } from '../../common/spec.js';
import type { NetworkObj, TaskObj, TaskStatus, VolumeObj } from '../../common/api/objects.js';
import { shortServiceName, type ResolvedMount } from '../exec/container.js';
import type { ResourceObj } from '../exec/resources.js';
import { parseFileDoc, type FileDoc, type FileKind } from '../exec/secrets.js';

export interface Assignment {
  action: 'update' | 'remove';
  kind: 'task' | 'network' | 'volume' | 'secret' | 'config';
  id: string;
  /** Secrets and configs: the document as sent (checked by parseFileDoc). */
  obj?: TaskObj | NetworkObj | VolumeObj | FileDoc;
}

/** A task assigned to this node and what the worker knows of it. */
export interface Local {
  task: TaskObj;
  /** Last status reported. */
  last?: TaskStatus;
  containerId?: string;
  /** A container for this task existed in this process's lifetime. */
  hadContainer?: boolean;
  /** A wake-up is set for this time (notBefore), and its timer. */
  wakeAt?: number;
  timer?: NodeJS.Timeout;
  /** Its start-up is in progress (engine events of it are echoes). */
  busy?: boolean;
  /** Its start-up waits for a secret's or config's new revision: looked at again when one arrives. */
  waitingFiles?: boolean;
}

/** A network or volume the engine may drop (`release`), or one wanted again (`keep`). */
export interface ResourceOp {
  op: 'release' | 'keep';
  kind: ResourceObj['kind'];
  name: string;
  stack: string;
}

/** How a kind of resource reacts to leaving the set and to an explicit removal. */
interface ResourcePolicy {
  /** Leaving the set lets the engine object go (networks); otherwise only an explicit removal does (volumes hold data). */
  releaseWhenLeaving: boolean;
  /** An explicit removal drops every object of that name (a volume purge covers earlier deploys of it). */
  removeDropsSameName: boolean;
}

export const RESOURCE_POLICY: Record<ResourceObj['kind'], ResourcePolicy> = {
  network: { releaseWhenLeaving: true, removeDropsSameName: false },
  volume: { releaseWhenLeaving: false, removeDropsSameName: true },
};

/** The networks or volumes assigned to this node, by store id. */
export class ResourceSet<O extends ResourceObj> {
  readonly byId = new Map<string, O>();
  private readonly policy: ResourcePolicy;

  constructor(readonly kind: O['kind']) {
    this.policy = RESOURCE_POLICY[kind];
  }

  values(): O[] { return [...this.byId.values()]; }
  hasName(name: string): boolean { return this.values().some((x) => x.name === name); }

  update(o: O, ops: ResourceOp[]): void {
    this.byId.set(o.id, o);
    ops.push({ op: 'keep', kind: this.kind, name: o.name, stack: o.stack });
  }

  remove(id: string, sent: O | undefined, ops: ResourceOp[]): void {
    const o = this.byId.get(id) ?? sent;
    this.byId.delete(id);
    if (!o) return;
    if (this.policy.removeDropsSameName) for (const [k, x] of [...this.byId]) if (x.name === o.name) this.byId.delete(k);
    this.release(o, ops);
  }

  /** A full set arrived: forget what is not in it. */
  retain(keep: Set<string>, ops: ResourceOp[]): void {
    for (const [id, o] of [...this.byId]) {
      if (keep.has(id)) continue;
      this.byId.delete(id);
      if (this.policy.releaseWhenLeaving) this.release(o, ops);
    }
  }

  private release(o: O, ops: ResourceOp[]): void {
    if (o.spec.external || this.hasName(o.name)) return;
    ops.push({ op: 'release', kind: this.kind, name: o.name, stack: o.stack });
  }
}

export interface ApplyResult {
  /** Tasks to reconcile (added, changed or taken away). */
  touched: Set<string>;
  /** Networks/volumes let go of or wanted again, in order. */
  resources: ResourceOp[];
  /** This was the first full set since the worker started. */
  firstFull: boolean;
  /** A secret or config arrived, changed or went (tasks waiting for one may go on, or fail now). */
  filesChanged: boolean;
}

export class Assignments {
  readonly tasks = new Map<string, Local>();
  readonly networks = new ResourceSet<NetworkObj>('network');
  readonly volumes = new ResourceSet<VolumeObj>('volume');
  /**
   * The secrets and configs this node holds, by id, values included: in memory only (written
   * nowhere but a task's files on the tmpfs). They go when the manager takes them away.
   */
  readonly files: Record<FileKind, Map<string, FileDoc>> = { secret: new Map(), config: new Map() };
  /** Tasks the manager took away: their containers go even before the first full set. */
  readonly dropped = new Set<string>();
  /** A full set arrived: the manager confirmed what this node holds, so orphans may go. */
  fullReceived = false;

  apply(full: boolean, changes: Assignment[], containerIdOf: (taskId: string) => string | undefined): ApplyResult {
    const touched = new Set<string>();
    const resources: ResourceOp[] = [];
    let filesChanged = false;
    if (full) {
      const keep = (kind: Assignment['kind']) => new Set(changes.filter((c) => c.kind === kind && c.action === 'update').map((c) => c.id));
      const keepTasks = keep('task');
      for (const id of [...this.tasks.keys()]) if (!keepTasks.has(id)) { this.dropTask(id); touched.add(id); }
      this.networks.retain(keep('network'), resources);
      this.volumes.retain(keep('volume'), resources);
      for (const kind of ['secret', 'config'] as const) {
        const k = keep(kind);
        for (const id of [...this.files[kind].keys()]) if (!k.has(id)) this.files[kind].delete(id);
      }
    }
    for (const c of changes) {
      if (c.kind === 'secret' || c.kind === 'config') {
        if (c.action === 'update') this.files[c.kind].set(c.id, parseFileDoc(c.kind, c.id, c.obj));
        else this.files[c.kind].delete(c.id);
        filesChanged = true;
      } else if (c.kind === 'network' || c.kind === 'volume') {
        const set = (c.kind === 'network' ? this.networks : this.volumes) as ResourceSet<ResourceObj>;
        if (c.action === 'update' && c.obj) set.update(c.obj as ResourceObj, resources);
        else if (c.action === 'remove') set.remove(c.id, c.obj as ResourceObj | undefined, resources);
      } else if (c.action === 'update' && c.obj) {
        const t = c.obj as TaskObj;
        const l = this.tasks.get(c.id);
        if (l) l.task = t;
        else this.tasks.set(c.id, { task: t, containerId: containerIdOf(c.id) });
        this.dropped.delete(c.id);
        touched.add(c.id);
      } else if (c.action === 'remove') {
        this.dropTask(c.id);
        touched.add(c.id);
      }
    }
    const firstFull = full && !this.fullReceived;
    if (full) this.fullReceived = true;
    return { touched, resources, firstFull, filesChanged };
  }

  private dropTask(id: string): void {
    const l = this.tasks.get(id);
    if (!l) return;
    if (l.timer) clearTimeout(l.timer);
    this.tasks.delete(id);
    this.dropped.add(id);
  }

  /** Is a network or volume of this name still assigned? */
  wants(kind: ResourceObj['kind'], name: string): boolean {
    return (kind === 'network' ? this.networks : this.volumes).hasName(name);
  }

  /** The engine networks a task joins, in attach order, with its aliases on each. */
  networksOf(t: TaskObj): { name: string; aliases: string[]; obj?: NetworkObj }[] {
    const short = shortServiceName(t);
    const nets = this.networks.values();
    return Object.entries(t.spec.networks ?? {}).map(([key, ns]) => {
      const plain = networkFullName(t.stack, key);
      const obj = nets.find((n) => n.name === plain && n.stack === t.stack)
        ?? nets.find((n) => n.name === key && (n.spec.external || n.spec.name))
        ?? nets.find((n) => n.stack === t.stack && (n.spec.external || n.spec.name) && n.name === networkFullName(t.stack, key, n.spec) && n.spec.name === undefined)
        ?? nets.find((n) => n.name === plain);
      const aliases = [...new Set([short, t.serviceName, ...(ns?.aliases ?? [])])];
      return { name: obj?.name ?? plain, aliases, obj };
    });
  }

  /** A task's mounts with engine names, and the named volumes they need. */
  mountsOf(t: TaskObj): { mounts: ResolvedMount[]; volumes: { name: string; obj?: VolumeObj }[] } {
    const vols = this.volumes.values();
    const needed: { name: string; obj?: VolumeObj }[] = [];
    const mounts = (t.spec.volumes ?? []).map((m): ResolvedMount => {
      if (m.type === 'volume' && m.source) {
        const plain = volumeFullName(t.stack, m.source);
        const obj = vols.find((v) => v.name === plain && v.stack === t.stack)
          ?? vols.find((v) => v.name === m.source && (v.spec.external || v.spec.name))
          ?? vols.find((v) => v.name === plain);
        const name = obj?.name ?? plain;
        needed.push({ name, obj });
        return { type: 'volume', source: name, target: m.target, readOnly: m.read_only, ...mountOptions(m) };
      }
      return { type: m.type, source: m.source, target: m.target, readOnly: m.read_only, ...mountOptions(m) };
    });
    return { mounts, volumes: needed };
  }
}

/** The per-type options of a mount (volume.nocopy, bind.propagation and create_host_path, tmpfs.size and mode). */
function mountOptions(m: MountSpec): Partial<ResolvedMount> {
  const o: Partial<ResolvedMount> = {};
  if (m.volume?.nocopy) o.noCopy = true;
  if (m.bind?.propagation) o.propagation = m.bind.propagation;
  if (m.bind?.create_host_path) o.createHostPath = true;
  if (m.tmpfs?.size !== undefined) o.tmpfsSize = m.tmpfs.size;
  if (m.tmpfs?.mode !== undefined) o.tmpfsMode = m.tmpfs.mode;
  return o;
}
