// Deploying a stack, as data: `planDeploy` computes exactly what a deploy would change
// (services to create, update, scale or remove; networks and volumes to add or release) from
// the normalised stack and the current state; `applyPlan` writes it in one store batch.
// Nothing half-applied: validation fails before any write.

import { ErrorCodes, TsswarmError, type ErrorDetail } from '../../common/errors.js';
import { networkFullName, serviceFullName, volumeFullName, type ServiceSpec, type StackSpec } from '../../common/spec.js';
import { publishedPortKey } from '../../common/api/ports.js';
import type { DeployPlan } from '../../common/api/types.js';
import type { WriteTx } from '../store/store.js';
import { isTerminal, type ClusterState, type NetworkObj, type ServiceObj, type VolumeObj } from '../store/types.js';



/** Fields whose change does not need new tasks: scaling and rollout settings. */
function taskSpec(spec: ServiceSpec): unknown {
  const { deploy, ...rest } = spec;
  const { replicas: _r, update_config: _u, rollback_config: _rb, labels: _l, ...d } = deploy;
  return { ...rest, deploy: d };
}

export const needsNewTasks = (a: ServiceSpec, b: ServiceSpec): boolean => JSON.stringify(taskSpec(a)) !== JSON.stringify(taskSpec(b));

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

export interface DeployValidation {
  validateConstraint?: (expr: string) => string | undefined;
}

export function validateDeploy(stack: StackSpec, state: ClusterState, v: DeployValidation = {}): void {
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
    spec.deploy.placement.constraints.forEach((c, i) => {
      const why = v.validateConstraint?.(c);
      if (why) errors.push({ field: `services.${short}.deploy.placement.constraints[${i}]`, message: why });
    });
  }
  if (errors.length) throw new TsswarmError(ErrorCodes.STACK_INVALID, `stack ${stack.name} cannot be deployed`, errors);
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

  const haveNets = new Set(state.networks.filter((n) => !n.released).map((n) => n.name));
  const wantNets = new Set<string>();
  for (const [key, n] of Object.entries(stack.networks)) {
    if (n.external) continue;
    const full = networkFullName(stack.name, key, n);
    wantNets.add(full);
    if (!haveNets.has(full)) plan.networks.push({ action: 'create', name: full });
  }
  for (const n of state.networks) if (n.stack === stack.name && !n.released && !wantNets.has(n.name)) plan.networks.push({ action: 'remove', name: n.name });

  const haveVols = new Set(state.volumes.filter((v) => !v.released).map((v) => v.name));
  const wantVols = new Set<string>();
  for (const [key, v] of Object.entries(stack.volumes)) {
    if (v.external) continue;
    const full = volumeFullName(stack.name, key, v);
    wantVols.add(full);
    if (!haveVols.has(full)) plan.volumes.push({ action: 'create', name: full });
  }
  for (const v of state.volumes) if (v.stack === stack.name && !v.released && !wantVols.has(v.name)) plan.volumes.push({ action: 'release', name: v.name });
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

const replicasOf = (s: ServiceSpec): number => (s.deploy.mode === 'global' ? -1 : s.deploy.replicas);

const meta = () => ({ version: 0, createdAt: 0, updatedAt: 0 });

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
    if (c.action === 'create') {
      const svc: ServiceObj = { kind: 'service', id: newId(), meta: meta(), name: c.name, stack: stack.name, shortName: c.shortName, spec, specVersion: 1 };
      tx.create(svc);
    } else if (c.action === 'update' || c.action === 'scale') {
      writeServiceSpec(tx, cur, spec);
    } else if (c.action === 'remove') {
      removeService(tx, cur);
    }
  }
  for (const n of plan.networks) {
    if (n.action === 'create') {
      const key = Object.keys(stack.networks).find((k) => networkFullName(stack.name, k, stack.networks[k]) === n.name)!;
      const stale = tx.list('network', (x) => x.name === n.name)[0];
      if (stale) tx.update({ ...stale, stack: stack.name, spec: stack.networks[key], released: false });
      else tx.create({ kind: 'network', id: newId(), meta: meta(), name: n.name, stack: stack.name, spec: stack.networks[key] } satisfies NetworkObj);
    } else {
      const cur = tx.list('network', (x) => x.name === n.name)[0];
      if (cur) tx.update({ ...cur, released: true });
    }
  }
  for (const v of plan.volumes) {
    if (v.action === 'create') {
      const key = Object.keys(stack.volumes).find((k) => volumeFullName(stack.name, k, stack.volumes[k]) === v.name)!;
      const stale = tx.list('volume', (x) => x.name === v.name)[0];
      if (stale) tx.update({ ...stale, stack: stack.name, spec: stack.volumes[key], released: false, purge: false });
      else tx.create({ kind: 'volume', id: newId(), meta: meta(), name: v.name, stack: stack.name, spec: stack.volumes[key] } satisfies VolumeObj);
    } else {
      const cur = tx.list('volume', (x) => x.name === v.name)[0];
      if (cur) tx.update({ ...cur, released: true });
    }
  }
  return plan;
}

/**
 * Give a service a new spec. A change to what its tasks run (or `force`) bumps specVersion,
 * which is what makes the orchestrator roll the tasks; the old spec is kept for rollback.
 */
export function writeServiceSpec(tx: WriteTx, cur: ServiceObj, spec: ServiceSpec, force = false): { replaced: boolean } {
  const bump = force || needsNewTasks(cur.spec, spec);
  tx.update({
    ...cur, spec,
    specVersion: bump ? cur.specVersion + 1 : cur.specVersion,
    previousSpec: bump ? cur.spec : cur.previousSpec,
    updateStatus: bump ? undefined : cur.updateStatus,
  });
  return { replaced: bump };
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
  for (const n of tx.list('network', (n) => n.stack === stack)) if (!n.released) tx.update({ ...n, released: true });
  for (const v of tx.list('volume', (v) => v.stack === stack)) tx.update({ ...v, released: true, purge: volumes || v.purge });
  return { services: services.map((s) => s.name) };
}
