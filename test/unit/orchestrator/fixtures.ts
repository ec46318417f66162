// Builders for ClusterState fixtures, and a tiny simulator: apply ops as the store would
// (compare-and-set on meta.version), play the agent, and run the loops to convergence.

import { defaultDeploy, type HealthcheckSpec, type PortSpec, type RestartPolicySpec, type ServiceSpec, type UpdateConfigSpec } from '../../../common/spec.js';
import { reapTasks, reconcileServices } from '../../../manager/orchestrator/index.js';
import { checkNodes } from '../../../manager/nodemonitor/index.js';
import { schedule } from '../../../manager/scheduler/index.js';
import { withStatus } from '../../../manager/objects/task.js';
import {
  isTerminal, type ClusterState, type HealthState, type NodeObj, type ServiceObj, type StoreObj, type StoreOp, type TaskObj, type TaskState,
} from '../../../manager/store/types.js';

export const T0 = 1_700_000_000_000;
export const GB = 1024 ** 3;

/** Deterministic ids: t0001, t0002, ... */
export function idGen(prefix = 't'): () => string {
  let i = 0;
  return () => `${prefix}${String(++i).padStart(4, '0')}`;
}

export interface NodeOpts {
  hostname?: string;
  role?: 'manager' | 'worker';
  availability?: 'active' | 'pause' | 'drain';
  state?: NodeObj['status']['state'];
  labels?: Record<string, string>;
  engineLabels?: Record<string, string>;
  cpus?: number;
  memory?: number;
  os?: string;
  arch?: string;
  heartbeat?: number;
}

export function node(id: string, o: NodeOpts = {}): NodeObj {
  return {
    kind: 'node', id, meta: { version: 1, createdAt: T0, updatedAt: T0 },
    spec: { role: o.role ?? 'worker', availability: o.availability ?? 'active', labels: o.labels ?? {} },
    description: {
      hostname: o.hostname ?? `host-${id}`,
      platform: { os: o.os ?? 'linux', arch: o.arch ?? 'x86_64' },
      resources: { nanoCpus: (o.cpus ?? 4) * 1e9, memoryBytes: o.memory ?? 8 * GB },
      engine: { version: '20.10.24', labels: o.engineLabels ?? {} },
    },
    status: { state: o.state ?? 'ready', addr: '127.0.0.1', message: '', lastHeartbeat: o.heartbeat ?? T0 },
  };
}

export interface ServiceOpts {
  id?: string;
  mode?: 'replicated' | 'global' | 'replicated-job' | 'global-job';
  replicas?: number;
  maxConcurrent?: number;
  dependsOn?: ServiceSpec['depends_on'];
  stack?: string;
  specVersion?: number;
  image?: string;
  restart?: Partial<RestartPolicySpec>;
  update?: Partial<UpdateConfigSpec>;
  constraints?: string[];
  preferences?: { spread: string }[];
  maxPerNode?: number;
  reservations?: { cpus?: number; memory?: number };
  ports?: PortSpec[];
  healthcheck?: HealthcheckSpec;
  updateStatus?: ServiceObj['updateStatus'];
}

export function spec(o: ServiceOpts = {}): ServiceSpec {
  const deploy = defaultDeploy();
  deploy.mode = o.mode ?? 'replicated';
  deploy.replicas = o.replicas ?? 1;
  if (o.maxConcurrent !== undefined) deploy['x-max-concurrent'] = o.maxConcurrent;
  deploy.restart_policy = { ...deploy.restart_policy, delay: '0s', ...o.restart };
  deploy.update_config = { ...deploy.update_config, ...o.update };
  deploy.placement = { constraints: o.constraints ?? [], preferences: o.preferences ?? [], ...(o.maxPerNode ? { max_replicas_per_node: o.maxPerNode } : {}) };
  deploy.resources = { limits: {}, reservations: o.reservations ?? {} };
  return {
    image: o.image ?? 'app:1', environment: {}, labels: {}, ports: o.ports ?? [], volumes: [], networks: {}, depends_on: o.dependsOn ?? {}, deploy,
    ...(o.healthcheck ? { healthcheck: o.healthcheck } : {}),
  };
}

export function service(name: string, o: ServiceOpts = {}): ServiceObj {
  return {
    kind: 'service', id: o.id ?? `svc-${name}`, meta: { version: 1, createdAt: T0, updatedAt: T0 },
    name: `${o.stack ?? 'st'}_${name}`, stack: o.stack ?? 'st', shortName: name, spec: spec(o), specVersion: o.specVersion ?? 1,
    ...(o.updateStatus ? { updateStatus: o.updateStatus } : {}),
  };
}

