// The `tsswarm` command.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { formatDetail, formatError, TsswarmError, ErrorCodes } from '../common/errors.js';
import type { DeployPlan, ServiceChange, ServiceUpdateFlags, ServiceView } from '../common/api/types.js';
import { VERSION } from '../common/version.js';
import { USAGE } from './usage.js';
import { taskName, type NodeObj, type TaskObj } from '../common/api/objects.js';
import { ApiClient, resolveHost } from './client.js';
import { watchDeploy } from './deploy-watch.js';
import { cap, ports, table, taskState, trunc } from './format.js';


type Out = { out: (s: string) => void; err: (s: string) => void };
const io: Out = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

const COMMON = {
  host: { type: 'string', short: 'H' },
  format: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function args(argv: string[], options: ParseArgsConfig['options']): { values: Record<string, any>; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: true, strict: true }) as { values: Record<string, any>; positionals: string[] };
  } catch (err) {
    throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, (err as Error).message);
  }
}

function usageError(msg: string): never {
  throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `${msg}\nSee 'tsswarm --help'.`);
}

const client = (v: Record<string, any>) => new ApiClient(resolveHost(v.host));
const json = (x: unknown) => io.out(JSON.stringify(x, null, 2) + '\n');

export async function main(argv: string[]): Promise<void> {
  try {
    process.exitCode = await run(argv);
  } catch (err) {
    io.err(formatError(err, !!process.env.TSSWARM_DEBUG));
    process.exitCode = 1;
  }
}

async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined: case '-h': case '--help': case 'help': io.out(USAGE); return 0;
    case 'version': case '--version': io.out(`tsswarm ${VERSION}\n`); return 0;
    case 'config': return cmdConfig(rest);
    case 'deploy': return cmdDeploy(rest);
    case 'stack': return cmdStack(rest);
    case 'service': return cmdService(rest);
    case 'node': return cmdNode(rest);
    case 'cluster': return cmdCluster(rest);
    default: return usageError(`unknown command ${JSON.stringify(cmd)}`);
  }
}

// The YAML parser loads only for the commands that use it: every CLI call starts a process.
async function loadStack(files: string[], name?: string) {
  // No file given: compose.yaml, docker-compose.yml... in the current folder, as Compose does.
  const { loadStackFiles } = await import('../common/stack/index.js');
  const { stack, warnings } = loadStackFiles(files, { env: process.env, projectName: name });
  for (const w of warnings) io.err(`warning: ${formatDetail(w)}\n`);
  return stack;
}

async function cmdConfig(argv: string[]): Promise<number> {
  const { values: v, positionals } = args(argv, { 'compose-file': { type: 'string', short: 'c', multiple: true } });
  const files = [...(v['compose-file'] ?? []), ...positionals];
  const stack = await loadStack(files);
  if (v.format === 'json') json(stack);
  else io.out((await import('../common/stack/index.js')).stackToYaml(stack));
  return 0;
}

const show = (x: unknown): string => (x === undefined ? '(none)' : JSON.stringify(x));

function describeChange(c: ServiceChange): string {
  switch (c.action) {
    case 'create': return `create   ${c.name}${c.replicas && c.replicas.to >= 0 ? ` (${c.replicas.to} replica${c.replicas.to === 1 ? '' : 's'})` : ' (global)'}`;
    case 'remove': return `remove   ${c.name}${c.tasksReplaced ? ` (${c.tasksReplaced} task${c.tasksReplaced === 1 ? '' : 's'} stopped)` : ''}`;
    case 'scale': return `scale    ${c.name} ${c.replicas!.from} -> ${c.replicas!.to}`;
    case 'update': return `update   ${c.name} (${c.tasksReplaced ?? 0} task${c.tasksReplaced === 1 ? '' : 's'} replaced)` +
      (c.changes ?? []).map((d) => `\n           ${d.field}: ${show(d.from)} -> ${show(d.to)}`).join('');
    default: return `unchanged ${c.name}`;
  }
}

