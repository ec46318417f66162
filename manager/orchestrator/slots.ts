// The slot engine both orchestrators share. A slot is where one task of a service should run:
// a replica number (replicated) or a node id (global). For each slot it settles duplicates,
// makes the restart decision for a dead task, fills empty slots and stops unwanted ones, and
// hands the updater a view of what each slot now holds. Everything is derived from the tasks
// in the store, so a new leader picks up where the old one stopped.

import type { RestartPolicySpec } from '../../common/spec.js';
import { isTerminal, type ServiceObj, type TaskObj } from '../store/types.js';
import { restartDecision } from './restart.js';
import { bestFirst, cmpStr, isDead, isLive, isStarted, isUp, newestFirst, newTask, type NewTaskOptions, type Plan } from '../objects/task.js';

export type SlotKey = number | string;

export interface SlotRules {
  /** Slots that must hold a live task, in order. */
  wanted: SlotKey[];
  /** Slots whose live tasks stay but which get no new or restarted task (paused nodes). */
  frozen: ReadonlySet<SlotKey>;
  keyOf(t: TaskObj): SlotKey | undefined;
  placement(key: SlotKey): Pick<NewTaskOptions, 'slot' | 'nodeId'>;
  /** Why a live task must leave its node (e.g. the node is drained), if it must. */
  mustMove?(t: TaskObj): string | undefined;
  /** The task's node is gone or down: nothing will report the task stopped. */
  nodeGone(nodeId: string | undefined): boolean;
  /** What a dead task's restart is judged by (default: the service's restart_policy). */
  restartPolicy?: RestartPolicySpec;
}

export interface SlotView {
  key: SlotKey;
  /** The task meant to run at the service's spec version (live, or dead and not restarted). */
  current?: TaskObj;
  /** A task meant to run at an older spec version (live, or dead and not restarted). */
  old?: TaskObj;
  /** A stopped-but-not-yet-exited task still holds the slot; a new one waits for it. */
  draining: boolean;
}

export interface SlotContext {
  service: ServiceObj;
  /** The service's tasks. */
  tasks: readonly TaskObj[];
  now: number;
  newId: () => string;
  plan: Plan;
}

/** Stop a task: desiredState shutdown; one that never reached a node is shut down at once. */
export function stopTask(plan: Plan, t: TaskObj): void {
  plan.update(t, (cur) => {
    let next = cur;
    if (cur.desiredState === 'running') next = { ...next, desiredState: 'shutdown' };
    if (!isStarted(cur) && !isTerminal(cur.status.state)) {
      next = { ...next, status: { ...cur.status, state: 'shutdown', timestamp: plan.now, message: 'shut down before it was scheduled' } };
    }
    return next;
  });
}

/** Slots in order: replica numbers by value, node ids as strings. */
export const keyOrder = (a: SlotKey, b: SlotKey): number =>
  typeof a === 'number' && typeof b === 'number' ? a - b : cmpStr(String(a), String(b));

