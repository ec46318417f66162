// The agent's executor: makes the local Docker engine match the tasks the manager assigned to
// this node, and reports what the tasks do. See docs/agent.md for the behaviour in full.
//
// The Worker wires the pieces:
// - assignments.ts: what is assigned (full sets vs incremental changes);
// - reconcile.ts:   the pure decision, per task: observed container + desired state -> actions;
// - executor.ts:    observing containers and carrying the actions out on the engine;
// - gc.ts:          networks and volumes let go of, orphan containers;
// - images-gc.ts:   old revisions of the images tsswarm built (the decision: prune.ts);
// - ingress.ts:     ingress listeners and their backends; logs.ts: log fan-out.
// Per task, one operation at a time (KeyedQueue); tasks run concurrently, bounded (Limiter).
// Engine events (die, start, health_status, oom, destroy) trigger a reconcile of that task at
// once; a periodic resync compares the engine with the assignments as a safety net.
// While the engine does not answer (exec/engine.ts) nothing is failed for that: tasks that were
// to start wait, saying so; when it answers again, the events are reopened and everything is
// looked at again at once.

import type Dockerode from 'dockerode';
import type pino from 'pino';
import type { TaskStatus } from '../../common/api/objects.js';
import type { LogLine, LogRequest } from '../../common/api/logs.js';
import { LABEL } from '../exec/container.js';
import { EngineEvents, type ContainerEvent } from '../exec/events.js';
import { EngineWatch, pingEngine, type EngineWatchOptions } from '../exec/engine.js';
import { Resources } from '../exec/resources.js';
import type { ImageShipper } from '../exec/images.js';
import { SecretFiles, defaultFilesRoot, type TmpfsOps } from '../exec/secrets.js';
import type { IngressProxy } from '../ingress/proxy.js';
import { Assignments, type Assignment, type Local } from './assignments.js';
import { ContainerIndex, Executor } from './executor.js';
import { ResourceGC, orphans } from './gc.js';
import { ImagePruner } from './images-gc.js';
import { DEFAULT_IMAGE_KEEP } from './prune.js';
import { Ingress } from './ingress.js';
import { fanOutLogs } from './logs.js';
import { KeyedQueue } from './queue.js';
import { coarseListed, coarseStatus, decide, decideWithoutEngine, isDone, wouldReport, type Observed, type TaskFacts } from './reconcile.js';

export type { Assignment } from './assignments.js';

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
  /** Where the tmpfs of secret and config files is mounted (default /run/tsswarm/<nodeId>). */
  filesRoot?: string;
  /** How that tmpfs is checked and mounted (default: /proc/self/mountinfo, mount(8), umount(8)). */
  tmpfs?: TmpfsOps;
  /** How the engine is probed (timeouts, intervals). */
  engine?: Omit<EngineWatchOptions, 'ping' | 'log'>;
  /** Images from the cluster when no registry serves them (agent/exec/images.ts). */
  images?: ImageShipper;
  /**
   * Revisions of each service's built image kept on this node (default 3, at least 2: the
   * current and the previous); 0: built images are never removed.
   */
  imageKeep?: number;
  /** How often built images are pruned besides after a task's image changed (default 60 s). */
  imagePruneIntervalMs?: number;
}

/** Decide again after a stop, at most this many times per reconcile (a stop ends live containers). */
const MAX_ROUNDS = 4;

export class Worker {
  private readonly docker: Dockerode;
  private readonly log: pino.Logger;
  private readonly assigned = new Assignments();
  private readonly index: ContainerIndex;
  private readonly queue: KeyedQueue;
  private readonly resources: Resources;
  private readonly gc: ResourceGC;
  private readonly pruner?: ImagePruner;
  /** The pinned image IDs of the assigned tasks, as last pruned for. */
  private pinnedKey = '';
  private lastPrune = 0;
  private readonly ingress: Ingress;
  private readonly exec: Executor;
  private readonly events: EngineEvents;
  private readonly files: SecretFiles;
  private readonly engine: EngineWatch;
  private stopped = false;
  /** A resync was asked for while one ran: run another when it ends. */
  private resyncAgain = false;
  private resyncTimer?: NodeJS.Timeout;
  private indexReady: Promise<void> = Promise.resolve();
  private resyncing?: Promise<void>;