async function cmdDeploy(argv: string[]): Promise<number> {
  const { values: v, positionals } = args(argv, {
    'compose-file': { type: 'string', short: 'c', multiple: true }, detach: { type: 'boolean', short: 'd' },
    'dry-run': { type: 'boolean' }, timeout: { type: 'string' },
  });
  const files = [...(v['compose-file'] ?? [])];
  const pos = [...positionals];
  if (files.length === 0 && pos.length) files.push(pos.shift()!);
  if (pos.length > 1) usageError(`too many arguments: ${pos.join(' ')}`);
  const stack = await loadStack(files, pos[0]);
  const api = client(v);
  const res = await api.call<{ plan: DeployPlan; applied: boolean }>('POST', '/v1/stacks/deploy', { stack, dryRun: !!v['dry-run'] });
  if (v.format === 'json' && (v['dry-run'] || v.detach)) { json(res); return 0; }
  const p = res.plan;
  const say = (s: string) => io.out(s + '\n');
  say(`${v['dry-run'] ? 'Would deploy' : 'Deploying'} stack ${p.stack}`);
  for (const n of p.networks) say(`${n.action === 'create' ? 'create' : 'remove'}   network ${n.name}`);
  for (const vol of p.volumes) say(`${vol.action === 'create' ? 'create' : 'release'}   volume ${vol.name}`);
  for (const c of p.services) if (c.action !== 'unchanged' || v['dry-run']) say(describeChange(c));
  if (v['dry-run'] || v.detach) return 0;
  const watched = p.services.filter((c) => c.action === 'create' || c.action === 'update' || c.action === 'scale').map((c) => c.name);
  if (watched.length === 0) { say('Nothing to do: the stack is as deployed.'); return 0; }
  const { parseDuration } = await import('../common/duration.js');
  const r = await watchDeploy(api, p.stack, watched, { timeoutMs: parseDuration(v.timeout ?? '5m'), tty: !!process.stdout.isTTY, out: io.out });
  if (!r.ok) {
    io.err(`Error: deploy of stack ${p.stack} failed:\n${r.failures.map((f) => `  ${f}`).join('\n')}\n`);
    io.err(`See: tsswarm stack ps ${p.stack}\n`);
    return 1;
  }
  say(`Stack ${p.stack} converged.`);
  return 0;
}

async function cmdStack(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values: v, positionals } = args(rest, { volumes: { type: 'boolean' }, 'no-trunc': { type: 'boolean' }, filter: { type: 'string', short: 'f', multiple: true } });
  const api = client(v);
  switch (sub) {
    case 'ls': case 'list': {
      const stacks = await api.call<{ name: string; services: number }[]>('GET', '/v1/stacks');
      if (v.format === 'json') json(stacks);
      else io.out(table(['NAME', 'SERVICES'], stacks.map((s) => [s.name, String(s.services)])));
      return 0;
    }
    case 'ps': {
      const name = positionals[0] ?? usageError('stack ps needs a STACK');
      const tasks = await api.call<TaskObj[]>('GET', `/v1/tasks?stack=${encodeURIComponent(name)}`);
      if (tasks.length === 0 && !(await api.call<{ name: string }[]>('GET', '/v1/stacks')).some((s) => s.name === name)) {
        throw new TsswarmError(ErrorCodes.STACK_NOT_FOUND, `nothing found in stack: ${name}`);
      }
      return printTasks(tasks, v, api);
    }
    case 'rm': case 'remove': case 'down': {
      if (positionals.length === 0) usageError('stack rm needs a STACK');
      for (const name of positionals) {
        const r = await api.call<{ services: string[] }>('DELETE', `/v1/stacks/${encodeURIComponent(name)}${v.volumes ? '?volumes=1' : ''}`);
        for (const s of r.services) io.out(`Removing service ${s}\n`);
        io.out(`Removed stack ${name}${v.volumes ? ' and its volumes' : ''}\n`);
      }
      return 0;
    }
    default: return usageError(`unknown stack command ${JSON.stringify(sub ?? '')} (ls, ps, rm)`);
  }
}

async function nodeNames(api: ApiClient): Promise<Map<string, string>> {
  const nodes = await api.call<NodeObj[]>('GET', '/v1/nodes');
  return new Map(nodes.map((n) => [n.id, n.description.hostname]));
}

