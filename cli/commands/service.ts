// Services: `service ls|ps|inspect|scale|update|rollback|logs`.

import { LIMITS } from '../../common/api/limits.js';
import type { ServiceUpdateFlags } from '../../common/api/types.js';
import * as api from '../api.js';
import {
  choiceArg, durationArg, formatArg, hostArg, intArg, invalid, numberArg, parseArgs, READ, readOpts, scaleArg, sizeArg, tailArg,
  usageError, type Endpoint, type Options, type Parsed,
} from '../args.js';
import { clientFor } from '../client.js';
import { followServices } from '../deploy-watch.js';
import { printJson, type Io } from '../io.js';
import { logText, serviceTable, updateSummary } from '../render.js';
import { USAGE } from '../usage.js';
import { PS_OPTIONS, printTasks, taskView, type TaskView } from './tasks.js';

export type ServiceCommand = { cmd: 'help' }
  | { cmd: 'ls'; host: Endpoint; stack?: string; json: boolean; consistent?: true }
  | { cmd: 'ps'; host: Endpoint; services: string[]; view: TaskView; consistent?: true }
  | { cmd: 'inspect'; host: Endpoint; services: string[]; consistent?: true }
  | { cmd: 'scale'; host: Endpoint; targets: { ref: string; replicas: number }[]; detach: boolean }
  | { cmd: 'update'; host: Endpoint; ref: string; flags: ServiceUpdateFlags; dryRun: boolean; detach: boolean; json: boolean; resolveImage: boolean }
  | { cmd: 'rollback'; host: Endpoint; ref: string; detach: boolean }
  | { cmd: 'logs'; host: Endpoint; ref: string; follow: boolean; tail: number | 'all'; timestamps: boolean };

const DETACH = { detach: { type: 'boolean', short: 'd' } } as const satisfies Options;

const UPDATE_CONFIG_KEYS = ['parallelism', 'delay', 'order', 'monitor', 'failure-action', 'max-failure-ratio'] as const;

export const UPDATE_OPTIONS: Options = {
  image: { type: 'string' }, 'env-add': { type: 'string', multiple: true }, 'env-rm': { type: 'string', multiple: true },
  'label-add': { type: 'string', multiple: true }, 'label-rm': { type: 'string', multiple: true }, replicas: { type: 'string' },
  'publish-add': { type: 'string', multiple: true }, 'publish-rm': { type: 'string', multiple: true },
  'constraint-add': { type: 'string', multiple: true }, 'constraint-rm': { type: 'string', multiple: true },
  user: { type: 'string', short: 'u' }, 'limit-memory': { type: 'string' }, 'limit-cpu': { type: 'string' },
  'restart-condition': { type: 'string' }, 'restart-delay': { type: 'string' }, 'restart-max-attempts': { type: 'string' }, 'restart-window': { type: 'string' },
  'restart-backoff': { type: 'string' }, 'restart-max-delay': { type: 'string' }, 'node-down-grace': { type: 'string' },
  ...Object.fromEntries(['update', 'rollback'].flatMap((p) => UPDATE_CONFIG_KEYS.map((k) => [`${p}-${k}`, { type: 'string' as const }]))),
  force: { type: 'boolean' }, ...DETACH, 'dry-run': { type: 'boolean' }, 'no-resolve-image': { type: 'boolean' },
};

const one = (what: string, positionals: string[]): string => {
  if (positionals.length === 0) usageError(`service ${what} needs a SERVICE`);
  if (positionals.length > 1) usageError(`too many arguments: ${positionals.slice(1).join(' ')}`);
  return positionals[0];
};

