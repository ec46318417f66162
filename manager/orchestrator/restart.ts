// Restart supervision, shared by the replicated and global orchestrators: given a dead task
// (wanted running, status terminal), decide per the service's restart_policy whether its
// slot gets a replacement, when it may start, and what the replacement carries.

import { parseDuration } from '../../common/duration.js';
import type { RestartPolicySpec } from '../../common/spec.js';
import type { TaskObj } from '../store/types.js';

export type RestartDecision =
  | { restart: true; reason: string; notBefore?: number; restartHistory: number[]; restartStreak: number }
  | { restart: false; reason: string; /** set when max_attempts stopped the restart */ exhausted?: string };

/** The task ended badly (as opposed to completing with exit code 0). */
export function isFailure(t: TaskObj): boolean {
  const s = t.status;
  if (s.state === 'failed' || s.state === 'rejected' || s.state === 'orphaned') return true;
  return s.exitCode !== undefined && s.exitCode !== 0;
}

/** Why a task died, in words: "task failed: exit code 1". */
export function deathReason(t: TaskObj): string {
  const s = t.status;
  switch (s.state) {
    case 'failed':
      if (s.exitCode !== undefined && s.exitCode !== 0) return `task failed: exit code ${s.exitCode}`;
      return s.err ? `task failed: ${s.err}` : 'task failed';
    case 'rejected': return `task rejected: ${s.err ?? 'no reason given'}`;
    case 'orphaned': return `task orphaned: ${s.err ?? 'its node is gone'}`;
    case 'complete': return 'task completed';
    default:
      return s.exitCode !== undefined ? `task ${s.state}: exit code ${s.exitCode}` : `task ${s.state}`;
  }
}

/** x-max-delay: the backoff's cap, and how long up counts as recovered (default 5m). */
const maxDelay = (policy: RestartPolicySpec): number => parseDuration(policy['x-max-delay'] ?? '5m');

/**
 * How many restarts in a row this slot has had when `task` died: its own streak plus one,
 * or zero again when it stayed up longer than the backoff's cap (it had recovered).
 */
export function restartStreak(policy: RestartPolicySpec, task: TaskObj): number {
  const cap = maxDelay(policy);
  if (task.upAt !== undefined && (task.endedAt ?? task.status.timestamp) - task.upAt > cap) return 0;
  return (task.restartStreak ?? 0) + 1;
}

/**
 * The delay before a restart may start: restart_policy.delay, or with x-backoff exponential
 * delay × 2^(streak-1), capped at x-max-delay (a zero delay backs off from 1s).
 */
export function restartDelay(policy: RestartPolicySpec, streak: number): number {
  const base = parseDuration(policy.delay);
  if (policy['x-backoff'] !== 'exponential' || streak <= 1) return base;
  const cap = maxDelay(policy);
  const from = base > 0 ? base : 1000;
  return Math.min(cap, from * 2 ** Math.min(streak - 1, 40));
}

/** Entries of the history inside the window that ends at `at` ("0s" = unbounded). */
export function attemptsInWindow(policy: RestartPolicySpec, history: readonly number[], at: number): number {
  const window = parseDuration(policy.window);
  return window > 0 ? history.filter((h) => h > at - window).length : history.length;
}

const HISTORY_CAP = 100;

/**
 * Decide a dead task's fate. The window is measured back from the moment the task died, so
 * the decision does not change as time passes: a slot that ran out of attempts stays down
 * until the service is updated.
 */
export function restartDecision(task: TaskObj, policy: RestartPolicySpec, now: number): RestartDecision {
  const reason = deathReason(task);
  if (task.desiredState !== 'running') return { restart: false, reason };
  if (policy.condition === 'none') return { restart: false, reason };
  if (policy.condition === 'on-failure' && !isFailure(task)) return { restart: false, reason };
  const history = task.restartHistory ?? [];
  const diedAt = Math.min(task.status.timestamp || now, now);
  if (policy.max_attempts > 0 && attemptsInWindow(policy, history, diedAt) >= policy.max_attempts) {
    const w = parseDuration(policy.window) > 0 ? ` within ${policy.window}` : '';
    return { restart: false, reason, exhausted: `not restarted: max_attempts (${policy.max_attempts}) reached${w}` };
  }
  const window = parseDuration(policy.window);
  const kept = window > 0 ? history.filter((h) => h > now - window) : history;
  const restartHistory = [...kept, now].slice(-HISTORY_CAP);
  const streak = restartStreak(policy, task);
  // A task whose node was lost (down or removed) did not crash: the delay, meant to slow a crash
  // loop down, does not apply; it runs elsewhere at once (the condition and max_attempts still do).
  const delay = task.status.state === 'orphaned' ? 0 : restartDelay(policy, streak);
  return { restart: true, reason, restartHistory, restartStreak: streak, ...(delay > 0 ? { notBefore: now + delay } : {}) };
}
