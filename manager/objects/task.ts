// Shared vocabulary of the orchestrators: what a task's state means for its slot, how new
// tasks are made, and a Plan that collects at most one op per object.

import { isTerminal, taskStateIndex, type ServiceObj, type StoreOp, type TaskObj } from '../store/types.js';
import type { ServiceSpec } from '../../common/spec.js';
import type { WriteTx } from '../store/store.js';

/** Wanted running and not (yet) dead. */
export const isLive = (t: TaskObj): boolean => t.desiredState === 'running' && !isTerminal(t.status.state);
/** Wanted running but its status is terminal: needs a restart decision. */
export const isDead = (t: TaskObj): boolean => t.desiredState === 'running' && isTerminal(t.status.state);
/** Reached a node: the agent knows about it and must stop it. */
export const isStarted = (t: TaskObj): boolean => taskStateIndex(t.status.state) >= taskStateIndex('assigned');
/**
 * On its node and not ended: it holds the node's resources and ports, and only that node can
 * report it stopped (from assignment until its status is terminal).
 */
export const holdsNode = (t: TaskObj): boolean => t.nodeId !== undefined && isStarted(t) && !isTerminal(t.status.state);

/** The spec defines a healthcheck of its own that is not disabled. */
export function hasHealthcheck(spec: ServiceSpec): boolean {
  const hc = spec.healthcheck;
  if (!hc || hc.disable) return false;
  return !!hc.test && hc.test.length > 0 && hc.test[0] !== 'NONE';
}

/**
 * A task counts as up once it runs and, if its spec has a healthcheck, is healthy. Without
 * one in the spec the image may still carry one: a reported 'starting'/'unhealthy' holds it.
 */
export function isUp(t: TaskObj): boolean {
  if (t.status.state !== 'running') return false;
  if (hasHealthcheck(t.spec)) return t.status.health === 'healthy';
  return t.status.health !== 'starting' && t.status.health !== 'unhealthy';
}

/**
 * A task with a new reported status, stamped with the manager-clock milestones the update
 * monitor window reads (agents' clocks may differ from the manager's).
 */
export function withStatus(t: TaskObj, status: TaskObj['status'], now: number): TaskObj {
  const next: TaskObj = { ...t, status };
  if (next.upAt === undefined && isUp(next)) next.upAt = now;
  if (next.endedAt === undefined && isTerminal(status.state)) next.endedAt = now;
  return next;
}

/** Plain string order (not locale-aware), so every decision iterates in the same order. */
export const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** Objects by id: the order decisions walk nodes and tasks in. */
export const byId = <T extends { id: string }>(a: T, b: T): number => cmpStr(a.id, b.id);

/** Newest first: creation time, then id (descending) so the order is total. */
export const newestFirst = (a: TaskObj, b: TaskObj): number => b.meta.createdAt - a.meta.createdAt || cmpStr(b.id, a.id);

/** Which of several live tasks to keep: up, then running, then further along, newest spec, newest. */
export const bestFirst = (a: TaskObj, b: TaskObj): number =>
  Number(isUp(b)) - Number(isUp(a))
  || taskStateIndex(b.status.state) - taskStateIndex(a.status.state)
  || b.specVersion - a.specVersion
  || newestFirst(a, b);

export interface NewTaskOptions {
  slot?: number;
  nodeId?: string;
  message: string;
  notBefore?: number;
  restartHistory?: number[];
  restartStreak?: number;
}

export function newTask(service: ServiceObj, now: number, newId: () => string, o: NewTaskOptions): TaskObj {
  const t: TaskObj = {
    kind: 'task',
    id: newId(),
    meta: { version: 0, createdAt: now, updatedAt: now },
    serviceId: service.id,
    serviceName: service.name,
    stack: service.stack,
    specVersion: service.specVersion,
    spec: structuredClone(service.spec),
    desiredState: 'running',
    status: { state: 'pending', timestamp: now, message: o.message },
  };
  if (o.slot !== undefined) t.slot = o.slot;
  if (o.nodeId !== undefined) t.nodeId = o.nodeId;
  if (o.notBefore !== undefined) t.notBefore = o.notBefore;
  if (o.restartHistory && o.restartHistory.length > 0) t.restartHistory = o.restartHistory;
  if (o.restartStreak) t.restartStreak = o.restartStreak;
  return t;
}

/**
 * The ops of one decision, at most one per object: later changes to an object already
 * changed in this plan build on the changed copy (updates are compare-and-set on the
 * version the object was read at, so two updates of one object would conflict).
 */
export class Plan {
  private readonly changed = new Map<string, TaskObj | ServiceObj>();
  private readonly created = new Set<string>();
  private readonly order: string[] = [];
  wakeAt?: number;

  constructor(readonly now: number) {}

  /** The latest version of a task as this plan leaves it. */
  latest<T extends TaskObj | ServiceObj>(obj: T): T {
    return (this.changed.get(obj.id) as T | undefined) ?? obj;
  }

  create(t: TaskObj): TaskObj {
    this.changed.set(t.id, t);
    this.created.add(t.id);
    this.order.push(t.id);
    return t;
  }

  update<T extends TaskObj | ServiceObj>(obj: T, change: (cur: T) => T): T {
    const cur = this.latest(obj);
    const next = change(cur);
    if (next === cur) return cur;
    if (!this.changed.has(obj.id)) this.order.push(obj.id);
    const stamped = this.created.has(obj.id) ? next : { ...next, meta: { ...next.meta, updatedAt: this.now } };
    this.changed.set(obj.id, stamped);
    return stamped;
  }

  wake(at: number): void {
    this.wakeAt = this.wakeAt === undefined ? at : Math.min(this.wakeAt, at);
  }

  ops(): StoreOp[] {
    return this.order.map((id) => ({ op: this.created.has(id) ? 'create' : 'update', obj: this.changed.get(id)! }) as StoreOp);
  }
}

/**
 * Takes a node out of the store (`node rm`): its tasks are told to shut down (the orchestrators
 * replace them elsewhere, as for a node that is down) and its node object goes.
 */
export function removeNode(tx: WriteTx, nodeId: string): void {
  for (const t of tx.list('task', (t) => t.nodeId === nodeId && t.desiredState !== 'shutdown' && t.desiredState !== 'remove')) tx.update({ ...t, desiredState: 'shutdown' });
  tx.delete('node', nodeId);
}
