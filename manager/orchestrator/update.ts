// Rolling updates: tasks at an older spec version are replaced in batches per
// deploy.update_config (parallelism, delay, order), failures are counted against
// max_failure_ratio within the monitor window and acted on per failure_action, and the
// update completes once the last new task has stayed up for the monitor window. Progress is
// read from the store each time (nothing is kept in memory), so an update survives a change
// of leader. See docs/orchestration.md.

import { parseDuration } from '../../common/duration.js';
import type { ServiceObj, TaskObj, UpdateState } from '../store/types.js';
import { keyOrder, stopTask, type SlotKey, type SlotView } from './slots.js';
import { rollbackService } from '../objects/service.js';
import { isLive, isStarted, isUp, newTask, type NewTaskOptions, type Plan } from '../objects/task.js';

export interface UpdateContext {
  service: ServiceObj;
  views: readonly SlotView[];
  now: number;
  newId: () => string;
  plan: Plan;
  placement(key: SlotKey): Pick<NewTaskOptions, 'slot' | 'nodeId'>;
  /** The service's tasks (for counting the update's failures). */
  tasks?: readonly TaskObj[];
}


/** Tasks this rollout created (at the service's current spec version, since it started). */
const rolloutTasks = (ctx: UpdateContext, startedAt: number): TaskObj[] =>
  (ctx.tasks ?? []).filter((t) => t.specVersion === ctx.service.specVersion && t.meta.createdAt >= startedAt);

/**
 * The rollout's failures: its tasks that died (failed, rejected, or killed as unhealthy)
 * before they were ever up, or within the monitor window after they came up. A task that
 * dies later is the restart policy's business, not the update's.
 */
export function rolloutFailures(tasks: readonly TaskObj[], monitorMs: number): TaskObj[] {
  return tasks.filter((t) => {
    if (t.status.state !== 'failed' && t.status.state !== 'rejected') return false;
    if (t.upAt === undefined) return true;
    const ended = t.endedAt ?? t.meta.updatedAt;
    return ended - t.upAt <= monitorMs;
  });
}

/** When the monitor window of the rollout's last task to come up ends (undefined: none up). */
function monitorEnd(tasks: readonly TaskObj[], monitorMs: number): number | undefined {
  const ups = tasks.filter((t) => t.desiredState === 'running' && t.upAt !== undefined).map((t) => t.upAt!);
  return ups.length > 0 ? Math.max(...ups) + monitorMs : undefined;
}

/** Slots still running (or holding) a task at an older spec version, with no replacement yet. */
export const outdatedSlots = (views: readonly SlotView[]): SlotView[] => views.filter((v) => v.old && !v.current);

/**
 * Slots whose replacement is under way: a current task not up yet, or an old task still
 * stopping before its replacement is made (stop-first).
 */
export const inFlightSlots = (views: readonly SlotView[]): SlotView[] =>
  views.filter((v) => (v.current && isLive(v.current) && !isUp(v.current)) || (!v.current && !v.old && v.draining));

/** Broken slots first (dead, not yet running), then by key. */
const batchOrder = (a: SlotView, b: SlotView): number =>
  Number(isLive(a.old!)) - Number(isLive(b.old!))
  || Number(isUp(a.old!)) - Number(isUp(b.old!))
  || keyOrder(a.key, b.key);

function setUpdateStatus(ctx: UpdateContext, state: UpdateState, message: string, startedAt: number, completedAt?: number): void {
  ctx.plan.update(ctx.service, (s) => ({ ...s, updateStatus: { state, startedAt, message, ...(completedAt !== undefined ? { completedAt } : {}) } }));
}

export function planUpdate(ctx: UpdateContext): void {
  const { service, views, now, plan } = ctx;
  const us = service.updateStatus;
  const rollingBack = us?.state === 'rollback_started';
  const cfg = rollingBack ? service.spec.deploy.rollback_config : service.spec.deploy.update_config;
  const outdated = outdatedSlots(views);
  const inFlight = inFlightSlots(views);
  const version = service.specVersion;

  // failure_action: a task of this rollout that dies counts as a failure; past
  // max_failure_ratio the update pauses, rolls back, or (continue) carries on.
  const active = us !== undefined && (us.state === 'updating' || rollingBack);
  const monitor = parseDuration(cfg.monitor);
  const mine = active ? rolloutTasks(ctx, us.startedAt) : [];
  if (active) {
    const failed = rolloutFailures(mine, monitor);
    if (failed.length > 0 && failed.length / Math.max(1, mine.length) > cfg.max_failure_ratio && cfg.failure_action !== 'continue') {
      const t = failed[0];
      const why = `task ${t.serviceName}.${t.slot ?? t.nodeId}: ${t.status.err || t.status.message}`;
      if (rollingBack) { setUpdateStatus(ctx, 'rollback_paused', `rollback paused due to failure of ${why}`, us.startedAt); return; }
      if (cfg.failure_action === 'rollback' && service.previousSpec) {
        ctx.plan.update(service, (s) => rollbackService(s, now, `update rolled back due to failure of ${why}`) ?? s);
        return;
      }
      setUpdateStatus(ctx, 'paused', `update paused due to failure of ${why}`, us.startedAt);
      return;
    }
  }

  if (outdated.length === 0) {
    // An old task still beside its replacement (start-first whose new task failed for good)
    // means the update has not finished: the full updater's failure_action decides there.
    if (inFlight.length > 0 || views.some((v) => v.old)) return;
    if (active) {
      // Keep watching the last batch for failures for one monitor window before completing.
      const end = monitorEnd(mine, monitor);
      if (end !== undefined && now < end) { plan.wake(end); return; }
    }
    if (us?.state === 'updating') setUpdateStatus(ctx, 'completed', 'update completed', us.startedAt, now);
    else if (us?.state === 'rollback_started') setUpdateStatus(ctx, 'rollback_completed', us.message || 'rollback completed', us.startedAt, now);
    return;
  }

  let startedAt = us?.startedAt ?? now;
  if (!us || us.state === 'completed' || us.state === 'rollback_completed') {
    startedAt = now;
    setUpdateStatus(ctx, 'updating', `updating to spec version ${version}`, now);
  }
  if (us?.state === 'paused' || us?.state === 'rollback_paused') return;
  // A batch starts only once the previous one is up.
  if (inFlight.length > 0) return;

  const delay = parseDuration(cfg.delay);
  if (delay > 0) {
    const upSince = views
      .map((v) => v.current)
      .filter((t) => t !== undefined && isUp(t) && t.meta.createdAt >= startedAt)
      .map((t) => t!.status.timestamp);
    if (upSince.length > 0) {
      const next = Math.max(...upSince) + delay;
      if (now < next) { plan.wake(next); return; }
    }
  }

  const size = cfg.parallelism > 0 ? cfg.parallelism : outdated.length;
  for (const v of [...outdated].sort(batchOrder).slice(0, size)) {
    const old = v.old!;
    const create = () => plan.create(newTask(service, now, ctx.newId, { ...ctx.placement(v.key), message: `updated to spec version ${version}` }));
    if (!isLive(old) || !isStarted(old)) {
      // Nothing runs there: replace it straight away.
      stopTask(plan, old);
      create();
    } else if (cfg.order === 'start-first') {
      // The old task is stopped by the slot engine once the new one is up.
      create();
    } else {
      // stop-first: the replacement is made once the old task has exited.
      stopTask(plan, old);
    }
  }
}
