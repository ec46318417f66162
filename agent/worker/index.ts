// The agent's executor: makes the local Docker engine match the tasks the manager assigned to
// this node, and reports what the tasks do. See docs/agent.md for the behaviour in full.
//
// - One container per task, labelled tsswarm.*; no Docker restart policy, ever.
// - Per task, one operation at a time (KeyedQueue); tasks run concurrently, bounded (Limiter).
// - Engine events (die, start, health_status, oom, destroy) trigger a reconcile of that task
//   at once; a periodic resync compares the engine with the assignments as a safety net.
// - Containers live as long as their task is assigned: desiredState 'shutdown' stops the
//   container (kept, so its logs stay readable); the task leaving the assignment set removes it.
// - Orphans (containers labelled for this node whose task is not assigned) are removed only
//   once a full assignment set has arrived.

import type Dockerode from 'dockerode';
import type pino from 'pino';
import { networkFullName, volumeFullName } from '../../common/spec.js';
import {
  isTerminal, taskStateIndex,
  type NetworkObj, type TaskObj, type TaskStatus, type VolumeObj,
} from '../../common/api/objects.js';
import {
  LABEL, createOptions, engineMessage, explainEngineError, graceMs, shortServiceName, statusCode,
  statusFromContainer, type ResolvedMount,
} from '../exec/container.js';
import { EngineEvents, type ContainerEvent } from '../exec/events.js';
import { containerLogs } from '../exec/logs.js';
import { PrepareError, Resources } from '../exec/resources.js';
import { IngressProxy, PortInUseError, ingressKeyString, type Backend, type IngressKey } from '../ingress/proxy.js';
import { KeyedQueue, Limiter } from './queue.js';

export interface Assignment {
  action: 'update' | 'remove';
  kind: 'task' | 'network' | 'volume';
  id: string;
  obj?: TaskObj | NetworkObj | VolumeObj;
}

export interface WorkerOptions {
  docker: Dockerode;
  nodeId: string;
  log: pino.Logger;
  report: (taskId: string, status: TaskStatus) => void;
  /** Safety-net comparison of engine and assignments (default 10 s). */
  resyncIntervalMs?: number;
  /** Address the ingress proxy listens on when a port has no host_ip (default 0.0.0.0). */
  ingressBind?: string;
  /** Concurrent task start-ups (default 8). */
  parallelism?: number;
  /** Bound on an image pull (default 120 s). */
  pullTimeoutMs?: number;
}

export type LogRequest = { taskIds: string[]; follow: boolean; tail: number; timestamps: boolean };
export type LogChunkOut = { taskId: string; stream: 'stdout' | 'stderr'; data: Buffer; timestampMs: number };

interface Local {
  task: TaskObj;
  /** Last status reported, and its signature for dedupe. */
  last?: TaskStatus;
  sig?: string;
  containerId?: string;
  /** A container for this task existed in this process's lifetime. */
  hadContainer?: boolean;
  timer?: NodeJS.Timeout;
  busy?: boolean;
}

const RUNNING_IDX = taskStateIndex('running');

const sigOf = (s: TaskStatus): string => JSON.stringify({ ...s, timestamp: 0 });

const ingressKeyOf = (p: { published?: number; protocol: 'tcp' | 'udp'; host_ip?: string }, bind: string): IngressKey =>
  ({ port: p.published!, protocol: p.protocol, hostIp: p.host_ip || bind });

export class Worker {
  private readonly docker: Dockerode;
  private readonly log: pino.Logger;
  private readonly nodeId: string;
  private readonly tasks = new Map<string, Local>();
  private readonly networks = new Map<string, NetworkObj>();
  private readonly volumes = new Map<string, VolumeObj>();
  /** taskId -> containerId, from the last listing plus what we created or saw in events. */
  private readonly byTask = new Map<string, string>();
  /** Tasks the manager took away: their containers go even before the first full set. */
  private readonly dropped = new Set<string>();
  private readonly netRemovals = new Map<string, string>(); // name -> stack
  private readonly volRemovals = new Map<string, string>();
  private readonly ingressOwners = new Map<string, string>(); // key -> serviceId
  private readonly queue: KeyedQueue;
  private readonly up: Limiter;
  private readonly down = new Limiter(16);
  private readonly resources: Resources;
  private readonly events: EngineEvents;
  readonly proxy: IngressProxy;
  private readonly ingressBind: string;
  private fullReceived = false;
  private stopped = false;
  private resyncTimer?: NodeJS.Timeout;
  private indexReady: Promise<void> = Promise.resolve();
  private resyncing = false;

