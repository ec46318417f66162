// Deploying a stack, as data: `planDeploy` computes exactly what a deploy would change
// (services to create, update, scale or remove; networks and volumes to add or release) from
// the normalised stack and the current state; `applyDeploy` writes it in one store batch,
// every service spec through writeServiceSpec (write-spec.ts). Networks and volumes are
// handled by one planner parameterised by kind. Nothing half-applied: validation fails before
// any write.

import { ErrorCodes, TsswarmError, type ErrorDetail } from '../../common/errors.js';
import { networkFullName, serviceFullName, volumeFullName, type NetworkSpec, type StackSpec, type VolumeSpec } from '../../common/spec.js';
import { publishedPortKey } from '../../common/api/ports.js';
import type { DeployPlan } from '../../common/api/types.js';
import type { WriteTx } from '../store/store.js';
import { isTerminal, type ClusterState, type NetworkObj, type ServiceObj, type VolumeObj } from '../store/types.js';
import { bindPolicyErrors, needsNewTasks, replicasOf, writeServiceSpec } from './write-spec.js';

export { needsNewTasks, writeServiceSpec } from './write-spec.js';

/** Dotted paths where two JSON values differ (for plans and update messages). */
export function diffPaths(a: unknown, b: unknown, path = ''): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  const isObj = (x: unknown) => x !== null && typeof x === 'object' && !Array.isArray(x);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])].sort();
    return keys.flatMap((k) => diffPaths((a as any)[k], (b as any)[k], path ? `${path}.${k}` : k));
  }
  return [path || '.'];
}

export function validateDeploy(stack: StackSpec, state: ClusterState): void {
  const errors: ErrorDetail[] = [];
  const mine = new Set(Object.keys(stack.services).map((s) => serviceFullName(stack.name, s)));
  const taken = new Map<string, string>(); // "port/proto" -> service using it in ingress mode
  for (const svc of state.services) {
    if (mine.has(svc.name) || svc.stack === stack.name) continue; // replaced by this deploy
    for (const p of svc.spec.ports) if (p.published !== undefined) taken.set(publishedPortKey(p), svc.name);
  }
  for (const [short, spec] of Object.entries(stack.services)) {
    const name = serviceFullName(stack.name, short);
    spec.ports.forEach((p, i) => {
      if (p.published === undefined) return;
      const key = publishedPortKey(p);
      const other = taken.get(key);
      if (other && (p.mode === 'ingress' || state.services.find((s) => s.name === other)?.spec.ports.some((q) => q.published === p.published && q.mode === 'ingress'))) {
        errors.push({ field: `services.${short}.ports[${i}]`, message: `published port ${key} is already used by service ${other}` });
      }
      taken.set(key, name);
    });
  }
  if (errors.length) throw new TsswarmError(ErrorCodes.STACK_INVALID, `stack ${stack.name} cannot be deployed`, errors);
  const allowed = state.cluster?.spec.allowedBindPaths;
  const denied = Object.entries(stack.services).flatMap(([short, spec]) => bindPolicyErrors(spec, allowed, `services.${short}`));
  if (denied.length) throw new TsswarmError(ErrorCodes.BIND_NOT_ALLOWED, `stack ${stack.name} binds host paths the cluster does not allow`, denied);
}

