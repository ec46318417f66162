// Deploying a stack, as data: `planDeploy` computes exactly what a deploy would change
// (services to create, update, scale or remove; networks and volumes to add or release) from
// the normalised stack and the current state; `applyDeploy` writes it in one store batch,
// every service spec through writeServiceSpec (write-spec.ts). Networks and volumes are
// handled by one planner parameterised by kind. Nothing half-applied: validation fails before
// any write.

import { ErrorCodes, TsswarmError, type ErrorDetail } from '../../common/errors.js';
import { networkFullName, serviceFullName, volumeFullName, type NetworkSpec, type StackSpec, type VolumeSpec } from '../../common/spec.js';
import { publishedPortKey } from '../../common/api/ports.js';
import type { DeployObjects, DeployPlan, ObjectChange, ServiceChange, StackRemoveResponse } from '../../common/api/types.js';
import type { Sealer } from '../keys/sealer.js';
import { overlayKey, overlayReader, type ReadTx, type WriteTx } from '../store/store.js';
import { isTerminal, type ClusterState, type ConfigObj, type NetworkObj, type ObjKind, type SecretObj, type ServiceObj, type StoreObj, type VolumeObj } from '../store/types.js';
import { bindPolicyErrors, needsNewTasks, replicasOf, resolveObjectRefs, storedObjects, usersOf, writeServiceSpec } from './write-spec.js';

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
    const changes = fields.map((f) => change(f, valueAt(cur.spec, f), valueAt(spec, f)));
    const live = liveTasks(state, cur.id);
    if (fields.length === 0) plan.services.push({ action: 'unchanged', name, shortName: short, fields, replicas });
    else if (!needsNewTasks(cur.spec, spec) && fields.every((f) => f === 'deploy.replicas')) {
      plan.services.push({ action: 'scale', name, shortName: short, fields, changes, replicas, tasksReplaced: Math.max(0, live - replicas.to) });
    } else {
      const replaced = needsNewTasks(cur.spec, spec) ? (replicas.to >= 0 ? Math.min(live, replicas.to) : live) : 0;
      plan.services.push({ action: 'update', name, shortName: short, fields, changes, replicas, tasksReplaced: replaced });
    }
  }
  restartDependents(plan, stack, state);
  for (const c of plan.services) {
    const mode = stack.services[c.shortName]?.deploy.mode;
    if (mode === 'replicated-job' || mode === 'global-job') c.job = mode;
  }
  for (const cur of existing.values()) plan.services.push({ action: 'remove', name: cur.name, shortName: cur.shortName, fields: [], replicas: { from: replicasOf(cur.spec), to: 0 }, tasksReplaced: liveTasks(state, cur.id) });

  plan.networks = planResources(NETWORKS, stack, state);
  plan.volumes = planResources(VOLUMES, stack, state);
  return plan;
}

/**
 * depends_on `restart: true` (Compose): a service whose dependency gets new tasks in this deploy
 * gets new tasks too (after it: its new tasks wait for the dependency's condition, as any
 * task of a service with depends_on does). Followed through chains: web -> api -> db.
 */
function restartDependents(plan: DeployPlan, stack: StackSpec, state: ClusterState): void {
  const byShort = new Map(plan.services.map((c) => [c.shortName, c]));
  const specOf = (c: ServiceChange) => state.services.find((s) => s.name === c.name)?.spec;
  // New tasks: a change to what they run, or a restart for a dependency.
  const replaced = (c: ServiceChange | undefined): boolean => !!c && c.action === 'update'
    && (!!c.restartedFor || needsNewTasks(specOf(c)!, stack.services[c.shortName]!));
  for (let changed = true; changed;) {
    changed = false;
    for (const c of plan.services) {
      if (c.action !== 'unchanged' && c.action !== 'scale' && c.action !== 'update') continue;
      if (c.action === 'update' && !c.restartedFor && replaced(c)) continue;
      const deps = Object.entries(stack.services[c.shortName]?.depends_on ?? {})
        .filter(([dep, d]) => d.restart && replaced(byShort.get(dep))).map(([dep]) => dep).sort();
      if (deps.length === 0 || deps.join() === (c.restartedFor ?? []).join()) continue;
      const cur = state.services.find((s) => s.name === c.name);
      const live = cur ? liveTasks(state, cur.id) : 0;
      c.restartedFor = deps;
      const to = c.replicas?.to ?? live;
      c.tasksReplaced = Math.max(c.tasksReplaced ?? 0, to >= 0 ? Math.min(live, to) : live);
      if (c.action !== 'update') c.action = 'update';
      changed = true;
    }
  }
}

/**
 * One changed field of a plan. An environment variable's values (often a password) are never
 * shown, in a plan, a dry run or a log: only whether it was added, removed or changed.
 */