  constructor(private readonly opts: WorkerOptions) {
    this.docker = opts.docker;
    this.log = opts.log;
    this.nodeId = opts.nodeId;
    this.ingressBind = opts.ingressBind ?? '0.0.0.0';
    this.up = new Limiter(opts.parallelism ?? 8);
    this.queue = new KeyedQueue((key, err) => this.log.error({ task: key, err }, 'task operation failed'));
    this.resources = new Resources(this.docker, this.log, opts.pullTimeoutMs);
    this.proxy = new IngressProxy({ log: this.log });
    this.events = new EngineEvents(this.docker, this.nodeId, this.log, (e) => this.onEvent(e), () => this.kickResync());
  }

  async start(): Promise<void> {
    this.indexReady = this.refreshIndex().then(() => undefined);
    await this.indexReady;
    await this.events.start();
    const every = this.opts.resyncIntervalMs ?? 10_000;
    this.resyncTimer = setInterval(() => this.kickResync(), every);
    this.resyncTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.events.stop();
    for (const l of this.tasks.values()) if (l.timer) clearTimeout(l.timer);
    await this.queue.idle();
    await this.proxy.close();
  }

  async localTaskIds(): Promise<string[]> {
    const list = await this.listOurs();
    return [...new Set(list.map((c) => c.Labels?.[LABEL.taskId]).filter((x): x is string => !!x))];
  }

  assign(full: boolean, changes: Assignment[]): void {
    if (this.stopped) return;
    const touched = new Set<string>();
    if (full) {
      const keepTasks = new Set(changes.filter((c) => c.kind === 'task' && c.action === 'update').map((c) => c.id));
      const keepNets = new Set(changes.filter((c) => c.kind === 'network' && c.action === 'update').map((c) => c.id));
      const keepVols = new Set(changes.filter((c) => c.kind === 'volume' && c.action === 'update').map((c) => c.id));
      for (const id of [...this.tasks.keys()]) if (!keepTasks.has(id)) { this.dropTask(id); touched.add(id); }
      for (const [id, n] of [...this.networks]) if (!keepNets.has(id)) { this.networks.delete(id); this.queueNetworkRemoval(n); }
      // Volumes hold data: leaving the set never deletes one.
      for (const id of [...this.volumes.keys()]) if (!keepVols.has(id)) this.volumes.delete(id);
    }
    for (const c of changes) {
      if (c.kind === 'network') {
        if (c.action === 'update' && c.obj) {
          const n = c.obj as NetworkObj;
          this.networks.set(c.id, n);
          this.netRemovals.delete(n.name);
        } else if (c.action === 'remove') {
          const n = this.networks.get(c.id) ?? (c.obj as NetworkObj | undefined);
          this.networks.delete(c.id);
          if (n) this.queueNetworkRemoval(n);
        }
      } else if (c.kind === 'volume') {
        if (c.action === 'update' && c.obj) {
          const v = c.obj as VolumeObj;
          this.volumes.set(c.id, v);
          this.volRemovals.delete(v.name);
        } else if (c.action === 'remove') {
          // Sent only when the manager wants the data gone (stack rm --volumes).
          const v = (c.obj as VolumeObj | undefined) ?? this.volumes.get(c.id);
          this.volumes.delete(c.id);
          // Earlier objects of the same name (a stack removed and deployed again) are gone too:
          // the manager purges only once no task uses the volume.
          if (v) for (const [id, x] of [...this.volumes]) if (x.name === v.name) this.volumes.delete(id);
          if (v && !v.spec.external) this.volRemovals.set(v.name, v.stack);
        }
      } else if (c.kind === 'task') {
        if (c.action === 'update' && c.obj) {
          const t = c.obj as TaskObj;
          const l = this.tasks.get(c.id);
          if (l) l.task = t;
          else this.tasks.set(c.id, { task: t, containerId: this.byTask.get(c.id) });
          this.dropped.delete(c.id);
          touched.add(c.id);
        } else if (c.action === 'remove') {
          this.dropTask(c.id);
          touched.add(c.id);
        }
      }
    }
    if (full) {
      const first = !this.fullReceived;
      this.fullReceived = true;
      // Re-report everything we know, then look at the engine again.
      for (const l of this.tasks.values()) if (l.last) this.opts.report(l.task.id, l.last);
      this.indexReady = this.refreshIndex().then(() => undefined);
      void this.indexReady.then(() => {
        for (const id of this.tasks.keys()) this.schedule(id);
        for (const id of this.byTask.keys()) if (!this.tasks.has(id)) this.schedule(id); // orphans
        if (first) this.log.info({ tasks: this.tasks.size }, 'first full assignment: adopting and removing orphans');
      });
    }
    for (const id of touched) this.schedule(id);
    this.refreshIngress();
    if (this.netRemovals.size || this.volRemovals.size) void this.indexReady.then(() => this.tryRemovals(true));
  }