/** Each sub-command takes its own flags: `service ps -f` filters, `service logs -f` follows, as in docker. */
export async function parseService(argv: string[]): Promise<ServiceCommand> {
  const [sub, ...rest] = argv;
  const parse = (options: Options): Parsed | undefined => {
    const p = parseArgs(rest, options);
    return p.values.help ? undefined : p;
  };
  switch (sub) {
    case 'ls': case 'list': {
      const p = parse({ stack: { type: 'string' }, ...READ });
      if (!p) return { cmd: 'help' };
      if (p.positionals.length) usageError(`service ${sub} takes no arguments, got ${p.positionals.join(' ')}`);
      return { cmd: 'ls', host: hostArg(p.values.host), stack: p.values.stack, json: formatArg(p.values.format) === 'json', ...readOpts(p.values) };
    }
    case 'ps': {
      const p = parse(PS_OPTIONS);
      if (!p) return { cmd: 'help' };
      if (p.positionals.length === 0) usageError('service ps needs a SERVICE');
      return { cmd: 'ps', host: hostArg(p.values.host), services: p.positionals, view: taskView(p.values), ...readOpts(p.values) };
    }
    case 'inspect': {
      const p = parse(READ);
      if (!p) return { cmd: 'help' };
      if (p.positionals.length === 0) usageError('service inspect needs a SERVICE');
      formatArg(p.values.format);
      return { cmd: 'inspect', host: hostArg(p.values.host), services: p.positionals, ...readOpts(p.values) };
    }
    case 'scale': {
      const p = parse(DETACH);
      if (!p) return { cmd: 'help' };
      if (p.positionals.length === 0) usageError('service scale needs SERVICE=REPLICAS');
      formatArg(p.values.format);
      return { cmd: 'scale', host: hostArg(p.values.host), targets: p.positionals.map(scaleArg), detach: !!p.values.detach };
    }
    case 'update': {
      const p = parse(UPDATE_OPTIONS);
      if (!p) return { cmd: 'help' };
      const ref = one('update', p.positionals);
      return {
        cmd: 'update', host: hostArg(p.values.host), ref, flags: await updateFlags(p.values),
        dryRun: !!p.values['dry-run'], detach: !!p.values.detach, json: formatArg(p.values.format) === 'json',
        resolveImage: !p.values['no-resolve-image'],
      };
    }
    case 'rollback': {
      const p = parse(DETACH);
      if (!p) return { cmd: 'help' };
      formatArg(p.values.format);
      return { cmd: 'rollback', host: hostArg(p.values.host), ref: one('rollback', p.positionals), detach: !!p.values.detach };
    }
    case 'logs': {
      const p = parse({ follow: { type: 'boolean', short: 'f' }, tail: { type: 'string', short: 'n' }, timestamps: { type: 'boolean', short: 't' } });
      if (!p) return { cmd: 'help' };
      const ref = one('logs', p.positionals);
      return {
        cmd: 'logs', host: hostArg(p.values.host), ref, follow: !!p.values.follow,
        tail: p.values.tail === undefined ? 'all' : tailArg(p.values.tail), timestamps: !!p.values.timestamps,
      };
    }
    case '-h': case '--help': return { cmd: 'help' };
    default: return usageError(`unknown service command ${JSON.stringify(sub ?? '')} (ls, ps, inspect, scale, update, rollback, logs)`);
  }
}

/**
 * `service update` flags as the API takes them. Every value is checked here, with its flag
 * named; values the API normalises (durations, sizes, ports) are sent as written.
 */
export async function updateFlags(v: Parsed['values']): Promise<ServiceUpdateFlags> {
  const str = (flag: string): string | undefined => v[flag];
  const checked = <T>(flag: string, check: (s: string) => T): string | undefined => {
    const s = str(flag);
    if (s !== undefined) check(s);
    return s;
  };
  const list = (flag: string, check?: (s: string) => void): string[] | undefined => {
    const xs: string[] | undefined = v[flag];
    if (xs && check) xs.forEach(check);
    return xs;
  };
  const cfg = (p: 'update' | 'rollback'): ServiceUpdateFlags['update'] => {
    const out: NonNullable<ServiceUpdateFlags['update']> = {};
    const checks: Record<(typeof UPDATE_CONFIG_KEYS)[number], (flag: string, s: string) => unknown> = {
      parallelism: (f, s) => intArg(f, s),
      delay: durationArg,
      order: (f, s) => choiceArg(f, s, ['stop-first', 'start-first']),
      monitor: durationArg,
      'failure-action': (f, s) => choiceArg(f, s, ['pause', 'continue', 'rollback']),
      'max-failure-ratio': (f, s) => numberArg(f, s, { min: 0, max: 1 }),
    };
    for (const k of UPDATE_CONFIG_KEYS) {
      const flag = `${p}-${k}`;
      const s = checked(`${flag}`, (x) => checks[k](`--${flag}`, x));
      if (s !== undefined) out[k.replace(/-/g, '_') as keyof typeof out] = s;
    }
    return Object.keys(out).length ? out : undefined;
  };
  const keyValue = (flag: string) => (s: string) => { if (s.indexOf('=') <= 0) invalid(`--${flag} ${JSON.stringify(s)}: use KEY=VALUE`); };
  const portOrTarget = (s: string) => { if (!/^\d{1,5}(\/(tcp|udp))?$/.test(s) || !(Number(s.split('/')[0]) >= 1 && Number(s.split('/')[0]) <= 65535)) invalid(`--publish-rm ${JSON.stringify(s)}: use PORT or PORT/udp (1-65535)`); };
  const notEmpty = (flag: string) => (s: string) => { if (!s.trim()) invalid(`--${flag} must not be empty`); };

  if (v['limit-memory'] !== undefined) await sizeArg('--limit-memory', v['limit-memory']);
  const publishAdd = list('publish-add', notEmpty('publish-add'));
  if (publishAdd?.length) {
    const { parsePortSpec } = await import('../../common/stack/normalize.js');
    for (const p of publishAdd) {
      const r = parsePortSpec(p);
      if (typeof r === 'string') invalid(`--publish-add ${JSON.stringify(p)}: ${r}`);
    }
  }
  return {
    image: checked('image', notEmpty('image')),
    envAdd: list('env-add', keyValue('env-add')), envRm: list('env-rm', notEmpty('env-rm')),
    labelAdd: list('label-add', notEmpty('label-add')), labelRm: list('label-rm', notEmpty('label-rm')),
    replicas: v.replicas === undefined ? undefined : intArg('--replicas', v.replicas, { max: LIMITS.replicas, maxName: 'the replicas limit' }),
    publishAdd, publishRm: list('publish-rm', portOrTarget),
    constraintAdd: list('constraint-add', notEmpty('constraint-add')), constraintRm: list('constraint-rm', notEmpty('constraint-rm')),
    user: str('user'),
    limitMemory: str('limit-memory'),
    limitCpu: checked('limit-cpu', (s) => numberArg('--limit-cpu', s, { min: 0, exclusiveMin: true })),
    restartCondition: checked('restart-condition', (s) => choiceArg('--restart-condition', s, ['none', 'on-failure', 'any'])),
    restartDelay: checked('restart-delay', (s) => durationArg('--restart-delay', s)),
    restartMaxAttempts: checked('restart-max-attempts', (s) => intArg('--restart-max-attempts', s)),
    restartWindow: checked('restart-window', (s) => durationArg('--restart-window', s)),
    restartBackoff: checked('restart-backoff', (s) => choiceArg('--restart-backoff', s, ['exponential', 'none'])),
    restartMaxDelay: checked('restart-max-delay', (s) => durationArg('--restart-max-delay', s)),
    nodeDownGrace: checked('node-down-grace', (s) => durationArg('--node-down-grace', s)),
    update: cfg('update'), rollback: cfg('rollback'), force: v.force,
  };
}