async function printTasks(tasks: TaskObj[], v: { format?: string; 'no-trunc'?: boolean; filter?: string[] }, api: ApiClient): Promise<number> {
  let shown = tasks;
  for (const f of v.filter ?? []) {
    const [k, val] = f.split('=');
    if (k === 'desired-state') shown = shown.filter((t) => t.desiredState === val || (val === 'running' && t.desiredState === 'running'));
    else if (k === 'name') shown = shown.filter((t) => taskName(t).startsWith(val));
    else if (k === 'node') shown = shown.filter((t) => t.nodeId === val);
    else usageError(`unknown filter ${k} (desired-state, name, node)`);
  }
  shown = [...shown].sort((a, b) => a.serviceName.localeCompare(b.serviceName) || (a.slot ?? 0) - (b.slot ?? 0) || b.meta.createdAt - a.meta.createdAt);
  if (v.format === 'json') { json(shown); return 0; }
  const names = await nodeNames(api);
  const nt = !!v['no-trunc'];
  let prevSlot = '';
  const rows = shown.map((t) => {
    const slotKey = `${t.serviceName}.${t.slot ?? t.nodeId}`;
    const name = slotKey === prevSlot ? ` \\_ ${taskName(t)}` : taskName(t);
    prevSlot = slotKey;
    return [nt ? t.id : t.id.slice(0, 12), name, trunc(t.spec.image, 30, nt), t.nodeId ? (names.get(t.nodeId) ?? t.nodeId.slice(0, 12)) : '',
      cap(t.desiredState), taskState(t), trunc(t.status.err ?? '', 60, nt), (t.status.portBindings ?? []).filter((b) => t.spec.ports.some((p) => p.mode === 'host' && p.target === b.target)).map((b) => `${b.hostIp}:${b.hostPort}->${b.target}/${b.protocol}`).join(', ')];
  });
  io.out(table(['ID', 'NAME', 'IMAGE', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR', 'PORTS'], rows));
  return 0;
}

async function cmdService(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  // As in docker: `service ps -f` filters, `service logs -f` follows.
  const { values: v, positionals } = args(rest, sub === 'logs'
    ? { follow: { type: 'boolean', short: 'f' }, tail: { type: 'string', short: 'n' }, timestamps: { type: 'boolean', short: 't' } }
    : sub === 'update' ? UPDATE_OPTIONS
      : { stack: { type: 'string' }, 'no-trunc': { type: 'boolean' }, filter: { type: 'string', short: 'f', multiple: true }, detach: { type: 'boolean', short: 'd' } });
  const api = client(v);
  switch (sub) {
    case 'ls': case 'list': {
      const svcs = await api.call<ServiceView[]>('GET', `/v1/services${v.stack ? `?stack=${encodeURIComponent(v.stack)}` : ''}`);
      if (v.format === 'json') { json(svcs); return 0; }
      io.out(table(['ID', 'NAME', 'MODE', 'REPLICAS', 'IMAGE', 'PORTS'], svcs.map((s) => [
        s.id.slice(0, 12), s.name, s.spec.deploy.mode, `${s.running}/${s.desired}`, s.spec.image, ports(s.spec.ports)])));
      return 0;
    }
    case 'ps': {
      if (positionals.length === 0) usageError('service ps needs a SERVICE');
      const tasks = (await Promise.all(positionals.map((s) => api.call<TaskObj[]>('GET', `/v1/tasks?service=${encodeURIComponent(s)}`)))).flat();
      return printTasks(tasks, v, api);
    }
    case 'inspect': {
      if (positionals.length === 0) usageError('service inspect needs a SERVICE');
      json(await Promise.all(positionals.map((s) => api.call<ServiceView>('GET', `/v1/services/${encodeURIComponent(s)}`))));
      return 0;
    }
    case 'scale': {
      if (positionals.length === 0) usageError('service scale needs SERVICE=REPLICAS');
      const wanted = positionals.map((p) => {
        const m = /^([^=]+)=(\d+)$/.exec(p);
        if (!m) usageError(`invalid scale specifier ${JSON.stringify(p)}: use SERVICE=REPLICAS`);
        return { ref: m[1], replicas: Number(m[2]) };
      });
      const done: string[] = [];
      for (const w of wanted) {
        const r = await api.call<{ service: string; replicas: number }>('POST', `/v1/services/${encodeURIComponent(w.ref)}/scale`, { replicas: w.replicas });
        io.out(`${r.service} scaled to ${r.replicas}\n`);
        done.push(r.service);
      }
      if (v.detach) return 0;
      return followServices(api, done);
    }
    case 'logs': {
      const ref = positionals[0] ?? usageError('service logs needs a SERVICE');
      const q = new URLSearchParams();
      if (v.follow) q.set('follow', '1');
      if (v.tail !== undefined && v.tail !== 'all') q.set('tail', String(Number(v.tail)));
      if (v.timestamps) q.set('timestamps', '1');
      const res = await api.raw('GET', `/v1/services/${encodeURIComponent(ref)}/logs?${q}`);
      if (res.status >= 400) {
        let body = '';
        for await (const c of res.stream) body += c;
        const e = JSON.parse(body);
        throw new TsswarmError(e.code, e.message, e.details ?? [], res.status);
      }
      let buf = '';
      for await (const c of res.stream) {
        buf += c;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (!line) continue;
          const l = JSON.parse(line) as { task: string; stream: string; data: string };
          const text = l.data.endsWith('\n') ? l.data : l.data + '\n';
          const prefixed = text.split('\n').slice(0, -1).map((x) => `${l.task}    | ${x}\n`).join('');
          (l.stream === 'stderr' ? io.err : io.out)(prefixed);
        }
      }
      return 0;
    }
    case 'update': {
      const ref = positionals[0] ?? usageError('service update needs a SERVICE');
      if (positionals.length > 1) usageError(`too many arguments: ${positionals.slice(1).join(' ')}`);
      const flags = updateFlags(v);
      const r = await api.call<{ service: string; fields: string[]; replaced: boolean }>('POST', `/v1/services/${encodeURIComponent(ref)}/update`, { flags, dryRun: !!v['dry-run'] });
      if (v.format === 'json') { json(r); return 0; }
      io.out(`${v['dry-run'] ? 'Would update' : 'Updated'} ${r.service}: ${r.fields.length ? r.fields.join(', ') : 'no change'}${r.replaced ? ' (tasks will be replaced)' : ''}\n`);
      if (v['dry-run'] || v.detach) return 0;
      return followServices(api, [r.service]);
    }
    case 'rollback': {
      const ref = positionals[0] ?? usageError('service rollback needs a SERVICE');
      const r = await api.call<{ service: string }>('POST', `/v1/services/${encodeURIComponent(ref)}/rollback`, {});
      io.out(`Rolling back ${r.service} to its previous spec\n`);
      if (v.detach) return 0;
      return followServices(api, [r.service], true);
    }
    default: return usageError(`unknown service command ${JSON.stringify(sub ?? '')} (ls, ps, inspect, scale, update, rollback, logs)`);
  }
}

const UPDATE_OPTIONS: ParseArgsConfig['options'] = {
  image: { type: 'string' }, 'env-add': { type: 'string', multiple: true }, 'env-rm': { type: 'string', multiple: true },
  'label-add': { type: 'string', multiple: true }, 'label-rm': { type: 'string', multiple: true }, replicas: { type: 'string' },
  'publish-add': { type: 'string', multiple: true }, 'publish-rm': { type: 'string', multiple: true },
  'constraint-add': { type: 'string', multiple: true }, 'constraint-rm': { type: 'string', multiple: true },
  user: { type: 'string', short: 'u' }, 'limit-memory': { type: 'string' }, 'limit-cpu': { type: 'string' },
  'restart-condition': { type: 'string' }, 'restart-delay': { type: 'string' }, 'restart-max-attempts': { type: 'string' }, 'restart-window': { type: 'string' },
  'restart-backoff': { type: 'string' }, 'restart-max-delay': { type: 'string' },
  ...Object.fromEntries(['update', 'rollback'].flatMap((p) => ['parallelism', 'delay', 'order', 'monitor', 'failure-action', 'max-failure-ratio']
    .map((k) => [`${p}-${k}`, { type: 'string' as const }]))),
  force: { type: 'boolean' }, detach: { type: 'boolean', short: 'd' }, 'dry-run': { type: 'boolean' },
};

function updateFlags(v: Record<string, any>): ServiceUpdateFlags {
  const cfg = (p: string) => {
    const out: Record<string, string> = {};
    for (const k of ['parallelism', 'delay', 'order', 'monitor', 'failure-action', 'max-failure-ratio']) if (v[`${p}-${k}`] !== undefined) out[k.replace(/-/g, '_')] = v[`${p}-${k}`];
    return Object.keys(out).length ? out : undefined;
  };
  let replicas: number | undefined;
  if (v.replicas !== undefined) {
    replicas = Number(v.replicas);
    if (!/^\d+$/.test(v.replicas)) usageError(`--replicas must be a non-negative integer, not ${JSON.stringify(v.replicas)}`);
  }
  return {
    image: v.image, envAdd: v['env-add'], envRm: v['env-rm'], labelAdd: v['label-add'], labelRm: v['label-rm'], replicas,
    publishAdd: v['publish-add'], publishRm: v['publish-rm'], constraintAdd: v['constraint-add'], constraintRm: v['constraint-rm'],
    user: v.user, limitMemory: v['limit-memory'], limitCpu: v['limit-cpu'],
    restartCondition: v['restart-condition'], restartDelay: v['restart-delay'], restartMaxAttempts: v['restart-max-attempts'], restartWindow: v['restart-window'],
    restartBackoff: v['restart-backoff'], restartMaxDelay: v['restart-max-delay'],
    update: cfg('update'), rollback: cfg('rollback'), force: v.force,
  };
}

/** Follow services (possibly of several stacks) until converged; non-zero on failure. */
async function followServices(api: ApiClient, names: string[], expectRollback = false): Promise<number> {
  let ok = true;
  const svcs = await Promise.all(names.map((n) => api.call<ServiceView>('GET', `/v1/services/${encodeURIComponent(n)}`)));
  for (const [stack, items] of groupBy(svcs, (s) => s.stack)) {
    const r = await watchDeploy(api, stack, items.map((i) => i.name), { timeoutMs: 600_000, tty: !!process.stdout.isTTY, out: io.out, expectRollback });
    if (!r.ok) { ok = false; io.err(`Error: ${r.failures.join('\n  ')}\n`); }
  }
  return ok ? 0 : 1;
}

function groupBy<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
}

async function cmdNode(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values: v, positionals } = args(rest, {});
  const api = client(v);
  switch (sub) {
    case 'ls': case 'list': {
      const [nodes, info] = await Promise.all([api.call<NodeObj[]>('GET', '/v1/nodes'), api.call<{ nodeId: string }>('GET', '/v1/info')]);
      if (v.format === 'json') { json(nodes); return 0; }
      io.out(table(['ID', 'HOSTNAME', 'STATUS', 'AVAILABILITY', 'MANAGER STATUS', 'ENGINE VERSION'], nodes.map((n) => [
        n.id.slice(0, 12) + (n.id === info.nodeId ? ' *' : ''), n.description.hostname, cap(n.status.state), cap(n.spec.availability),
        n.spec.role === 'manager' ? 'Leader' : '', n.description.engine.version])));
      return 0;
    }
    case 'inspect': {
      if (positionals.length === 0) usageError('node inspect needs a NODE');
      json(await Promise.all(positionals.map((n) => api.call<NodeObj>('GET', `/v1/nodes/${encodeURIComponent(n === 'self' ? (positionals[0]) : n)}`))));
      return 0;
    }
    default: return usageError(`unknown node command ${JSON.stringify(sub ?? '')} (ls, inspect)`);
  }
}

function historyLimit(s: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s.trim()) || !Number.isSafeInteger(n)) usageError(`--task-history-limit must be an integer >= 0, got ${JSON.stringify(s)}`);
  return n;
}

async function cmdCluster(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values: v } = args(rest, { 'task-history-limit': { type: 'string' } });
  const api = client(v);
  switch (sub) {
    case 'inspect': json(await api.call('GET', '/v1/cluster')); return 0;
    case 'update': {
      const spec: Record<string, unknown> = {};
      if (v['task-history-limit'] !== undefined) spec.taskHistoryLimit = historyLimit(v['task-history-limit']);
      if (Object.keys(spec).length === 0) usageError('cluster update needs a setting, e.g. --task-history-limit N');
      const r = await api.call<{ spec: Record<string, unknown> }>('POST', '/v1/cluster/update', { spec });
      if (v.format === 'json') json(r); else io.out('Cluster updated\n');
      return 0;
    }
    default: return usageError(`unknown cluster command ${JSON.stringify(sub ?? '')} (inspect, update)`);
  }
}
