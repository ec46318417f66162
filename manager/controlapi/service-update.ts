// `service update` flags as a pure patch of a service spec (docker service update's flags).
// The flags' shapes are checked by the route's schema (schemas.ts), the resulting spec by the
// shared validator when it is written (write-spec.ts); here: what each flag means.

import { validateConstraint } from '../../common/api/constraint.js';
import { normaliseDuration } from '../../common/duration.js';
import { ErrorCodes, TsswarmError, type ErrorDetail } from '../../common/errors.js';
import { parseMemory, parsePortSpec } from '../../common/stack/index.js';
import type { ServiceSpec, UpdateConfigSpec } from '../../common/spec.js';
import { publishedPortKey } from '../../common/api/ports.js';
import type { ServiceUpdateFlags } from '../../common/api/types.js';


const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

export function applyServiceUpdate(spec: ServiceSpec, f: ServiceUpdateFlags): ServiceSpec {
  const s = clone(spec);
  const errors: ErrorDetail[] = [];
  const bad = (field: string, message: string) => errors.push({ field, message });
  if (f.image !== undefined) {
    if (!f.image) bad('image', 'must not be empty');
    else {
      // a new image: the pin of a built one no longer applies (the same name keeps it),
      // unless the client pinned the new name itself
      if (f.image !== s.image) delete s.image_id;
      s.image = f.image;
      if (f.imageId !== undefined) s.image_id = f.imageId;
    }
  } else if (f.imageId !== undefined) {
    bad('imageId', 'is given only with image (the ID that name resolved to)');
  }
  if (f.command) s.command = f.command;
  if (f.user !== undefined) s.user = f.user;
  for (const k of f.envRm ?? []) delete s.environment[k];
  for (const kv of f.envAdd ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) bad('env-add', `${JSON.stringify(kv)}: use KEY=VALUE`);
    else s.environment[kv.slice(0, i)] = kv.slice(i + 1);
  }
  for (const k of f.labelRm ?? []) delete s.labels[k];
  for (const kv of f.labelAdd ?? []) {
    const i = kv.indexOf('=');
    s.labels[i < 0 ? kv : kv.slice(0, i)] = i < 0 ? '' : kv.slice(i + 1);
  }
  if (f.replicas !== undefined) {
    // Its type and bounds are the flags schema's and the spec validator's (see write-spec.ts).
    if (s.deploy.mode === 'global' || s.deploy.mode === 'global-job') bad('replicas', `a ${s.deploy.mode} service has no replicas`);
    else s.deploy.replicas = f.replicas;
  }
  for (const p of f.publishRm ?? []) {
    const m = /^(\d+)(?:\/(tcp|udp))?$/.exec(p);
    if (!m) { bad('publish-rm', `${JSON.stringify(p)}: use PORT or PORT/udp`); continue; }
    const n = Number(m[1]);
    const proto = m[2] ?? 'tcp';
    const before = s.ports.length;
    s.ports = s.ports.filter((x) => !((x.published ?? x.target) === n && x.protocol === proto));
    if (s.ports.length === before) bad('publish-rm', `the service publishes no port ${n}/${proto}`);
  }
  for (const p of f.publishAdd ?? []) {
    const r = parsePortSpec(p);
    if (typeof r === 'string') { bad('publish-add', r); continue; }
    for (const port of r) {
      s.ports = s.ports.filter((x) => !(x.published !== undefined && publishedPortKey(x) === publishedPortKey(port)));
      s.ports.push(port);
    }
  }
  for (const c of f.constraintRm ?? []) s.deploy.placement.constraints = s.deploy.placement.constraints.filter((x) => x.replace(/\s/g, '') !== c.replace(/\s/g, ''));
  for (const c of f.constraintAdd ?? []) {
    const why = validateConstraint(c);
    if (why) bad('constraint-add', why);
    else if (!s.deploy.placement.constraints.includes(c)) s.deploy.placement.constraints.push(c);
  }
  const uc = (target: UpdateConfigSpec, flags: ServiceUpdateFlags['update'], prefix: string) => {
    for (const [k, v] of Object.entries(flags ?? {})) {
      if (v === undefined) continue;
      const field = `${prefix}-${k.replace(/_/g, '-')}`;
      try {
        if (k === 'parallelism') { const n = Number(v); if (!Number.isInteger(n) || n < 0) throw new Error('must be a non-negative integer'); target.parallelism = n; }
        else if (k === 'delay' || k === 'monitor') target[k] = normaliseDuration(v);
        else if (k === 'order') { if (v !== 'stop-first' && v !== 'start-first') throw new Error('must be stop-first or start-first'); target.order = v; }
        else if (k === 'failure_action') { if (!['pause', 'continue', 'rollback'].includes(v)) throw new Error('must be pause, continue or rollback'); target.failure_action = v as UpdateConfigSpec['failure_action']; }
        else if (k === 'max_failure_ratio') { const n = Number(v); if (!(n >= 0 && n <= 1)) throw new Error('must be between 0 and 1'); target.max_failure_ratio = n; }
      } catch (e) { bad(field, (e as Error).message); }
    }
  };
  uc(s.deploy.update_config, f.update, 'update');
  uc(s.deploy.rollback_config, f.rollback, 'rollback');
  try {
    if (f.restartCondition !== undefined) {
      if (!['none', 'on-failure', 'any'].includes(f.restartCondition)) throw new Error('restart-condition must be none, on-failure or any');
      s.deploy.restart_policy.condition = f.restartCondition as 'any';
    }
    if (f.restartDelay !== undefined) s.deploy.restart_policy.delay = normaliseDuration(f.restartDelay);
    if (f.restartWindow !== undefined) s.deploy.restart_policy.window = normaliseDuration(f.restartWindow);
    if (f.restartMaxAttempts !== undefined) {
      const n = Number(f.restartMaxAttempts);
      if (!Number.isInteger(n) || n < 0) throw new Error('restart-max-attempts must be a non-negative integer');
      s.deploy.restart_policy.max_attempts = n;
    }
    if (f.restartBackoff !== undefined) {
      if (f.restartBackoff === 'exponential') s.deploy.restart_policy['x-backoff'] = 'exponential';
      else if (f.restartBackoff === 'none') delete s.deploy.restart_policy['x-backoff'];
      else throw new Error('restart-backoff must be exponential or none');
    }
    if (f.restartMaxDelay !== undefined) s.deploy.restart_policy['x-max-delay'] = normaliseDuration(f.restartMaxDelay);
  } catch (e) { bad('restart-policy', (e as Error).message); }
  if (f.nodeDownGrace !== undefined) {
    try { s.deploy['x-node-down-grace'] = normaliseDuration(f.nodeDownGrace); } catch (e) { bad('node-down-grace', (e as Error).message); }
  }
  if (f.limitMemory !== undefined) {
    const m = parseMemory(f.limitMemory);
    if (m === undefined) bad('limit-memory', `${JSON.stringify(f.limitMemory)}: use a size such as 512M`);
    else s.deploy.resources.limits.memory = m;
  }
  if (f.limitCpu !== undefined) {
    const n = Number(f.limitCpu);
    if (!(n > 0)) bad('limit-cpu', 'must be a positive number of CPUs');
    else s.deploy.resources.limits.cpus = n;
  }
  if (errors.length) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'invalid service update; nothing was changed', errors);
  return s;
}
