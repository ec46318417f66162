// Follows a deploy until every changed service converged (all tasks of the current spec
// running, and healthy where a healthcheck is defined; one-shot tasks complete; a job's slots
// all completed), or one fails. A failure is reported with the task's own reason and exit code;
// a service that waits for its dependencies (depends_on) says what it waits for, and fails when
// that dependency failed. The cluster keeps what was deployed and the orchestrator keeps
// trying, as `service ps` shows.

import { taskName, type TaskObj } from '../common/api/objects.js';
import type { ServiceView } from '../common/api/types.js';
import * as api from './api.js';
import type { ApiClient } from './client.js';
import type { Io } from './io.js';

export interface ServiceProgress {
  name: string;
  desired: number;
  /** tasks up (a job: slots completed) */
  ready: number;
  done: boolean;
  failure?: string;
  note?: string;
  /** a job (replicated-job, global-job): `ready` counts completions */
  job?: boolean;
}

const isJob = (s: ServiceView): boolean => s.spec.deploy.mode === 'replicated-job' || s.spec.deploy.mode === 'global-job';

/** A failed task's reason, naming its exit code. */
function failureOf(t: TaskObj): string {
  const st = t.status;
  const why = st.err || st.message;
  const code = st.exitCode !== undefined && !why.includes(`exit code ${st.exitCode}`) ? ` (exit code ${st.exitCode})` : '';
  return `task ${taskName(t)} ${st.state}: ${why}${code}`;
}

const hasHealthcheck = (s: ServiceView): boolean => !!s.spec.healthcheck && !s.spec.healthcheck.disable && !!s.spec.healthcheck.test?.length && s.spec.healthcheck.test[0] !== 'NONE';

/** Pure: how far along one service is. */
export function progressOf(s: ServiceView, tasks: TaskObj[], pendingSinceMs: Map<string, number>, now: number, expectRollback = false): ServiceProgress {
  const mine = tasks.filter((t) => t.serviceId === s.id && t.specVersion === s.specVersion);
  const oneShot = s.spec.deploy.restart_policy.condition !== 'any';
  const live = mine.filter((t) => t.desiredState === 'running');
  const ready = live.filter((t) => (t.status.state === 'running' && (!hasHealthcheck(s) || t.status.health === 'healthy'))
    || (oneShot && t.status.state === 'complete')).length;
  const outdated = tasks.filter((t) => t.serviceId === s.id && t.specVersion !== s.specVersion && t.desiredState === 'running' && t.status.state === 'running').length;
  const desired = s.desired;
  const job = isJob(s);
  const done = job ? (s.completed ?? 0) : ready;
  const p: ServiceProgress = { name: s.name, desired, ready: Math.min(done, desired), done: done >= desired && outdated === 0, ...(job ? { job } : {}) };
  if (s.waiting?.length) {
    // depends_on: nothing of this spec is created until its dependencies meet their condition
    p.done = false;
    p.note = s.waiting.map((w) => w.message).join('; ');
    const failed = s.waiting.find((w) => w.failure);
    if (failed) p.failure = `${failed.message}, but ${failed.failure}`;
    return p;
  }
  if (job && s.jobFailure) { p.failure = `job failed: ${s.jobFailure}`; return p; }
  for (const t of mine.sort((a, b) => b.status.timestamp - a.status.timestamp)) {
    const st = t.status;
    if (st.state === 'failed' || st.state === 'rejected') {
      p.failure = failureOf(t);
      break;
    }
    if (st.state === 'running' && st.health === 'unhealthy') { p.failure = `task ${taskName(t)} is unhealthy`; break; }
    if (st.state === 'pending' && st.err) {
      const since = pendingSinceMs.get(t.id) ?? now;
      pendingSinceMs.set(t.id, since);
      p.note = `${taskName(t)} pending: ${st.err}`;
      if (now - since > 5000) { p.failure = `task ${taskName(t)} cannot be scheduled: ${st.err}`; break; }
    }
  }
  // A rolling update decides for itself what a failed task means (pause, continue, rollback):
  // follow its verdict rather than the first failure.
  const us = s.updateStatus;
  if (us && (us.state === 'updating' || us.state === 'rollback_started')) {
    if (p.failure) p.note = p.failure;
    p.failure = undefined;
    if (us.state === 'rollback_started') { p.done = false; if (expectRollback) p.note = `rolling back`; else p.note = `rolling back: ${us.message}`; }
    else if (p.done) {
      // Every task is up: the update still watches them for one monitor window before it
      // completes, and a failure there still pauses or rolls it back.
      p.done = false;
      p.note = `all tasks up; watching them for ${s.spec.deploy.update_config.monitor} before completing`;
    }
  } else if (us?.state === 'paused' || us?.state === 'rollback_paused') {
    p.done = false;
    p.failure = `${us.state === 'paused' ? 'update paused' : 'rollback paused'}: ${us.message}`;
  } else if (us?.state === 'rollback_completed' && !expectRollback) {
    p.done = false;
    p.failure = `update rolled back: ${us.message}`;
  }
  if (p.done) p.failure = undefined;
  return p;
}

