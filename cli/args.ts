// Command-line arguments: the `parseArgs` wrapper every command uses, and one parser per kind of
// value (counts, durations, sizes, choices, SERVICE=N, filters, the manager's address). Each
// refuses a bad value with TSW_ERR_INVALID_ARGUMENT and names the flag or argument, before a
// command sends anything to a manager.

import { parseArgs as nodeParseArgs, type ParseArgsConfig } from 'node:util';
import { ErrorCodes, TsswarmError } from '../common/errors.js';
import { DurationError, parseDuration } from '../common/duration.js';
import { LIMITS } from '../common/api/limits.js';
import { TASK_STATES, type TaskState } from '../common/api/objects.js';
import { apiSocketPath, defaultDataDir } from '../common/api/datadir.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** What `parseArgs` found: flag values by long name, and the positional arguments. */
export interface Parsed {
  values: Record<string, any>;
  positionals: string[];
}

/** Options every CLI command accepts. */
export const COMMON = {
  host: { type: 'string', short: 'H' },
  format: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

/** Options of the commands that only read: `--consistent` asks the leader rather than this manager's applied state. */
export const READ = {
  consistent: { type: 'boolean' },
} as const satisfies Options;

/** `--consistent`, present in a command only when given. */
export const readOpts = (v: Parsed['values']): { consistent?: true } => (v.consistent ? { consistent: true } : {});

/** A refused argument: TSW_ERR_INVALID_ARGUMENT with `message` as is. */
export function invalid(message: string): never {
  throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, message);
}

/** A command used the wrong way: the message, and where to look. */
export function usageError(msg: string): never {
  return invalid(`${msg}\nSee 'tsswarm --help'.`);
}

/** `node:util` parseArgs, strict, with the common options; every value bounded in length. */
export function parseArgs(argv: string[], options: Options): Parsed {
  let parsed: Parsed;
  try {
    parsed = nodeParseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: true, strict: true }) as Parsed;
  } catch (err) {
    return invalid((err as Error).message);
  }
  for (const [k, v] of Object.entries(parsed.values)) {
    for (const s of Array.isArray(v) ? v : [v]) {
      if (typeof s === 'string' && s.length > LIMITS.stringLength) invalid(`--${k} is longer than ${LIMITS.stringLength} characters`);
    }
  }
  for (const p of parsed.positionals) {
    if (p.length > LIMITS.stringLength) invalid(`argument ${JSON.stringify(p.slice(0, 20) + '…')} is longer than ${LIMITS.stringLength} characters`);
  }
  return parsed;
}

/** An integer in [min, max] written in decimal digits only (no sign, exponent, hex or blanks). */
export function intArg(what: string, s: string, opts: { min?: number; max?: number; maxName?: string } = {}): number {
  const min = opts.min ?? 0;
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < min) {
    invalid(`${what} must be an integer >= ${min}, got ${JSON.stringify(s)}`);
  }
  if (opts.max !== undefined && n > opts.max) {
    invalid(`${what} must be at most ${opts.max}${opts.maxName ? ` (${opts.maxName})` : ''}, got ${n}`);
  }
  return n;
}

/** A decimal number in [min, max] (`exclusiveMin`: strictly above min), e.g. 0.5, 2, .25. */
export function numberArg(what: string, s: string, opts: { min?: number; max?: number; exclusiveMin?: boolean } = {}): number {
  const n = Number(s);
  const min = opts.min ?? 0;
  const range = opts.max !== undefined ? `between ${min} and ${opts.max}` : opts.exclusiveMin ? `greater than ${min}` : `>= ${min}`;
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(s) || !Number.isFinite(n) || n < min || (opts.exclusiveMin && n === min) || (opts.max !== undefined && n > opts.max)) {
    invalid(`${what} must be a number ${range}, got ${JSON.stringify(s)}`);
  }
  return n;
}

/** A Go-style duration ("30s", "1m30s", "500ms"), in milliseconds. */
export function durationArg(what: string, s: string): number {
  let ms: number;
  try {
    ms = parseDuration(s);
  } catch (err) {
    if (err instanceof DurationError && /too long|longer than/.test(err.message)) invalid(`${what} is too long a duration: ${JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s)}`);
    if (err instanceof DurationError) invalid(`${what} must be a duration such as 30s, 1m30s or 500ms, got ${JSON.stringify(s)}`);
    throw err;
  }
  if (!Number.isFinite(ms) || ms > Number.MAX_SAFE_INTEGER) invalid(`${what} is too long a duration: ${JSON.stringify(s)}`);
  return ms;
}

/**
 * A size as Docker reads it (512m, 1g, 1.5GiB, bytes), in bytes. The parser is the stack
 * files' own; it comes with the YAML reader, which loads only for the commands that use it.
 */