export function reconcileSlots(ctx: SlotContext, rules: SlotRules): SlotView[] {
  const { service, plan, now } = ctx;
  const version = service.specVersion;
  const groups = new Map<SlotKey, TaskObj[]>();
  for (const t of ctx.tasks) {
    if (t.desiredState === 'remove') continue;
    // Stopped before it reached a node: nothing will ever report it stopped.
    if (t.desiredState !== 'running' && !isStarted(t) && !isTerminal(t.status.state)) stopTask(plan, t);
    const key = rules.keyOf(t);
    if (key === undefined) {
      // No slot in this mode (e.g. the service changed mode): it cannot be accounted for.
      if (t.desiredState === 'running') stopTask(plan, t);
      continue;
    }
    const g = groups.get(key);
    if (g) g.push(t); else groups.set(key, [t]);
  }

  const wanted = new Set(rules.wanted);
  for (const key of [...groups.keys()].sort(keyOrder)) {
    if (wanted.has(key) || rules.frozen.has(key)) continue;
    for (const t of groups.get(key)!) if (t.desiredState === 'running') stopTask(plan, t);
  }

  const keys = [...rules.wanted, ...[...rules.frozen].filter((k) => !wanted.has(k)).sort(keyOrder)];
  const views: SlotView[] = [];
  for (const key of keys) {
    const frozen = !wanted.has(key);
    const tasks = (groups.get(key) ?? []).map((t) => plan.latest(t));
    const create = (o: Omit<NewTaskOptions, 'slot' | 'nodeId'>) =>
      plan.create(newTask(service, now, ctx.newId, { ...rules.placement(key), ...o }));

    // Tasks that must leave their node are replaced at once (no restart attempt is counted).
    // With start-first, one that runs keeps running until its replacement is up.
    const order = service.spec.deploy.update_config.order;
    let moved: { reason: string; history?: number[] } | undefined;
    const live: TaskObj[] = [];
    const leaving: TaskObj[] = [];
    for (const t of tasks.filter(isLive)) {
      const reason = rules.mustMove?.(t);
      if (!reason) { live.push(t); continue; }
      moved = { reason, history: t.restartHistory };
      if (order === 'start-first' && t.status.state === 'running') leaving.push(t); else stopTask(plan, t);
    }

    // Keep at most one live task per spec generation (current and older); stop the rest.
    const liveCur = live.filter((t) => t.specVersion === version).sort(bestFirst);
    const liveOld = live.filter((t) => t.specVersion !== version).sort(bestFirst);
    for (const extra of [...liveCur.slice(1), ...liveOld.slice(1)]) stopTask(plan, extra);
    let cur: TaskObj | undefined = liveCur[0];
    let old: TaskObj | undefined = liveOld[0];
    if (cur && old && (isUp(cur) || order === 'stop-first' || !isStarted(old))) { stopTask(plan, old); old = undefined; }
    // A leaving task goes once the slot holds a task that is up elsewhere, or once a rolling
    // update is to replace it anyway (it is not at the spec version, or the slot holds an older
    // task): a slot never holds more than two live tasks.
    // Several leaving (the replacement's node was drained too before the first one left): only
    // the best of them stays until a replacement is up.
    leaving.sort(bestFirst);
    for (const t of leaving.splice(1)) stopTask(plan, t);
    if (leaving.length > 0 && ([cur, old].some((t) => t && isUp(t)) || old || leaving.some((t) => t.specVersion !== version))) {
      for (const t of leaving) stopTask(plan, t);
    }

    // Dead tasks: the newest one gets the restart decision, older ones are history.
    const dead = tasks.filter(isDead).sort(newestFirst);
    for (const d of dead.slice(1)) stopTask(plan, d);
    const last = dead[0];
    let held: TaskObj | undefined;
    if (last) {
      if (cur || (old && last.specVersion !== version)) stopTask(plan, last);
      else if (frozen) held = last;
      else {
        const d = restartDecision(last, rules.restartPolicy ?? service.spec.deploy.restart_policy, now);
        if (d.restart) {
          stopTask(plan, last);
          cur = create({ message: `restarted: ${d.reason}`, notBefore: d.notBefore, restartHistory: d.restartHistory, restartStreak: d.restartStreak });
          if (d.notBefore !== undefined) plan.wake(d.notBefore);
        } else {
          held = last;
          const exhausted = d.exhausted;
          if (exhausted && last.status.message !== exhausted) {
            held = plan.update(last, (t) => ({ ...t, status: { ...t.status, message: exhausted } }));
          }
        }
      }
    }

    const draining = tasks.some((t) => plan.latest(t).desiredState !== 'running' && !isTerminal(t.status.state) && isStarted(t) && !rules.nodeGone(t.nodeId));
    if (!cur && !old && !held && !frozen) {
      if (moved) cur = create({ message: `rescheduled: ${moved.reason}`, restartHistory: moved.history });
      else if (!draining) {
        const prev = [...tasks].sort(newestFirst)[0];
        cur = create({ message: prev && prev.specVersion !== version ? `updated to spec version ${version}` : 'created' });
      }
    }
    views.push({
      key,
      current: cur ?? (held?.specVersion === version ? held : undefined),
      old: old ?? (held && held.specVersion !== version ? held : undefined),
      draining,
    });
  }
  return views.filter((v) => wanted.has(v.key));
}
