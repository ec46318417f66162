// Compose stack files -> the normalised StackSpec (common/spec.ts).
//
// Pipeline per file: YAML with positions (anchors, aliases and `<<` expanded) -> interpolation
// of string values (${VAR} ...; shell environment over the `.env` beside the first file) ->
// merge of all files in order (Compose rules) -> validation and normalisation. Every error is
// collected with file:line:col and the field path; if there is any, parseStack throws one
// TsswarmError(STACK_INVALID) listing them all. Warnings never stop a deploy.
//
// parseStack is pure: files other than the stack files themselves (.env, env_file) are read
// through the injected readFile. loadStackFiles is the node:fs edge.

import { readFileSync } from 'node:fs';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { Document } from 'yaml';
import { ErrorCodes, TsswarmError, type ErrorDetail } from '../errors.js';
import type { StackSpec } from '../spec.js';
import { parseDotenv } from './dotenv.js';
import { interpolate, InterpolationError, type Lookup } from './interpolate.js';
import { mergeTrees } from './merge.js';
import { Diagnostics, normaliseStack } from './normalize.js';
import { parseYamlTree, type TMap, type TNode } from './tree.js';

export { parseDotenv } from './dotenv.js';
export { interpolate, InterpolationError } from './interpolate.js';
export { shellSplit } from './shellsplit.js';
export { parseMemory, parsePortSpec } from './normalize.js';

export interface StackSource {
  /** the path as the user named it (shown in messages; relative paths resolve against cwd) */
  path: string;
  text: string;
}

export interface LoadOptions {
  /** process environment: wins over the .env file */
  env: Record<string, string | undefined>;
  /** reads .env and env_file files; throws an error with code ENOENT when a file is missing */
  readFile: (absPath: string) => string;
  /** NAME given on the command line: wins over `name:` and the folder name */
  projectName?: string;
  /** directory relative source paths are resolved against (default: process.cwd()) */
  cwd?: string;
}

export interface LoadResult {
  stack: StackSpec;
  warnings: ErrorDetail[];
}

/** Default file names looked up when no -c is given, as Compose does. */
export const DEFAULT_STACK_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

const UNSET_RE = /^variable \S+ is not set/;
const PROJECT_NAME_RE = /^[a-z0-9][a-z0-9_-]*$/;

/** Compose's normalisation of a folder name into a stack name. */
export function sanitiseStackName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[^a-z0-9]+/, '');
}

