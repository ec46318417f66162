// Command-line arguments: the `parseArgs` wrapper every command uses, and one parser per kind of
// value (counts, durations, sizes, choices, SERVICE=N, filters, the manager's address and the
// credentials to reach it with: TLS files, contexts). Each
// refuses a bad value with TSW_ERR_INVALID_ARGUMENT and names the flag or argument, before a
// command sends anything to a manager.

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs as nodeParseArgs, type ParseArgsConfig } from 'node:util';
import { ErrorCodes, TsswarmError } from '../common/errors.js';
import { DurationError, parseDaysDuration, parseDuration } from '../common/duration.js';
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
  context: { type: 'string' },
  tlscacert: { type: 'string' },
  tlscert: { type: 'string' },
  tlskey: { type: 'string' },
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
  // The flags that say how to reach the manager travel together in `host`, so that every
  // command's `hostArg(values.host)` sees them all.
  const v = parsed.values;
  if (HOST_FLAGS.some((k) => v[k] !== undefined)) {
    const flags: HostFlags = { host: v.host };
    for (const k of HOST_FLAGS) { if (v[k] !== undefined) flags[k] = v[k]; delete v[k]; }
    v.host = flags;
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

/** A Go-style duration ("30s", "1m30s", "500ms"), in milliseconds; `days`: it may start with days ("30d", "1d12h"). */
export function durationArg(what: string, s: string, days = false): number {
  let ms: number;
  try {
    ms = days ? parseDaysDuration(s) : parseDuration(s);
  } catch (err) {
    if (err instanceof DurationError && /too long|longer than/.test(err.message)) invalid(`${what} is too long a duration: ${JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s)}`);
    if (err instanceof DurationError) invalid(`${what} must be a duration such as ${days ? '30d, 12h or 90s' : '30s, 1m30s or 500ms'}, got ${JSON.stringify(s)}`);
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

/** The flags besides --host that say how to reach a manager. */
const HOST_FLAGS = ['context', 'tlscacert', 'tlscert', 'tlskey'] as const;

/** --host with the TLS files and --context (what parseArgs leaves in `values.host` when any is given). */
export interface HostFlags {
  host?: string;
  context?: string;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

/** The files a remote CLI proves itself and checks the manager with (paths). */
export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** Where a manager listens (`tls`: an https:// host, and the files to reach it with). */
export interface Endpoint { socketPath?: string; host?: string; port?: number; display: string; tls?: TlsFiles }

/** Names of contexts in the config dir, and of client certificates: letters, digits, . _ - (64 at most). */
export const CONTEXT_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

/** The CLI's own directory: TSSWARM_CONFIG, else ~/.tsswarm (contexts/, config.json). */
export const configDir = (env: NodeJS.ProcessEnv = process.env): string => env.TSSWARM_CONFIG || join(env.HOME || homedir(), '.tsswarm');
export const configFile = (env: NodeJS.ProcessEnv = process.env): string => join(configDir(env), 'config.json');
export const contextsDir = (env: NodeJS.ProcessEnv = process.env): string => join(configDir(env), 'contexts');

/** What `context use NAME` recorded (config.json's currentContext); undefined: the default (local socket). */
export function currentContext(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = configFile(env);
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return invalid(`cannot read ${file}: ${(e as Error).message}`);
  }
  let cfg: unknown;
  try { cfg = JSON.parse(text); } catch { return invalid(`${file} is not JSON: fix or remove it`); }
  const cur = (cfg as { currentContext?: unknown } | null)?.currentContext;
  if (cur === undefined || cur === null || cur === '' || cur === 'default') return undefined;
  if (typeof cur !== 'string' || !CONTEXT_NAME.test(cur)) return invalid(`${file}: currentContext must be a context name, got ${JSON.stringify(cur)?.slice(0, 80)}`);
  return cur;
}

/** A context: the manager's address and the files to reach it with, paths resolved. */
export interface Context {
  /** Its name (imported) or its directory (a bundle used in place). */
  name: string;
  dir: string;
  host?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

/** `--context DIR|NAME`: a value with a "/" is a directory (a bundle), anything else a name in contextsDir. */
export function contextDirOf(ref: string, env: NodeJS.ProcessEnv = process.env): string {
  if (ref.includes('/') || ref === '.' || ref === '..') return resolve(ref);
  if (!CONTEXT_NAME.test(ref)) invalid(`invalid context name ${JSON.stringify(ref)}: letters, digits, ., _ and - (a directory: ./${ref})`);
  return join(contextsDir(env), ref);
}

/** Reads DIR/context.json: `{ host, ca, cert, key }`, the files relative to DIR. */
export function readContext(dir: string, name: string = dir, what = 'context'): Context {
  const file = join(dir, 'context.json');
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return invalid(code === 'ENOENT' ? `${what} ${JSON.stringify(name)}: no ${file} (tsswarm context ls; a bundle from \`tsswarm cluster client-cert\` holds one)` : `${what} ${JSON.stringify(name)}: cannot read ${file}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try { raw = JSON.parse(text); } catch { return invalid(`${file} is not JSON`); }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) invalid(`${file} must be a JSON object { "host", "ca", "cert", "key" }`);
  const o = raw as Record<string, unknown>;
  const out: Context = { name, dir };
  for (const k of ['host', 'ca', 'cert', 'key'] as const) {
    const v = o[k];
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string' || v.length > LIMITS.stringLength) invalid(`${file}: ${k} must be a string, got ${JSON.stringify(v)?.slice(0, 80)}`);
    out[k] = k === 'host' ? v : isAbsolute(v) ? v : join(dir, v);
  }
  return out;
}

/**
 * The manager's address and credentials, as the docker CLI finds its engine. The address:
 * --host, else --context, else TSSWARM_HOST, else TSSWARM_CONTEXT, else the current context
 * (`context use`), else the socket in the default data dir (--host and --context exclude each
 * other). Each TLS file: its flag (--tlscacert, --tlscert, --tlskey), else TSSWARM_CERT_PATH
 * (ca.pem, cert.pem, key.pem there), else the context's. Accepted addresses:
 * unix:///absolute/path, /absolute/path, http://host[:port] (plain TCP) and
 * https://host[:port] (mutual TLS: all three files needed).
 */
export function hostArg(flag?: string | HostFlags, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const f: HostFlags = typeof flag === 'object' && flag !== null ? flag : { host: flag };
  if (f.host !== undefined && f.context !== undefined) invalid('--host and --context exclude each other (a context names its manager)');
  let h: string | undefined;
  let what = '--host';
  let ctx: Context | undefined;
  const fromContext = (ref: string, how: string) => {
    ctx = readContext(contextDirOf(ref, env), ref, how);
    if (!ctx.host) invalid(`context ${JSON.stringify(ref)} names no manager: set "host": "https://HOST:PORT" in ${join(ctx.dir, 'context.json')}`);
    h = ctx.host;
    what = `the host of context ${JSON.stringify(ref)}`;
  };
  if (f.host !== undefined) h = f.host;
  else if (f.context !== undefined) fromContext(f.context, 'context');
  else if (env.TSSWARM_HOST !== undefined && env.TSSWARM_HOST !== '') { h = env.TSSWARM_HOST; what = 'TSSWARM_HOST'; }
  else if (env.TSSWARM_CONTEXT) fromContext(env.TSSWARM_CONTEXT, 'TSSWARM_CONTEXT');
  else {
    const cur = currentContext(env);
    if (cur !== undefined) fromContext(cur, `the current context (${configFile(env)})`);
  }
  const tlsFlags = (['tlscacert', 'tlscert', 'tlskey'] as const).filter((k) => f[k] !== undefined);
  if (h === undefined) {
    if (tlsFlags.length) invalid(`--${tlsFlags[0]} applies to https:// hosts: add --host https://HOST:PORT`);
    const socketPath = apiSocketPath(defaultDataDir());
    return { socketPath, display: `unix://${socketPath}` };
  }
  const ep = endpointOf(h, what);
  if (!/^https:/i.test(h)) {
    if (tlsFlags.length) invalid(`--${tlsFlags[0]} applies to https:// hosts, not ${ep.display}`);
    return ep;
  }
  const certPath = env.TSSWARM_CERT_PATH || undefined;
  const c = ctx as Context | undefined;
  const files = {
    ca: f.tlscacert ?? (certPath && join(certPath, 'ca.pem')) ?? c?.ca,
    cert: f.tlscert ?? (certPath && join(certPath, 'cert.pem')) ?? c?.cert,
    key: f.tlskey ?? (certPath && join(certPath, 'key.pem')) ?? c?.key,
  };
  const missing = ([['ca', '--tlscacert'], ['cert', '--tlscert'], ['key', '--tlskey']] as const).filter(([k]) => !files[k]).map(([, flagName]) => flagName);
  if (missing.length) {
    invalid(`${ep.display}: an https:// manager is reached with a client certificate the cluster issued (tsswarm cluster client-cert NAME); missing ${missing.join(', ')}. Give --tlscacert, --tlscert and --tlskey, or TSSWARM_CERT_PATH=DIR, or --context DIR|NAME`);
  }
  return { ...ep, tls: files as TlsFiles };
}

/** One address (--host, TSSWARM_HOST or a context's `host`, named by `what`) as an Endpoint without TLS files. */
function endpointOf(h: string, what: string): Endpoint {
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
    const https = /^https:/i.test(h);
    const scheme = https ? 'https' : 'http';
    let u: URL;
    try { u = new URL(h); } catch { return bad(`not a URL; use ${scheme}://HOST:PORT or unix:///path/to/tsswarm.sock`); }
    if (!u.hostname) bad('no host name');
    if (u.username || u.password) bad('credentials in the address are not supported');
    if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) bad(`use ${scheme}://HOST:PORT, without a path`);
    return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port || (https ? 443 : 80)), display: h };
  }
  return bad('use unix:///path/to/tsswarm.sock or https://HOST:PORT');
}

/** `--api-addr HOST:PORT` (IPv6 as [ADDR]:PORT): a manager's HTTPS address. */
export function apiAddrArg(s: string): string {
  const m = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(s);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) invalid(`--api-addr must be HOST:PORT (IPv6 as [ADDR]:PORT), got ${JSON.stringify(s)}`);
  return s;
}

/** A client certificate's name (its identity in the cluster): 1-64 of letters, digits, ., _ and -. */
export function certNameArg(s: string): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(s)) invalid(`invalid client certificate name ${JSON.stringify(s.slice(0, 80))}: 1 to 64 letters, digits, ., _ and -`);
  return s;
}
