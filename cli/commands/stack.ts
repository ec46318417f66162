// Stacks: `config`, `deploy`, `stack ls|ps|rm`.

import { ErrorCodes, formatDetail, TsswarmError } from '../../common/errors.js';
import * as api from '../api.js';
import { durationArg, formatArg, hostArg, parseArgs, profileArg, READ, readOpts, usageError, type Endpoint, type Options } from '../args.js';
import { clientFor, type ApiClient } from '../client.js';
import { watchDeploy } from '../deploy-watch.js';
import { shipLocalImages } from '../ship.js';
import { RESOLVE_IMAGE_MODES, resolveImages, type ResolveImageMode } from '../resolve.js';
import { printJson, type Io } from '../io.js';
import { changedServices, planLines, stackTable } from '../render.js';
import { USAGE } from '../usage.js';
import { PS_OPTIONS, printTasks, taskView, type TaskView } from './tasks.js';

const FILES = {
  'compose-file': { type: 'string', short: 'c', multiple: true },
  profile: { type: 'string', multiple: true },
  'env-file': { type: 'string', multiple: true },
} as const satisfies Options;

export type ConfigCommand = { cmd: 'help' } | { cmd: 'config'; files: string[]; format: 'json' | 'yaml'; profiles?: string[]; envFiles?: string[] };

export type DeployCommand = { cmd: 'help' } | {
  cmd: 'deploy'; host: Endpoint; files: string[]; name?: string;
  detach: boolean; dryRun: boolean; timeoutMs: number; json: boolean;
  /** --no-build: deploy the images built last (each must exist) instead of building */
  noBuild: boolean;
  /** --builder-node NODE: build on that cluster node's engine (the context sent through the API) */
  builderNode?: string;
  /** --resolve-image always|never: pin each image to its ID or registry digest (cli/resolve.ts) */
  resolveImage: ResolveImageMode;
  /** --profile NAME...: absent when none is given (COMPOSE_PROFILES then applies) */
  profiles?: string[];
  /** --env-file FILE...: read instead of the .env beside the first stack file */
  envFiles?: string[];
};

/** `--profile NAME` (repeatable): present only when given. */
function profilesOf(v: Record<string, unknown>): { profiles?: string[] } {
  const list = (v.profile as string[] | undefined) ?? [];
  return list.length ? { profiles: list.map((p) => profileArg(p)) } : {};
}

/** `--env-file FILE` (repeatable, later files win): present only when given. */
function envFilesOf(v: Record<string, unknown>): { envFiles?: string[] } {
  const list = (v['env-file'] as string[] | undefined) ?? [];
  if (list.some((f) => f === '')) usageError('--env-file needs a file');
  return list.length ? { envFiles: list } : {};
}

export type BuildCommand = { cmd: 'help' } | {
  cmd: 'build'; files: string[]; services: string[]; name?: string; noCache: boolean; pull: boolean;
  profiles?: string[]; envFiles?: string[];
  /** --builder-node NODE: build there (then `host` is the manager asked) */
  builderNode?: string; host?: Endpoint;
};

export type StackCommand = { cmd: 'help' }
  | { cmd: 'ls'; host: Endpoint; json: boolean; consistent?: true }
  | { cmd: 'ps'; host: Endpoint; name: string; view: TaskView; consistent?: true }
  | { cmd: 'rm'; host: Endpoint; names: string[]; volumes: boolean; detach: boolean; timeoutMs: number };

export function parseConfig(argv: string[]): ConfigCommand {
  const { values: v, positionals } = parseArgs(argv, FILES);
  if (v.help) return { cmd: 'help' };
  return { cmd: 'config', files: [...(v['compose-file'] ?? []), ...positionals], format: formatArg(v.format, 'yaml') as 'json' | 'yaml', ...profilesOf(v), ...envFilesOf(v) };
}

export function parseDeploy(argv: string[]): DeployCommand {
  const { values: v, positionals } = parseArgs(argv, {
    ...FILES, detach: { type: 'boolean', short: 'd' }, 'dry-run': { type: 'boolean' }, timeout: { type: 'string' }, 'no-build': { type: 'boolean' },
    'builder-node': { type: 'string' }, 'resolve-image': { type: 'string' },
  });
  if (v.help) return { cmd: 'help' };
  const files = [...(v['compose-file'] ?? [])];
  const pos = [...positionals];
  if (files.length === 0 && pos.length) files.push(pos.shift()!);
  if (pos.length > 1) usageError(`too many arguments: ${pos.join(' ')}`);
  return {
    cmd: 'deploy', host: hostArg(v.host), files, name: pos[0], detach: !!v.detach, dryRun: !!v['dry-run'], noBuild: !!v['no-build'],
    timeoutMs: durationArg('--timeout', v.timeout ?? '5m'), json: formatArg(v.format) === 'json', ...profilesOf(v), ...envFilesOf(v),
    ...builderNodeOf(v), resolveImage: resolveImageArg(v['resolve-image'] as string | undefined),
  };
}