export function parseStack(sources: StackSource[], opts: LoadOptions): LoadResult {
  const d = new Diagnostics();
  if (sources.length === 0) throw new TsswarmError(ErrorCodes.STACK_INVALID, 'no stack file given', [{ message: 'no stack file given' }]);
  const cwd = opts.cwd ?? process.cwd();
  const firstAbs = resolvePath(cwd, sources[0].path);
  const baseDir = dirname(firstAbs);
  const displayDir = dirname(sources[0].path);

  // .env beside the first file; the shell environment wins over it
  const dotenv = new Map<string, string>();
  const envPath = join(baseDir, '.env');
  const envShown = join(displayDir, '.env');
  let envText: string | undefined;
  try {
    envText = opts.readFile(envPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') d.error({ file: envShown, line: 0, col: 0 }, undefined, `cannot read ${envShown}: ${(e as Error).message}`);
  }
  if (envText !== undefined) {
    const res = parseDotenv(envText, (n) => opts.env[n]);
    for (const er of res.errors) d.error({ file: envShown, line: er.line, col: 1 }, undefined, er.message);
    for (const ms of res.missing) d.warn({ file: envShown, line: ms.line, col: 1 }, undefined, `variable ${ms.name} is not set; using an empty string`);
    for (const en of res.entries) {
      const v = en.value ?? opts.env[en.key];
      if (v !== undefined) dotenv.set(en.key, v);
    }
  }
  const lookup: Lookup = (n) => opts.env[n] ?? dotenv.get(n);

  // parse and interpolate each file, then merge them in order
  let merged: TMap | undefined;
  const missingReported = new Set<string>();
  for (const src of sources) {
    const { root, errors } = parseYamlTree(src.path, src.text);
    for (const e of errors) d.error({ file: src.path, line: e.line ?? 0, col: e.col ?? 0 }, undefined, e.message);
    if (!root) continue;
    if (root.kind !== 'map') {
      d.error(root.pos, undefined, root.kind === 'scalar' && root.value === null ? 'the stack file is empty' : 'a stack file must be a mapping (services:, networks:, ...)');
      continue;
    }
    const tree = interpolateTree(root, '', lookup, d, missingReported) as TMap;
    merged = merged ? (mergeTrees(merged, tree) as TMap) : tree;
  }

  let stack: StackSpec | undefined;
  if (merged) {
    const stackName = resolveStackName(merged, opts.projectName, firstAbs, d);
    stack = normaliseStack(merged, { baseDir, displayDir, stackName, lookup, readFile: opts.readFile, home: opts.env.HOME }, d);
  }
  const order = new Map(sources.map((s, i) => [s.path, i]));
  const rank = (x: ErrorDetail) => (x.file === undefined ? -1 : (order.get(x.file) ?? sources.length));
  const sorted = (list: ErrorDetail[]) =>
    list
      .map((x, i) => ({ x, i }))
      .sort((a, b) => rank(a.x) - rank(b.x) || (a.x.line ?? 0) - (b.x.line ?? 0) || (a.x.col ?? 0) - (b.x.col ?? 0) || a.i - b.i)
      .map((y) => y.x);
  if (d.errors.length || !stack) {
    const errors = sorted(d.errors);
    const files = sources.map((s) => s.path).join(', ');
    // unset variables often explain an error (an empty image, a bad port): list them after the errors
    const notes = sorted(d.warnings.filter((w) => UNSET_RE.test(w.message))).map((w) => ({ ...w, message: `note: ${w.message}` }));
    const msg = `invalid stack file ${files}: ${errors.length} error${errors.length === 1 ? '' : 's'}`;
    throw new TsswarmError(ErrorCodes.STACK_INVALID, msg, [...errors, ...notes]);
  }
  return { stack, warnings: sorted(d.warnings) };
}

function resolveStackName(root: TMap, projectName: string | undefined, firstAbs: string, d: Diagnostics): string {
  const invalid = (n: string) => `"${n}" is not a valid stack name: use lowercase letters, digits, _ and -, starting with a letter or digit`;
  if (projectName !== undefined) {
    if (!PROJECT_NAME_RE.test(projectName)) d.error(undefined, undefined, invalid(projectName));
    return projectName;
  }
  const nameEntry = root.entries.find((e) => e.key === 'name');
  if (nameEntry && nameEntry.value.kind === 'scalar' && nameEntry.value.value !== null) {
    const n = String(nameEntry.value.value);
    if (!PROJECT_NAME_RE.test(n)) d.error(nameEntry.value.pos, 'name', invalid(n));
    return n;
  }
  const folder = basename(dirname(firstAbs));
  const n = sanitiseStackName(folder);
  if (!n) d.error(undefined, undefined, `cannot derive a stack name from the folder "${folder}": give one (deploy NAME, or name: in the file)`);
  return n;
}

function interpolateTree(n: TNode, field: string, lookup: Lookup, d: Diagnostics, missingReported: Set<string>): TNode {
  if (n.kind === 'scalar') {
    if (typeof n.value !== 'string' || !n.value.includes('$')) return n;
    try {
      const r = interpolate(n.value, lookup);
      for (const name of r.missing) {
        if (missingReported.has(name)) continue;
        missingReported.add(name);
        d.warn(n.pos, field || undefined, `variable ${name} is not set; using an empty string`);
      }
      return { ...n, value: r.value };
    } catch (e) {
      if (!(e instanceof InterpolationError)) throw e;
      d.error(n.pos, field || undefined, e.message);
      return n;
    }
  }
  if (n.kind === 'seq') return { ...n, items: n.items.map((it, i) => interpolateTree(it, `${field}[${i}]`, lookup, d, missingReported)) };
  return {
    ...n,
    entries: n.entries.map((e) => ({ ...e, value: interpolateTree(e.value, field ? `${field}.${e.key}` : e.key, lookup, d, missingReported) })),
  };
}

/** The node:fs edge: read the files (default: compose.yaml & co. in the current directory). */
export function loadStackFiles(
  paths: string[],
  opts: { env?: Record<string, string | undefined>; projectName?: string; cwd?: string } = {},
): LoadResult {
  const cwd = opts.cwd ?? process.cwd();
  const readFile = (p: string) => readFileSync(p, 'utf8');
  let files = paths;
  if (files.length === 0) {
    const found = DEFAULT_STACK_FILES.find((f) => {
      try {
        readFileSync(resolvePath(cwd, f));
        return true;
      } catch {
        return false;
      }
    });
    if (!found) {
      const msg = `no stack file given and none of ${DEFAULT_STACK_FILES.join(', ')} found in ${cwd}`;
      throw new TsswarmError(ErrorCodes.STACK_INVALID, msg, [{ message: msg }]);
    }
    files = [found];
  }
  const sources: StackSource[] = [];
  const errors: ErrorDetail[] = [];
  for (const p of files) {
    try {
      sources.push({ path: p, text: readFile(resolvePath(cwd, p)) });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      errors.push({ file: p, message: code === 'ENOENT' ? 'no such file' : `cannot read: ${(e as Error).message}` });
    }
  }
  if (errors.length) throw new TsswarmError(ErrorCodes.STACK_INVALID, `cannot read stack file ${errors.map((e) => e.file).join(', ')}`, errors);
  return parseStack(sources, { env: opts.env ?? process.env, readFile, projectName: opts.projectName, cwd });
}

// ---- output ----

const TOP_ORDER = ['name', 'services', 'networks', 'volumes'];

/** `$` must survive the interpolation a re-parse performs. */
const escapeDollars = (s: string): string => s.replace(/\$/g, '$$$$');

function sortedPlain(v: unknown): unknown {
  if (typeof v === 'string') return escapeDollars(v);
  if (Array.isArray(v)) return v.map(sortedPlain);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortedPlain(x);
    }
    return out;
  }
  return v;
}

/**
 * The stack as YAML for `tsswarm config`: name, services, networks, volumes, then x-* fields;
 * every mapping below sorted by key (as `docker stack config` does). `$` is written as `$$`
 * so that parsing the output again gives the same stack.
 */
export function stackToYaml(stack: StackSpec): string {
  const services: Record<string, unknown> = {};
  for (const [name, svc] of Object.entries(stack.services)) {
    const { extensions, ...rest } = svc;
    const plain = { ...rest, ...(extensions ?? {}) } as Record<string, unknown>;
    if (svc.deploy.mode === 'global') {
      const { replicas: _r, ...deploy } = svc.deploy;
      plain.deploy = deploy;
    }
    services[name] = plain;
  }
  const top: Record<string, unknown> = {
    name: stack.name,
    services,
    networks: stack.networks,
    volumes: stack.volumes,
  };
  const out: Record<string, unknown> = {};
  for (const k of TOP_ORDER) out[k] = sortedPlain(top[k]);
  for (const k of Object.keys(stack.extensions ?? {}).sort()) out[k] = sortedPlain(stack.extensions![k]);
  const doc = new Document(out, { aliasDuplicateObjects: false });
  return doc.toString({ lineWidth: 0 });
}
