// The manager's HTTP API for the CLI (JSON over a 0600 unix socket locally).
// Errors are { code: TSW_ERR_..., message, details[] } with a matching HTTP status.

import Fastify, { type FastifyInstance } from 'fastify';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import type { Logger } from 'pino';
import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import { newId } from '../../common/ids.js';
import type { StackSpec } from '../../common/spec.js';
import type { Dispatcher } from '../dispatcher/dispatcher.js';
import { rollbackService } from '../objects/service.js';
import type { Store } from '../store/store.js';
import { defaultClusterSpec, isTerminal, newClusterObj, patchClusterSpec, type NodeObj, type ServiceObj, type TaskObj } from '../store/types.js';
import { applyDeploy, diffPaths, needsNewTasks, planDeploy, removeStack, validateDeploy, writeServiceSpec, type DeployValidation } from './deploy.js';
import { applyServiceUpdate } from './service-update.js';
import type { ServiceUpdateFlags, ServiceView } from '../../common/api/types.js';

export interface ApiOptions {
  store: Store;
  dispatcher: Dispatcher;
  log: Logger;
  info: () => Record<string, unknown>;
  validation?: DeployValidation;
}


const STACK_NAME = /^[a-z0-9][a-z0-9_-]*$/;

export function buildApi(opts: ApiOptions): FastifyInstance {
  const { store } = opts;
  const app = Fastify({ loggerInstance: opts.log.child({ component: 'api' }) as any, disableRequestLogging: true, bodyLimit: 32 << 20 }) as unknown as FastifyInstance;

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof TsswarmError) return reply.status(err.httpStatus).send(err.toJSON());
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) opts.log.error({ err }, 'api error');
    return reply.status(status).send({ code: status >= 500 ? ErrorCodes.INTERNAL : ErrorCodes.INVALID_ARGUMENT, message: (err as Error).message, details: [] });
  });

  app.get('/v1/info', async () => ({ ...opts.info(), storeIndex: store.index }));

  app.post<{ Body: { stack: StackSpec; dryRun?: boolean } }>('/v1/stacks/deploy', async (req) => {
    const stack = checkStack(req.body?.stack);
    validateDeploy(stack, store.state(), opts.validation);
    if (req.body.dryRun) return { plan: planDeploy(stack, store.state()), applied: false };
    const plan = await store.update((tx) => applyDeploy(tx, stack, newId));
    opts.log.info({ stack: stack.name, changes: plan.services.filter((s) => s.action !== 'unchanged').map((s) => `${s.action} ${s.name}`) }, 'stack deployed');
    return { plan, applied: true };
  });

  app.get('/v1/stacks', async () => {
    const stacks = new Map<string, { name: string; services: number }>();
    for (const s of store.view((tx) => tx.list('service'))) {
      if (!s.stack) continue;
      const e = stacks.get(s.stack) ?? { name: s.stack, services: 0 };
      e.services++;
      stacks.set(s.stack, e);
    }
    return [...stacks.values()].sort((a, b) => a.name.localeCompare(b.name));
  });

  app.delete<{ Params: { name: string }; Querystring: { volumes?: string } }>('/v1/stacks/:name', async (req) => {
    const name = req.params.name;
    const known = store.view((tx) => tx.list('service', (s) => s.stack === name).length + tx.list('network', (n) => n.stack === name && !n.released).length);
    if (!known) throw new TsswarmError(ErrorCodes.STACK_NOT_FOUND, `stack ${name} not found`, [], 404);
    const volumes = req.query.volumes === '1' || req.query.volumes === 'true';
    const r = await store.update((tx) => removeStack(tx, name, volumes));
    opts.log.info({ stack: name, volumes }, 'stack removed');
    return r;
  });

  app.get<{ Querystring: { stack?: string } }>('/v1/services', async (req) => {
    const { services, tasks } = store.view((tx) => ({ services: tx.list('service'), tasks: tx.list('task') }));
    return services.filter((s) => req.query.stack === undefined || s.stack === req.query.stack)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((s) => serviceView(s, tasks, store.view((tx) => tx.list('node'))));
  });

  app.get<{ Params: { ref: string } }>('/v1/services/:ref', async (req) => {
    const s = findService(store, req.params.ref);
    return serviceView(s, store.view((tx) => tx.list('task')), store.view((tx) => tx.list('node')));
  });

  app.post<{ Params: { ref: string }; Body: { replicas: number } }>('/v1/services/:ref/scale', async (req) => {
    const replicas = req.body?.replicas;
    if (!Number.isInteger(replicas) || replicas < 0) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `replicas must be a non-negative integer, not ${JSON.stringify(replicas)}`);
    return store.update((tx) => {
      const s = findService({ view: (fn) => fn(tx) } as Store, req.params.ref);
      if (s.spec.deploy.mode === 'global') throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `${s.name}: scale can only be used with replicated mode`);
      tx.update({ ...s, spec: { ...s.spec, deploy: { ...s.spec.deploy, replicas } } });
      return { service: s.name, replicas };
    });
  });

  app.post<{ Params: { ref: string }; Body: { flags: ServiceUpdateFlags; dryRun?: boolean } }>('/v1/services/:ref/update', async (req) => {
    const flags = req.body?.flags ?? {};
    const svc = findService(store, req.params.ref);
    const spec = applyServiceUpdate(svc.spec, flags, opts.validation?.validateConstraint);
    const fields = diffPaths(svc.spec, spec);
    const replaced = !!flags.force || needsNewTasks(svc.spec, spec);
    if (req.body.dryRun) return { service: svc.name, fields, replaced, applied: false };
    const others = store.state();
    validateDeploy({ name: '\u0000update', services: { [svc.shortName]: spec }, networks: {}, volumes: {} },
      { ...others, services: others.services.filter((x) => x.id !== svc.id) }, opts.validation);
    await store.update((tx) => {
      const cur = tx.get('service', svc.id);
      if (!cur) throw new TsswarmError(ErrorCodes.SERVICE_NOT_FOUND, `service ${svc.name} was removed meanwhile`, [], 404);
      writeServiceSpec(tx, cur, spec, !!flags.force);
    });
    opts.log.info({ service: svc.name, fields, replaced }, 'service updated');
    return { service: svc.name, fields, replaced, applied: true };
  });

  app.post<{ Params: { ref: string } }>('/v1/services/:ref/rollback', async (req) => {
    return store.update((tx) => {
      const svc = findService({ view: (fn) => fn(tx) } as Store, req.params.ref);
      const back = rollbackService(svc, Date.now(), 'manually requested rollback');
      if (!back) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `service ${svc.name} has no previous spec to roll back to`);
      tx.update(back);
      return { service: svc.name };
    });
  });

  app.get<{ Querystring: { service?: string; stack?: string; node?: string } }>('/v1/tasks', async (req) => {
    const q = req.query;
    const svc = q.service ? findService(store, q.service) : undefined;
    return store.view((tx) => tx.list('task', (t) =>
      (!svc || t.serviceId === svc.id) && (q.stack === undefined || t.stack === q.stack) && (!q.node || t.nodeId === q.node)));
  });

  app.get<{ Params: { ref: string }; Querystring: { follow?: string; tail?: string; timestamps?: string } }>('/v1/services/:ref/logs', async (req, reply) => {
    const svc = findService(store, req.params.ref);
    const tasks = store.view((tx) => tx.list('task', (t) => t.serviceId === svc.id && !!t.nodeId && !!t.status.containerId));
    const byNode = new Map<string, string[]>();
    for (const t of tasks) byNode.set(t.nodeId!, [...(byNode.get(t.nodeId!) ?? []), t.id]);
    const names = new Map(tasks.map((t) => [t.id, `${t.serviceName}.${t.slot ?? t.nodeId}.${t.id.slice(0, 12)}`]));
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const cancel = opts.dispatcher.logs(byNode,
      { follow: req.query.follow === '1', tail: req.query.tail === undefined ? -1 : Number(req.query.tail), timestamps: req.query.timestamps === '1' },
      (l) => reply.raw.write(JSON.stringify({ task: names.get(l.taskId) ?? l.taskId, stream: l.stream, data: l.data.toString('utf8'), ts: l.timestampMs }) + '\n'),
      () => reply.raw.end());
    req.raw.on('close', cancel);
  });

  app.get('/v1/cluster', async () => store.view((tx) => tx.get('cluster', 'default')) ?? newClusterObj());
  app.post<{ Body: { spec?: Record<string, unknown> } }>('/v1/cluster/update', async (req) => {
    const patch = req.body?.spec;
    if (!patch || typeof patch !== 'object' || Array.isArray(patch)) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'body must be {"spec": {...}}');
    return store.update((tx) => {
      const cur = tx.get('cluster', 'default');
      let spec;
      try { spec = patchClusterSpec(cur?.spec ?? defaultClusterSpec(), patch); } catch (e) { throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, (e as Error).message); }
      if (cur) tx.update({ ...cur, spec });
      else tx.create(newClusterObj(spec));
      return { kind: 'cluster', id: 'default', spec };
    });
  });

  app.get('/v1/nodes', async () => store.view((tx) => tx.list('node')).sort((a, b) => a.description.hostname.localeCompare(b.description.hostname)));
  app.get<{ Params: { ref: string } }>('/v1/nodes/:ref', async (req) => findNode(store, req.params.ref));

  return app;
}