  logs(req: LogRequest, onChunk: (c: LogChunkOut) => void, onEnd: () => void): () => void {
    const cancels: (() => void)[] = [];
    let pending = req.taskIds.length;
    let cancelled = false;
    let ended = false;
    const done = () => {
      if (ended) return;
      if (--pending <= 0) { ended = true; onEnd(); }
    };
    if (pending === 0) { ended = true; queueMicrotask(onEnd); }
    for (const taskId of req.taskIds) {
      void this.containerIdFor(taskId).then((cid) => {
        if (cancelled) return;
        if (!cid) { done(); return; }
        cancels.push(containerLogs(this.docker.getContainer(cid), req,
          (c) => onChunk({ taskId, ...c }),
          (err) => {
            if (err && statusCode(err) !== 404) this.log.debug({ task: taskId, err: err.message }, 'log stream ended');
            done();
          }));
      }, () => done());
    }
    return () => {
      cancelled = true;
      for (const c of cancels) c();
      if (!ended) { ended = true; onEnd(); }
    };
  }

  // ---- internals ----------------------------------------------------------------------------

  private schedule(id: string): void {
    if (this.stopped) return;
    this.queue.schedule(id, (k) => this.reconcile(k));
  }

  private dropTask(id: string): void {
    const l = this.tasks.get(id);
    if (!l) return;
    if (l.timer) clearTimeout(l.timer);
    this.tasks.delete(id);
    this.dropped.add(id);
  }

  private queueNetworkRemoval(n: NetworkObj): void {
    if (n.spec.external) return;
    const stillUsed = [...this.networks.values()].some((x) => x.name === n.name);
    if (!stillUsed) this.netRemovals.set(n.name, n.stack);
  }

  private async tryRemovals(afterQueue: boolean): Promise<void> {
    if (this.stopped) return;
    if (afterQueue) await this.queue.idle(); // containers of removed tasks go first
    for (const [name, stack] of [...this.netRemovals]) {
      if ([...this.networks.values()].some((x) => x.name === name)) { this.netRemovals.delete(name); continue; }
      try {
        if (await this.resources.removeNetwork(name, stack)) this.netRemovals.delete(name);
      } catch (err) {
        this.log.warn({ network: name, err: engineMessage(err) }, 'removing network failed; will retry');
      }
    }
    for (const [name, stack] of [...this.volRemovals]) {
      if ([...this.volumes.values()].some((x) => x.name === name)) { this.volRemovals.delete(name); continue; }
      try {
        if (await this.resources.removeVolume(name, stack)) this.volRemovals.delete(name);
      } catch (err) {
        this.log.warn({ volume: name, err: engineMessage(err) }, 'removing volume failed; will retry');
      }
    }
  }

  private async listOurs(): Promise<Dockerode.ContainerInfo[]> {
    return this.docker.listContainers({ all: true, filters: { label: [`${LABEL.nodeId}=${this.nodeId}`] } });
  }

