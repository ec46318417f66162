// Finding what a route's `:ref` names (a full name, a hostname, an id or an id prefix), and
// how a service is shown.

import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import type { ServiceView } from '../../common/api/types.js';
import type { ReadTx } from '../store/store.js';
import { isTerminal, type NodeObj, type ServiceObj, type TaskObj } from '../store/types.js';
import type { ApiContext } from './context.js';
import { isJobMode } from '../../common/spec.js';
import { taskName } from '../../common/api/objects.js';
import { serviceProblem } from '../objects/service.js';
import { completionOf, deathReason, dependencyGate } from '../orchestrator/index.js';

function findByRef<T extends { id: string }>(all: T[], ref: string, name: (x: T) => string): T[] {
  const exact = all.filter((x) => x.id === ref || name(x) === ref);
  return exact.length ? exact : all.filter((x) => x.id.startsWith(ref));
}

export function findService(tx: ReadTx, ref: string): ServiceObj {
  const hits = findByRef(tx.list('service'), ref, (s) => s.name);
  if (hits.length === 1) return hits[0];
  if (hits.length > 1) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `service ${ref} is ambiguous (${hits.length} matches)`, [{ field: 'params.ref', message: 'ambiguous' }]);
  throw new TsswarmError(ErrorCodes.SERVICE_NOT_FOUND, `service ${ref} not found`);
}

export function findNode(tx: ReadTx, ref: string): NodeObj {
  const hits = findByRef(tx.list('node'), ref, (n) => n.description.hostname);
  if (hits.length === 1) return hits[0];
  if (hits.length > 1) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `node ${ref} is ambiguous (${hits.length} matches)`, [{ field: 'params.ref', message: 'ambiguous' }]);
  throw new TsswarmError(ErrorCodes.NODE_NOT_FOUND, `node ${ref} not found`);
}

export function serviceView(s: ServiceObj, tasks: TaskObj[], nodes: NodeObj[], services: ServiceObj[] = [s], now = Date.now()): ServiceView {
  const mine = tasks.filter((t) => t.serviceId === s.id);
  const running = mine.filter((t) => t.desiredState === 'running' && t.status.state === 'running').length;
  const eligible = nodes.filter((n) => n.status.state === 'ready' && n.spec.availability === 'active').length;
  const desired = s.spec.deploy.mode === 'global'
    ? mine.filter((t) => t.desiredState === 'running' && !isTerminal(t.status.state)).length || eligible
    : s.spec.deploy.replicas;
  const view: ServiceView = { ...s, running, desired };
  if (serviceProblem(s)) return view;
  if (isJobMode(s.spec.deploy.mode)) {
    const c = completionOf(s, mine, nodes, now);
    view.desired = c.total;
    view.completed = c.completed;
    if (c.failed) view.jobFailure = `task ${taskName(c.failed)} ${deathReason(c.failed).replace(/^task /, '')}`;
  }
  const gate = dependencyGate({ services, tasks, nodes }, s, now);
  if (!gate.open) view.waiting = gate.waits.map((w) => ({ message: w.message, ...(w.failure ? { failure: w.failure } : {}) }));
  return view;
}

/**
 * The node with the last heartbeat the dispatcher heard (kept in memory on the leader: the
 * store's is written only when the node's state changes).
 */
export function liveHeartbeat(ctx: Pick<ApiContext, 'dispatcher'>, n: NodeObj): NodeObj {
  const heard = ctx.dispatcher.heartbeats?.().get(n.id);
  return heard !== undefined && heard > n.status.lastHeartbeat ? { ...n, status: { ...n.status, lastHeartbeat: heard } } : n;
}