/** `--resolve-image always|never` (default always), as `docker stack deploy` spells it. */
function resolveImageArg(v: string | undefined): ResolveImageMode {
  if (v === undefined) return 'always';
  if ((RESOLVE_IMAGE_MODES as readonly string[]).includes(v)) return v as ResolveImageMode;
  if (v === 'changed') usageError('--resolve-image changed is not supported: use always (the default: every image pinned to its ID or registry digest) or never (names deployed as written)');
  return usageError(`--resolve-image must be always or never, got ${JSON.stringify(v)}`);
}

/** `--builder-node NODE`: present only when given. */
function builderNodeOf(v: Record<string, unknown>): { builderNode?: string } {
  const n = v['builder-node'] as string | undefined;
  if (n === undefined) return {};
  if (!n.trim()) usageError('--builder-node needs a NODE (its id or hostname)');
  return { builderNode: n };
}

/** `tsswarm build [-c FILE]... [--stack NAME] [--builder-node NODE] [SERVICE...]`: the stack's images, built on the engine the CLI sees (or on that node). */
export function parseBuild(argv: string[]): BuildCommand {
  const { values: v, positionals } = parseArgs(argv, {
    ...FILES, stack: { type: 'string' }, 'no-cache': { type: 'boolean' }, pull: { type: 'boolean' },
    'builder-node': { type: 'string' },
  });
  if (v.help) return { cmd: 'help' };
  if (v.stack === '') usageError('--stack needs a NAME');
  formatArg(v.format);
  return {
    cmd: 'build', files: [...(v['compose-file'] ?? [])], services: positionals, name: v.stack as string | undefined,
    noCache: !!v['no-cache'], pull: !!v.pull, ...profilesOf(v), ...envFilesOf(v), ...builderNodeOf(v), ...(v['builder-node'] !== undefined ? { host: hostArg(v.host) } : {}),
  };
}

export function parseStack(argv: string[]): StackCommand {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'ls': case 'list': {
      const { values: v } = noPositionals(`stack ${sub}`, parseArgs(rest, READ));
      return v.help ? { cmd: 'help' } : { cmd: 'ls', host: hostArg(v.host), json: formatArg(v.format) === 'json', ...readOpts(v) };
    }
    case 'ps': {
      const { values: v, positionals } = parseArgs(rest, PS_OPTIONS);
      if (v.help) return { cmd: 'help' };
      if (positionals.length > 1) usageError(`too many arguments: ${positionals.slice(1).join(' ')}`);
      const name = positionals[0] ?? usageError('stack ps needs a STACK');
      return { cmd: 'ps', host: hostArg(v.host), name, view: taskView(v), ...readOpts(v) };
    }
    case 'rm': case 'remove': case 'down': {
      const { values: v, positionals } = parseArgs(rest, { volumes: { type: 'boolean' }, detach: { type: 'boolean', short: 'd' }, timeout: { type: 'string' } });
      if (v.help) return { cmd: 'help' };
      if (positionals.length === 0) usageError('stack rm needs a STACK');
      formatArg(v.format);
      return {
        cmd: 'rm', host: hostArg(v.host), names: positionals, volumes: !!v.volumes, detach: !!v.detach,
        timeoutMs: durationArg('--timeout', v.timeout ?? '5m'),
      };
    }
    case '-h': case '--help': return { cmd: 'help' };
    default: return usageError(`unknown stack command ${JSON.stringify(sub ?? '')} (ls, ps, rm)`);
  }
}

function noPositionals(what: string, p: ReturnType<typeof parseArgs>): ReturnType<typeof parseArgs> {
  if (p.positionals.length) usageError(`${what} takes no arguments, got ${p.positionals.join(' ')}`);
  return p;
}

// The YAML parser loads only for the commands that use it: every CLI call starts a process.
async function loadStack(files: string[], io: Io, name?: string, profiles?: string[], envFiles?: string[]) {
  // No file given: compose.yaml, docker-compose.yml... in the current folder, as Compose does.
  const { loadStackFiles } = await import('../../common/stack/index.js');
  const r = loadStackFiles(files, { env: process.env, projectName: name, profiles, envFiles });
  for (const w of r.warnings) io.err(`warning: ${formatDetail(w)}\n`);
  return r;
}

export async function runConfig(argv: string[], io: Io): Promise<number> {
  const c = parseConfig(argv);
  if (c.cmd === 'help') { io.out(USAGE); return 0; }
  const { stack } = await loadStack(c.files, io, undefined, c.profiles, c.envFiles);
  if (c.format === 'json') printJson(io, stack);
  else io.out((await import('../../common/stack/index.js')).stackToYaml(stack));
  return 0;
}