  /** Rebuild taskId -> containerId from the engine. */
  private async refreshIndex(): Promise<Dockerode.ContainerInfo[]> {
    let list: Dockerode.ContainerInfo[];
    try {
      list = await this.listOurs();
    } catch (err) {
      this.log.warn({ err: engineMessage(err) }, 'cannot list containers');
      return [];
    }
    const seen = new Map<string, string>();
    for (const c of list) {
      const id = c.Labels?.[LABEL.taskId];
      if (id) seen.set(id, c.Id);
    }
    for (const [id] of this.byTask) if (!seen.has(id) && !this.queue.isRunning(id)) this.byTask.delete(id);
    for (const [id, cid] of seen) this.byTask.set(id, cid);
    return list;
  }

  private kickResync(): void {
    if (this.stopped || this.resyncing) return;
    this.resyncing = true;
    void this.resync().finally(() => { this.resyncing = false; });
  }

  private async resync(): Promise<void> {
    const p = this.refreshIndex();
    this.indexReady = p.then(() => undefined);
    const list = await p;
    const byTask = new Map(list.map((c) => [c.Labels?.[LABEL.taskId] ?? '', c]));
    for (const [id, l] of this.tasks) {
      const c = byTask.get(id);
      if (!l.last || !c || coarse(c) !== coarseStatus(l.last)) this.schedule(id);
    }
    if (this.fullReceived) for (const id of byTask.keys()) if (id && !this.tasks.has(id)) this.schedule(id);
    if (this.netRemovals.size || this.volRemovals.size) await this.tryRemovals(false);
  }

  private onEvent(e: ContainerEvent): void {
    if (e.action === 'destroy') {
      if (this.byTask.get(e.taskId) === e.containerId) this.byTask.delete(e.taskId);
    } else if (e.containerId && !this.byTask.has(e.taskId)) {
      this.byTask.set(e.taskId, e.containerId);
    }
    const l = this.tasks.get(e.taskId);
    // Our own start-up inspects the container when done: skip the echoes of it.
    if (l?.busy && (e.action === 'create' || e.action === 'start')) return;
    if (l || this.fullReceived) this.schedule(e.taskId);
  }