  constructor(private readonly opts: WorkerOptions) {
    this.docker = opts.docker;
    this.log = opts.log;
    this.queue = new KeyedQueue((key, err) => this.log.error({ task: key, err }, 'task operation failed'));
    this.index = new ContainerIndex(this.docker, opts.nodeId, this.log, (id) => this.queue.isRunning(id));
    this.resources = new Resources(this.docker, this.log, opts.pullTimeoutMs, opts.images);
    this.gc = new ResourceGC({ network: this.resources.networks, volume: this.resources.volumes }, this.log, (kind, name) => this.assigned.wants(kind, name));
    const keep = opts.imageKeep ?? DEFAULT_IMAGE_KEEP;
    if (keep > 0) this.pruner = new ImagePruner(this.docker, this.log, { keep, assigned: () => this.pinnedImages() });
    this.ingress = new Ingress(this.log, opts.ingressBind ?? '0.0.0.0');
    this.files = new SecretFiles(opts.filesRoot ?? defaultFilesRoot(opts.nodeId), this.log, opts.tmpfs);
    this.exec = new Executor(this.docker, opts.nodeId, this.log, this.index, this.assigned, this.resources, this.ingress, this.files, {
      report: (l, s) => this.report(l, s),
      schedule: (id) => this.schedule(id),
      isStopped: () => this.stopped,
      engineLost: (l, err) => this.engineLost(l, err),
    }, opts.parallelism ?? 8);
    this.engine = new EngineWatch({ ...opts.engine, ping: (signal) => pingEngine(this.docker, signal), log: this.log });
    this.engine.onChange((err) => this.engineChanged(err));
    this.events = new EngineEvents(this.docker, opts.nodeId, this.log, (e) => this.onEvent(e), () => this.kickResync(), (err) => void this.engine.suspect(err), () => this.engine.up);
  }

  /** Why the engine does not answer ('' while it does). */
  get engineError(): string { return this.engine.lastError; }

  /** Called with the new engine error ('' = answers again) when the engine's state changes. */
  onEngineChange(listener: (error: string) => void): () => void { return this.engine.onChange(listener); }

  /** The ingress proxy (its listeners and backends). */
  get proxy(): IngressProxy { return this.ingress.proxy; }

  async start(): Promise<void> {
    const up = await this.engine.start();
    this.indexReady = this.index.refresh().then(() => undefined);
    await this.indexReady;
    // Files of tasks whose container is gone (removed while the agent was down) go now; not
    // while the engine cannot say which containers there are.
    if (up && this.engine.up) await this.files.sweep((id) => this.index.byTask.has(id));
    await this.events.start();
    const every = this.opts.resyncIntervalMs ?? 10_000;
    this.resyncTimer = setInterval(() => this.kickResync(), every);
    this.resyncTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.engine.stop();
    this.events.stop();
    for (const l of this.assigned.tasks.values()) if (l.timer) clearTimeout(l.timer);
    await this.queue.idle();
    await this.ingress.close();
    await this.files.close();
  }

  async localTaskIds(): Promise<string[]> {
    let list: Dockerode.ContainerInfo[];
    try {
      list = await this.index.listOurs();
    } catch (err) {
      // The engine does not answer: the tasks last seen (the session registers all the same).
      if (await this.engine.suspect(err)) return [...this.index.byTask.keys()];
      throw err;
    }
    return [...new Set(list.map((c) => c.Labels?.[LABEL.taskId]).filter((x): x is string => !!x))];
  }

  assign(full: boolean, changes: Assignment[]): void {
    if (this.stopped) return;
    const { touched, resources, firstFull, filesChanged } = this.assigned.apply(full, changes, (id) => this.index.byTask.get(id));
    this.gc.apply(resources);
    if (filesChanged) for (const [id, l] of this.assigned.tasks) if (l.waitingFiles) touched.add(id);
    if (full) {
      // Re-report everything we know, then look at the engine again.
      for (const l of this.assigned.tasks.values()) if (l.last) this.opts.report(l.task.id, l.last);
      this.indexReady = this.index.refresh().then(() => undefined);
      void this.indexReady.then(() => {
        for (const id of this.assigned.tasks.keys()) this.schedule(id);
        for (const id of orphans(this.index.byTask.keys(), this.assigned)) this.schedule(id);
        if (firstFull) this.log.info({ tasks: this.assigned.tasks.size }, 'first full assignment: adopting and removing orphans');
      });
    }
    for (const id of touched) this.schedule(id);
    this.refreshIngress();
    if (this.gc.size) void this.indexReady.then(() => this.sweep(true));
    // A task's image changed (or a task of an image went): prune once its containers are dealt with.
    const key = [...new Set(this.pinnedImages())].sort().join(',');
    if (this.pruner && key !== this.pinnedKey) {
      this.pinnedKey = key;
      void this.indexReady.then(() => this.queue.idle()).then(() => this.pruneImages());
    }
  }