export async function listenUnix(app: FastifyInstance, path: string): Promise<void> {
  if (existsSync(path)) unlinkSync(path);
  await app.listen({ path });
  chmodSync(path, 0o600);
}

function checkStack(stack: unknown): StackSpec {
  const s = stack as StackSpec;
  if (!s || typeof s !== 'object' || typeof s.services !== 'object' || s.services === null) {
    throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'request body must hold a normalised stack: { stack: { name, services, networks, volumes } }');
  }
  if (typeof s.name !== 'string' || !STACK_NAME.test(s.name)) {
    throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `invalid stack name ${JSON.stringify(s.name)}: use lowercase letters, digits, '-' and '_'`, [{ field: 'name', message: 'invalid' }]);
  }
  for (const [k, svc] of Object.entries(s.services)) {
    if (!svc || typeof svc.image !== 'string' || !svc.image) throw new TsswarmError(ErrorCodes.STACK_INVALID, `service ${k} has no image`, [{ field: `services.${k}.image`, message: 'required' }]);
  }
  return { name: s.name, services: s.services, networks: s.networks ?? {}, volumes: s.volumes ?? {} };
}

function findByRef<T extends { id: string }>(all: T[], ref: string, name: (x: T) => string): T[] {
  const exact = all.filter((x) => x.id === ref || name(x) === ref);
  return exact.length ? exact : all.filter((x) => x.id.startsWith(ref));
}

