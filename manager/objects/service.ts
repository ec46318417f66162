// Pure transitions of a service object, shared by the API (`service rollback`) and the updater
// (failure_action: rollback), and the guard every control loop applies to a stored service.

import { LIMITS } from '../../common/api/limits.js';
import { parseDuration } from '../../common/duration.js';
import type { DeploySpec, PlacementSpec, PortSpec, RestartPolicySpec, ServiceSpec, UpdateConfigSpec } from '../../common/spec.js';
import type { ServiceObj } from '../store/types.js';

/**
 * The service rolled back to its previous spec (as `service rollback` and failure_action
 * rollback do): a new spec version, so the same machinery replaces the tasks, paced by
 * rollback_config. Undefined when there is nothing to roll back to.
 */
export function rollbackService(service: ServiceObj, now: number, reason: string): ServiceObj | undefined {
  if (!service.previousSpec) return undefined;
  return {
    ...service,
    spec: service.previousSpec,
    previousSpec: service.spec,
    specVersion: service.specVersion + 1,
    updateStatus: { state: 'rollback_started', startedAt: now, message: reason },
  };
}

/**
 * What makes a service impossible to orchestrate, in words (undefined: nothing). The API
 * refuses such specs up front; this is the control loops' own guard for what is already in
 * the store (written by an older version, or by hand): a bad service is reported, never
 * allocated, and never stops the others.
 */
export function serviceProblem(service: ServiceObj): string | undefined {
  const spec = service.spec as Partial<ServiceSpec> | undefined;
  if (!isObj(spec)) return 'the service has no spec';
  const deploy = spec.deploy as Partial<DeploySpec> | undefined;
  if (!isObj(deploy)) return 'deploy is missing';
  if (!['replicated', 'global', 'replicated-job', 'global-job'].includes(deploy.mode as string)) {
    return `deploy.mode ${JSON.stringify(deploy.mode)} is not replicated, global, replicated-job or global-job`;
  }
  if ((deploy.mode === 'replicated' || deploy.mode === 'replicated-job') && !intIn(deploy.replicas, 0, LIMITS.replicas)) {
    return `deploy.replicas ${String(deploy.replicas)} is not an integer from 0 to ${LIMITS.replicas}`;
  }
  if (deploy['x-max-concurrent'] !== undefined && !intIn(deploy['x-max-concurrent'], 1, LIMITS.replicas)) {
    return `deploy.x-max-concurrent ${String(deploy['x-max-concurrent'])} is not an integer from 1 to ${LIMITS.replicas}`;
  }
  for (const key of ['update_config', 'rollback_config'] as const) {
    const c = deploy[key] as Partial<UpdateConfigSpec> | undefined;
    if (!isObj(c)) return `deploy.${key} is missing`;
    if (!intIn(c.parallelism, 0, Number.MAX_SAFE_INTEGER)) return `deploy.${key}.parallelism ${String(c.parallelism)} is not an integer >= 0`;
    if (c.order !== 'stop-first' && c.order !== 'start-first') return `deploy.${key}.order ${JSON.stringify(c.order)} is not stop-first or start-first`;
    if (!['pause', 'continue', 'rollback'].includes(c.failure_action as string)) return `deploy.${key}.failure_action ${JSON.stringify(c.failure_action)} is not pause, continue or rollback`;
    if (typeof c.max_failure_ratio !== 'number' || !Number.isFinite(c.max_failure_ratio)) return `deploy.${key}.max_failure_ratio is not a number`;
    const bad = badDuration(c, ['delay', 'monitor']);
    if (bad) return `deploy.${key}.${bad}`;
  }
  const badGrace = badDuration(deploy, ['x-node-down-grace']);
  if (badGrace) return `deploy.${badGrace}`;
  const rp = deploy.restart_policy as Partial<RestartPolicySpec> | undefined;
  if (!isObj(rp)) return 'deploy.restart_policy is missing';
  if (!['none', 'on-failure', 'any'].includes(rp.condition as string)) return `deploy.restart_policy.condition ${JSON.stringify(rp.condition)} is not none, on-failure or any`;
  if (!intIn(rp.max_attempts, 0, Number.MAX_SAFE_INTEGER)) return `deploy.restart_policy.max_attempts ${String(rp.max_attempts)} is not an integer >= 0`;
  const badRp = badDuration(rp, ['delay', 'window', 'x-max-delay']);
  if (badRp) return `deploy.restart_policy.${badRp}`;
  const pl = deploy.placement as Partial<PlacementSpec> | undefined;
  if (!isObj(pl) || !Array.isArray(pl.constraints) || !Array.isArray(pl.preferences)) return 'deploy.placement is missing its constraints or preferences';
  if (!pl.constraints.every((c) => typeof c === 'string')) return 'deploy.placement.constraints holds a value that is not a string';
  if (!pl.preferences.every((p) => isObj(p) && typeof p.spread === 'string')) return 'deploy.placement.preferences holds an entry without spread';
  if (pl.max_replicas_per_node !== undefined && !intIn(pl.max_replicas_per_node, 0, Number.MAX_SAFE_INTEGER)) return 'deploy.placement.max_replicas_per_node is not an integer >= 0';
  if (!isObj(deploy.resources) || !isObj(deploy.resources.reservations) || !isObj(deploy.resources.limits)) return 'deploy.resources is missing its limits or reservations';
  if (!Array.isArray(spec.ports)) return 'ports is not a list';
  if (spec.ports.length > LIMITS.portsPerService) return `more than ${LIMITS.portsPerService} published ports`;
  for (const [i, p] of (spec.ports as Partial<PortSpec>[]).entries()) {
    if (!isObj(p)) return `ports[${i}] is not a port`;
    if (!intIn(p.target, 1, 65535)) return `ports[${i}].target ${String(p.target)} is not a port number (1-65535)`;
    if (p.published !== undefined && !intIn(p.published, 1, 65535)) return `ports[${i}].published ${String(p.published)} is not a port number (1-65535)`;
    if (p.protocol !== 'tcp' && p.protocol !== 'udp') return `ports[${i}].protocol ${JSON.stringify(p.protocol)} is not tcp or udp`;
    if (p.mode !== 'ingress' && p.mode !== 'host') return `ports[${i}].mode ${JSON.stringify(p.mode)} is not ingress or host`;
  }
  for (const key of ['volumes'] as const) if (!Array.isArray(spec[key])) return `${key} is not a list`;
  if (spec.depends_on !== undefined && !isObj(spec.depends_on)) return 'depends_on is not a mapping';
  for (const key of ['networks', 'environment', 'labels'] as const) if (!isObj(spec[key])) return `${key} is not a mapping`;
  return undefined;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const intIn = (v: unknown, min: number, max: number): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;

/** The first of `keys` that holds something other than a duration ("delay ..."), if any. */
function badDuration(o: Record<string, unknown>, keys: string[]): string | undefined {
  for (const k of keys) {
    const v = o[k];
    if (v === undefined && k.startsWith('x-')) continue;
    try {
      if (typeof v !== 'string' && typeof v !== 'number') throw new Error('not a duration');
      parseDuration(v);
    } catch {
      return `${k} ${JSON.stringify(v)} is not a duration`;
    }
  }
  return undefined;
}
