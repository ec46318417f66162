// Stack files: the Compose Specification as written for `docker stack deploy` (plus the newer
// forms Swarm rejects), normalised to common/spec.ts. Pure at the core (`parseStack` takes
// text and an injected file reader); `loadStackFiles` is the filesystem edge.

import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { stringify } from 'yaml';
import { ErrorCodes, TsswarmError, type ErrorDetail } from '../errors.js';
import type { ServiceSpec, StackSpec } from '../spec.js';
import { parseDotenv } from './dotenv.js';
import { Normaliser } from './normalize.js';
import { mergeTrees, parseTree, type TNode } from './tree.js';

export interface StackSource { path: string; text: string }
export interface LoadOptions {
  env: Record<string, string | undefined>;
  readFile: (absPath: string) => string;
  projectName?: string;
}
export interface LoadResult { stack: StackSpec; warnings: ErrorDetail[] }

const STACK_NAME = /^[a-z0-9][a-z0-9_-]*$/;

export function sanitiseName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[-_]+/, '');
}

export function parseStack(sources: StackSource[], opts: LoadOptions): LoadResult {
  if (sources.length === 0) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'no stack file given');
  const errors: ErrorDetail[] = [];
  const warnings: ErrorDetail[] = [];
  const baseDir = dirname(resolve(sources[0].path));

  // .env beside the first file; the process environment wins over it (as in Compose).
  const dotenv: Record<string, string> = {};
  const envPath = resolve(baseDir, '.env');
  let envText: string | undefined;
  try { envText = opts.readFile(envPath); } catch { /* no .env */ }
  if (envText !== undefined) {
    const parsed = parseDotenv(envText);
    for (const e of parsed.errors) errors.push({ file: envPath, line: e.line, col: 1, message: e.message });
    Object.assign(dotenv, parsed.values);
  }
  const lookup = (name: string) => opts.env[name] ?? dotenv[name];

  let root: TNode | undefined;
  for (const src of sources) {
    const r = parseTree(src.path, src.text, lookup);
    errors.push(...r.errors);
    warnings.push(...r.warnings);
    if (r.root) root = root ? mergeTrees(root, r.root) : r.root;
  }
  if (errors.length || !root) throw invalid(errors, sources[0].path);

  let name = opts.projectName;
  const nameNode = root.kind === 'map' ? root.entries.get('name')?.value : undefined;
  if (!name && nameNode?.kind === 'scalar' && nameNode.value !== null) name = String(nameNode.value);
  if (!name) name = sanitiseName(basename(baseDir));
  if (!STACK_NAME.test(name)) {
    const where = nameNode && !opts.projectName ? { file: nameNode.pos.file, line: nameNode.pos.line, col: nameNode.pos.col } : {};
    throw invalid([{ ...where, field: 'name', message: `invalid stack name ${JSON.stringify(name)}: use lowercase letters, digits, '-' and '_', starting with a letter or digit` }], sources[0].path);
  }

  const n = new Normaliser({ baseDir, stackName: name, env: lookup, readFile: opts.readFile });
  const stack = n.stack(root);
  warnings.push(...n.warnings);
  if (n.errors.length) throw invalid(n.errors, sources[0].path);
  return { stack, warnings };
}

function invalid(errors: ErrorDetail[], file: string): TsswarmError {
  const sorted = [...errors].sort((a, b) => (a.file ?? '').localeCompare(b.file ?? '') || (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
  return new TsswarmError(ErrorCodes.STACK_INVALID, `${file}: ${errors.length} error${errors.length === 1 ? '' : 's'} in the stack file; nothing was deployed`, sorted);
}

export function loadStackFiles(paths: string[], opts: { env?: Record<string, string | undefined>; projectName?: string } = {}): LoadResult {
  const sources = paths.map((p) => {
    if (!existsSync(p)) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `stack file ${p} not found`);
    return { path: p, text: readFileSync(p, 'utf8') };
  });
  return parseStack(sources, { env: opts.env ?? process.env, projectName: opts.projectName, readFile: (p) => readFileSync(p, 'utf8') });
}

const SERVICE_ORDER: (keyof ServiceSpec)[] = ['image', 'command', 'entrypoint', 'environment', 'labels', 'user', 'working_dir', 'hostname', 'init',
  'stop_signal', 'stop_grace_period', 'ports', 'volumes', 'networks', 'healthcheck', 'depends_on', 'deploy'];

/** `$` must be written `$$` for the output to read back as the same value. */
function escapeDollars(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(/\$/g, '$$$$');
  if (Array.isArray(v)) return v.map(escapeDollars);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, escapeDollars(x)]));
  return v;
}

/** The normalised stack as YAML, in a stable key order, like `docker stack config`. */
export function stackToYaml(stack: StackSpec): string {
  const services: Record<string, unknown> = {};
  for (const name of Object.keys(stack.services).sort()) {
    const s = stack.services[name];
    const out: Record<string, unknown> = {};
    for (const k of SERVICE_ORDER) if (s[k] !== undefined) out[k] = s[k];
    for (const [k, v] of Object.entries(s.extensions ?? {})) out[k] = v;
    services[name] = out;
  }
  const sortObj = <T>(o: Record<string, T>) => Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
  const doc = { name: stack.name, services, networks: sortObj(stack.networks), volumes: sortObj(stack.volumes) };
  return stringify(escapeDollars(doc), { lineWidth: 0, aliasDuplicateObjects: false });
}
