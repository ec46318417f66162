// The node monitor: the one place that decides a node is down (or back). The dispatcher only
// records when it last heard from each node; this pure decision reads those heartbeats with
// the store's nodes and the time, and returns what to write: a ready node silent for longer
// than the grace becomes `down`, a down node heard from again becomes `ready`, and every task
// a down or removed node held is orphaned so the orchestrators replace it elsewhere (per
// restart policy) — a running task of a service with a longer `deploy.x-node-down-grace` only
// once its node has been silent that long (until then it keeps its slot, and carries on if
// its node comes back). Run by the control-loop runner (manager/control/loops.ts).

import { nodeDownGraceMs } from '../../common/spec.js';
import { type ClusterState, type NodeObj, type StoreOp, type TaskObj } from '../store/types.js';
import { byId, holdsNode } from '../objects/task.js';
import type { EngineDown } from '../objects/node.js';

export interface NodeMonitorInput {
  now: number;
  /** A ready node is down once its last heartbeat is older than this. */
  graceMs: number;
  /** Last heartbeat per node as the dispatcher heard it (in memory: newer than the store's). */
  heartbeats?: ReadonlyMap<string, number>;
  /**
   * When this manager started watching: every node gets a grace period from then (nodes that
   * were ready when the previous manager stopped have had no one to heartbeat to).
   */
  watchingSince?: number;
  /**
   * The grace of a node not heard from since watching started (default graceMs): longer, as
   * after an election every agent has to find the new leader and open a session first.
   */
  startGraceMs?: number;
  /**
   * Nodes whose Docker engine does not answer, as their agents report it (dispatcher, in
   * memory): the error and since when the manager knows of it. A node heard from (in
   * `heartbeats`) and absent here has an engine that answers. Such a node counts as silent
   * since its engine stopped answering: it shows it at once (status.engine 'down', which keeps
   * new tasks away), is marked down after the same grace, and is ready again once its engine
   * answers.
   */
  engines?: ReadonlyMap<string, EngineDown>;
  /**
   * Nodes whose session with this manager ended (the connection broke: a crashed agent or a
   * host whose kernel still answers; or the agent closed it) and that were not heard from
   * since: when (dispatcher, in memory). Such a node is down once it has not come back for
   * lostGraceMs, sooner than silence alone would say: an agent whose connection merely broke
   * opens a new session at once.
   */
  lost?: ReadonlyMap<string, number>;
  lostGraceMs?: number;
}

export interface NodeMonitorDecision {
  ops: StoreOp[];
  /** The nodes this decision marks down, and those it marks ready again. */
  down: NodeObj[];
  ready: NodeObj[];
  /** When the first ready node would pass its grace (call again then). */
  wakeAt?: number;
}

/** The node's session ended at or after `heard` (its last heartbeat), and it was not heard from since. */
function lostSince(input: NodeMonitorInput, nodeId: string, heard: number): boolean {
  const at = input.lost?.get(nodeId);
  return at !== undefined && at >= heard;
}

export function checkNodes(state: ClusterState, input: NodeMonitorInput): NodeMonitorDecision {
  const { now, graceMs } = input;
  const ops: StoreOp[] = [];
  const down: NodeObj[] = [];
  const ready: NodeObj[] = [];
  const nodes = new Map<string, NodeObj>();
  let wakeAt: number | undefined;
  for (const n of [...state.nodes].sort(byId)) {
    const heard = input.heartbeats?.get(n.id);
    const last = Math.max(n.status.lastHeartbeat, heard ?? 0);
    const engine = input.engines?.get(n.id);
    let next = n;
    const write = (status: Partial<NodeObj['status']>): NodeObj => {
      const { engine: _, ...rest } = n.status;
      return { ...n, meta: { ...n.meta, updatedAt: now }, status: { ...rest, ...status } };
    };
    if (n.status.state === 'ready') {
      const since = Math.max(last, input.watchingSince ?? 0);
      const grace = last < (input.watchingSince ?? 0) ? Math.max(graceMs, input.startGraceMs ?? graceMs) : graceMs;
      const lostUntil = lostSince(input, n.id, last) && input.lostGraceMs !== undefined ? input.lost!.get(n.id)! + input.lostGraceMs : Infinity;
      if (now - since > grace) {
        next = write({ state: 'down', message: 'heartbeat failure', lastHeartbeat: last, ...(engine ? { engine: 'down' } : {}) });
        down.push(next);
      } else if (now > lostUntil) {
        next = write({ state: 'down', message: 'connection lost', lastHeartbeat: last, ...(engine ? { engine: 'down' } : {}) });
        down.push(next);
      } else if (engine && now - engine.since > graceMs) {
        next = write({ state: 'down', message: `Docker engine not answering: ${engine.error}`, lastHeartbeat: last, engine: 'down' });
        down.push(next);
      } else {
        wakeAt = Math.min(wakeAt ?? Infinity, since + grace + 1, lostUntil + 1);
        if (engine) {
          // Shown at once (and no new tasks); written once, not on every heartbeat.
          if (n.status.engine !== 'down') next = write({ message: `engine down: ${engine.error}`, engine: 'down' });
          wakeAt = Math.min(wakeAt, engine.since + graceMs + 1);
        } else if (n.status.engine === 'down' && heard !== undefined) {
          next = write({ message: '' });
        }
      }
    } else if (n.status.state === 'down' && heard !== undefined && now - heard <= graceMs && !engine && !lostSince(input, n.id, heard)) {
      // Heard from again (its session came back or its heartbeats were only late) with an engine that answers.
      next = write({ state: 'ready', message: '', lastHeartbeat: heard });
      ready.push(next);
      wakeAt = Math.min(wakeAt ?? Infinity, heard + graceMs + 1);
    } else if (n.status.state === 'down' && engine && n.status.engine !== 'down') {
      next = write({ message: `Docker engine not answering: ${engine.error}`, engine: 'down' });
    }
    if (next !== n) ops.push({ op: 'update', obj: next });
    nodes.set(n.id, next);
  }
  const specs = new Map(state.services.map((s) => [s.id, s.spec]));
  for (const t of [...state.tasks].sort(byId)) {
    // Every task that reached a node and has not ended, whatever it is meant to do: nothing
    // will report on it while its node is away (a stopping task must not hold its slot).
    if (!holdsNode(t)) continue;
    const n = nodes.get(t.nodeId!);
    const err = !n ? `node ${t.nodeId} was removed` : n.status.state === 'down' ? `node ${n.description.hostname} is down` : undefined;
    if (!err) continue;
    if (n && t.desiredState === 'running') {
      // The service's own grace (its current spec: `service update` changes it in place),
      // counted from the node's last heartbeat, or from when this manager started watching.
      const g = nodeDownGraceMs(specs.get(t.serviceId) ?? t.spec);
      const silentSince = Math.max(n.status.lastHeartbeat, input.watchingSince ?? 0);
      if (g > graceMs && now - silentSince <= g) {
        wakeAt = Math.min(wakeAt ?? Infinity, silentSince + g + 1);
        continue;
      }
    }
    const orphaned: TaskObj = { ...t, meta: { ...t.meta, updatedAt: now }, status: { ...t.status, state: 'orphaned', timestamp: now, message: 'orphaned', err } };
    ops.push({ op: 'update', obj: orphaned });
  }
  return { ops, down, ready, ...(wakeAt !== undefined ? { wakeAt } : {}) };
}