export async function runService(argv: string[], io: Io): Promise<number> {
  const c = await parseService(argv);
  if (c.cmd === 'help') { io.out(USAGE); return 0; }
  const client = clientFor(c.host, io, { consistent: 'consistent' in c && c.consistent });
  switch (c.cmd) {
    case 'ls': {
      const svcs = await api.services(client, c.stack);
      if (c.json) printJson(io, svcs);
      else io.out(serviceTable(svcs));
      return 0;
    }
    case 'ps': {
      const tasks = (await Promise.all(c.services.map((service) => api.tasks(client, { service })))).flat();
      const svcs = c.view.json ? [] : await Promise.all(c.services.map((s) => api.service(client, s)));
      return printTasks(client, tasks, c.view, io, svcs);
    }
    case 'inspect':
      printJson(io, await Promise.all(c.services.map((s) => api.service(client, s))));
      return 0;
    case 'scale': {
      const done: string[] = [];
      for (const t of c.targets) {
        const r = await api.scale(client, t.ref, t.replicas);
        io.out(`${r.service} scaled to ${r.replicas}\n`);
        done.push(r.service);
      }
      return c.detach ? 0 : followServices(client, done, io);
    }
    case 'update': {
      // --image is pinned as a deploy pins it (cli/resolve.ts): its ID or its registry digest.
      const flags = c.flags.image && c.resolveImage ? await pinUpdateImage(c.flags, c.ref, io) : c.flags;
      const r = await api.update(client, c.ref, flags, c.dryRun);
      if (c.json) { printJson(io, r); return 0; }
      io.out(updateSummary(r, c.dryRun));
      return c.dryRun || c.detach ? 0 : followServices(client, [r.service], io);
    }
    case 'rollback': {
      const r = await api.rollback(client, c.ref);
      io.out(`Rolling back ${r.service} to its previous spec\n`);
      return c.detach ? 0 : followServices(client, [r.service], io, true);
    }
    case 'logs':
      for await (const l of api.logs(client, c.ref, c)) (l.stream === 'stderr' ? io.err : io.out)(logText(l));
      return 0;
  }
}

/** `service update --image NAME`: NAME pinned to its ID (an image no registry gave) or its registry digest. */
async function pinUpdateImage(flags: ServiceUpdateFlags, service: string, io: Io): Promise<ServiceUpdateFlags> {
  const { resolveImages } = await import('../resolve.js');
  const image = flags.image!;
  const probe = { name: '', services: { [service]: { image, deploy: {} } } } as unknown as import('../../common/spec.js').StackSpec;
  const pinned = (await resolveImages(probe, io)).services[service]!;
  return { ...flags, image: pinned.image, ...(pinned.image_id ? { imageId: pinned.image_id } : {}) };
}