export function planDeploy(stack: StackSpec, state: ClusterState): DeployPlan {
  const plan: DeployPlan = { stack: stack.name, services: [], networks: [], volumes: [] };
  const existing = new Map(state.services.filter((s) => s.stack === stack.name).map((s) => [s.name, s]));
  for (const [short, spec] of Object.entries(stack.services).sort(([a], [b]) => a.localeCompare(b))) {
    const name = serviceFullName(stack.name, short);
    const cur = existing.get(name);
    existing.delete(name);
    if (!cur) { plan.services.push({ action: 'create', name, shortName: short, fields: [], replicas: { from: 0, to: replicasOf(spec) } }); continue; }
    const fields = diffPaths(cur.spec, spec);
    const replicas = { from: replicasOf(cur.spec), to: replicasOf(spec) };
    const changes = fields.map((f) => ({ field: f, from: valueAt(cur.spec, f), to: valueAt(spec, f) }));
    const live = liveTasks(state, cur.id);
    if (fields.length === 0) plan.services.push({ action: 'unchanged', name, shortName: short, fields, replicas });
    else if (!needsNewTasks(cur.spec, spec) && fields.every((f) => f === 'deploy.replicas')) {
      plan.services.push({ action: 'scale', name, shortName: short, fields, changes, replicas, tasksReplaced: Math.max(0, live - replicas.to) });
    } else {
      const replaced = needsNewTasks(cur.spec, spec) ? (replicas.to >= 0 ? Math.min(live, replicas.to) : live) : 0;
      plan.services.push({ action: 'update', name, shortName: short, fields, changes, replicas, tasksReplaced: replaced });
    }
  }
  for (const cur of existing.values()) plan.services.push({ action: 'remove', name: cur.name, shortName: cur.shortName, fields: [], replicas: { from: replicasOf(cur.spec), to: 0 }, tasksReplaced: liveTasks(state, cur.id) });

  plan.networks = planResources(NETWORKS, stack, state);
  plan.volumes = planResources(VOLUMES, stack, state);
  return plan;
}

const liveTasks = (state: ClusterState, serviceId: string): number =>
  state.tasks.filter((t) => t.serviceId === serviceId && t.desiredState === 'running' && !isTerminal(t.status.state)).length;

function valueAt(obj: unknown, path: string): unknown {
  if (path === '.') return obj;
  let cur: any = obj;
  for (const k of path.split('.')) cur = cur?.[k];
  return cur;
}

/**
 * Write a deploy inside one store transaction. Removed services go at once and their tasks are
 * marked for removal; the agents stop them. Networks and volumes the stack no longer declares
 * are released and deleted by the control loop once no task uses them.
 */
export function applyDeploy(tx: WriteTx, stack: StackSpec, newId: () => string): DeployPlan {
  const state: ClusterState = { nodes: [], services: tx.list('service'), tasks: tx.list('task'), networks: tx.list('network'), volumes: tx.list('volume') };
  const plan = planDeploy(stack, state);
  for (const c of plan.services) {
    const spec = stack.services[c.shortName];
    const cur = tx.list('service', (s) => s.name === c.name)[0];
    const opts = { field: `services.${c.shortName}`, code: ErrorCodes.STACK_INVALID };
    if (c.action === 'create') writeServiceSpec(tx, { id: newId(), name: c.name, stack: stack.name, shortName: c.shortName }, spec, opts);
    else if (c.action === 'update' || c.action === 'scale') writeServiceSpec(tx, cur, spec, opts);
    else if (c.action === 'remove') removeService(tx, cur);
  }
  applyResources(tx, NETWORKS, stack, plan.networks, newId);
  applyResources(tx, VOLUMES, stack, plan.volumes, newId);
  return plan;
}

export function removeService(tx: WriteTx, svc: ServiceObj): void {
  tx.delete('service', svc.id);
  for (const t of tx.list('task', (t) => t.serviceId === svc.id)) {
    if (t.desiredState !== 'remove') tx.update({ ...t, desiredState: 'remove' });
  }
}

/** `stack rm`: every service, network and (with `volumes`) volume of the stack. */
export function removeStack(tx: WriteTx, stack: string, volumes: boolean): { services: string[] } {
  const services = tx.list('service', (s) => s.stack === stack);
  for (const s of services) removeService(tx, s);
  releaseAll(tx, NETWORKS, stack, {});
  releaseAll(tx, VOLUMES, stack, { purge: volumes });
  return { services: services.map((s) => s.name) };
}

// ---- networks and volumes: one planner, parameterised by kind ----------------------------