/** One service's progress line: "st_web: 2/3 starting", "st_migrate: 1/1 completed", "st_app: 0/2 (waiting for db to be healthy)". */
export function progressLine(p: ServiceProgress): string {
  const state = p.done ? (p.job ? 'completed' : 'converged') : p.failure ? `FAILED: ${p.failure}` : p.note ? `(${p.note})` : p.job ? 'running' : 'starting';
  return `${p.name}: ${p.ready}/${p.desired} ${state}`;
}

export async function watchDeploy(client: ApiClient, stack: string, services: string[], opts: { timeoutMs: number; tty: boolean; out: (s: string) => void; expectRollback?: boolean }): Promise<{ ok: boolean; failures: string[] }> {
  const deadline = Date.now() + opts.timeoutMs;
  const pendingSince = new Map<string, number>();
  let lastLines: string[] = [];
  let drawn = 0;
  while (true) {
    const [svcs, tasks] = await Promise.all([
      api.services(client, stack),
      api.tasks(client, { stack }),
    ]);
    const now = Date.now();
    const progress = svcs.filter((s) => services.includes(s.name)).map((s) => progressOf(s, tasks, pendingSince, now, opts.expectRollback));
    const lines = progress.map(progressLine);
    if (opts.tty) {
      if (drawn) opts.out(`\x1b[${drawn}A`);
      opts.out(lines.map((l) => `\x1b[2K${l}\n`).join(''));
      drawn = lines.length;
    } else {
      for (const l of lines) if (!lastLines.includes(l)) opts.out(l + '\n');
    }
    lastLines = lines;
    const failures = progress.filter((p) => p.failure).map((p) => `${p.name}: ${p.failure}`);
    if (failures.length) return { ok: false, failures };
    if (progress.every((p) => p.done)) return { ok: true, failures: [] };
    if (now > deadline) return { ok: false, failures: progress.filter((p) => !p.done).map((p) => `${p.name}: not ${p.job ? 'completed' : 'converged'} after ${Math.round(opts.timeoutMs / 1000)}s (${p.ready}/${p.desired} ${p.job ? 'completed' : 'ready'}${p.note ? `; ${p.note}` : ''})`) };
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Follow services (possibly of several stacks) until converged; non-zero on failure. */
export async function followServices(client: ApiClient, names: string[], io: Io, expectRollback = false): Promise<number> {
  let ok = true;
  const svcs = await Promise.all(names.map((n) => api.service(client, n)));
  for (const [stack, items] of groupBy(svcs, (s) => s.stack)) {
    const r = await watchDeploy(client, stack, items.map((i) => i.name), { timeoutMs: 600_000, tty: io.tty, out: io.out, expectRollback });
    if (!r.ok) { ok = false; io.err(`Error: ${r.failures.join('\n  ')}\n`); }
  }
  return ok ? 0 : 1;
}

function groupBy<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
}
