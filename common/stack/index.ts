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

import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { Document } from 'yaml';
import { LIMITS } from '../api/limits.js';
import { checkName, validateServiceSpec, validateStack } from '../api/validate.js';
import { ErrorCodes, TsswarmError, type ErrorDetail } from '../errors.js';
import type { ServiceSpec, StackSpec } from '../spec.js';
import type { DeployObjects } from '../api/types.js';
import { parseDotenv } from './dotenv.js';
import { interpolate, InterpolationError, type Lookup } from './interpolate.js';
import { resolveExtends, resolveIncludes, type LoadTree } from './compose-files.js';
import { mergeTrees } from './merge.js';
import { Diagnostics, normaliseStack } from './normalize.js';
import { parseYamlTree, type Pos, type TMap, type TNode } from './tree.js';

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
  /** reads a secret's or config's file: at most max + 1 bytes (default: readFile's text) */
  readBytes?: (absPath: string, max: number) => Buffer;
  /** NAME given on the command line: wins over `name:` and the folder name */
  projectName?: string;
  /** directory relative source paths are resolved against (default: process.cwd()) */
  cwd?: string;
  /** active profiles (`--profile`); absent: COMPOSE_PROFILES (comma-separated) from the environment or .env */
  profiles?: string[];
  /** `--env-file FILE` (relative to cwd; later files win): read instead of the .env beside the first file */
  envFiles?: string[];
}

export interface LoadResult {
  stack: StackSpec;
  warnings: ErrorDetail[];
  /** The values of the stack's secrets and configs by stored name (base64), or external: what a deploy sends beside the stack. */
  secrets: DeployObjects;
  configs: DeployObjects;
}

/** Default file names looked up when no -c is given, as Compose does. */
export const DEFAULT_STACK_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