function change(field: string, from: unknown, to: unknown): NonNullable<ServiceChange['changes']>[number] {
  if (field === 'environment' || field.startsWith('environment.')) {
    return { field, redacted: from === undefined ? 'added' : to === undefined ? 'removed' : 'changed' };
  }
  return { field, from, to };
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
export function applyDeploy(tx: WriteTx, given: StackSpec, newId: () => string, objects?: DeployObjectsInput): DeployPlan {
  // The stack's secrets and configs first, so that its services' references resolve to them.
  const secrets = objects ? applyObjects(tx, 'secret', given.name, objects.secrets, newId, objects.sealer) : [];
  const configs = objects ? applyObjects(tx, 'config', given.name, objects.configs, newId, objects.sealer) : [];
  const stack = resolveStack(tx, given);
  const state: ClusterState = { nodes: [], services: tx.list('service'), tasks: tx.list('task'), networks: tx.list('network'), volumes: tx.list('volume') };
  const plan = planDeploy(stack, state);
  for (const c of plan.services) {
    const spec = stack.services[c.shortName];
    const cur = tx.list('service', (s) => s.name === c.name)[0];
    const opts = { field: `services.${c.shortName}`, code: ErrorCodes.STACK_INVALID };
    if (c.action === 'create') writeServiceSpec(tx, { id: newId(), name: c.name, stack: stack.name, shortName: c.shortName }, spec, opts);
    else if (c.action === 'update' || c.action === 'scale') writeServiceSpec(tx, cur, spec, c.restartedFor ? { ...opts, force: true } : opts);
    else if (c.action === 'remove') removeService(tx, cur);
  }
  applyResources(tx, NETWORKS, stack, plan.networks, newId);
  applyResources(tx, VOLUMES, stack, plan.volumes, newId);
  if (objects) {
    // Other stacks' services that use a value this deploy changed roll to it too.
    for (const c of [...secrets, ...configs]) if (c.rolled) rollUsers(tx, c.obj, stack.name);
    plan.secrets = [...secrets.map((c) => c.change), ...releaseObjects(tx, 'secret', stack.name, objects.secrets)];
    plan.configs = [...configs.map((c) => c.change), ...releaseObjects(tx, 'config', stack.name, objects.configs)];
  }
  return plan;
}

/** Every service's references resolved against the store (as it is inside the deploy's transaction); all missing ones in one error. */
function resolveStack(tx: ReadTx, stack: StackSpec): StackSpec {
  const stored = storedObjects(tx);
  const errors: ErrorDetail[] = [];
  const services: StackSpec['services'] = {};
  for (const [short, spec] of Object.entries(stack.services)) {
    const r = resolveObjectRefs(spec, stored, `services.${short}`);
    errors.push(...r.errors.map((e) => ({ ...e, message: `service ${short} uses ${e.message}` })));
    services[short] = r.spec;
  }
  if (errors.length) throw new TsswarmError(ErrorCodes.STACK_INVALID, `stack ${stack.name} uses secrets or configs that do not exist; nothing was deployed`, errors);
  return { ...stack, services };
}

// ---- secrets and configs ----------------------------------------------------------------

/** What a deploy carries for the stack's secrets and configs, and what seals the secrets. */
export interface DeployObjectsInput {
  secrets: DeployObjects;
  configs: DeployObjects;
  sealer: Sealer;
}

type StoredObj = SecretObj | ConfigObj;
type ObjectKindName = 'secret' | 'config';

/** The additional data a secret's value is sealed with: it binds the sealed form to this secret. */
export const secretAad = (id: string): string => `secret/${id}`;

/** The stored value of a secret (opened) or config; undefined if it cannot be opened (another key). */
export function storedValue(o: StoredObj, sealer: Sealer): Buffer | undefined {
  if (o.kind === 'config') return Buffer.from(o.data, 'base64');
  try {
    return sealer.open(o.sealed, secretAad(o.id));
  } catch {
    return undefined;
  }
}

/** `o` holding `plain` (a secret's sealed, never in clear). */
function withValue<O extends StoredObj>(o: O, plain: Buffer, sealer: Sealer): O {
  if (o.kind === 'secret') return { ...o, sealed: sealer.seal(plain, secretAad(o.id)), size: plain.length };
  return { ...o, data: plain.toString('base64'), size: plain.length };
}

/** A new secret or config holding `plain` (not yet stored). */
export function newObject(kind: ObjectKindName, id: string, name: string, stack: string, labels: Record<string, string>, plain: Buffer, sealer: Sealer): StoredObj {
  const meta = { version: 0, createdAt: 0, updatedAt: 0 };
  const base = kind === 'secret'
    ? { kind, id, meta, name, stack, labels, sealed: '', revision: 1, size: 0 } satisfies SecretObj
    : { kind, id, meta, name, stack, labels, data: '', revision: 1, size: 0 } satisfies ConfigObj;
  return withValue(base as StoredObj, plain, sealer);
}

/**
 * A new value (and labels) for a stored secret or config. A value equal to the stored one
 * (compared once opened) is not a change; a new one is the next revision.
 */
export function changeObject<O extends StoredObj>(cur: O, plain: Buffer, labels: Record<string, string> | undefined, sealer: Sealer): { obj: O; changed: boolean; valueChanged: boolean } {
  const old = storedValue(cur, sealer);
  const valueChanged = !old || !old.equals(plain);
  const labelsChanged = labels !== undefined && JSON.stringify(labels) !== JSON.stringify(cur.labels);
  if (!valueChanged && !labelsChanged) return { obj: cur, changed: false, valueChanged };
  let obj: O = { ...cur, labels: labels ?? cur.labels };
  if (valueChanged) obj = { ...withValue(obj, plain, sealer), revision: cur.revision + 1 };
  return { obj, changed: true, valueChanged };
}

/** Every service using `obj` gets its reference's new revision through the spec writer: each rolls per its update_config. */
export function rollUsers(tx: WriteTx, obj: StoredObj, exceptStack?: string): string[] {
  const users = usersOf(tx.list('service'), obj).filter((s) => exceptStack === undefined || s.stack !== exceptStack);
  for (const svc of users) writeServiceSpec(tx, svc, svc.spec, { field: `services.${svc.shortName}` });
  return users.map((s) => s.name);
}

const byName = (tx: ReadTx, kind: ObjectKindName, name: string): StoredObj | undefined =>
  (tx.list(kind as ObjKind) as StoreObj[] as StoredObj[]).find((o) => o.name === name);

/** Create or update the secrets (configs) a deploy carries; an external one must exist (checked when a service uses it). */
function applyObjects(tx: WriteTx, kind: ObjectKindName, stack: string, given: DeployObjects, newId: () => string, sealer: Sealer): { change: ObjectChange; obj: StoredObj; rolled: boolean }[] {
  const out: { change: ObjectChange; obj: StoredObj; rolled: boolean }[] = [];
  const errors: ErrorDetail[] = [];
  for (const [name, o] of Object.entries(given).sort(([a], [b]) => a.localeCompare(b))) {
    if ('external' in o) continue;
    const plain = Buffer.from(o.data, 'base64');
    const labels = o.labels ?? {};
    const cur = byName(tx, kind, name);
    if (!cur) {
      const obj = newObject(kind, newId(), name, stack, labels, plain, sealer);
      tx.create(obj);
      out.push({ change: { action: 'create', name, revision: 1 }, obj, rolled: false });
      continue;
    }
    if (cur.stack !== stack) {
      const owner = cur.stack ? `belongs to stack ${cur.stack}` : `was made with tsswarm ${kind} create`;
      errors.push({ field: `${kind}s.${name}`, message: `${kind} ${name} exists and ${owner}: declare it external: true, or give the stack's its own name` });
      continue;
    }
    const c = changeObject(cur, plain, labels, sealer);
    if (c.changed) tx.update(c.obj);
    out.push({ change: { action: c.changed ? 'update' : 'unchanged', name, revision: c.obj.revision }, obj: c.obj, rolled: c.valueChanged });
  }
  if (errors.length) throw new TsswarmError(ErrorCodes.STACK_INVALID, `stack ${stack} declares ${kind}s it does not own; nothing was deployed`, errors);
  return out;
}

/** The stack's own secrets (configs) it no longer declares: removed once no service uses them. */
function releaseObjects(tx: WriteTx, kind: ObjectKindName, stack: string, given: DeployObjects): ObjectChange[] {
  const out: ObjectChange[] = [];
  const services = tx.list('service');
  for (const o of tx.list(kind as ObjKind) as StoreObj[] as StoredObj[]) {
    if (o.stack !== stack || Object.hasOwn(given, o.name) || usersOf(services, o).length) continue;
    tx.delete(kind, o.id);
    out.push({ action: 'remove', name: o.name });
  }
  return out;
}

/**
 * A transaction whose writes stay in memory: a dry run goes through exactly what a deploy
 * does, and nothing is proposed.
 */
export function scratchTx(base: ReadTx): WriteTx {
  const overlay = new Map<string, StoreObj | null>();
  return {
    ...overlayReader(base, overlay),
    create: (obj) => void overlay.set(overlayKey(obj.kind, obj.id), obj),
    update: (obj) => void overlay.set(overlayKey(obj.kind, obj.id), obj),
    delete: (kind, id) => void overlay.set(overlayKey(kind, id), null),
  };
}

export function removeService(tx: WriteTx, svc: ServiceObj): void {
  tx.delete('service', svc.id);
  for (const t of tx.list('task', (t) => t.serviceId === svc.id)) {
    if (t.desiredState !== 'remove') tx.update({ ...t, desiredState: 'remove' });
  }
}

/**
 * `stack rm`: every service, network and (with `volumes`) volume of the stack, and its own
 * secrets and configs (one another stack's service still uses is kept).
 */
export function removeStack(tx: WriteTx, stack: string, volumes: boolean): StackRemoveResponse {
  const services = tx.list('service', (s) => s.stack === stack);
  for (const s of services) removeService(tx, s);
  releaseAll(tx, NETWORKS, stack, {});
  releaseAll(tx, VOLUMES, stack, { purge: volumes });
  const out: StackRemoveResponse = { services: services.map((s) => s.name) };
  const secrets = releaseObjects(tx, 'secret', stack, {}).map((c) => c.name);
  const configs = releaseObjects(tx, 'config', stack, {}).map((c) => c.name);
  if (secrets.length) out.secrets = secrets;
  if (configs.length) out.configs = configs;
  return out;
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