export interface TaskOpts {
  id?: string;
  slot?: number;
  nodeId?: string;
  state?: TaskState;
  desired?: TaskState;
  specVersion?: number;
  createdAt?: number;
  timestamp?: number;
  exitCode?: number;
  err?: string;
  health?: HealthState;
  message?: string;
  restartHistory?: number[];
}

let taskSeq = 0;
export function task(svc: ServiceObj, o: TaskOpts = {}): TaskObj {
  const specVersion = o.specVersion ?? svc.specVersion;
  const t: TaskObj = {
    kind: 'task', id: o.id ?? `x${String(++taskSeq).padStart(4, '0')}`,
    meta: { version: 1, createdAt: o.createdAt ?? T0, updatedAt: o.createdAt ?? T0 },
    serviceId: svc.id, serviceName: svc.name, stack: svc.stack,
    specVersion, spec: structuredClone(svc.spec),
    desiredState: o.desired ?? 'running',
    status: { state: o.state ?? 'running', timestamp: o.timestamp ?? o.createdAt ?? T0, message: o.message ?? o.state ?? 'running' },
  };
  if (o.slot !== undefined) t.slot = o.slot;
  if (o.nodeId !== undefined) t.nodeId = o.nodeId;
  else if (t.status.state !== 'pending' && t.status.state !== 'new' && !svc.spec.deploy.mode.startsWith('global')) t.nodeId = 'n1';
  if (o.exitCode !== undefined) t.status.exitCode = o.exitCode;
  if (o.err !== undefined) t.status.err = o.err;
  if (o.health !== undefined) t.status.health = o.health;
  if (o.restartHistory) t.restartHistory = o.restartHistory;
  return t;
}

export function cluster(p: Partial<ClusterState> = {}): ClusterState {
  return { nodes: p.nodes ?? [], services: p.services ?? [], tasks: p.tasks ?? [], networks: p.networks ?? [], volumes: p.volumes ?? [] };
}

// ---- plan inspection ----

export const creates = (ops: StoreOp[]): TaskObj[] =>
  ops.flatMap((o) => (o.op === 'create' && o.obj.kind === 'task' ? [o.obj] : []));
export const updates = (ops: StoreOp[]): TaskObj[] =>
  ops.flatMap((o) => (o.op === 'update' && o.obj.kind === 'task' ? [o.obj] : []));
export const serviceUpdates = (ops: StoreOp[]): ServiceObj[] =>
  ops.flatMap((o) => (o.op === 'update' && o.obj.kind === 'service' ? [o.obj] : []));
export const deletes = (ops: StoreOp[]): string[] => ops.flatMap((o) => (o.op === 'delete' ? [o.id] : []));
/** Ids of tasks the plan asks to stop. */
export const stopped = (ops: StoreOp[]): string[] => updates(ops).filter((t) => t.desiredState === 'shutdown').map((t) => t.id);

// ---- simulator ----

const listOf = (s: ClusterState, o: StoreObj): StoreObj[] | undefined =>
  o.kind === 'node' ? s.nodes : o.kind === 'service' ? s.services : o.kind === 'task' ? s.tasks : undefined;

/** Apply ops like the store: all or nothing, compare-and-set on versions. Returns a new state. */
export function applyOps(state: ClusterState, ops: StoreOp[]): ClusterState {
  const next = structuredClone(state);
  let version = Math.max(0, ...[...next.nodes, ...next.services, ...next.tasks].map((o) => o.meta.version));
  for (const op of ops) {
    if (op.op === 'delete') {
      const key = `${op.kind}s` as 'tasks' | 'nodes' | 'services';
      const list = next[key] as StoreObj[];
      const i = list.findIndex((o) => o.id === op.id);
      if (i < 0) throw new Error(`delete of missing ${op.kind} ${op.id}`);
      list.splice(i, 1);
      continue;
    }
    const list = listOf(next, op.obj)!;
    const i = list.findIndex((o) => o.id === op.obj.id);
    if (op.op === 'create') {
      if (i >= 0) throw new Error(`create of existing ${op.obj.id}`);
      list.push({ ...structuredClone(op.obj), meta: { ...op.obj.meta, version: ++version } });
    } else {
      if (i < 0) throw new Error(`update of missing ${op.obj.id}`);
      if (list[i].meta.version !== op.obj.meta.version) throw new Error(`version conflict on ${op.obj.id}`);
      list[i] = { ...structuredClone(op.obj), meta: { ...op.obj.meta, version: ++version } };
    }
  }
  return next;
}

