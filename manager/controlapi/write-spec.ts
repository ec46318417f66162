// The one way a service spec is written: by a deploy (create, update, scale), `service scale`
// and `service update`. Every spec passes the shared validator (common/api/validate.ts, the
// stack parser's own) and the cluster's bind-mount policy before it is stored; the function
// decides whether the tasks are replaced (a specVersion bump) and keeps the previous spec for
// rollback.

import { ErrorCodes, TsswarmError, type ErrorCode, type ErrorDetail } from '../../common/errors.js';
import { validateServiceSpec } from '../../common/api/validate.js';
import type { ServiceSpec } from '../../common/spec.js';
import type { WriteTx } from '../store/store.js';
import { bindAllowed, type ClusterSpec, type ServiceObj } from '../store/types.js';

/** Fields whose change does not need new tasks: scaling and rollout settings. */
function taskSpec(spec: ServiceSpec): unknown {
  const { deploy, ...rest } = spec;
  const { replicas: _r, update_config: _u, rollback_config: _rb, labels: _l, ...d } = deploy;
  return { ...rest, deploy: d };
}

export const needsNewTasks = (a: ServiceSpec, b: ServiceSpec): boolean => JSON.stringify(taskSpec(a)) !== JSON.stringify(taskSpec(b));

/** Replicas as plans show them: -1 for a global service. */
export const replicasOf = (s: ServiceSpec): number => (s.deploy.mode === 'global' ? -1 : s.deploy.replicas);

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
export function prepareServiceSpec(cur: ServiceObj | NewService, spec: ServiceSpec, cluster: ClusterSpec | undefined, opts: SpecWriteOptions = {}): SpecWrite {
  const code = opts.code ?? ErrorCodes.INVALID_ARGUMENT;
  const checked = validateServiceSpec(spec, opts.field ?? '');
  if (checked.errors.length || !checked.value) {
    throw new TsswarmError(code, `invalid service spec for ${cur.name}; nothing was changed`, checked.errors);
  }
  const next = checked.value;
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
  return commitServiceSpec(tx, cur, prepareServiceSpec(cur, spec, tx.get('cluster', 'default')?.spec, opts));
}

/** Stores what prepareServiceSpec made of `cur` (for a caller that prepared it already, e.g. to answer a dry run). */
export function commitServiceSpec(tx: WriteTx, cur: ServiceObj | NewService, w: SpecWrite): SpecWrite {
  if ('kind' in cur) tx.update(w.service);
  else tx.create(w.service);
  return w;
}