  private async containerIdFor(taskId: string): Promise<string | undefined> {
    const known = this.tasks.get(taskId)?.containerId ?? this.byTask.get(taskId);
    if (known) return known;
    const list = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL.taskId}=${taskId}`] } });
    return list[0]?.Id;
  }

  private async inspect(cid: string | undefined): Promise<Dockerode.ContainerInspectInfo | undefined> {
    if (!cid) return undefined;
    try {
      return await this.docker.getContainer(cid).inspect();
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  private report(l: Local, s: TaskStatus): void {
    if (this.stopped) return;
    if (l.last) {
      if (isTerminal(l.last.state) && l.last.state !== s.state) return;
      if (taskStateIndex(s.state) < taskStateIndex(l.last.state)) return;
    }
    const sig = sigOf(s);
    if (sig === l.sig) return;
    l.sig = sig;
    l.last = s;
    this.log.debug({ task: l.task.id, state: s.state, msg: s.message, err: s.err }, 'task status');
    this.opts.report(l.task.id, s);
    this.refreshIngress();
  }

  private isDone(l: Local): boolean {
    return isTerminal(l.task.status.state) || (!!l.last && isTerminal(l.last.state));
  }

  /** Bring the engine in line with one task's desired state. Never runs twice at once per task. */
  private async reconcile(id: string): Promise<void> {
    await this.indexReady;
    if (this.stopped) return;
    const l = this.tasks.get(id);
    if (!l) {
      if (this.fullReceived || this.dropped.has(id)) await this.removeContainerOf(id);
      this.dropped.delete(id);
      return;
    }
    const t = l.task;
    const cid = l.containerId ?? this.byTask.get(id);
    let info = await this.inspect(cid);
    if (info) {
      l.containerId = info.Id;
      l.hadContainer = true;
      this.byTask.set(id, info.Id);
    } else {
      l.containerId = undefined;
      if (cid && this.byTask.get(id) === cid) this.byTask.delete(id);
    }
    const live = (i?: Dockerode.ContainerInspectInfo) => !!i && (i.State.Running || i.State.Paused || i.State.Restarting);

    // Shutdown / remove.
    if (taskStateIndex(t.desiredState) > RUNNING_IDX) {
      if (l.timer) { clearTimeout(l.timer); l.timer = undefined; }
      if (info && live(info)) {
        // Out of the ingress balancer already (refreshIngress): let its requests in flight
        // finish before the signal, as Swarm's drain does, but only as long as needed.
        await this.proxy.drain(ingressBackendsOf(t, l.last), Math.min(INGRESS_DRAIN_MS, graceMs(t)));
        await this.down.run(() => this.stopContainer(info!.Id, graceMs(t)));
        info = await this.inspect(info.Id);
      }
      if (!this.isDone(l)) {
        this.report(l, {
          state: 'shutdown', timestamp: Date.now(), message: 'shutdown',
          containerId: info?.Id, exitCode: info && info.State.Status !== 'created' ? info.State.ExitCode : undefined,
        });
      }
      if (t.desiredState === 'remove' && info) await this.removeContainerOf(id);
      return;
    }

    if (this.isDone(l)) {
      // The manager counts this task dead (e.g. while we were cut off) and replaced it.
      if (isTerminal(t.status.state) && info && live(info)) {
        this.log.info({ task: id }, 'task is dead for the manager: stopping its container');
        await this.down.run(() => this.stopContainer(info!.Id, graceMs(t)));
      }
      return;
    }

    if (info) {
      const st = statusFromContainer(t, info);
      if (st && st.state === 'running' && st.health === 'unhealthy') {
        // As in Swarm: an unhealthy container fails its task (the restart policy decides what
        // next). Reported before the stop, so the replacement is not held up by the grace period.
        this.report(l, { ...st, state: 'failed', timestamp: Date.now(), message: 'task: unhealthy container', err: 'unhealthy container: its healthcheck failed' });
        await this.down.run(() => this.stopContainer(info!.Id, graceMs(t)));
        return;
      }
      if (st) {
        if (st.state === 'running') await this.bindIngress(t).catch((err) => this.log.warn({ task: id, err: (err as Error).message }, 'ingress for adopted task'));
        this.report(l, st);
        return;
      }
      // Created, never started (e.g. the agent stopped half way): start it.
      await this.up.run(() => this.startUp(l, info));
      return;
    }

    if (l.hadContainer || t.status.state === 'running') {
      this.report(l, { state: 'failed', timestamp: Date.now(), message: 'container removed', err: 'the task\'s container was removed outside tsswarm' });
      return;
    }

    const wait = (t.notBefore ?? 0) - Date.now();
    if (wait > 0) {
      this.report(l, { state: 'accepted', timestamp: Date.now(), message: 'waiting for restart delay' });
      if (l.timer) clearTimeout(l.timer);
      l.timer = setTimeout(() => { l.timer = undefined; this.schedule(id); }, wait + 5);
      return;
    }
    await this.up.run(() => this.startUp(l));
  }

  private resolveNetworks(t: TaskObj): { name: string; aliases: string[]; obj?: NetworkObj }[] {
    const short = shortServiceName(t);
    const nets = [...this.networks.values()];
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

  private resolveMounts(t: TaskObj): { mounts: ResolvedMount[]; volumes: { name: string; obj?: VolumeObj }[] } {
    const vols = [...this.volumes.values()];
    const needed: { name: string; obj?: VolumeObj }[] = [];
    const mounts = (t.spec.volumes ?? []).map((m): ResolvedMount => {
      if (m.type === 'volume' && m.source) {
        const plain = volumeFullName(t.stack, m.source);
        const obj = vols.find((v) => v.name === plain && v.stack === t.stack)
          ?? vols.find((v) => v.name === m.source && (v.spec.external || v.spec.name))
          ?? vols.find((v) => v.name === plain);
        const name = obj?.name ?? plain;
        needed.push({ name, obj });
        return { type: 'volume', source: name, target: m.target, readOnly: m.read_only };
      }
      return { type: m.type, source: m.source, target: m.target, readOnly: m.read_only };
    });
    return { mounts, volumes: needed };
  }

  /** Open the ingress listeners a task publishes. Throws PortInUseError. */
  private async bindIngress(t: TaskObj): Promise<void> {
    for (const p of t.spec.ports ?? []) {
      if (p.mode !== 'ingress' || p.published === undefined) continue;
      const key = ingressKeyOf(p, this.ingressBind);
      const ks = ingressKeyString(key);
      const owner = this.ingressOwners.get(ks);
      if (owner && owner !== t.serviceId) throw new PortInUseError(key);
      this.ingressOwners.set(ks, t.serviceId); // before awaiting: a concurrent claim by another service fails
      try {
        await this.proxy.bind(key);
      } catch (err) {
        if (this.ingressOwners.get(ks) === t.serviceId && !this.proxy.has(key)) this.ingressOwners.delete(ks);
        throw err;
      }
    }
  }

  /** Backends of every ingress port: local tasks that run and (if checked) are healthy. */
  private refreshIngress(): void {
    const wanted = new Map<string, { key: IngressKey; backends: Backend[]; serviceId: string }>();
    for (const l of this.tasks.values()) {
      const t = l.task;
      if (taskStateIndex(t.desiredState) > RUNNING_IDX) continue;
      for (const p of t.spec.ports ?? []) {
        if (p.mode !== 'ingress' || p.published === undefined) continue;
        const key = ingressKeyOf(p, this.ingressBind);
        const ks = ingressKeyString(key);
        const owner = this.ingressOwners.get(ks);
        if (owner && owner !== t.serviceId) continue;
        let w = wanted.get(ks);
        if (!w) { w = { key, backends: [], serviceId: t.serviceId }; wanted.set(ks, w); }
        const s = l.last;
        if (!s || s.state !== 'running' || (s.health !== 'none' && s.health !== 'healthy' && s.health !== undefined)) continue;
        const b = s.portBindings?.find((x) => x.target === p.target && x.protocol === p.protocol);
        if (b) w.backends.push(backendOf(b));
      }
    }
    for (const w of wanted.values()) this.proxy.setBackends(w.key, w.backends);
    for (const key of this.proxy.keys()) {
      const ks = ingressKeyString(key);
      if (!wanted.has(ks)) {
        this.ingressOwners.delete(ks);
        void this.proxy.release(key);
      }
    }
  }

  /** preparing -> starting -> running, or rejected/failed with the reason. */
  private async startUp(l: Local, existing?: Dockerode.ContainerInspectInfo): Promise<void> {
    const t = l.task;
    const id = t.id;
    l.busy = true;
    try {
      if (this.stopped || this.tasks.get(id) !== l) return;
      let cid = existing?.Id;
      if (!existing) {
        this.report(l, { state: 'preparing', timestamp: Date.now(), message: 'preparing' });
        const nets = this.resolveNetworks(t);
        const { mounts, volumes } = this.resolveMounts(t);
        try {
          await Promise.all([
            this.resources.ensureImage(t.spec.image),
            ...nets.map((n) => this.resources.ensureNetwork(n.name, t.stack, n.obj)),
            ...volumes.map((v) => this.resources.ensureVolume(v.name, t.stack, v.obj)),
            this.bindIngress(t),
          ]);
        } catch (err) {
          const msg = err instanceof PrepareError || err instanceof PortInUseError ? err.message : engineMessage(err);
          this.report(l, { state: 'rejected', timestamp: Date.now(), message: 'preparing failed', err: msg });
          return;
        }
        if (this.stopped || this.tasks.get(id) !== l || taskStateIndex(l.task.desiredState) > RUNNING_IDX) return;
        this.report(l, { state: 'starting', timestamp: Date.now(), message: 'starting' });
        try {
          const c = await this.docker.createContainer(createOptions(t, { nodeId: this.nodeId, networks: nets, mounts }));
          cid = c.id;
        } catch (err) {
          if (statusCode(err) === 409) {
            // A container of this name exists: adopt it on the next pass.
            await this.refreshIndex();
            if (this.byTask.has(id)) { this.schedule(id); return; }
          }
          if (statusCode(err) === 404 && /image/i.test(engineMessage(err))) this.resources.forget();
          this.report(l, { state: 'rejected', timestamp: Date.now(), message: 'create failed', err: explainEngineError(err, t) });
          return;
        }
        l.containerId = cid;
        l.hadContainer = true;
        this.byTask.set(id, cid);
        for (const n of nets.slice(1)) {
          try {
            await this.docker.getNetwork(n.name).connect({ Container: cid, EndpointConfig: { Aliases: n.aliases } });
          } catch (err) {
            this.report(l, { state: 'failed', timestamp: Date.now(), message: 'start failed', containerId: cid, err: `connecting to network ${n.name}: ${engineMessage(err)}` });
            return;
          }
        }
      } else {
        this.report(l, { state: 'starting', timestamp: Date.now(), message: 'starting', containerId: cid });
        try {
          await this.bindIngress(t);
        } catch (err) {
          this.report(l, { state: 'rejected', timestamp: Date.now(), message: 'preparing failed', err: (err as Error).message });
          return;
        }
      }
      const c = this.docker.getContainer(cid!);
      try {
        await c.start();
      } catch (err) {
        if (statusCode(err) !== 304) {
          this.report(l, { state: 'failed', timestamp: Date.now(), message: 'start failed', containerId: cid, err: explainEngineError(err, t) });
          return;
        }
      }
      const info = await this.inspect(cid);
      if (!info) {
        this.report(l, { state: 'failed', timestamp: Date.now(), message: 'container removed', err: 'the task\'s container vanished while starting' });
        return;
      }
      const st = statusFromContainer(t, info);
      if (st) this.report(l, st);
    } finally {
      l.busy = false;
    }
  }

  private async stopContainer(cid: string, grace?: number): Promise<void> {
    try {
      await this.docker.getContainer(cid).stop(grace === undefined ? {} : { t: Math.ceil(grace / 1000) });
    } catch (err) {
      const c = statusCode(err);
      if (c !== 304 && c !== 404) throw err;
    }
  }

  /** Stop (with the container's own grace) and remove the container of a task no longer assigned. */
  private async removeContainerOf(taskId: string): Promise<void> {
    let cids: string[];
    const known = this.byTask.get(taskId);
    if (known) cids = [known];
    else {
      const list = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL.taskId}=${taskId}`, `${LABEL.nodeId}=${this.nodeId}`] } });
      cids = list.map((c) => c.Id);
    }
    await this.down.run(async () => {
      for (const cid of cids) {
        this.log.info({ task: taskId, container: cid.slice(0, 12) }, 'removing container');
        await this.stopContainer(cid);
        try {
          await this.docker.getContainer(cid).remove({ force: true, v: true });
        } catch (err) {
          if (statusCode(err) !== 404 && statusCode(err) !== 409) throw err; // 409: removal in progress
        }
      }
    });
    if (this.byTask.get(taskId) === known) this.byTask.delete(taskId);
  }
}