export interface AgentBehaviour {
  /** Decide what a started task becomes; default: running (healthy when it has a healthcheck). */
  run?: (t: TaskObj) => Partial<TaskObj['status']>;
  /** What a running task becomes at the next step (e.g. complete), if anything. */
  finish?: (t: TaskObj) => Partial<TaskObj['status']> | undefined;
}

/** One step of every agent: assigned tasks run, tasks asked to stop are stopped. */
export function agentStep(state: ClusterState, now: number, b: AgentBehaviour = {}): ClusterState {
  const ops: StoreOp[] = [];
  for (const t of state.tasks) {
    if (!t.nodeId || isTerminal(t.status.state)) continue;
    const n = state.nodes.find((x) => x.id === t.nodeId);
    if (!n || n.status.state === 'down') continue;
    if (t.desiredState !== 'running' && t.status.state !== 'pending') {
      ops.push({ op: 'update', obj: withStatus(t, { ...t.status, state: 'shutdown', timestamp: now, message: 'shutdown' }, now) });
    } else if (t.desiredState === 'running' && t.status.state === 'assigned' && (t.notBefore ?? 0) <= now) {
      const health = t.spec.healthcheck ? 'healthy' : 'none';
      ops.push({ op: 'update', obj: withStatus(t, { state: 'running', timestamp: now, message: 'started', health, ...b.run?.(t) }, now) });
    } else if (t.desiredState === 'running' && t.status.state === 'running') {
      const end = b.finish?.(t);
      if (end) ops.push({ op: 'update', obj: withStatus(t, { ...t.status, timestamp: now, ...end }, now) });
    }
  }
  return applyOps(state, ops);
}

/**
 * One pass of the control loops, each loop's ops applied before the next one looks. Every
 * node heartbeats (as the dispatcher would report) except those in `silent`.
 */
export function loopPass(state: ClusterState, now: number, newId: () => string, silent: ReadonlySet<string> = new Set()): { state: ClusterState; ops: number; wakeAt?: number } {
  let s = state;
  let count = 0;
  let wakeAt: number | undefined;
  const run = (ops: StoreOp[]) => { count += ops.length; s = applyOps(s, ops); };
  const heartbeats = new Map(s.nodes.filter((n) => !silent.has(n.id)).map((n) => [n.id, now]));
  run(checkNodes(s, { now, graceMs: 3000, heartbeats }).ops);
  const r = reconcileServices(s, now, newId);
  if (r.wakeAt !== undefined) wakeAt = r.wakeAt;
  run(r.ops);
  run(schedule(s, now));
  run(reapTasks(s, 5));
  return { state: s, ops: count, wakeAt };
}

/** Run loops and agents until nothing changes (at most `maxSteps`); time advances 1 s a step. */
export function converge(
  state: ClusterState, newId: () => string,
  o: { now?: number; maxSteps?: number; agent?: AgentBehaviour; silent?: ReadonlySet<string> } = {},
): { state: ClusterState; now: number } {
  let s = state;
  let now = o.now ?? T0;
  for (let i = 0; i < (o.maxSteps ?? 50); i++) {
    const r = loopPass(s, now, newId, o.silent);
    const before = JSON.stringify(r.state.tasks.map((t) => [t.id, t.status.state, t.desiredState]));
    s = agentStep(r.state, now, o.agent);
    const after = JSON.stringify(s.tasks.map((t) => [t.id, t.status.state, t.desiredState]));
    if (r.ops === 0 && before === after && r.wakeAt === undefined) return { state: s, now };
    now += 1000;
  }
  return { state: s, now };
}

/** Slots with a live task, sorted, e.g. [1, 2, 3]. */
export const liveSlots = (s: ClusterState, serviceId: string): number[] =>
  s.tasks.filter((t) => t.serviceId === serviceId && t.desiredState === 'running' && !isTerminal(t.status.state)).map((t) => t.slot!).sort((a, b) => a - b);

export const withService = (s: ClusterState, svc: ServiceObj): ClusterState => ({ ...s, services: s.services.map((x) => (x.id === svc.id ? svc : x)) });
