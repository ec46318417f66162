// The one way a service spec is written: by a deploy (create, update, scale), `service scale`
// and `service update`. Every spec passes the shared validator (common/api/validate.ts, the
// stack parser's own) and the cluster's bind-mount policy before it is stored; the function
// decides whether the tasks are replaced (a specVersion bump) and keeps the previous spec for
// rollback.

import { ErrorCodes, TsswarmError, type ErrorCode, type ErrorDetail } from '../../common/errors.js';
import { validateServiceSpec } from '../../common/api/validate.js';
import type { ObjectRef, ServiceSpec } from '../../common/spec.js';
import type { ReadTx, WriteTx } from '../store/store.js';
import { bindAllowed, type ClusterSpec, type ConfigObj, type SecretObj, type ServiceObj } from '../store/types.js';

/** The stored secrets and configs a spec's references resolve against. */
export interface StoredObjects {
  secrets: SecretObj[];
  configs: ConfigObj[];
}

export const storedObjects = (tx: ReadTx): StoredObjects => ({ secrets: tx.list('secret'), configs: tx.list('config') });

/**
 * `spec` with every secret and config reference's `id` and `revision` taken from the stored
 * object its `source` names (what a client sent there is overwritten): the agent finds the
 * value by id, and a new revision is a spec change, so the service rolls. A reference to an
 * object that does not exist is an error naming the field and the object.
 */
export function resolveObjectRefs(spec: ServiceSpec, objects: StoredObjects, field = ''): { spec: ServiceSpec; errors: ErrorDetail[] } {
  const errors: ErrorDetail[] = [];
  const at = (f: string) => (field ? `${field}.${f}` : f);
  const out: ServiceSpec = { ...spec };
  for (const kind of ['secret', 'config'] as const) {
    const refs = spec[`${kind}s`];
    if (!refs) continue;
    const byName = new Map<string, SecretObj | ConfigObj>((kind === 'secret' ? objects.secrets : objects.configs).map((o) => [o.name, o]));
    out[`${kind}s`] = refs.map((r, i): ObjectRef => {
      const o = byName.get(r.source);
      if (!o) {
        errors.push({ field: at(`${kind}s[${i}].source`), message: `${kind} ${r.source} does not exist (tsswarm ${kind} create, or declare it in the stack)` });
        return r;
      }
      return { ...r, id: o.id, revision: o.revision };
    });
  }
  return { spec: out, errors };
}

/** Services whose spec uses the secret or config `obj` (by name, or by the id a reference resolved to). */
export function usersOf(services: ServiceObj[], obj: SecretObj | ConfigObj): ServiceObj[] {
  return services.filter((s) => (s.spec[`${obj.kind}s`] ?? []).some((r) => r.source === obj.name || r.id === obj.id));
}

/** Fields whose change does not need new tasks: scaling, rollout settings, the node-down grace. */
function taskSpec(spec: ServiceSpec): unknown {
  const { deploy, ...rest } = spec;
  const { replicas: _r, update_config: _u, rollback_config: _rb, labels: _l, 'x-node-down-grace': _g, ...d } = deploy;
  return { ...rest, deploy: d };
}

export const needsNewTasks = (a: ServiceSpec, b: ServiceSpec): boolean => JSON.stringify(taskSpec(a)) !== JSON.stringify(taskSpec(b));

/** Replicas as plans show them: -1 for a global service. */
export const replicasOf = (s: ServiceSpec): number => (s.deploy.mode === 'global' || s.deploy.mode === 'global-job' ? -1 : s.deploy.replicas);

/** Bind mounts of `spec` whose source the cluster's allowedBindPaths does not cover. */
export function bindPolicyErrors(spec: ServiceSpec, allowed: string[] | undefined, field = ''): ErrorDetail[] {
  if (allowed === undefined) return [];
  const at = (f: string) => (field ? `${field}.${f}` : f);
  const out: ErrorDetail[] = [];
  spec.volumes.forEach((m, i) => {
    if (m.type !== 'bind') return;
    if (typeof m.source !== 'string' || !bindAllowed(m.source, allowed)) {
      out.push({
        field: at(`volumes[${i}].source`),
        message: `bind mount of ${JSON.stringify(m.source)} is not allowed by the cluster's allowedBindPaths (${allowed.length ? allowed.join(', ') : 'none'})`,
      });
    }
  });
  return out;
}