const UNSET_RE = /^variable \S+ is not set/;

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

  // .env beside the first file, or the --env-file files instead; the shell environment wins over them
  const dotenv = new Map<string, string>();
  const readEnv = (path: string, shown: string, into: Map<string, string>, required: boolean, at?: Pos, field?: string) => {
    let envText: string | undefined;
    try {
      envText = opts.readFile(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') d.error(at ?? { file: shown, line: 0, col: 0 }, field, `cannot read ${shown}: ${(e as Error).message}`);
      else if (required) d.error(at ?? { file: shown, line: 0, col: 0 }, field, `env file ${shown} not found`);
    }
    if (envText === undefined) return;
    const res = parseDotenv(envText, (n) => opts.env[n] ?? into.get(n));
    for (const er of res.errors) d.error({ file: shown, line: er.line, col: 1 }, undefined, er.message);
    for (const ms of res.missing) d.warn({ file: shown, line: ms.line, col: 1 }, undefined, `variable ${ms.name} is not set; using an empty string`);
    for (const en of res.entries) {
      const v = en.value ?? opts.env[en.key];
      if (v !== undefined) into.set(en.key, v);
    }
  };
  if (opts.envFiles?.length) for (const p of opts.envFiles) readEnv(resolvePath(cwd, p), p, dotenv, true);
  else readEnv(join(baseDir, '.env'), join(displayDir, '.env'), dotenv, false);
  const lookup: Lookup = (n) => opts.env[n] ?? dotenv.get(n);
  const missingReported = new Set<string>();

  // a file that extends or include brings in: parsed and interpolated as a stack file is
  const loadTree: LoadTree = (absPath, shown, at, field, envFiles) => {
    let text: string;
    try {
      text = opts.readFile(absPath);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      d.error(at, field, code === 'ENOENT' ? `${shown} not found` : `cannot read ${shown}: ${(e as Error).message}`);
      return undefined;
    }
    if (Buffer.byteLength(text, 'utf8') > LIMITS.stackFileBytes) return void d.error(at, field, `${shown}: ${tooLarge(Buffer.byteLength(text, 'utf8'))}`);
    const { root, errors } = parseYamlTree(shown, text);
    for (const e of errors) d.error({ file: shown, line: e.line ?? 0, col: e.col ?? 0 }, undefined, e.message);
    if (!root) return undefined;
    if (root.kind !== 'map') return void d.error(root.pos, undefined, 'a stack file must be a mapping (services:, networks:, ...)');
    let look = lookup;
    if (envFiles?.length) {
      const own = new Map<string, string>();
      for (const p of envFiles) readEnv(p, p, own, true, at, field);
      look = (n) => opts.env[n] ?? own.get(n) ?? dotenv.get(n);
    }
    return interpolateTree(root, '', look, d, missingReported) as TMap;
  };

  // parse and interpolate each file, then merge them in order
  let merged: TMap | undefined;
  for (const src of sources) {
    const bytes = Buffer.byteLength(src.text, 'utf8');
    if (bytes > LIMITS.stackFileBytes) {
      d.error({ file: src.path, line: 0, col: 0 }, undefined, tooLarge(bytes));
      continue;
    }
    const { root, errors } = parseYamlTree(src.path, src.text);
    for (const e of errors) d.error({ file: src.path, line: e.line ?? 0, col: e.col ?? 0 }, undefined, e.message);
    if (!root) continue;
    if (root.kind !== 'map') {
      d.error(root.pos, undefined, root.kind === 'scalar' && root.value === null ? 'the stack file is empty' : 'a stack file must be a mapping (services:, networks:, ...)');
      continue;
    }
    const dir = dirname(resolvePath(cwd, src.path));
    const fileCtx = { d, load: loadTree, dir, shownDir: dirname(src.path) };
    const tree = resolveExtends(resolveIncludes(interpolateTree(root, '', lookup, d, missingReported) as TMap, fileCtx, [resolvePath(cwd, src.path)]), fileCtx, src.path);
    merged = merged ? (mergeTrees(merged, tree) as TMap) : tree;
  }

  let stack: StackSpec | undefined;
  const objects = { secrets: {} as DeployObjects, configs: {} as DeployObjects };
  if (merged) {
    const nameErrors = d.errors.length;
    const stackName = resolveStackName(merged, opts.projectName, firstAbs, d);
    const nameReported = d.errors.length > nameErrors;
    const profiles = opts.profiles?.length ? opts.profiles : (lookup('COMPOSE_PROFILES') ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '');
    const inactive: Record<string, ServiceSpec> = {};
    stack = normaliseStack(merged, { baseDir, displayDir, stackName, lookup, readFile: opts.readFile, readBytes: opts.readBytes, home: opts.env.HOME, profiles, inactive, objects }, d);
    // the rules on values are the shared validator's (the API applies the same): its errors on
    // the normalised stack point back into the files through the merged tree
    const v = validateStack(stack);
    // a field the normaliser reported, or one below it (a service it dropped), is not reported again
    const reported = new Set<string | undefined>();
    for (const e of d.errors) for (const p of prefixes(e.field ?? '')) reported.add(p);
    const root = merged;
    const place = (x: ErrorDetail) => locate(root, d.origins, x.field ?? '');
    for (const e of v.errors) {
      if (reported.has(e.field) || (nameReported && e.field === 'name')) continue; // the normaliser said it more precisely
      d.error(place(e), e.field, e.message);
    }
    for (const w of v.warnings) d.warn(place(w), w.field, w.message);
    // a service left out by its profiles is still checked, as Compose does (its references aside)
    for (const [name, spec] of Object.entries(inactive)) {
      const f = `services.${name}`;
      for (const e of validateServiceSpec(spec, f).errors) {
        if (reported.has(e.field) || /^services\.[^.]+\.(networks|volumes\[\d+\]\.source)\b/.test(e.field ?? '')) continue;
        d.error(place(e), e.field, e.message);
      }
    }
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
  return { stack, warnings: sorted(d.warnings), secrets: objects.secrets, configs: objects.configs };
}

/** At most `max + 1` bytes of a file: enough to tell that it is over `max` without reading it all. */
export function readFileBounded(absPath: string, max: number): Buffer {
  const fd = openSync(absPath, 'r');
  try {
    const buf = Buffer.alloc(max + 1);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

const tooLarge = (bytes: number): string =>
  `the file is ${bytes} bytes; a stack file may hold at most ${LIMITS.stackFileBytes} bytes (${LIMITS.stackFileBytes / 1048576} MiB)`;

function resolveStackName(root: TMap, projectName: string | undefined, firstAbs: string, d: Diagnostics): string {
  if (projectName !== undefined) {
    const bad = checkName('stack', projectName);
    if (bad) d.error(undefined, undefined, bad);
    return projectName;
  }
  const nameEntry = root.entries.find((e) => e.key === 'name');
  if (nameEntry && nameEntry.value.kind === 'scalar' && nameEntry.value.value !== null) {
    const n = String(nameEntry.value.value);
    const bad = checkName('stack', n);
    if (bad) d.error(nameEntry.value.pos, 'name', bad);
    return n;
  }
  const folder = basename(dirname(firstAbs));
  const n = sanitiseStackName(folder);
  if (!n) d.error(undefined, undefined, `cannot derive a stack name from the folder "${folder}": give one (deploy NAME, or name: in the file)`);
  else if (checkName('stack', n)) d.error(undefined, undefined, `the folder name "${folder}" makes an invalid stack name: ${checkName('stack', n)}; give one (deploy NAME, or name: in the file)`);
  return n;
}

/** Boundaries of a dotted field path: the prefixes ending before each "." or "[", longest first. */
function prefixes(field: string): string[] {
  const out = [field];
  for (let i = field.length - 1; i > 0; i--) if (field[i] === '.' || field[i] === '[') out.push(field.slice(0, i));
  return out;
}

const keyIndex = new WeakMap<TMap, Map<string, TNode & { keyPos?: Pos }>>();

/** Walk `rest` (".a.b[2]...") from `node` as far as the tree goes: the deepest node reached and how much of `rest` it took. */
function walk(node: TNode, rest: string): { pos: Pos; used: number } {
  let cur = node;
  let used = 0;
  let pos = node.pos;
  while (used < rest.length) {
    const tail = rest.slice(used);
    if (cur.kind === 'seq') {
      const m = /^\[(\d+)\]/.exec(tail);
      const item = m ? cur.items[Number(m[1])] : undefined;
      if (!m || !item) break;
      cur = item;
      pos = item.pos;
      used += m[0].length;
    } else if (cur.kind === 'map' && tail.startsWith('.')) {
      let idx = keyIndex.get(cur);
      if (!idx) {
        idx = new Map();
        for (const e of cur.entries) idx.set(e.key, Object.assign(Object.create(null) as object, e.value, { keyPos: e.keyPos }) as TNode & { keyPos?: Pos });
        keyIndex.set(cur, idx);
      }
      // the longest key that matches (keys may hold dots: labels such as com.example.x)
      let found: (TNode & { keyPos?: Pos }) | undefined;
      let len = 0;
      for (let end = tail.length; end > 1; end--) {
        if (end !== tail.length && tail[end] !== '.' && tail[end] !== '[') continue;
        const hit = idx.get(tail.slice(1, end));
        if (hit) {
          found = hit;
          len = end;
          break;
        }
      }
      if (!found) break;
      // a scalar points at its value; a mapping or list at its key
      pos = found.kind === 'scalar' ? found.pos : (found.keyPos ?? found.pos);
      cur = found;
      used += len;
    } else break;
  }
  return { pos, used };
}

/** Where in the files a field of the normalised stack came from: the closest node of the merged tree. */
function locate(root: TMap, origins: Map<string, TNode>, field: string): Pos | undefined {
  if (!field) return undefined;
  let best: { pos: Pos; used: number } | undefined;
  for (const p of prefixes(field)) {
    const o = origins.get(p);
    if (!o) continue;
    const w = walk(o, field.slice(p.length));
    best = { pos: w.pos, used: p.length + w.used };
    break;
  }
  const t = walk(root, `.${field}`);
  if (t.used > 0 && (!best || t.used - 1 > best.used)) return t.pos;
  return best?.pos;
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
  opts: { env?: Record<string, string | undefined>; projectName?: string; cwd?: string; profiles?: string[]; envFiles?: string[] } = {},
): LoadResult {
  const cwd = opts.cwd ?? process.cwd();
  const readFile = (p: string) => decodeUtf8(readFileSync(p));
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
    let bytes: Buffer;
    try {
      bytes = readFileSync(resolvePath(cwd, p));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      errors.push({ file: p, message: code === 'ENOENT' ? 'no such file' : `cannot read: ${(e as Error).message}` });
      continue;
    }
    if (bytes.length > LIMITS.stackFileBytes) {
      errors.push({ file: p, message: tooLarge(bytes.length) });
      continue;
    }
    try {
      sources.push({ path: p, text: decodeUtf8(bytes) });
    } catch (e) {
      if (!(e instanceof Utf8Error)) throw e;
      errors.push({ file: p, line: e.line, col: e.col, message: e.message });
    }
  }
  if (errors.length) throw new TsswarmError(ErrorCodes.STACK_INVALID, `cannot read stack file ${[...new Set(errors.map((e) => e.file))].join(', ')}`, errors);
  return parseStack(sources, { env: opts.env ?? process.env, readFile, readBytes: readFileBounded, projectName: opts.projectName, cwd, profiles: opts.profiles, envFiles: opts.envFiles });
}

/** A file's bytes that are not UTF-8: where the first bad byte is. */
export class Utf8Error extends Error {
  constructor(
    readonly line: number,
    readonly col: number,
  ) {
    super(`the file is not valid UTF-8 (line ${line}, byte ${col} of the line)`);
  }
}

/** Strict UTF-8 decoding (a byte order mark is dropped); throws Utf8Error naming the line of the first invalid byte. */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // find the first invalid sequence: decode growing prefixes line by line
    let line = 1;
    let start = 0;
    const strict = new TextDecoder('utf-8', { fatal: true });
    for (let i = 0; i <= bytes.length; i++) {
      if (i === bytes.length || bytes[i] === 0x0a) {
        try {
          strict.decode(bytes.subarray(start, i));
        } catch {
          let col = 1;
          for (let j = start; j < i; j++) {
            const b = bytes[j];
            const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
            let ok = len > 0 && j + len <= i;
            for (let k = 1; ok && k < len; k++) ok = (bytes[j + k] & 0xc0) === 0x80;
            if (ok && len > 1) {
              try {
                strict.decode(bytes.subarray(j, j + len));
              } catch {
                ok = false;
              }
            }
            if (!ok) break;
            col += len;
            j += len - 1;
          }
          throw new Utf8Error(line, col);
        }
        line++;
        start = i + 1;
      }
    }
    throw new Utf8Error(line, 1);
  }
}