type ResourceObj = NetworkObj | VolumeObj;

/** What differs between the stack's networks and its volumes, as far as a deploy goes. */
interface ResourceKind<O extends ResourceObj, Drop extends string> {
  kind: O['kind'];
  declared: (stack: StackSpec) => Record<string, O['spec']>;
  stored: (state: Pick<ClusterState, 'networks' | 'volumes'>) => O[];
  fullName: (stack: string, key: string, spec: O['spec']) => string;
  /** The plan's word for letting go of one the stack no longer declares. */
  drop: Drop;
  /** Reset on a released object a deploy takes back. */
  revive: Partial<O>;
  /** Written by `stack rm` (with --volumes: purge). */
  onRemove: (obj: O, o: { purge?: boolean }) => Partial<O>;
}

const NETWORKS: ResourceKind<NetworkObj, 'remove'> = {
  kind: 'network',
  declared: (s) => s.networks,
  stored: (s) => s.networks,
  fullName: (stack, key, spec: NetworkSpec) => networkFullName(stack, key, spec),
  drop: 'remove',
  revive: { released: false },
  onRemove: () => ({ released: true }),
};

const VOLUMES: ResourceKind<VolumeObj, 'release'> = {
  kind: 'volume',
  declared: (s) => s.volumes,
  stored: (s) => s.volumes,
  fullName: (stack, key, spec: VolumeSpec) => volumeFullName(stack, key, spec),
  drop: 'release',
  revive: { released: false, purge: false },
  onRemove: (v, o) => ({ released: true, purge: !!o.purge || v.purge }),
};

/** Create what the stack declares and the store lacks (external ones are not the stack's); drop what it no longer declares. */
function planResources<O extends ResourceObj, Drop extends string>(k: ResourceKind<O, Drop>, stack: StackSpec, state: Pick<ClusterState, 'networks' | 'volumes'>): { action: 'create' | Drop; name: string }[] {
  const out: { action: 'create' | Drop; name: string }[] = [];
  const have = new Set(k.stored(state).filter((o) => !o.released).map((o) => o.name));
  const want = new Set<string>();
  for (const [key, spec] of Object.entries(k.declared(stack))) {
    if (spec.external) continue;
    const full = k.fullName(stack.name, key, spec);
    want.add(full);
    if (!have.has(full)) out.push({ action: 'create', name: full });
  }
  for (const o of k.stored(state)) if (o.stack === stack.name && !o.released && !want.has(o.name)) out.push({ action: k.drop, name: o.name });
  return out;
}

function applyResources<O extends ResourceObj, Drop extends string>(tx: WriteTx, k: ResourceKind<O, Drop>, stack: StackSpec, changes: { action: 'create' | Drop; name: string }[], newId: () => string): void {
  const declared = k.declared(stack);
  for (const c of changes) {
    const cur = (tx.list(k.kind) as ResourceObj[]).find((x) => x.name === c.name) as O | undefined;
    if (c.action === 'create') {
      const key = Object.keys(declared).find((x) => k.fullName(stack.name, x, declared[x]) === c.name)!;
      if (cur) tx.update({ ...cur, ...k.revive, stack: stack.name, spec: declared[key] });
      else tx.create({ kind: k.kind, id: newId(), meta: { version: 0, createdAt: 0, updatedAt: 0 }, name: c.name, stack: stack.name, spec: declared[key] } as O);
    } else if (cur) {
      tx.update({ ...cur, released: true });
    }
  }
}

function releaseAll<O extends ResourceObj>(tx: WriteTx, k: ResourceKind<O, string>, stack: string, o: { purge?: boolean }): void {
  for (const obj of (tx.list(k.kind) as O[]).filter((x) => x.stack === stack)) {
    const next = { ...obj, ...k.onRemove(obj, o) };
    if (JSON.stringify(next) !== JSON.stringify(obj)) tx.update(next);
  }
}