/** Coarse state of a listed container, comparable with coarseStatus(). */
function coarse(c: Dockerode.ContainerInfo): string {
  if (c.State === 'running' || c.State === 'paused') {
    const h = /\(healthy\)/.test(c.Status) ? 'healthy' : /\(unhealthy\)/.test(c.Status) ? 'unhealthy' : /health: starting/.test(c.Status) ? 'starting' : 'none';
    return `running/${h}`;
  }
  if (c.State === 'created') return 'created';
  return 'exited';
}

function coarseStatus(s: TaskStatus): string {
  if (s.state === 'running') return `running/${s.health ?? 'none'}`;
  if (isTerminal(s.state)) return 'exited';
  return 'created';
}

/** Longest wait for a stopping task's ingress connections to finish. */
const INGRESS_DRAIN_MS = 2000;

const backendOf = (b: { hostIp: string; hostPort: number }): Backend => ({ host: b.hostIp === '0.0.0.0' ? '127.0.0.1' : b.hostIp, port: b.hostPort });

/** Where a task's ingress-published ports are reachable on this node (per its last status). */
function ingressBackendsOf(t: TaskObj, last: TaskStatus | undefined): Backend[] {
  const out: Backend[] = [];
  for (const p of t.spec.ports ?? []) {
    if (p.mode !== 'ingress' || p.published === undefined) continue;
    const b = last?.portBindings?.find((x) => x.target === p.target && x.protocol === p.protocol && x.protocol === 'tcp');
    if (b) out.push(backendOf(b));
  }
  return out;
}