// ---- output ----

const TOP_ORDER = ['name', 'services', 'networks', 'volumes', 'secrets', 'configs'];

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
    // a tmpfs mode is written in octal (as chmod's): 1777, not 1023
    if (svc.volumes.some((m) => m.tmpfs?.mode !== undefined)) {
      plain.volumes = svc.volumes.map((m) => (m.tmpfs?.mode === undefined ? m : { ...m, tmpfs: { ...m.tmpfs, mode: `0${m.tmpfs.mode.toString(8)}` } }));
    }
    if (svc.deploy.mode === 'global' || svc.deploy.mode === 'global-job') {
      const { replicas: _r, ...deploy } = svc.deploy;
      plain.deploy = deploy;
    }
    services[name] = plain;
  }
  // Services refer to secrets and configs by stored name; the output declares each as external
  // under that name (values are never printed), so that it parses again to the same services.
  const declared = (kind: 'secrets' | 'configs'): Record<string, unknown> | undefined => {
    const names = [...new Set(Object.values(stack.services).flatMap((s) => (s[kind] ?? []).map((r) => r.source)))];
    return names.length ? Object.fromEntries(names.map((n) => [n, { external: true, name: n }])) : undefined;
  };
  const top: Record<string, unknown> = {
    name: stack.name,
    services,
    networks: stack.networks,
    volumes: stack.volumes,
    secrets: declared('secrets'),
    configs: declared('configs'),
  };
  const out: Record<string, unknown> = {};
  for (const k of TOP_ORDER) if (top[k] !== undefined) out[k] = sortedPlain(top[k]);
  for (const k of Object.keys(stack.extensions ?? {}).sort()) out[k] = sortedPlain(stack.extensions![k]);
  const doc = new Document(out, { aliasDuplicateObjects: false });
  return doc.toString({ lineWidth: 0 });
}