export async function runDeploy(argv: string[], io: Io): Promise<number> {
  const c = parseDeploy(argv);
  if (c.cmd === 'help') { io.out(USAGE); return 0; }
  // The values of the stack's secrets and configs are read here and travel with it (base64):
  // the manager never reads a client's files. No output below prints one.
  const loaded = await loadStack(c.files, io, c.name, c.profiles, c.envFiles);
  const { secrets, configs } = loaded;
  const client = clientFor(c.host, io);
  // `build:` services: built now on the engine this command sees (or, --no-build, the images
  // built last) and pinned to their image IDs; nothing is sent if a build fails
  const { imagesForDeploy } = await import('../build.js');
  const built = await imagesForDeploy(loaded.stack, io, { noBuild: c.noBuild, dryRun: c.dryRun, ...(c.builderNode ? { builder: { client, node: c.builderNode } } : {}) });
  // The other images: pinned to their IDs (only here) or registry digests, as Swarm does.
  const stack = await resolveImages(built, io, {
    mode: c.resolveImage,
    // A name that does not resolve now (registry down) keeps the pin it was deployed with.
    deployed: async () => Object.fromEntries((await api.services(client, built.name)).map((s) => [s.shortName, s.spec])),
  });
  if (!c.dryRun) await shipLocalImages(client, stack, io);
  const res = await api.deploy(client, stack, c.dryRun, { secrets, configs });
  if (c.json && (c.dryRun || c.detach)) { printJson(io, res); return 0; }
  const p = res.plan;
  const say = (s: string) => io.out(s + '\n');
  for (const line of planLines(p, c.dryRun)) say(line);
  if (c.dryRun || c.detach) return 0;
  const watched = changedServices(p);
  if (watched.length === 0) { say('Nothing to do: the stack is as deployed.'); return 0; }
  const r = await watchDeploy(client, p.stack, watched, { timeoutMs: c.timeoutMs, tty: io.tty, out: io.out });
  if (!r.ok) {
    io.err(`Error: deploy of stack ${p.stack} failed:\n${r.failures.map((f) => `  ${f}`).join('\n')}\n`);
    io.err(`See: tsswarm stack ps ${p.stack}\n`);
    return 1;
  }
  say(`Stack ${p.stack} converged.`);
  return 0;
}

export async function runBuild(argv: string[], io: Io): Promise<number> {
  const c = parseBuild(argv);
  if (c.cmd === 'help') { io.out(USAGE); return 0; }
  const { stack } = await loadStack(c.files, io, c.name, c.profiles, c.envFiles);
  const b = await import('../build.js');
  const targets = b.buildTargets(stack, c.services);
  if (targets.length === 0) { io.out(`Nothing to build: no service of stack ${stack.name} has a build section.\n`); return 0; }
  const ids = c.builderNode
    ? await b.buildImagesOn(clientFor(c.host!, io), c.builderNode, targets, io, { noCache: c.noCache, pull: c.pull })
    : await b.buildImages(await b.engineFromEnv(), targets, io, { noCache: c.noCache, pull: c.pull });
  for (const t of targets) io.out(`${t.service}\t${t.image}\t${ids[t.service]}\n`);
  return 0;
}

export async function runStack(argv: string[], io: Io): Promise<number> {
  const c = parseStack(argv);
  if (c.cmd === 'help') { io.out(USAGE); return 0; }
  const client = clientFor(c.host, io, { consistent: c.cmd !== 'rm' && c.consistent });
  switch (c.cmd) {
    case 'ls': {
      const stacks = await api.stacks(client);
      if (c.json) printJson(io, stacks);
      else io.out(stackTable(stacks));
      return 0;
    }
    case 'ps': {
      const tasks = await api.tasks(client, { stack: c.name });
      if (tasks.length === 0 && !(await api.stacks(client)).some((s) => s.name === c.name)) {
        throw new TsswarmError(ErrorCodes.STACK_NOT_FOUND, `nothing found in stack: ${c.name}`);
      }
      return printTasks(client, tasks, c.view, io, c.view.json ? [] : await api.services(client, c.name));
    }
    case 'rm': {
      for (const name of c.names) {
        const r = await api.removeStack(client, name, c.volumes);
        for (const s of r.services) io.out(`Removing service ${s}\n`);
        for (const s of r.secrets ?? []) io.out(`Removing secret ${s}\n`);
        for (const s of r.configs ?? []) io.out(`Removing config ${s}\n`);
        if (!c.detach) await waitTasksGone(client, name, c.timeoutMs, io);
        io.out(`Removed stack ${name}${c.volumes ? ' and its volumes' : ''}\n`);
      }
      return 0;
    }
  }
}

/**
 * `stack rm` returns once the stack's tasks are gone (stopped with their grace period and
 * reaped), so that stopping the manager right after it leaves no container running; --detach
 * returns at once, as before.
 */
async function waitTasksGone(client: ApiClient, stack: string, timeoutMs: number, io: Io): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let said = false;
  for (;;) {
    const left = await api.tasks(client, { stack });
    if (left.length === 0) return;
    if (!said) {
      io.out(`Waiting for ${left.length} task${left.length === 1 ? '' : 's'} of ${stack} to stop\n`);
      said = true;
    }
    if (Date.now() >= deadline) {
      throw new TsswarmError(ErrorCodes.UNAVAILABLE, `stack ${stack} is removed, but ${left.length} task${left.length === 1 ? ' is' : 's are'} still stopping after ${Math.round(timeoutMs / 1000)} s; see tsswarm stack ps ${stack}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

