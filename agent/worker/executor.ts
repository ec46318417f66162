// The engine side of the worker: which container belongs to which task (ContainerIndex), what
// a task's container looks like now (observe), and the engine calls that carry out the
// decisions of reconcile.ts (Executor.run). Start-ups are bounded by `parallelism`,
// stops and removals by 16.

import { mkdir } from 'node:fs/promises';
import { timerDelay } from '../../common/duration.js';
import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import { taskStateIndex, type TaskStatus } from '../../common/api/objects.js';
import { AgentErrorCodes, TaskError, isEngineUnavailable } from '../errors.js';
import { LABEL, classifyEngineError, createOptions, engineMessage, statusCode, statusFromContainer } from '../exec/container.js';
import type { Resources } from '../exec/resources.js';
import { fileMounts, planTaskFiles, usesFiles, type SecretFiles } from '../exec/secrets.js';
import type { Assignments, Local } from './assignments.js';
import type { Ingress } from './ingress.js';
import { Limiter } from './queue.js';
import { observed, type Action, type Observed } from './reconcile.js';

const RUNNING_IDX = taskStateIndex('running');

/** taskId -> containerId: from the last listing plus what we created or saw in events. */
export class ContainerIndex {
  readonly byTask = new Map<string, string>();

  constructor(
    private readonly docker: Dockerode,
    private readonly nodeId: string,
    private readonly log: Logger,
    /** A task with an operation in flight keeps its entry (its container may be new). */
    private readonly busy: (taskId: string) => boolean,
  ) {}

  /** This node's containers (all states). */
  listOurs(): Promise<Dockerode.ContainerInfo[]> {
    return this.docker.listContainers({ all: true, filters: { label: [`${LABEL.nodeId}=${this.nodeId}`] } });
  }

  /** Rebuild the index from the engine; returns the listing ([] when the engine cannot be read). */
  async refresh(): Promise<Dockerode.ContainerInfo[]> {
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
    for (const [id] of this.byTask) if (!seen.has(id) && !this.busy(id)) this.byTask.delete(id);
    for (const [id, cid] of seen) this.byTask.set(id, cid);
    return list;
  }

