// Node monitor: a ready node whose heartbeats stopped is marked down; the tasks it held are
// orphaned so the orchestrators replace them elsewhere (per restart policy).

import { isTerminal, type ClusterState, type NodeObj, type StoreOp, type TaskObj } from '../store/types.js';
import { isStarted } from '../objects/task.js';

const byId = <T extends { id: string }>(a: T, b: T): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function checkNodes(state: ClusterState, now: number, graceMs: number): StoreOp[] {
  const ops: StoreOp[] = [];
  const nodes = new Map<string, NodeObj>();
  for (const n of [...state.nodes].sort(byId)) {
    if (n.status.state === 'ready' && now - n.status.lastHeartbeat > graceMs) {
      const down: NodeObj = { ...n, meta: { ...n.meta, updatedAt: now }, status: { ...n.status, state: 'down', message: 'heartbeat failure' } };
      ops.push({ op: 'update', obj: down });
      nodes.set(n.id, down);
    } else nodes.set(n.id, n);
  }
  for (const t of [...state.tasks].sort(byId)) {
    // Every task that reached a node and has not ended, whatever it is meant to do: nothing
    // will report on it while its node is away (a stopping task must not hold its slot).
    if (t.nodeId === undefined || isTerminal(t.status.state) || !isStarted(t)) continue;
    const n = nodes.get(t.nodeId);
    const err = !n ? `node ${t.nodeId} was removed` : n.status.state === 'down' ? `node ${n.description.hostname} is down` : undefined;
    if (!err) continue;
    const orphaned: TaskObj = { ...t, meta: { ...t.meta, updatedAt: now }, status: { ...t.status, state: 'orphaned', timestamp: now, message: 'orphaned', err } };
    ops.push({ op: 'update', obj: orphaned });
  }
  return ops;
}