export async function sizeArg(what: string, s: string): Promise<number> {
  const { parseMemory } = await import('../common/stack/normalize.js');
  const n = parseMemory(s);
  if (n === undefined) invalid(`${what} must be a size such as 512M or 1G, got ${JSON.stringify(s)}`);
  if (!Number.isSafeInteger(n)) invalid(`${what} is too large a size: ${JSON.stringify(s)}`);
  return n;
}

/** One of a fixed set of words. */
export function choiceArg<T extends string>(what: string, s: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(s)) {
    invalid(`${what} must be ${choices.slice(0, -1).join(', ')}${choices.length > 1 ? ' or ' : ''}${choices[choices.length - 1]}, got ${JSON.stringify(s)}`);
  }
  return s as T;
}

/** `--format`: json, or the command's human format (`table`, or `yaml` for `config`). */
export function formatArg(s: string | undefined, human: 'table' | 'yaml' = 'table'): 'json' | 'table' | 'yaml' {
  return s === undefined ? human : choiceArg('--format', s, ['json', human] as const);
}

/** `--profile NAME`: a Compose profile name (letters, digits, _ . -; `*` activates every profile). */
export function profileArg(s: string): string {
  if (s !== '*' && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(s)) invalid(`--profile must be a profile name (letters, digits, _, . and -), got ${JSON.stringify(s)}`);
  return s;
}

/** `service scale` arguments: SERVICE=REPLICAS, replicas within LIMITS.replicas. */
export function scaleArg(s: string): { ref: string; replicas: number } {
  const m = /^([^=]+)=(.*)$/s.exec(s);
  if (!m) invalid(`invalid scale specifier ${JSON.stringify(s)}: use SERVICE=REPLICAS`);
  const replicas = intArg(`invalid scale specifier ${JSON.stringify(s)}: replicas`, m[2], { max: LIMITS.replicas, maxName: 'the replicas limit' });
  return { ref: m[1], replicas };
}

/** `service logs --tail`: a number of lines, or `all`. */
export function tailArg(s: string): number | 'all' {
  return s === 'all' ? 'all' : intArg('--tail', s);
}

/** `--task-history-limit N`: tasks kept per slot. */
export const historyLimitArg = (s: string): number => intArg('--task-history-limit', s);

export interface TaskFilter {
  desiredState?: TaskState;
  name?: string;
  node?: string;
}

/** `--filter KEY=VALUE` of `service ps` / `stack ps`: desired-state, name, node. */
export function filterArgs(list: string[] | undefined): TaskFilter[] {
  return (list ?? []).map((f) => {
    const i = f.indexOf('=');
    const k = i < 0 ? f : f.slice(0, i);
    const val = i < 0 ? '' : f.slice(i + 1);
    if (k !== 'desired-state' && k !== 'name' && k !== 'node') usageError(`unknown filter ${k} (desired-state, name, node)`);
    if (!val) invalid(`--filter ${JSON.stringify(f)}: use ${k}=VALUE`);
    if (k === 'desired-state') return { desiredState: choiceArg('--filter desired-state', val, TASK_STATES) };
    return k === 'name' ? { name: val } : { node: val };
  });
}

/** Where a manager listens. */
export interface Endpoint { socketPath?: string; host?: string; port?: number; display: string }

/**
 * The manager's address, as the docker CLI finds its engine: --host, then TSSWARM_HOST, then
 * the socket in the default data dir. Accepted: unix:///absolute/path, /absolute/path, and
 * http://host[:port] (plain TCP; https needs TLS material this version does not have).
 */
export function hostArg(flag?: string, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const h = flag ?? env.TSSWARM_HOST;
  if (h === undefined || (flag === undefined && h === '')) {
    const socketPath = apiSocketPath(defaultDataDir());
    return { socketPath, display: `unix://${socketPath}` };
  }
  const what = flag !== undefined ? '--host' : 'TSSWARM_HOST';
  const bad = (why: string): never => invalid(`invalid ${what} ${JSON.stringify(h)}: ${why}`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(h)) bad('it holds control characters');
  if (h.startsWith('unix://') || h.startsWith('/')) {
    const socketPath = h.startsWith('unix://') ? h.slice(7) : h;
    if (!socketPath.startsWith('/')) bad('use unix:///path/to/tsswarm.sock (an absolute path)');
    if (socketPath.endsWith('/')) bad('the path names a folder, not a socket');
    return { socketPath, display: `unix://${socketPath}` };
  }
  if (/^https?:\/\//i.test(h)) {
    if (/^https:/i.test(h)) invalid(`${h}: https endpoints need the cluster's TLS material, which this version does not have yet; use unix://`);
    let u: URL;
    try { u = new URL(h); } catch { return bad('not a URL; use http://HOST:PORT or unix:///path/to/tsswarm.sock'); }
    if (!u.hostname) bad('no host name');
    if (u.username || u.password) bad('credentials in the address are not supported');
    if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) bad('use http://HOST:PORT, without a path');
    return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port || 80), display: h };
  }
  return bad('use unix:///path/to/tsswarm.sock');
}