/** A service the write creates. */
export interface NewService {
  id: string;
  name: string;
  stack: string;
  shortName: string;
}

export interface SpecWriteOptions {
  /** Replace the tasks even if nothing they run changed (`service update --force`). */
  force?: boolean;
  /** Prefix of error fields, e.g. services.web. */
  field?: string;
  /** The code of a refused spec: STACK_INVALID for a deploy, INVALID_ARGUMENT otherwise. */
  code?: ErrorCode;
}

export interface SpecWrite {
  service: ServiceObj;
  replaced: boolean;
}

const meta = () => ({ version: 0, createdAt: 0, updatedAt: 0 });

/**
 * The service object `spec` would make of `cur` (or of a new service), after the checks; throws
 * with every field at fault, having written nothing. Pure: dry runs use it as it is.
 */
export function prepareServiceSpec(cur: ServiceObj | NewService, spec: ServiceSpec, cluster: ClusterSpec | undefined, opts: SpecWriteOptions = {}, objects?: StoredObjects): SpecWrite {
  const code = opts.code ?? ErrorCodes.INVALID_ARGUMENT;
  const checked = validateServiceSpec(spec, opts.field ?? '');
  if (checked.errors.length || !checked.value) {
    throw new TsswarmError(code, `invalid service spec for ${cur.name}; nothing was changed`, checked.errors);
  }
  // Without the stored objects (a caller that changes no reference), the references stay as they were resolved.
  const resolved = objects ? resolveObjectRefs(checked.value, objects, opts.field) : { spec: checked.value, errors: [] };
  if (resolved.errors.length) throw new TsswarmError(code, `service ${cur.name} uses secrets or configs that do not exist; nothing was changed`, resolved.errors);
  const next = resolved.spec;
  if (!('kind' in cur)) {
    const denied = bindPolicyErrors(next, cluster?.allowedBindPaths, opts.field);
    if (denied.length) throw new TsswarmError(ErrorCodes.BIND_NOT_ALLOWED, `service ${cur.name} binds host paths the cluster does not allow`, denied);
    return { service: { kind: 'service', meta: meta(), ...cur, spec: next, specVersion: 1 }, replaced: true };
  }
  const bump = !!opts.force || needsNewTasks(cur.spec, next);
  // New containers are made on a bump and when scaling up: both must respect the bind policy
  // (scaling down never needs to, so a service the policy now forbids can still be stopped).
  if (bump || replicasOf(next) > replicasOf(cur.spec)) {
    const denied = bindPolicyErrors(next, cluster?.allowedBindPaths, opts.field);
    if (denied.length) throw new TsswarmError(ErrorCodes.BIND_NOT_ALLOWED, `service ${cur.name} binds host paths the cluster does not allow`, denied);
  }
  return {
    service: {
      ...cur,
      spec: next,
      specVersion: bump ? cur.specVersion + 1 : cur.specVersion,
      previousSpec: bump ? cur.spec : cur.previousSpec,
      updateStatus: bump ? undefined : cur.updateStatus,
    },
    replaced: bump,
  };
}

/**
 * Give a service (existing, or new) a spec inside a store transaction. A change to what its
 * tasks run (or `force`) bumps specVersion, which is what makes the orchestrator roll the
 * tasks; the old spec is kept for rollback. Scaling alone does not bump.
 */
export function writeServiceSpec(tx: WriteTx, cur: ServiceObj | NewService, spec: ServiceSpec, opts: SpecWriteOptions = {}): SpecWrite {
  return commitServiceSpec(tx, cur, prepareServiceSpec(cur, spec, tx.get('cluster', 'default')?.spec, opts, storedObjects(tx)));
}

/** Stores what prepareServiceSpec made of `cur` (for a caller that prepared it already, e.g. to answer a dry run). */
export function commitServiceSpec(tx: WriteTx, cur: ServiceObj | NewService, w: SpecWrite): SpecWrite {
  if ('kind' in cur) tx.update(w.service);
  else tx.create(w.service);
  return w;
}