export function findService(store: Pick<Store, 'view'>, ref: string): ServiceObj {
  const hits = findByRef(store.view((tx) => tx.list('service')), ref, (s) => s.name);
  if (hits.length === 1) return hits[0];
  if (hits.length > 1) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `service ${ref} is ambiguous (${hits.length} matches)`);
  throw new TsswarmError(ErrorCodes.SERVICE_NOT_FOUND, `service ${ref} not found`, [], 404);
}

function findNode(store: Store, ref: string): NodeObj {
  const hits = findByRef(store.view((tx) => tx.list('node')), ref, (n) => n.description.hostname);
  if (hits.length === 1) return hits[0];
  if (hits.length > 1) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `node ${ref} is ambiguous (${hits.length} matches)`);
  throw new TsswarmError(ErrorCodes.NODE_NOT_FOUND, `node ${ref} not found`, [], 404);
}

function serviceView(s: ServiceObj, tasks: TaskObj[], nodes: NodeObj[]): ServiceView {
  const mine = tasks.filter((t) => t.serviceId === s.id);
  const running = mine.filter((t) => t.desiredState === 'running' && t.status.state === 'running').length;
  const eligible = nodes.filter((n) => n.status.state === 'ready' && n.spec.availability === 'active').length;
  const desired = s.spec.deploy.mode === 'global'
    ? mine.filter((t) => t.desiredState === 'running' && !isTerminal(t.status.state)).length || eligible
    : s.spec.deploy.replicas;
  return { ...s, running, desired };
}