  /** Containers of a task on this node: the known one, else whatever carries its label. */
  async containersOf(taskId: string): Promise<string[]> {
    const known = this.byTask.get(taskId);
    if (known) return [known];
    const list = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL.taskId}=${taskId}`, `${LABEL.nodeId}=${this.nodeId}`] } });
    return list.map((c) => c.Id);
  }
}

/** What the executor needs from the worker around it. */
export interface ExecutorHost {
  report(l: Local, s: TaskStatus): void;
  /** Reconcile this task again (soon, after the current operation). */
  schedule(taskId: string): void;
  /** The worker is stopping: start nothing new. */
  isStopped(): boolean;
  /**
   * An engine call of this task failed: true when the engine itself does not answer (the task
   * was told to wait for it, and is looked at again when it answers), false to fail it as usual.
   */
  engineLost(l: Local, err: unknown): Promise<boolean>;
}

export class Executor {
  private readonly up: Limiter;
  private readonly down = new Limiter(16);

  constructor(
    private readonly docker: Dockerode,
    private readonly nodeId: string,
    private readonly log: Logger,
    private readonly index: ContainerIndex,
    private readonly assigned: Assignments,
    private readonly resources: Resources,
    private readonly ingress: Ingress,
    private readonly files: SecretFiles,
    private readonly host: ExecutorHost,
    parallelism = 8,
  ) {
    this.up = new Limiter(parallelism);
  }

  async inspect(cid: string | undefined): Promise<Dockerode.ContainerInspectInfo | undefined> {
    if (!cid) return undefined;
    try {
      return await this.docker.getContainer(cid).inspect();
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** The container of an assigned task now; keeps the task's and the index's container id in step. */
  async observeTask(l: Local, now: number): Promise<Observed | undefined> {
    const id = l.task.id;
    const cid = l.containerId ?? this.index.byTask.get(id);
    const info = await this.inspect(cid);
    if (!info) {
      l.containerId = undefined;
      if (cid && this.index.byTask.get(id) === cid) this.index.byTask.delete(id);
      return undefined;
    }
    l.containerId = info.Id;
    l.hadContainer = true;
    this.index.byTask.set(id, info.Id);
    return observed(info, statusFromContainer(l.task, info, now));
  }

  /** The container of a task that is not assigned, if any. */
  async observeUnassigned(taskId: string): Promise<Observed | undefined> {
    const known = this.index.byTask.get(taskId);
    if (known) {
      const info = await this.inspect(known);
      if (info) return observed(info, undefined);
      if (this.index.byTask.get(taskId) === known) this.index.byTask.delete(taskId);
    }
    for (const cid of await this.index.containersOf(taskId)) {
      const info = await this.inspect(cid);
      if (info) return observed(info, undefined);
    }
    return undefined;
  }

  /** Carry out one action of `decide` for task `taskId` (`l` absent: not assigned). */
  async run(a: Action, taskId: string, l: Local | undefined, container: Observed | undefined): Promise<void> {
    switch (a.do) {
      case 'report':
        if (l) this.host.report(l, a.status);
        return;
      case 'wait':
        if (!l) return;
        if (l.timer) clearTimeout(l.timer);
        l.wakeAt = a.at;
        l.timer = setTimeout(() => { l.timer = undefined; l.wakeAt = undefined; this.host.schedule(taskId); }, timerDelay(a.at - Date.now() + 5));
        return;
      case 'cancel-wait':
        if (l?.timer) clearTimeout(l.timer);
        if (l) { l.timer = undefined; l.wakeAt = undefined; }
        return;
      case 'drain':
        if (l) await this.ingress.drain(l.task, l.last);
        return;
      case 'stop':
        if (container) await this.down.run(() => this.stopContainer(container.id, a.graceMs));
        return;
      case 'remove':
        await this.removeContainersOf(taskId);
        return;
      case 'adopt':
        if (l) await this.ingress.bind(l.task).catch((err) => this.log.warn({ task: taskId, err: (err as Error).message }, 'ingress for adopted task'));
        return;
      case 'start':
        if (l && container) await this.up.run(() => this.startUp(l, container.id));
        return;
      case 'create-start':
        if (l) await this.up.run(() => this.startUp(l));
        return;
    }
  }

  private current(l: Local): boolean {
    return !this.host.isStopped() && this.assigned.tasks.get(l.task.id) === l;
  }

  private fail(l: Local, state: 'failed' | 'rejected', message: string, e: { err: string; errCode: string }, containerId?: string): void {
    this.host.report(l, { state, timestamp: Date.now(), message, containerId, err: e.err, errCode: e.errCode });
  }

  /** preparing -> starting -> running, or rejected/failed with the reason. */
  private async startUp(l: Local, existing?: string): Promise<void> {
    const t = l.task;
    const id = t.id;
    l.busy = true;
    try {
      if (!this.current(l)) return;
      let cid = existing;
      if (!existing) {
        const files = usesFiles(t) ? planTaskFiles(this.files.root, t, this.assigned.files) : { files: [] };
        if ('wait' in files) {
          // Looked at again when a secret or config arrives (Worker.assign).
          if (!l.waitingFiles) this.log.info({ task: id, why: files.wait }, 'task waits for a secret or config');
          l.waitingFiles = true;
          this.host.report(l, { state: 'preparing', timestamp: Date.now(), message: files.wait });
          return;
        }
        l.waitingFiles = false;
        if ('error' in files) {
          this.log.warn({ task: id, err: files.error.err }, 'task rejected: its secrets or configs are not available');
          this.fail(l, 'rejected', 'preparing failed', files.error);
          return;
        }
        this.host.report(l, { state: 'preparing', timestamp: Date.now(), message: 'preparing' });
        const nets = this.assigned.networksOf(t);
        const resolved = this.assigned.mountsOf(t);
        const { volumes } = resolved;
        const mounts = [...resolved.mounts, ...fileMounts(files.files)];
        if (files.files.length > 0) {
          try {
            // The values as planned: the set may change while the tmpfs is made ready.
            const values = new Map(files.files.map((f) => [f.hostPath, this.assigned.files[f.kind].get(f.id)?.data ?? '']));
            await this.files.write(id, files.files, (f) => Buffer.from(values.get(f.hostPath) ?? '', 'base64'));
          } catch (err) {
            const e = err instanceof TaskError ? { err: err.message, errCode: err.code } : { err: (err as Error).message, errCode: AgentErrorCodes.SECRETS_TMPFS_UNAVAILABLE };
            this.log.warn({ task: id, err: e.err }, 'task rejected: its secret and config files cannot be written');
            this.fail(l, 'rejected', 'preparing failed', e);
            return;
          }
        }
        let imageRef = t.spec.image;
        try {
          await Promise.all([
            this.resources.ensureImage(t.spec.image, t.spec.pull_policy, t.spec.image_id, (message) => this.host.report(l, { state: 'preparing', timestamp: Date.now(), message })).then((ref) => { imageRef = ref; }),
            ...nets.map((n) => this.resources.networks.ensure(n.name, t.stack, n.obj)),
            ...volumes.map((v) => this.resources.volumes.ensure(v.name, t.stack, v.obj)),
            this.ingress.bind(t),
            ...resolved.mounts.filter((m) => m.createHostPath && m.source).map((m) => createHostPath(m.source!)),
          ]);
        } catch (err) {
          if (await this.host.engineLost(l, err)) return;
          this.fail(l, 'rejected', 'preparing failed', err instanceof TaskError
            ? { err: err.message, errCode: err.code }
            : { err: engineMessage(err), errCode: AgentErrorCodes.ENGINE_UNAVAILABLE });
          return;
        }
        if (!this.current(l) || taskStateIndex(l.task.desiredState) > RUNNING_IDX) return;
        this.host.report(l, { state: 'starting', timestamp: Date.now(), message: 'starting' });
        try {
          const c = await this.docker.createContainer(createOptions(t, { nodeId: this.nodeId, networks: nets, mounts, image: imageRef }));
          cid = c.id;
        } catch (err) {
          if (statusCode(err) === 409) {
            // A container of this name exists: adopt it on the next pass.
            await this.index.refresh();
            if (this.index.byTask.has(id)) { this.host.schedule(id); return; }
          }
          if (await this.host.engineLost(l, err)) return;
          if (statusCode(err) === 404 && /image/i.test(engineMessage(err))) this.resources.forget();
          this.fail(l, 'rejected', 'create failed', classifyEngineError(err, t, AgentErrorCodes.CONTAINER_CREATE_FAILED));
          return;
        }
        l.containerId = cid;
        l.hadContainer = true;
        this.index.byTask.set(id, cid);
        for (const n of nets.slice(1)) {
          try {
            await this.docker.getNetwork(n.name).connect({ Container: cid, EndpointConfig: { Aliases: n.aliases } });
          } catch (err) {
            if (await this.host.engineLost(l, err)) return;
            const errCode = isEngineUnavailable(err) ? AgentErrorCodes.ENGINE_UNAVAILABLE : AgentErrorCodes.NETWORK_UNAVAILABLE;
            this.fail(l, 'failed', 'start failed', { err: `connecting to network ${n.name}: ${engineMessage(err)}`, errCode }, cid);
            return;
          }
        }
      } else {
        this.host.report(l, { state: 'starting', timestamp: Date.now(), message: 'starting', containerId: cid });
        try {
          await this.ingress.bind(t);
        } catch (err) {
          const errCode = err instanceof TaskError ? err.code : AgentErrorCodes.PORT_IN_USE;
          this.fail(l, 'rejected', 'preparing failed', { err: (err as Error).message, errCode });
          return;
        }
      }
      try {
        await this.docker.getContainer(cid!).start();
      } catch (err) {
        if (statusCode(err) !== 304) {
          if (await this.host.engineLost(l, err)) return;
          this.fail(l, 'failed', 'start failed', classifyEngineError(err, t, AgentErrorCodes.CONTAINER_START_FAILED), cid);
          return;
        }
      }
      const info = await this.inspect(cid);
      if (!info) {
        this.fail(l, 'failed', 'container removed', { err: 'the task\'s container vanished while starting', errCode: AgentErrorCodes.CONTAINER_REMOVED });
        return;
      }
      const st = statusFromContainer(t, info);
      if (st) this.host.report(l, st);
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

  /** Stop (with the container's own grace) and remove the containers of a task, anonymous volumes included. */
  private async removeContainersOf(taskId: string): Promise<void> {
    const known = this.index.byTask.get(taskId);
    const cids = await this.index.containersOf(taskId);
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
    if (this.index.byTask.get(taskId) === known) this.index.byTask.delete(taskId);
  }
}

/** bind.create_host_path: the source folder of a bind mount, made on this node when it is missing. */
async function createHostPath(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
  } catch (err) {
    throw new TaskError(AgentErrorCodes.MOUNT_INVALID, `invalid mount: cannot create the bind source ${path} on this node (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}