  logs(req: LogRequest, onChunk: (c: LogLine) => void, onEnd: () => void): () => void {
    return fanOutLogs({ docker: this.docker, log: this.log, containerIdFor: (id) => this.containerIdFor(id) }, req, onChunk, onEnd);
  }

  /**
   * Compare the engine with the assignments now (as the periodic resync does) and resolve once
   * that pass and every operation it started are done: whatever the worker would do about the
   * current state, it has done.
   */
  /**
   * Resolves once the assignments received so far have been acted on: the engine looked at
   * after the last full set, and every operation they started done (no new pass over the engine).
   * While the engine does not answer nothing could be acted on: that waits for it to answer and
   * for the resync that follows.
   */
  async applied(): Promise<void> {
    await this.indexReady;
    await this.queue.idle();
    while (!this.engine.up && !this.stopped) {
      await new Promise<void>((resolve) => { const off = this.engine.onChange((e) => { if (!e) { off(); resolve(); } }); });
      while (this.resyncing) await this.resyncing;
      await this.indexReady;
      await this.queue.idle();
    }
  }

  async settle(): Promise<void> {
    while (this.resyncing) await this.resyncing;
    await this.runResync();
    await this.queue.idle();
    await this.resyncing;
  }

  // ---- internals ----------------------------------------------------------------------------

  private schedule(id: string): void {
    if (this.stopped) return;
    this.queue.schedule(id, (k) => this.reconcile(k));
  }

  private refreshIngress(): void {
    this.ingress.refresh(this.assigned.tasks.values());
  }

  /** Remove the networks/volumes let go of; `afterQueue`: once the containers of removed tasks are gone. */
  private async sweep(afterQueue: boolean): Promise<void> {
    if (this.stopped) return;
    if (afterQueue) await this.queue.idle();
    if (this.stopped) return;
    await this.gc.sweep();
  }

  /** The image IDs the tasks this node holds are pinned to (whatever their desired state). */
  private *pinnedImages(): Iterable<string> {
    for (const l of this.assigned.tasks.values()) if (l.task.spec.image_id) yield l.task.spec.image_id;
  }

  private async pruneImages(): Promise<void> {
    if (this.stopped || !this.pruner || !this.engine.up) return;
    this.lastPrune = Date.now();
    await this.pruner.prune();
  }

  private kickResync(): void {
    if (this.stopped || this.resyncing) return;
    void this.runResync();
  }

  private runResync(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const p = this.resync().finally(() => {
      if (this.resyncing !== p) return;
      this.resyncing = undefined;
      if (this.resyncAgain) { this.resyncAgain = false; this.kickResync(); }
    });
    this.resyncing = p;
    return p;
  }

  /** The engine stopped or started answering. */
  private engineChanged(error: string): void {
    if (this.stopped) return;
    if (error) {
      // Tasks about to start say that they wait (the others wait silently).
      for (const id of this.assigned.tasks.keys()) this.schedule(id);
      return;
    }
    // Back: events reopened and the engine looked at again at once (it may have restarted
    // with other containers, networks, images); what is due is started, orphans removed.
    this.resources.forget();
    this.events.reconnectNow();
    if (this.resyncing) this.resyncAgain = true;
    else this.kickResync();
  }

  /** A task operation failed with `err`: if the engine is gone, the task waits for it (true). */
  private async engineLost(l: Local, err: unknown): Promise<boolean> {
    if (!(await this.engine.suspect(err))) return false;
    await this.waitForEngine(l.task.id, l);
    return true;
  }

  private async waitForEngine(id: string, l: Local | undefined): Promise<void> {
    for (const a of decideWithoutEngine(l && this.facts(l), this.engine.lastError, Date.now())) await this.exec.run(a, id, l, undefined);
  }

  private facts(l: Local): TaskFacts {
    return { task: l.task, last: l.last, hadContainer: l.hadContainer, wakeAt: l.wakeAt, ingressReady: this.ingress.ready(l.task) };
  }

  private async resync(): Promise<void> {
    // Nothing to compare while the engine does not answer; it answering again starts a pass.
    if (!this.engine.up) return;
    const p = this.index.refresh();
    this.indexReady = p.then(() => undefined);
    const list = await p;
    const byTask = new Map(list.map((c) => [c.Labels?.[LABEL.taskId] ?? '', c]));
    for (const [id, l] of this.assigned.tasks) {
      const c = byTask.get(id);
      if (!l.last || !c || coarseListed(c) !== coarseStatus(l.last)) this.schedule(id);
    }
    for (const id of orphans(byTask.keys(), this.assigned)) this.schedule(id);
    if (this.gc.size) await this.sweep(false);
    if (this.pruner && Date.now() - this.lastPrune >= (this.opts.imagePruneIntervalMs ?? 60_000)) void this.pruneImages();
    // Files no task can use any more (missed while a removal failed, or left by a crash).
    if (this.files.holding > 0) await this.files.sweep((id) => {
      const l = this.assigned.tasks.get(id);
      if (l && !isDone({ task: l.task, last: l.last, ingressReady: false })) return true;
      const c = byTask.get(id);
      return !!c && c.State !== 'exited' && c.State !== 'dead';
    });
  }

  private onEvent(e: ContainerEvent): void {
    const byTask = this.index.byTask;
    if (e.action === 'destroy') {
      if (byTask.get(e.taskId) === e.containerId) byTask.delete(e.taskId);
    } else if (e.containerId && !byTask.has(e.taskId)) {
      byTask.set(e.taskId, e.containerId);
    }
    const l = this.assigned.tasks.get(e.taskId);
    // Our own start-up inspects the container when done: skip the echoes of it.
    if (l?.busy && (e.action === 'create' || e.action === 'start')) return;
    if (l || this.assigned.fullReceived) this.schedule(e.taskId);
  }

  private async containerIdFor(taskId: string): Promise<string | undefined> {
    return this.assigned.tasks.get(taskId)?.containerId ?? (await this.index.containersOf(taskId))[0];
  }

  private report(l: Local, s: TaskStatus): void {
    if (this.stopped || !wouldReport(l.last, s)) return;
    l.last = s;
    this.log.debug({ task: l.task.id, state: s.state, msg: s.message, err: s.err, errCode: s.errCode }, 'task status');
    this.opts.report(l.task.id, s);
    this.refreshIngress();
  }

  /** Bring the engine in line with one task's desired state. Never runs twice at once per task. */
  private async reconcile(id: string): Promise<void> {
    await this.indexReady;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (this.stopped) return;
      const l = this.assigned.tasks.get(id);
      // The engine does not answer: wait for it (it answering again looks at every task).
      if (!this.engine.up) return this.waitForEngine(id, l);
      const now = Date.now();
      const removable = this.assigned.fullReceived || this.assigned.dropped.has(id);
      let container: Observed | undefined;
      let actions: ReturnType<typeof decide>;
      try {
        container = l ? await this.exec.observeTask(l, now) : removable ? await this.exec.observeUnassigned(id) : undefined;
        // A running task's container ended: an engine shutting down stops every container while
        // it still answers on the connections it has. Ask it on a new one before calling that a
        // failure (the task then waits for the engine, as a running task does; no replacement churns).
        if (l && container && !container.live && l.last?.state === 'running' && !(await this.engine.check())) return this.waitForEngine(id, l);
        actions = decide({ now, task: l && this.facts(l), container, fullReceived: this.assigned.fullReceived, dropped: this.assigned.dropped.has(id) });
        if (actions.length) this.log.debug({ task: id, actions: actions.map((a) => a.do) }, 'reconcile');
        for (const a of actions) await this.exec.run(a, id, l, container);
      } catch (err) {
        if (await this.engine.suspect(err)) return this.waitForEngine(id, l);
        throw err;
      }
      if (!l) this.assigned.dropped.delete(id);
      // A stop changed the container under the decision: look again (report it, remove it).
      if (!actions.some((a) => a.do === 'stop')) {
        await this.releaseFiles(id, l, container, actions.some((a) => a.do === 'remove'));
        return;
      }
    }
  }

  /**
   * A task's secret and config files go as soon as nothing can use them: its container was
   * removed, or the task ended (it never starts again).
   */
  private async releaseFiles(id: string, l: Local | undefined, container: Observed | undefined, removed: boolean): Promise<void> {
    const live = !!container && container.live && !removed;
    const gone = !l ? !container || removed : isDone({ task: l.task, last: l.last, ingressReady: false });
    if (gone && !live) await this.files.removeTask(id);
  }
}
