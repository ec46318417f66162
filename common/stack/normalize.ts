// Positioned tree (merged, interpolated) -> the normalised StackSpec of common/spec.ts.
// Every problem is collected, not thrown: errors (invalid values) and warnings (keys a cluster
// ignores, unset variables, ...) each carry file:line:col and the field's dotted path.

import { isIP } from 'node:net';
import { isAbsolute, join, resolve as resolvePath } from 'node:path';
import { LIMITS } from '../api/limits.js';
import type { DeployObjects } from '../api/types.js';
import { checkName, checkObjectTarget, normaliseCapability, objectBytes } from '../api/validate.js';
import { DurationError, normaliseDuration, parseDuration } from '../duration.js';
import type { ErrorDetail } from '../errors.js';
import {
  DEFAULT_OBJECT_GID,
  DEFAULT_OBJECT_MODE,
  DEFAULT_OBJECT_UID,
  builtImageName,
  defaultDeploy,
  isJobMode,
  type BuildSpec,
  objectFullName,
  type ObjectRef,
  type DependsOnSpec,
  type BlkioSpec,
  type DeviceRequestSpec,
  type DeviceSpec,
  type LoggingSpec,
  type UlimitSpec,
  type DeploySpec,
  type HealthcheckSpec,
  type MountSpec,
  type NetworkSpec,
  type PortSpec,
  type RestartPolicySpec,
  type ServiceNetworkSpec,
  type ServiceSpec,
  type StackSpec,
  type UpdateConfigSpec,
  type VolumeSpec,
} from '../spec.js';
import { parseDotenv } from './dotenv.js';
import type { Lookup } from './interpolate.js';
import { ShellSplitError, shellSplit } from './shellsplit.js';
import { get, isNull, toPlain, type Pos, type TEntry, type TMap, type TNode } from './tree.js';

export interface NormaliseContext {
  /** absolute directory of the first stack file: relative paths resolve against it (Compose's project dir) */
  baseDir: string;
  /** the same directory as the user named it, for messages */
  displayDir: string;
  stackName: string;
  /** variables for `environment: [KEY]` entries and env_file interpolation (shell env over .env) */
  lookup: Lookup;
  readFile: (absPath: string) => string;
  /**
   * Reads a secret's or config's `file`: at most `max + 1` bytes (so that a larger file is told
   * apart without reading it all); throws an error with code ENOENT when it is missing.
   */
  readBytes?: (absPath: string, max: number) => Buffer;
  /** out: the values of the stack's secrets and configs (by stored name), as a deploy sends them */
  objects?: { secrets: DeployObjects; configs: DeployObjects };
  /** home directory for `~/` bind sources */
  home?: string;
  /** active profiles: a service that lists profiles is deployed only when one of them is here ('*': all) */
  profiles: string[];
  /** out: the services left out because none of their profiles is active (still validated) */
  inactive?: Record<string, ServiceSpec>;
}

/** A profile name, as Compose has it. */
export const PROFILE_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export class Diagnostics {
  readonly errors: ErrorDetail[] = [];
  readonly warnings: ErrorDetail[] = [];
  /**
   * Where a value of the output came from, by its field path, when that path is not the same
   * in the file (expanded port ranges, list forms of environment and labels, ...): validation
   * errors on the output point back into the file through it.
   */
  readonly origins = new Map<string, TNode>();
  private seen = new Set<string>();

  origin(field: string, node: TNode): void {
    this.origins.set(field, node);
  }

  private push(list: ErrorDetail[], pos: Pos | undefined, field: string | undefined, message: string): void {
    const where = pos ? (pos.line ? { file: pos.file, line: pos.line, col: pos.col } : { file: pos.file }) : {};
    const d: ErrorDetail = { ...where, ...(field ? { field } : {}), message };
    const k = `${list === this.errors ? 'E' : 'W'}|${d.file}|${d.line}|${d.col}|${d.field}|${message}`;
    if (this.seen.has(k)) return; // aliases expand a node several times: report it once
    this.seen.add(k);
    list.push(d);
  }

  error(pos: Pos | undefined, field: string | undefined, message: string): void {
    this.push(this.errors, pos, field, message);
  }

  warn(pos: Pos | undefined, field: string | undefined, message: string): void {
    this.push(this.warnings, pos, field, message);
  }
}

const NOT_SUPPORTED = 'is not supported for services and is ignored';
const NOT_YET = 'is not supported yet and is ignored';

/** Service keys that Compose knows but a cluster ignores, with the reason shown to the user. */
const IGNORED_SERVICE_KEYS: Record<string, string> = {
  container_name: 'is ignored: tasks are named <service>.<slot>',
  cgroup_parent: 'is ignored: a node\'s engine places every task in its own cgroup parent (dockerd --cgroup-parent), which keeps the node\'s accounting whole',
  links: 'is ignored: services on a common network reach each other by service name',
  external_links: 'is ignored: services on a common network reach each other by service name',
  expose: 'is ignored: services reach every port of each other on a common network',
  mac_address: 'is ignored: the tasks of a service, on several nodes, would share one MAC address; the engine gives each its own',
  scale: 'is ignored: use deploy.replicas',
  init_path: 'is ignored: tasks with init: true use the init of their node\'s engine (dockerd --init-path sets it per node)',
  volumes_from: 'is ignored: the tasks of two services may run on different nodes; mount a common named volume in both',
  isolation: 'is ignored: isolation modes are Windows engine settings',
  credential_spec: 'is ignored: credential specs are for Windows containers',
  attach: 'is ignored: tasks run detached; read their output with tsswarm service logs',
  develop: 'is ignored: compose watch is a development feature',
  post_start: NOT_YET,
  pre_stop: NOT_YET,
  models: NOT_SUPPORTED,
  provider: NOT_SUPPORTED,
  use_api_socket: NOT_SUPPORTED,
};


const fieldKey = (parent: string, key: string): string => (parent ? `${parent}.${key}` : key);
const fieldIdx = (parent: string, i: number): string => `${parent}[${i}]`;

function describe(n: TNode): string {
  if (n.kind === 'map') return 'a mapping';
  if (n.kind === 'seq') return 'a list';
  if (n.value === null) return 'null';
  return typeof n.value === 'string' ? `"${n.value}"` : `${typeof n.value} ${String(n.value)}`;
}

/** Typed readers: report an error and return undefined when the value does not fit. */
class Reader {
  constructor(readonly d: Diagnostics) {}

  map(n: TNode, f: string, nullable = false): TMap | undefined {
    if (n.kind === 'map') return n;
    if (nullable && isNull(n)) return { kind: 'map', pos: n.pos, entries: [] };
    this.d.error(n.pos, f, `must be a mapping, got ${describe(n)}`);
    return undefined;
  }

  str(n: TNode, f: string): string | undefined {
    if (n.kind === 'scalar' && n.value !== null) return String(n.value);
    this.d.error(n.pos, f, `must be a string, got ${describe(n)}`);
    return undefined;
  }

  /** An integer (bounds are the validator's: common/api/validate.ts). */
  int(n: TNode, f: string): number | undefined {
    let v: number | undefined;
    if (n.kind === 'scalar') {
      if (typeof n.value === 'number') v = n.value;
      else if (typeof n.value === 'string' && /^\s*-?\d+\s*$/.test(n.value)) v = Number(n.value);
    }
    if (v === undefined || !Number.isInteger(v)) {
      this.d.error(n.pos, f, `must be an integer, got ${describe(n)}`);
      return undefined;
    }
    return v;
  }

  /** A finite number (bounds are the validator's). */
  float(n: TNode, f: string): number | undefined {
    let v: number | undefined;
    if (n.kind === 'scalar') {
      if (typeof n.value === 'number') v = n.value;
      else if (typeof n.value === 'string' && /^\s*-?(\d+(\.\d*)?|\.\d+)\s*$/.test(n.value)) v = Number(n.value);
    }
    if (v === undefined || !Number.isFinite(v)) {
      this.d.error(n.pos, f, `must be a number, got ${describe(n)}`);
      return undefined;
    }
    return v;
  }

  /** A size in bytes (512M, 1g, 1048576); `example` shows the user a typical value. */
  size(n: TNode, f: string, example: string): number | undefined {
    const v = n.kind === 'scalar' && (typeof n.value === 'string' || typeof n.value === 'number') ? parseMemory(n.value) : undefined;
    if (v === undefined) this.d.error(n.pos, f, `must be a size such as ${example}, 1g or a number of bytes, got ${describe(n)}`);
    return v;
  }
  bool(n: TNode, f: string): boolean | undefined {
    if (n.kind === 'scalar') {
      if (typeof n.value === 'boolean') return n.value;
      if (typeof n.value === 'string') {
        const s = n.value.toLowerCase();
        if (s === 'true' || s === 'yes' || s === 'on') return true;
        if (s === 'false' || s === 'no' || s === 'off') return false;
      }
    }
    this.d.error(n.pos, f, `must be a boolean (true or false), got ${describe(n)}`);
    return undefined;
  }

  duration(n: TNode, f: string): string | undefined {
    if (n.kind === 'scalar' && (typeof n.value === 'string' || typeof n.value === 'number')) {
      try {
        return normaliseDuration(n.value);
      } catch (e) {
        if (!(e instanceof DurationError)) throw e;
        this.d.error(n.pos, f, e.message);
        return undefined;
      }
    }
    this.d.error(n.pos, f, `must be a duration such as 30s or 1m30s, got ${describe(n)}`);
    return undefined;
  }

  oneOf<T extends string>(n: TNode, f: string, allowed: readonly T[]): T | undefined {
    const s = n.kind === 'scalar' && typeof n.value === 'string' ? n.value : undefined;
    if (s !== undefined && (allowed as readonly string[]).includes(s)) return s as T;
    this.d.error(n.pos, f, `must be one of ${allowed.join(', ')}, got ${describe(n)}`);
    return undefined;
  }

  /** A list of strings; a single string is accepted as a one-element list when `single`. */
  strList(n: TNode, f: string, single = false): string[] | undefined {
    if (single && n.kind === 'scalar' && typeof n.value === 'string') return [n.value];
    if (n.kind !== 'seq') {
      this.d.error(n.pos, f, `must be a list of strings, got ${describe(n)}`);
      return undefined;
    }
    const out: string[] = [];
    n.items.forEach((it, i) => {
      const s = this.str(it, fieldIdx(f, i));
      if (s !== undefined) out.push(s);
    });
    return out;
  }

  /** labels / driver_opts: a mapping of scalars, or (lists allowed) "KEY=VALUE" items. */
  kv(n: TNode, f: string, allowList = true): Record<string, string> {
    const out: Record<string, string> = {};
    if (isNull(n)) return out;
    if (n.kind === 'seq' && allowList) {
      n.items.forEach((it, i) => {
        const s = this.str(it, fieldIdx(f, i));
        if (s === undefined) return;
        const eq = s.indexOf('=');
        const k = eq === -1 ? s : s.slice(0, eq);
        if (!k) this.d.error(it.pos, fieldIdx(f, i), `must be KEY=VALUE, got "${s}"`);
        else {
          out[k] = eq === -1 ? '' : s.slice(eq + 1);
          this.d.origin(fieldKey(f, k), it);
        }
      });
      return out;
    }
    if (n.kind !== 'map') {
      this.d.error(n.pos, f, allowList ? `must be a mapping or a list of KEY=VALUE, got ${describe(n)}` : `must be a mapping, got ${describe(n)}`);
      return out;
    }
    for (const e of n.entries) {
      if (isNull(e.value)) out[e.key] = '';
      else {
        const s = this.str(e.value, fieldKey(f, e.key));
        if (s !== undefined) out[e.key] = s;
      }
    }
    return out;
  }
}

/** Walk a mapping's entries with a handler per key; unknown keys get a warning. */
function eachKey(
  d: Diagnostics,
  m: TMap,
  f: string,
  handlers: Record<string, (e: TEntry, field: string) => void>,
  unknown?: (e: TEntry, field: string) => void,
): void {
  for (const e of m.entries) {
    const field = fieldKey(f, e.key);
    const h = Object.prototype.hasOwnProperty.call(handlers, e.key) ? handlers[e.key] : undefined;
    if (h) h(e, field);
    else if (unknown) unknown(e, field);
    else d.warn(e.keyPos, field, `unknown key ${e.key}; ignored`);
  }
}

/** RAM sizes as Docker reads them: bytes, or 512m, 1g, 1.5GiB, 100k (binary multiples). */
export function parseMemory(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s?([kmgtp])?(i)?(b)?\s*$/i.exec(v);
  if (!m) return undefined;
  const exp = m[2] ? 'kmgtp'.indexOf(m[2].toLowerCase()) + 1 : 0;
  const bytes = Math.floor(Number(m[1]) * 1024 ** exp);
  return Number.isFinite(bytes) ? bytes : undefined;
}

export function normaliseStack(root: TMap, ctx: NormaliseContext, d: Diagnostics): StackSpec {
  const r = new Reader(d);
  const networks: Record<string, NetworkSpec> = {};
  const volumes: Record<string, VolumeSpec> = {};
  const services: Record<string, ServiceSpec> = {};
  const extensions: Record<string, unknown> = {};
  const objects: Declared['objects'] = { secret: {}, config: {} };
  const values = { secrets: {} as DeployObjects, configs: {} as DeployObjects };
  let servicesEntry: TEntry | undefined;

  eachKey(
    d,
    root,
    '',
    {
      version: () => {},
      name: (e, f) => void r.str(e.value, f),
      services: (e) => (servicesEntry = e),
      networks: (e, f) => {
        const m = r.map(e.value, f, true);
        for (const ne of m?.entries ?? []) {
          const spec = normaliseNetwork(r, ne, fieldKey(f, ne.key));
          if (spec) networks[ne.key] = spec;
        }
      },
      volumes: (e, f) => {
        const m = r.map(e.value, f, true);
        for (const ve of m?.entries ?? []) {
          const spec = normaliseVolume(r, ve, fieldKey(f, ve.key));
          if (spec) volumes[ve.key] = spec;
        }
      },
      secrets: (e, f) => topObjects(r, 'secret', e, f, ctx, objects.secret, values.secrets),
      configs: (e, f) => topObjects(r, 'config', e, f, ctx, objects.config, values.configs),
      include: () => {}, // resolved before the files are merged (compose-files.ts)
      models: (e, f) => d.warn(e.keyPos, f, 'models are not supported; ignored'),
    },
    (e, f) => {
      if (e.key.startsWith('x-')) extensions[e.key] = toPlain(e.value);
      else d.warn(e.keyPos, f, `unknown top-level key ${e.key}; ignored`);
    },
  );

  if (!servicesEntry) {
    d.error(root.pos, 'services', 'a stack needs a services section');
  } else {
    const sm = r.map(servicesEntry.value, 'services', true);
    if (sm && sm.entries.length === 0) d.error(servicesEntry.value.pos, 'services', 'a stack needs at least one service');
    const names = new Set(sm?.entries.map((e) => e.key) ?? []);
    let defaultUsed = false;
    const depNodes: Record<string, Record<string, TNode>> = {};
    // services whose profiles are all inactive: read (their errors count) but not deployed
    const inactive = new Map<string, string[]>();
    for (const se of sm?.entries ?? []) {
      const f = fieldKey('services', se.key);
      const badName = checkName('service', se.key);
      if (badName) {
        d.error(se.keyPos, f, badName);
        continue;
      }
      const res = normaliseService(r, se, f, ctx, { networks, volumes, services: names, objects });
      if (!res) continue;
      if (res.profiles?.length && !ctx.profiles.includes('*') && !res.profiles.some((p) => ctx.profiles.includes(p))) {
        inactive.set(se.key, res.profiles);
        if (ctx.inactive) ctx.inactive[se.key] = res.spec;
        continue;
      }
      services[se.key] = res.spec;
      depNodes[se.key] = res.depNodes;
      if (res.spec.networks.default) defaultUsed = true;
    }
    for (const [s, spec] of Object.entries(services)) {
      for (const [dep, ds] of Object.entries(spec.depends_on)) {
        const profiles = inactive.get(dep);
        if (!profiles) continue;
        // Compose: an optional dependency on a service that is not deployed is dropped
        if (!ds.required) {
          delete spec.depends_on[dep];
          continue;
        }
        const node = depNodes[s][dep];
        d.error(node?.pos, `services.${s}.depends_on.${dep}`,
          `service ${s} depends on service ${dep}, which is not deployed: its profiles (${profiles.join(', ')}) are not active; activate one (--profile ${profiles[0]} or COMPOSE_PROFILES) or give ${s} the same profiles`);
      }
    }
    if (defaultUsed && !networks.default) {
      networks.default = { driver: 'overlay', external: false, labels: {}, driver_opts: {} };
    }
    // dependency cycles are the validator's (common/api/validate.ts); depNodes place its errors
    for (const [s, nodes] of Object.entries(depNodes)) for (const [dep, node] of Object.entries(nodes)) d.origin(`services.${s}.depends_on.${dep}`, node);
  }

  const stack: StackSpec = { name: ctx.stackName, services, networks, volumes };
  if (Object.keys(extensions).length) stack.extensions = extensions;
  if (ctx.objects) {
    ctx.objects.secrets = values.secrets;
    ctx.objects.configs = values.configs;
  }
  return stack;
}

// ---- secrets and configs ----

/** A declared secret or config: the stored name services refer to it by. */
interface DeclaredObject {
  name: string;
}

/**
 * The top-level `secrets:` or `configs:` section: each entry's value is read here (`file`,
 * relative to the first stack file's folder; `environment`, a variable of the CLI's
 * environment or the .env file; `content` for a config) and carried, base64, by the deploy
 * request; `external: true` names one that must exist. Messages never quote a value.
 */
function topObjects(r: Reader, kind: 'secret' | 'config', e: TEntry, f: string, ctx: NormaliseContext, declared: Record<string, DeclaredObject>, out: DeployObjects): void {
  const d = r.d;
  const m = r.map(e.value, f, true);
  const byName = new Map<string, string>();
  for (const oe of m?.entries ?? []) {
    const of = fieldKey(f, oe.key);
    const badKey = checkName(kind, oe.key);
    if (badKey) { d.error(oe.keyPos, of, badKey); continue; }
    const om = r.map(oe.value, of, true);
    if (!om) continue;
    const spec: { external: boolean; name?: string } = { external: false };
    let labels: Record<string, string> = {};
    const sources: { key: string; node: TNode; field: string }[] = [];
    eachKey(d, om, of, {
      file: (x, xf) => sources.push({ key: 'file', node: x.value, field: xf }),
      environment: (x, xf) => sources.push({ key: 'environment', node: x.value, field: xf }),
      ...(kind === 'config' ? { content: (x: TEntry, xf: string) => sources.push({ key: 'content', node: x.value, field: xf }) } : {}),
      external: (x, xf) => externalField(r, x, xf, spec),
      name: (x, xf) => {
        const s = r.str(x.value, xf);
        if (s === undefined) return;
        const bad = checkName(kind, s);
        if (bad) d.error(x.value.pos, xf, bad);
        else spec.name = s;
      },
      labels: (x, xf) => (labels = r.kv(x.value, xf)),
      driver: (x, xf) => d.warn(x.keyPos, xf, `driver ${NOT_YET}`),
      driver_opts: (x, xf) => d.warn(x.keyPos, xf, `driver_opts ${NOT_YET}`),
      template_driver: (x, xf) => d.warn(x.keyPos, xf, `template_driver ${NOT_YET}`),
    });
    const full = objectFullName(ctx.stackName, oe.key, spec);
    const other = byName.get(full);
    if (other !== undefined) { d.error(oe.keyPos, of, `${kind}s ${other} and ${oe.key} are both stored as ${full}`); continue; }
    if (!spec.external && !spec.name && full.length > LIMITS.nameLength) {
      d.error(oe.keyPos, of, `the full ${kind} name "${full}" is ${full.length} characters long; at most ${LIMITS.nameLength}`);
      continue;
    }
    byName.set(full, oe.key);
    declared[oe.key] = { name: full };
    const what = kind === 'secret' ? `file, environment or external: true` : `file, environment, content or external: true`;
    if (spec.external) {
      for (const src of sources) d.error(src.node.pos, src.field, `an external ${kind} exists already: it takes no ${src.key}`);
      if (Object.keys(labels).length) d.error(get(om, 'labels')?.pos, fieldKey(of, 'labels'), `an external ${kind} exists already: it takes no labels`);
      out[full] = { external: true };
      continue;
    }
    if (sources.length === 0) { d.error(oe.keyPos, of, `${kind} ${oe.key} needs one of ${what}`); continue; }
    if (sources.length > 1) { d.error(sources[1].node.pos, sources[1].field, `${kind} ${oe.key} takes one of ${what}, not ${sources.map((x) => x.key).join(' and ')}`); continue; }
    const value = objectValue(r, kind, sources[0], ctx);
    if (value !== undefined) out[full] = { data: value.toString('base64'), labels };
  }
}

/** The bytes of a secret's or config's value, within its bound; undefined (reported) otherwise. */
function objectValue(r: Reader, kind: 'secret' | 'config', src: { key: string; node: TNode; field: string }, ctx: NormaliseContext): Buffer | undefined {
  const d = r.d;
  const max = objectBytes(kind);
  const what = kind === 'secret' ? 'value' : 'content';
  let bytes: Buffer | undefined;
  if (src.key === 'file') {
    const path = r.str(src.node, src.field);
    if (path === undefined) return undefined;
    const abs = resolvePath(ctx.baseDir, path);
    const shown = isAbsolute(path) ? path : join(ctx.displayDir, path);
    try {
      bytes = ctx.readBytes ? ctx.readBytes(abs, max) : Buffer.from(ctx.readFile(abs));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      d.error(src.node.pos, src.field, code === 'ENOENT' ? `${kind} file ${shown} not found` : `cannot read ${kind} file ${shown}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
      return undefined;
    }
  } else if (src.key === 'environment') {
    const name = r.str(src.node, src.field);
    if (name === undefined) return undefined;
    const v = ctx.lookup(name);
    if (v === undefined) return void d.error(src.node.pos, src.field, `environment variable ${name} is not set`);
    bytes = Buffer.from(v, 'utf8');
  } else {
    const text = src.node.kind === 'scalar' && src.node.value !== null ? String(src.node.value) : undefined;
    if (text === undefined) return void d.error(src.node.pos, src.field, 'must be a string');
    bytes = Buffer.from(text, 'utf8');
  }
  if (bytes.length === 0) return void d.error(src.node.pos, src.field, `the ${kind}'s ${what} is empty: a ${kind} holds 1 to ${max} bytes`);
  if (bytes.length > max) return void d.error(src.node.pos, src.field, `the ${kind}'s ${what} is over ${max} bytes (${max / 1024} KiB, the bound of a ${kind})`);
  return bytes;
}

/** A file mode as Compose reads it: 0440 and 0o440 are octal, 288 decimal. */
function fileMode(r: Reader, n: TNode, f: string): number | undefined {
  const text = n.kind === 'scalar' ? (n.raw ?? (typeof n.value === 'string' ? n.value.trim() : undefined)) : undefined;
  let v: number | undefined;
  if (text !== undefined && /^0o?[0-7]+$/.test(text)) v = parseInt(text.replace(/^0o?/, '') || '0', 8);
  else if (text !== undefined && /^0o?\d+$/.test(text)) return void r.d.error(n.pos, f, `must be a file mode such as 0440 (octal) or 288 (decimal), got "${text}"`);
  else v = r.int(n, f);
  if (v === undefined) return undefined;
  if (v < 0 || v > 0o777) return void r.d.error(n.pos, f, `must be a file mode between 0 and 0777 (octal), got ${v.toString(8).padStart(4, '0')}`);
  return v;
}

/** A service's `secrets:` or `configs:`: short (`- name`) and long syntax. */
function serviceObjects(r: Reader, kind: 'secret' | 'config', n: TNode, f: string, declared: Declared, service: string): ObjectRef[] {
  const d = r.d;
  const out: ObjectRef[] = [];
  if (isNull(n)) return out;
  if (n.kind !== 'seq') {
    d.error(n.pos, f, `must be a list, got ${describe(n)}`);
    return out;
  }
  const known = declared.objects[kind];
  const find = (key: string, pos: Pos, xf: string): DeclaredObject | undefined => {
    if (Object.prototype.hasOwnProperty.call(known, key)) return known[key];
    d.error(pos, xf, `service ${service} uses ${kind} "${key}", which is not declared in the top-level ${kind}s section`);
    return undefined;
  };
  const ref = (o: DeclaredObject, key: string): ObjectRef => ({
    source: o.name, target: kind === 'secret' ? key : `/${key}`, uid: DEFAULT_OBJECT_UID, gid: DEFAULT_OBJECT_GID, mode: DEFAULT_OBJECT_MODE,
  });
  n.items.forEach((it, i) => {
    const xf = fieldIdx(f, i);
    if (it.kind === 'scalar') {
      const key = r.str(it, xf);
      const o = key === undefined ? undefined : find(key, it.pos, xf);
      if (o && key !== undefined) {
        out.push(ref(o, key));
        d.origin(fieldIdx(f, out.length - 1), it);
      }
      return;
    }
    const m = r.map(it, xf);
    if (!m) return;
    let key: string | undefined;
    const over: Partial<ObjectRef> = {};
    eachKey(d, m, xf, {
      source: (x, yf) => (key = r.str(x.value, yf)),
      target: (x, yf) => {
        const t = r.str(x.value, yf);
        if (t === undefined) return;
        const bad = checkObjectTarget(kind, t);
        if (bad) d.error(x.value.pos, yf, bad);
        else over.target = t;
      },
      uid: (x, yf) => (over.uid = scalarStr(r, x.value, yf)),
      gid: (x, yf) => (over.gid = scalarStr(r, x.value, yf)),
      mode: (x, yf) => (over.mode = fileMode(r, x.value, yf)),
    });
    if (!get(m, 'source')) return void d.error(it.pos, fieldKey(xf, 'source'), `a ${kind} in long syntax needs a source`);
    const o = key === undefined ? undefined : find(key, get(m, 'source')!.pos, fieldKey(xf, 'source'));
    if (!o || key === undefined) return;
    const base = ref(o, key);
    out.push({
      ...base,
      target: over.target ?? base.target,
      uid: over.uid ?? base.uid,
      gid: over.gid ?? base.gid,
      mode: over.mode ?? base.mode,
    });
    d.origin(fieldIdx(f, out.length - 1), it);
  });
  return out;
}

/**
 * A top-level network or volume: the fields both kinds have (driver, external, name, labels,
 * driver_opts) read once; `extra` adds a kind's own fields.
 */
function normaliseResource<T extends NetworkSpec | VolumeSpec>(
  kind: 'network' | 'volume', r: Reader, e: TEntry, f: string, spec: T, extra: Record<string, (x: TEntry, xf: string) => void> = {},
): T | undefined {
  const d = r.d;
  const badName = checkName(kind, e.key);
  if (badName) d.error(e.keyPos, f, badName);
  const m = r.map(e.value, f, true);
  if (!m) return undefined;
  eachKey(d, m, f, {
    driver: (x, xf) => {
      const s = r.str(x.value, xf);
      if (s !== undefined) spec.driver = s;
    },
    external: (x, xf) => externalField(r, x, xf, spec),
    name: (x, xf) => {
      const s = r.str(x.value, xf);
      if (s !== undefined) spec.name = s;
    },
    labels: (x, xf) => (spec.labels = r.kv(x.value, xf)),
    driver_opts: (x, xf) => (spec.driver_opts = r.kv(x.value, xf, false)),
    ...extra,
  });
  return spec;
}

function normaliseNetwork(r: Reader, e: TEntry, f: string): NetworkSpec | undefined {
  const spec: NetworkSpec = { driver: 'overlay', external: false, labels: {}, driver_opts: {} };
  return normaliseResource('network', r, e, f, spec, {
    attachable: (x, xf) => {
      const b = r.bool(x.value, xf);
      if (b !== undefined) spec.attachable = b;
    },
    internal: (x, xf) => {
      const b = r.bool(x.value, xf);
      if (b !== undefined) spec.internal = b;
    },
    ipam: (x, xf) => r.d.warn(x.keyPos, xf, `ipam ${NOT_YET}`),
    enable_ipv4: (x, xf) => r.d.warn(x.keyPos, xf, `enable_ipv4 ${NOT_YET}`),
    enable_ipv6: (x, xf) => r.d.warn(x.keyPos, xf, `enable_ipv6 ${NOT_YET}`),
  });
}

function normaliseVolume(r: Reader, e: TEntry, f: string): VolumeSpec | undefined {
  return normaliseResource('volume', r, e, f, { driver: 'local', external: false, labels: {}, driver_opts: {} } as VolumeSpec);
}

function externalField(r: Reader, x: TEntry, xf: string, spec: { external: boolean; name?: string }): void {
  if (x.value.kind === 'map') {
    // legacy form: external: {name: foo}
    spec.external = true;
    eachKey(r.d, x.value, xf, {
      name: (y, yf) => {
        const s = r.str(y.value, yf);
        if (s !== undefined) {
          spec.name = s;
          r.d.warn(y.keyPos, yf, 'external.name is deprecated; use external: true and name:');
        }
      },
    });
    return;
  }
  const b = r.bool(x.value, xf);
  if (b !== undefined) spec.external = b;
}

// ---- build ----

/** What the engine's classic builder (API 1.41, no BuildKit) cannot do: the build key and why. */
const BUILD_NEEDS_BUILDKIT: Record<string, string> = {
  additional_contexts: 'additional_contexts needs BuildKit; the engine\'s classic builder, which tsswarm drives, sees one context',
  cache_to: 'cache_to is ignored: exporting a build cache needs BuildKit; the engine keeps its own cache',
  platforms: 'platforms is ignored: a multi-platform build needs BuildKit; the image is built for the engine\'s own platform',
  privileged: 'privileged is ignored: privileged build steps need BuildKit',
  entitlements: 'entitlements are ignored: they need BuildKit',
  isolation: 'isolation is ignored: isolation modes are Windows engine settings',
  ulimits: 'ulimits are ignored in builds: RUN steps get the engine\'s defaults',
  no_cache_filter: 'no_cache_filter is ignored: it needs BuildKit (no_cache: true rebuilds every step)',
  provenance: 'provenance is ignored: attestations need BuildKit',
  sbom: 'sbom is ignored: attestations need BuildKit',
};

/**
 * A service's `build:`: a string (the context) or a mapping. The context (default ".") is
 * resolved against the first stack file's folder unless it is a URL the engine fetches.
 */
function buildSection(r: Reader, n: TNode, f: string, ctx: NormaliseContext, declared: Declared): BuildSpec | undefined {
  const d = r.d;
  const resolveContext = (c: string): string => (BUILD_URL.test(c) || isAbsolute(c) ? c : resolvePath(ctx.baseDir, c));
  if (n.kind === 'scalar' && typeof n.value === 'string') {
    if (n.value.trim() === '') return void d.error(n.pos, f, 'must not be empty: a folder holding a Dockerfile (the build context)');
    return { context: resolveContext(n.value) };
  }
  const m = r.map(n, f);
  if (!m) return undefined;
  const b: BuildSpec = { context: resolveContext('.') };
  const str = (key: 'dockerfile' | 'dockerfile_inline' | 'target' | 'network') => (x: TEntry, xf: string) => {
    const v = r.str(x.value, xf);
    if (v !== undefined && v.trim() === '') d.error(x.value.pos, xf, 'must not be empty');
    else if (v !== undefined) b[key] = v;
  };
  const flag = (key: 'no_cache' | 'pull') => (x: TEntry, xf: string) => {
    const v = r.bool(x.value, xf);
    if (v !== undefined) b[key] = v;
  };
  const list = (key: 'cache_from' | 'tags') => (x: TEntry, xf: string) => {
    if (isNull(x.value)) return;
    const v = r.strList(x.value, xf, true);
    if (v) b[key] = v;
  };
  eachKey(d, m, f, {
    context: (x, xf) => {
      const v = r.str(x.value, xf);
      if (v !== undefined && v.trim() === '') d.error(x.value.pos, xf, 'must not be empty: a folder holding a Dockerfile (the build context)');
      else if (v !== undefined) b.context = resolveContext(v);
    },
    dockerfile: str('dockerfile'),
    dockerfile_inline: str('dockerfile_inline'),
    target: str('target'),
    network: str('network'),
    args: (x, xf) => {
      const args = buildArgs(r, x.value, xf, ctx);
      if (args) b.args = args;
    },
    labels: (x, xf) => (b.labels = r.kv(x.value, xf)),
    extra_hosts: (x, xf) => {
      const h = extraHosts(r, x.value, xf);
      if (h) b.extra_hosts = h;
    },
    cache_from: list('cache_from'),
    tags: list('tags'),
    shm_size: (x, xf) => {
      const v = r.size(x.value, xf, '256m');
      if (v !== undefined) b.shm_size = v;
    },
    no_cache: flag('no_cache'),
    pull: flag('pull'),
    secrets: (x, xf) => {
      if (isNull(x.value)) return;
      if (x.value.kind !== 'seq') return void d.error(x.value.pos, xf, `must be a list of secret names, got ${describe(x.value)}`);
      const out: string[] = [];
      x.value.items.forEach((it, i) => {
        const itf = fieldIdx(xf, i);
        const srcNode = it.kind === 'map' ? get(it, 'source') : it;
        if (!srcNode) return void d.error(it.pos, itf, 'needs a source: the name of a secret of the top-level secrets section');
        const src = r.str(srcNode, it.kind === 'map' ? fieldKey(itf, 'source') : itf);
        if (src === undefined) return;
        if (!declared.objects.secret[src]) return void d.error(srcNode.pos, itf, `secret ${src} is not declared in the top-level secrets section`);
        out.push(src);
      });
      b.secrets = out;
    },
    ssh: (x, xf) => {
      if (isNull(x.value)) return;
      if (x.value.kind === 'map') {
        b.ssh = [];
        for (const e of x.value.entries) {
          const v = isNull(e.value) ? '' : r.str(e.value, fieldKey(xf, e.key));
          if (v !== undefined) b.ssh.push(v === '' ? e.key : `${e.key}=${v}`);
        }
        return;
      }
      const v = r.strList(x.value, xf, true);
      if (v) b.ssh = v;
    },
  }, (x, xf) => {
    if (x.key.startsWith('x-')) return;
    const why = BUILD_NEEDS_BUILDKIT[x.key];
    if (why === undefined) d.warn(x.keyPos, xf, `unknown build key ${x.key}; ignored`);
    else if (x.key === 'additional_contexts') d.error(x.keyPos, xf, why);
    else d.warn(x.keyPos, xf, why);
  });
  return b;
}

/** A context that the engine fetches itself (git or http). */
const BUILD_URL = /^(https?:\/\/|git:\/\/|git@|github\.com\/)/;

/** Build arguments: a mapping or KEY=VALUE items; a key without a value takes the environment's, or is left out (as Compose does). */
function buildArgs(r: Reader, n: TNode, f: string, ctx: NormaliseContext): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  if (isNull(n)) return out;
  const fromEnv = (k: string) => {
    const v = ctx.lookup(k);
    if (v !== undefined) out[k] = v;
  };
  if (n.kind === 'seq') {
    n.items.forEach((it, i) => {
      const s = r.str(it, fieldIdx(f, i));
      if (s === undefined) return;
      const eq = s.indexOf('=');
      if (eq === 0 || s === '') return void r.d.error(it.pos, fieldIdx(f, i), `must be KEY=VALUE or KEY, got "${s}"`);
      if (eq === -1) fromEnv(s);
      else out[s.slice(0, eq)] = s.slice(eq + 1);
    });
    return out;
  }
  const m = r.map(n, f);
  if (!m) return undefined;
  for (const e of m.entries) {
    if (isNull(e.value)) fromEnv(e.key);
    else {
      const v = r.str(e.value, fieldKey(f, e.key));
      if (v !== undefined) out[e.key] = v;
    }
  }
  return out;
}

interface Declared {
  networks: Record<string, NetworkSpec>;
  volumes: Record<string, VolumeSpec>;
  services: Set<string>;
  /** top-level secrets and configs, by key */
  objects: { secret: Record<string, DeclaredObject>; config: Record<string, DeclaredObject> };
}

function normaliseService(
  r: Reader,
  se: TEntry,
  f: string,
  ctx: NormaliseContext,
  declared: Declared,
): { spec: ServiceSpec; depNodes: Record<string, TNode>; profiles?: string[] } | undefined {
  const d = r.d;
  let profiles: string[] | undefined;
  const m = r.map(se.value, f, true);
  if (!m) return undefined;
  const spec: ServiceSpec = {
    image: '',
    environment: {},
    labels: {},
    ports: [],
    volumes: [],
    networks: {},
    depends_on: {},
    deploy: defaultDeploy(),
  };
  const extensions: Record<string, unknown> = {};
  let envFromFiles: Record<string, string> = {};
  let labelsFromFiles: Record<string, string> = {};
  let restartBase: RestartPolicySpec | undefined;
  let deployEntry: TEntry | undefined;
  const depNodes: Record<string, TNode> = {};
  const mountNodes: TNode[] = [];
  const mountTargets = new Map<string, number>();
  const portNodes: TNode[] = [];

  const shortLimits: ShortLimits = {};
  const setStr = (key: 'user' | 'working_dir' | 'stop_signal' | 'hostname') => (x: TEntry, xf: string) => {
    const s = r.str(x.value, xf);
    // `hostname: "${MAIL_HOST:-}"` left empty is no hostname, as in Compose
    if (s !== undefined && !(key === 'hostname' && s === '')) spec[key] = s;
  };

  eachKey(
    d,
    m,
    f,
    {
      image: (x, xf) => {
        // a reference is a string: `image: 123` is a number where a name was meant
        if (x.value.kind === 'scalar' && (typeof x.value.value === 'number' || typeof x.value.value === 'boolean')) {
          return void d.error(x.value.pos, xf, `must be an image reference such as nginx:1.27 (a string), got ${describe(x.value)}`);
        }
        const s = r.str(x.value, xf);
        if (s !== undefined && s.trim() === '') d.error(x.value.pos, xf, 'must not be empty');
        else if (s !== undefined) spec.image = s;
      },
      build: (x, xf) => {
        const b = buildSection(r, x.value, xf, ctx, declared);
        if (b) spec.build = b;
      },
      command: (x, xf) => {
        const v = argv(r, x.value, xf);
        if (v) spec.command = v;
      },
      entrypoint: (x, xf) => {
        const v = argv(r, x.value, xf);
        if (v) spec.entrypoint = v;
      },
      environment: (x, xf) => (spec.environment = environment(r, x.value, xf, ctx)),
      env_file: (x, xf) => (envFromFiles = envFiles(r, x.value, xf, ctx)),
      labels: (x, xf) => (spec.labels = r.kv(x.value, xf)),
      label_file: (x, xf) => (labelsFromFiles = envFiles(r, x.value, xf, ctx, 'label_file')),
      user: setStr('user'),
      working_dir: setStr('working_dir'),
      stop_signal: setStr('stop_signal'),
      hostname: setStr('hostname'),
      init: (x, xf) => {
        const b = r.bool(x.value, xf);
        if (b !== undefined) spec.init = b;
      },
      stop_grace_period: (x, xf) => {
        const v = r.duration(x.value, xf);
        if (v !== undefined) spec.stop_grace_period = v;
      },
      ports: (x, xf) => {
        if (isNull(x.value)) return;
        if (x.value.kind !== 'seq') return void d.error(x.value.pos, xf, `must be a list, got ${describe(x.value)}`);
        for (let i = 0; i < x.value.items.length; i++) {
          const it = x.value.items[i];
          const ps = port(r, it, fieldIdx(xf, i), LIMITS.portsPerService - spec.ports.length);
          for (const p of ps) {
            spec.ports.push(p);
            portNodes.push(it);
          }
        }
      },
      volumes: (x, xf) => {
        if (isNull(x.value)) return;
        if (x.value.kind !== 'seq') return void d.error(x.value.pos, xf, `must be a list, got ${describe(x.value)}`);
        x.value.items.forEach((it, i) => {
          const mt = mount(r, it, fieldIdx(xf, i), ctx, declared, se.key);
          if (!mt) return;
          const dup = mountTargets.get(mt.target);
          if (dup !== undefined) d.error(it.pos, fieldIdx(xf, i), `duplicate mount target ${mt.target} (also at ${posStr(mountNodes[dup].pos)})`);
          else {
            mountTargets.set(mt.target, spec.volumes.length);
            spec.volumes.push(mt);
            mountNodes.push(it);
          }
        });
      },
      networks: (x, xf) => {
        spec.networks = serviceNetworks(r, x.value, xf, declared, se.key);
      },
      healthcheck: (x, xf) => {
        const h = healthcheck(r, x.value, xf);
        if (h) spec.healthcheck = h;
      },
      restart: (x, xf) => (restartBase = restart(r, x.value, xf)),
      depends_on: (x, xf) => (spec.depends_on = dependsOn(r, x.value, xf, declared, se.key, depNodes)),
      deploy: (x) => (deployEntry = x),
      secrets: (x, xf) => (spec.secrets = serviceObjects(r, 'secret', x.value, xf, declared, se.key)),
      configs: (x, xf) => (spec.configs = serviceObjects(r, 'config', x.value, xf, declared, se.key)),
      profiles: (x, xf) => {
        const list = r.strList(x.value, xf);
        if (!list) return;
        list.forEach((p, i) => {
          if (!PROFILE_RE.test(p)) d.error(x.value.kind === 'seq' ? x.value.items[i].pos : x.value.pos, fieldIdx(xf, i), `invalid profile name "${p}": use letters, digits, _, . and - (starting with a letter or digit)`);
        });
        profiles = list;
      },
      ...containerSettings(r, spec),
      mem_limit: (x, xf) => {
        const v = r.size(x.value, xf, '512m');
        if (v !== undefined) shortLimits.mem_limit = { value: v, node: x.value };
      },
      mem_reservation: (x, xf) => {
        const v = r.size(x.value, xf, '256m');
        if (v !== undefined) shortLimits.mem_reservation = { value: v, node: x.value };
      },
      cpus: (x, xf) => {
        const v = r.float(x.value, xf);
        if (v !== undefined) shortLimits.cpus = { value: v, node: x.value };
      },
      pids_limit: (x, xf) => {
        const v = r.int(x.value, xf);
        if (v !== undefined) shortLimits.pids_limit = { value: v, node: x.value };
      },
    },
    (x, xf) => {
      if (x.key.startsWith('x-')) extensions[x.key] = toPlain(x.value);
      else if (IGNORED_SERVICE_KEYS[x.key]) {
        const why = IGNORED_SERVICE_KEYS[x.key];
        d.warn(x.keyPos, xf, why.startsWith('is ') ? `${x.key} ${why}` : why);
      } else d.warn(x.keyPos, xf, `unknown service key ${x.key}; ignored`);
    },
  );

  if (!spec.image) {
    // a service that is built and names no image: <stack>-<service>, as Compose names it
    if (get(m, 'build') && !get(m, 'image')) spec.image = builtImageName(ctx.stackName, se.key);
    else if (!get(m, 'image')) d.error(se.keyPos, fieldKey(f, 'image'), `service ${se.key} has no image: give image: (or build: to build one)`);
  }
  spec.environment = { ...envFromFiles, ...spec.environment };
  spec.labels = { ...labelsFromFiles, ...spec.labels };
  // a service that names no network joins the stack's default network (unless it has its own network mode)
  if (Object.keys(spec.networks).length === 0 && spec.network_mode === undefined) spec.networks = { default: { aliases: [] } };
  if (restartBase) {
    spec.deploy.restart_policy = restartBase;
    d.origin(fieldKey(f, 'deploy.restart_policy'), get(m, 'restart')!);
  }
  const extras: DeployExtras = { restartGiven: !!restartBase };
  if (deployEntry) deploy(r, deployEntry.value, fieldKey(f, 'deploy'), spec.deploy, extras);
  serviceLimits(r, f, spec, shortLimits, extras);
  // gpus first, then deploy.resources.reservations.devices; errors on the output point back at each
  const devices = [...(pendingGpus.get(spec) ?? []), ...(pendingDevices.get(spec.deploy) ?? [])];
  if (devices.length) {
    spec.deploy.resources.reservations.devices = devices.map((x) => x.spec);
    devices.forEach((x, i) => d.origin(fieldIdx(fieldKey(f, 'deploy.resources.reservations.devices'), i), x.node));
  }
  // duplicate ports (e.g. the same mapping in two merged files) collapse into one
  const seen = new Set<string>();
  const ports: PortSpec[] = [];
  spec.ports.forEach((p, i) => {
    const k = JSON.stringify([p.target, p.published, p.protocol, p.mode, p.host_ip]);
    if (seen.has(k)) return;
    seen.add(k);
    d.origin(`${fieldKey(f, 'ports')}[${ports.length}]`, portNodes[i]);
    ports.push(p);
  });
  spec.ports = ports;
  // on the host network a task's port is the node's: published is the target (what the scheduler reserves)
  if (spec.network_mode === 'host') for (const p of spec.ports) if (p.mode === 'host' && p.published === undefined) p.published = p.target;
  mountNodes.forEach((node, i) => d.origin(`${fieldKey(f, 'volumes')}[${i}]`, node));
  if (Object.keys(extensions).length) spec.extensions = extensions;
  return { spec, depNodes, ...(profiles ? { profiles } : {}) };
}

// ---- service-level limits: the same as deploy.resources ----

type ShortLimits = Partial<Record<'mem_limit' | 'mem_reservation' | 'cpus' | 'pids_limit', { value: number; node: TNode }>>;

/**
 * mem_limit, mem_reservation, cpus and pids_limit are the limits of deploy.resources (pids:
 * deploy.resources.limits.pids), as Compose reads them: set in both places with different
 * values is an error naming both.
 */
function serviceLimits(r: Reader, f: string, spec: ServiceSpec, short: ShortLimits, extras: DeployExtras): void {
  const res = spec.deploy.resources;
  const pairs = [
    ['mem_limit', 'limits.memory', () => res.limits.memory, (v: number) => (res.limits.memory = v)],
    ['mem_reservation', 'reservations.memory', () => res.reservations.memory, (v: number) => (res.reservations.memory = v)],
    ['cpus', 'limits.cpus', () => res.limits.cpus, (v: number) => (res.limits.cpus = v)],
    ['pids_limit', 'limits.pids', () => extras.pids?.value, (v: number) => (spec.pids_limit = v)],
  ] as const;
  for (const [key, deployKey, current, set] of pairs) {
    const own = short[key];
    const other = current();
    if (own && other !== undefined && other !== own.value) {
      r.d.error(own.node.pos, fieldKey(f, key), `${key} (${own.value}) and deploy.resources.${deployKey} (${other}) are both set and differ: keep one`);
      continue;
    }
    if (own) {
      set(own.value);
      r.d.origin(key === 'pids_limit' ? fieldKey(f, key) : fieldKey(f, `deploy.resources.${deployKey}`), own.node);
    }
  }
  if (extras.pids && !short.pids_limit) {
    spec.pids_limit = extras.pids.value;
    r.d.origin(fieldKey(f, 'pids_limit'), extras.pids.node);
  }
}

// ---- kernel and engine settings: capabilities, devices, sysctls, ulimits, DNS, logging, network mode ----

/** One string of a list, numbers included (group ids, sysctl values). */
function scalarStr(r: Reader, n: TNode, f: string): string | undefined {
  if (n.kind === 'scalar' && (typeof n.value === 'string' || typeof n.value === 'number')) return String(n.value);
  r.d.error(n.pos, f, `must be a string, got ${describe(n)}`);
  return undefined;
}

/** A list of strings (numbers accepted); a single string when `single`; null = empty. */
function looseList(r: Reader, n: TNode, f: string, single: boolean): { value: string; node: TNode; field: string }[] | undefined {
  if (isNull(n)) return [];
  if (single && n.kind === 'scalar' && (typeof n.value === 'string' || typeof n.value === 'number')) return [{ value: String(n.value), node: n, field: f }];
  if (n.kind !== 'seq') {
    r.d.error(n.pos, f, `must be ${single ? 'a string or ' : ''}a list of strings, got ${describe(n)}`);
    return undefined;
  }
  const out: { value: string; node: TNode; field: string }[] = [];
  n.items.forEach((it, i) => {
    const v = scalarStr(r, it, fieldIdx(f, i));
    if (v !== undefined) out.push({ value: v, node: it, field: fieldIdx(f, i) });
  });
  return out;
}

function device(r: Reader, n: TNode, f: string): DeviceSpec | undefined {
  if (n.kind === 'map') {
    const dv: Partial<DeviceSpec> = { permissions: 'rwm' };
    eachKey(r.d, n, f, {
      source: (x, xf) => (dv.source = r.str(x.value, xf)),
      target: (x, xf) => (dv.target = r.str(x.value, xf)),
      permissions: (x, xf) => (dv.permissions = r.str(x.value, xf)),
    });
    if (!get(n, 'source')) return void r.d.error(n.pos, fieldKey(f, 'source'), 'a device needs a source (its path on the node)');
    if (dv.source === undefined || dv.permissions === undefined) return undefined;
    return { source: dv.source, target: dv.target ?? dv.source, permissions: dv.permissions };
  }
  if (n.kind !== 'scalar' || typeof n.value !== 'string') {
    return void r.d.error(n.pos, f, `must be a device ("/dev/x", "/dev/x:/dev/y", "/dev/x:/dev/y:rw") or a mapping {source, target, permissions}, got ${describe(n)}`);
  }
  const parts = n.value.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) return void r.d.error(n.pos, f, `invalid device "${n.value}": expected host_path[:container_path[:permissions]]`);
  // "/dev/x:rw": a second part that is only permissions (as the docker CLI reads it)
  if (parts.length === 2 && /^[rwm]+$/.test(parts[1])) return { source: parts[0], target: parts[0], permissions: parts[1] };
  return { source: parts[0], target: parts[1] ?? parts[0], permissions: parts[2] ?? 'rwm' };
}

function ulimits(r: Reader, n: TNode, f: string): Record<string, UlimitSpec> | undefined {
  const m = r.map(n, f, true);
  if (!m) return undefined;
  const out: Record<string, UlimitSpec> = {};
  for (const e of m.entries) {
    const xf = fieldKey(f, e.key);
    if (e.value.kind === 'map') {
      let soft: number | undefined;
      let hard: number | undefined;
      eachKey(r.d, e.value, xf, {
        soft: (x, yf) => (soft = r.int(x.value, yf)),
        hard: (x, yf) => (hard = r.int(x.value, yf)),
      });
      if (!get(e.value, 'soft') || !get(e.value, 'hard')) r.d.error(e.value.pos, xf, 'a ulimit in long form needs soft and hard');
      else if (soft !== undefined && hard !== undefined) out[e.key] = { soft, hard };
      continue;
    }
    const v = r.int(e.value, xf);
    if (v !== undefined) out[e.key] = { soft: v, hard: v };
  }
  return out;
}

function extraHosts(r: Reader, n: TNode, f: string): string[] | undefined {
  const out: string[] = [];
  const add = (host: string, ip: string) => {
    const line = `${host}:${ip.replace(/^\[(.*)\]$/, '$1')}`;
    if (!out.includes(line)) out.push(line); // merged files may repeat a host
  };
  if (n.kind === 'map') {
    for (const e of n.entries) {
      const xf = fieldKey(f, e.key);
      for (const ip of looseList(r, e.value, xf, true) ?? []) {
        add(e.key, ip.value);
        r.d.origin(fieldIdx(f, out.length - 1), ip.node);
      }
    }
    return out;
  }
  const list = looseList(r, n, f, false);
  if (!list) return undefined;
  for (const it of list) {
    // host=ip (Compose), or host:ip (an IPv6 address keeps its colons: split at the first)
    const eq = it.value.indexOf('=');
    const sep = eq !== -1 ? eq : it.value.indexOf(':');
    if (sep <= 0) {
      r.d.error(it.node.pos, it.field, `invalid extra host "${it.value}": expected host:ip or host=ip`);
      continue;
    }
    add(it.value.slice(0, sep), it.value.slice(sep + 1));
    r.d.origin(fieldIdx(f, out.length - 1), it.node);
  }
  return out;
}

function logging(r: Reader, n: TNode, f: string): LoggingSpec | undefined {
  const m = r.map(n, f, true);
  if (!m) return undefined;
  const out: LoggingSpec = { options: {} };
  eachKey(r.d, m, f, {
    driver: (x, xf) => {
      const s = r.str(x.value, xf);
      if (s !== undefined) out.driver = s;
    },
    options: (x, xf) => (out.options = r.kv(x.value, xf, false)),
  });
  return out;
}

/**
 * `gpus` (all, or a list) and `deploy.resources.reservations.devices`: device requests as
 * Compose writes them (count: all or a number; capabilities default to [gpu] under gpus).
 */
function deviceRequests(r: Reader, n: TNode, f: string, gpus: boolean): { spec: DeviceRequestSpec; node: TNode }[] | undefined {
  if (gpus && n.kind === 'scalar' && n.value === 'all') return [{ spec: { capabilities: ['gpu'], count: -1 }, node: n }];
  if (isNull(n)) return [];
  if (n.kind !== 'seq') return void r.d.error(n.pos, f, `must be ${gpus ? 'all or ' : ''}a list of device requests ({capabilities, driver, count, device_ids, options}), got ${describe(n)}`);
  const out: { spec: DeviceRequestSpec; node: TNode }[] = [];
  n.items.forEach((it, i) => {
    const xf = fieldIdx(f, i);
    const m = r.map(it, xf);
    if (!m) return;
    const dr: Partial<DeviceRequestSpec> = {};
    eachKey(r.d, m, xf, {
      capabilities: (x, yf) => {
        const l = r.strList(x.value, yf);
        if (l) dr.capabilities = l;
      },
      driver: (x, yf) => (dr.driver = r.str(x.value, yf)),
      count: (x, yf) => {
        if (x.value.kind === 'scalar' && x.value.value === 'all') dr.count = -1;
        else dr.count = r.int(x.value, yf);
      },
      device_ids: (x, yf) => (dr.device_ids = r.strList(x.value, yf)),
      options: (x, yf) => (dr.options = r.kv(x.value, yf, false)),
    });
    if (!dr.capabilities) {
      if (!gpus) return void r.d.error(it.pos, fieldKey(xf, 'capabilities'), 'a device reservation needs capabilities (such as [gpu])');
      dr.capabilities = ['gpu'];
    }
    if (dr.count !== undefined && dr.device_ids !== undefined) return void r.d.error(it.pos, xf, 'count and device_ids cannot both be set');
    for (const k of Object.keys(dr) as (keyof DeviceRequestSpec)[]) if (dr[k] === undefined) delete dr[k];
    out.push({ spec: dr as DeviceRequestSpec, node: it });
  });
  return out;
}

/** cpu_period / cpu_quota: microseconds as a number, or a duration (100ms) as Compose also reads them. */
function microseconds(r: Reader, n: TNode, f: string): number | undefined {
  if (n.kind === 'scalar' && (typeof n.value === 'number' || (typeof n.value === 'string' && /^\s*-?\d+\s*$/.test(n.value)))) return r.int(n, f);
  const d = r.duration(n, f);
  return d === undefined ? undefined : Math.round(parseDuration(d) * 1000);
}

/** `blkio_config`: weight, and per-device weights and rates (bps as sizes: 1mb, 1048576). */
function blkio(r: Reader, n: TNode, f: string): BlkioSpec | undefined {
  const m = r.map(n, f, true);
  if (!m) return undefined;
  const out: BlkioSpec = {};
  const devices = <T>(x: TEntry, xf: string, read: (e: TMap, ef: string) => T | undefined): T[] => {
    if (isNull(x.value)) return [];
    if (x.value.kind !== 'seq') return (r.d.error(x.value.pos, xf, `must be a list of {path, ...}, got ${describe(x.value)}`), []);
    const list: T[] = [];
    x.value.items.forEach((it, i) => {
      const ef = fieldIdx(xf, i);
      const em = r.map(it, ef);
      if (!em) return;
      if (!get(em, 'path')) return void r.d.error(it.pos, fieldKey(ef, 'path'), 'a device needs a path');
      const v = read(em, ef);
      if (v !== undefined) list.push(v);
    });
    return list;
  };
  const rates = (bytes: boolean) => (x: TEntry, xf: string) =>
    devices(x, xf, (em, ef) => {
      let path: string | undefined;
      let rate: number | undefined;
      eachKey(r.d, em, ef, {
        path: (y, yf) => (path = r.str(y.value, yf)),
        rate: (y, yf) => (rate = bytes ? r.size(y.value, yf, '10mb') : r.int(y.value, yf)),
      });
      if (!get(em, 'rate')) r.d.error(em.pos, fieldKey(ef, 'rate'), 'a device limit needs a rate');
      return path !== undefined && rate !== undefined ? { path, rate } : undefined;
    });
  eachKey(r.d, m, f, {
    weight: (x, xf) => (out.weight = r.int(x.value, xf)),
    weight_device: (x, xf) =>
      (out.weight_device = devices(x, xf, (em, ef) => {
        let path: string | undefined;
        let weight: number | undefined;
        eachKey(r.d, em, ef, {
          path: (y, yf) => (path = r.str(y.value, yf)),
          weight: (y, yf) => (weight = r.int(y.value, yf)),
        });
        if (!get(em, 'weight')) r.d.error(em.pos, fieldKey(ef, 'weight'), 'a device weight needs a weight');
        return path !== undefined && weight !== undefined ? { path, weight } : undefined;
      })),
    device_read_bps: (x, xf) => (out.device_read_bps = rates(true)(x, xf)),
    device_write_bps: (x, xf) => (out.device_write_bps = rates(true)(x, xf)),
    device_read_iops: (x, xf) => (out.device_read_iops = rates(false)(x, xf)),
    device_write_iops: (x, xf) => (out.device_write_iops = rates(false)(x, xf)),
  });
  for (const k of Object.keys(out) as (keyof BlkioSpec)[]) if (out[k] === undefined) delete out[k];
  return out;
}

const NETWORK_MODES: Record<string, string> = {
  bridge: 'network_mode bridge is not supported: a service joins the stack networks (drop network_mode)',
  default: 'network_mode default is not supported: a service joins the stack networks (drop network_mode)',
};

/** `gpus` of a service, read before its deploy section: added to its device reservations after it. */
const pendingGpus = new WeakMap<ServiceSpec, { spec: DeviceRequestSpec; node: TNode }[]>();
/** deploy.resources.reservations.devices as read, with their nodes (for positions once gpus come first). */
const pendingDevices = new WeakMap<DeploySpec, { spec: DeviceRequestSpec; node: TNode }[]>();

/** Handlers of the service keys that set up the container's kernel and engine settings. */
function containerSettings(r: Reader, spec: ServiceSpec): Record<string, (e: TEntry, f: string) => void> {
  const d = r.d;

  const bool = (key: 'privileged' | 'read_only') => (x: TEntry, xf: string) => {
    const b = r.bool(x.value, xf);
    if (b !== undefined) spec[key] = b;
  };
  const list = (key: 'cap_add' | 'cap_drop' | 'security_opt' | 'group_add' | 'dns' | 'dns_search' | 'dns_opt' | 'tmpfs', single: boolean, map: (s: string) => string = (s) => s) =>
    (x: TEntry, xf: string) => {
      const l = looseList(r, x.value, xf, single);
      if (l) spec[key] = [...new Set(l.map((it) => map(it.value)))]; // merged files may repeat an entry
    };
  const flag = (key: 'tty' | 'stdin_open' | 'oom_kill_disable') => (x: TEntry, xf: string) => {
    const b = r.bool(x.value, xf);
    if (b !== undefined) spec[key] = b;
  };
  const int = (key: 'oom_score_adj' | 'cpu_shares' | 'mem_swappiness') => (x: TEntry, xf: string) => {
    const v = r.int(x.value, xf);
    if (v !== undefined) spec[key] = v;
  };
  // a namespace: the modes a cluster can honour; sharing another container's is refused with the reason
  const namespace = <K extends 'pid' | 'ipc' | 'uts' | 'userns_mode' | 'cgroup'>(key: K, modes: readonly NonNullable<ServiceSpec[K]>[]) => (x: TEntry, xf: string) => {
    const s = r.str(x.value, xf);
    if (s === undefined) return;
    if ((modes as readonly string[]).includes(s)) return void (spec[key] = s as ServiceSpec[K]);
    if (/^(service|container):/.test(s)) {
      return void d.error(x.value.pos, xf, `${key} ${s} (sharing another container's namespace) is not supported: the tasks of two services may run on different nodes`);
    }
    d.error(x.value.pos, xf, `${key} must be ${modes.length === 1 ? modes[0] : `one of ${modes.join(', ')}`}, got "${s}"`);
  };
  return {
    cap_add: list('cap_add', false, normaliseCapability),
    cap_drop: list('cap_drop', false, normaliseCapability),
    privileged: bool('privileged'),
    security_opt: list('security_opt', false),
    devices: (x, xf) => {
      if (isNull(x.value)) return void (spec.devices = []);
      if (x.value.kind !== 'seq') return void d.error(x.value.pos, xf, `must be a list, got ${describe(x.value)}`);
      const out: DeviceSpec[] = [];
      const seen = new Set<string>();
      x.value.items.forEach((it, i) => {
        const dv = device(r, it, fieldIdx(xf, i));
        if (!dv || seen.has(JSON.stringify(dv))) return; // merged files may repeat a device
        seen.add(JSON.stringify(dv));
        d.origin(fieldIdx(xf, out.length), it);
        out.push(dv);
      });
      spec.devices = out;
    },
    group_add: list('group_add', false),
    sysctls: (x, xf) => {
      if (x.value.kind === 'map') {
        const out: Record<string, string> = {};
        for (const e of x.value.entries) {
          const v = scalarStr(r, e.value, fieldKey(xf, e.key));
          if (v !== undefined) out[e.key] = v;
        }
        spec.sysctls = out;
      } else spec.sysctls = r.kv(x.value, xf);
    },
    ulimits: (x, xf) => {
      const u = ulimits(r, x.value, xf);
      if (u) spec.ulimits = u;
    },
    shm_size: (x, xf) => {
      const v = r.size(x.value, xf, '64m');
      if (v !== undefined) spec.shm_size = v;
    },
    read_only: bool('read_only'),
    tmpfs: list('tmpfs', true),
    extra_hosts: (x, xf) => {
      const h = extraHosts(r, x.value, xf);
      if (h) spec.extra_hosts = h;
    },
    dns: list('dns', true),
    dns_search: list('dns_search', true),
    dns_opt: list('dns_opt', false),
    logging: (x, xf) => {
      const l = logging(r, x.value, xf);
      if (l) spec.logging = l;
    },
    pid: namespace('pid', ['host']),
    ipc: namespace('ipc', ['host', 'private', 'shareable', 'none']),
    uts: namespace('uts', ['host']),
    userns_mode: namespace('userns_mode', ['host']),
    cgroup: namespace('cgroup', ['host', 'private']),
    tty: flag('tty'),
    stdin_open: flag('stdin_open'),
    oom_kill_disable: flag('oom_kill_disable'),
    domainname: (x, xf) => {
      const v = r.str(x.value, xf);
      if (v !== undefined) spec.domainname = v;
    },
    oom_score_adj: int('oom_score_adj'),
    cpu_shares: int('cpu_shares'),
    cpu_period: (x, xf) => {
      const v = microseconds(r, x.value, xf);
      if (v !== undefined) spec.cpu_period = v;
    },
    cpu_quota: (x, xf) => {
      const v = microseconds(r, x.value, xf);
      if (v !== undefined) spec.cpu_quota = v;
    },
    cpuset: (x, xf) => {
      const v = scalarStr(r, x.value, xf);
      if (v !== undefined) spec.cpuset = v;
    },
    memswap_limit: (x, xf) => {
      // -1: unlimited swap (Compose writes it as a number or "-1")
      const v = x.value.kind === 'scalar' && (x.value.value === -1 || x.value.value === '-1') ? -1 : r.size(x.value, xf, '1g');
      if (v !== undefined) spec.memswap_limit = v;
    },
    mem_swappiness: int('mem_swappiness'),
    device_cgroup_rules: (x, xf) => {
      const l = looseList(r, x.value, xf, false);
      if (l) spec.device_cgroup_rules = [...new Set(l.map((it) => it.value))];
    },
    storage_opt: (x, xf) => {
      const m = r.map(x.value, xf, true);
      if (!m) return;
      const out: Record<string, string> = {};
      for (const e of m.entries) {
        const v = scalarStr(r, e.value, fieldKey(xf, e.key));
        if (v !== undefined) out[e.key] = v;
      }
      spec.storage_opt = out;
    },
    blkio_config: (x, xf) => {
      const b = blkio(r, x.value, xf);
      if (b) spec.blkio_config = b;
    },
    annotations: (x, xf) => (spec.annotations = r.kv(x.value, xf)),
    platform: (x, xf) => {
      const v = r.str(x.value, xf);
      // `platform: ${DOCKER_PLATFORM:-}` left empty is no platform, as in Compose
      if (v !== undefined && v !== '') spec.platform = v;
    },
    runtime: (x, xf) => {
      const v = r.str(x.value, xf);
      if (v !== undefined) spec.runtime = v;
    },
    gpus: (x, xf) => {
      const list = deviceRequests(r, x.value, xf, true);
      if (list) pendingGpus.set(spec, list);
    },
    pull_policy: (x, xf) => {
      const s = r.str(x.value, xf);
      if (s === undefined) return;
      if (s === 'always' || s === 'missing' || s === 'never' || s === 'build') spec.pull_policy = s;
      else if (s === 'if_not_present') spec.pull_policy = 'missing';
      else if (s === 'daily' || s === 'weekly' || /^every_\w+$/.test(s)) {
        spec.pull_policy = 'missing';
        d.warn(x.value.pos, xf, `pull_policy ${s} is read as missing: a node pulls the image only when it lacks it`);
      } else d.error(x.value.pos, xf, `pull_policy must be one of always, missing, never, build (or if_not_present, daily, weekly, every_<duration>), got "${s}"`);
    },
    network_mode: (x, xf) => {
      const s = r.str(x.value, xf);
      if (s === undefined) return;
      if (s === 'host' || s === 'none') spec.network_mode = s;
      else if (NETWORK_MODES[s]) d.error(x.value.pos, xf, NETWORK_MODES[s]);
      else if (/^(service|container):/.test(s)) {
        d.error(x.value.pos, xf, `network_mode ${s} (sharing another container's network) is not supported: the tasks of two services may run on different nodes; put both services on a common network`);
      } else d.error(x.value.pos, xf, `network_mode must be host or none, got "${s}" (leave it out to join the stack networks)`);
    },
  };
}

const posStr = (p: Pos): string => `${p.file}:${p.line}:${p.col}`;

function argv(r: Reader, n: TNode, f: string): string[] | undefined {
  if (isNull(n)) return undefined;
  if (n.kind === 'scalar' && typeof n.value === 'string') {
    try {
      return shellSplit(n.value);
    } catch (e) {
      if (!(e instanceof ShellSplitError)) throw e;
      r.d.error(n.pos, f, e.message);
      return undefined;
    }
  }
  if (n.kind === 'seq') return r.strList(n, f);
  r.d.error(n.pos, f, `must be a string or a list of strings, got ${describe(n)}`);
  return undefined;
}

function environment(r: Reader, n: TNode, f: string, ctx: NormaliseContext): Record<string, string> {
  const out: Record<string, string> = {};
  const fromEnv = (key: string, pos: Pos, field: string) => {
    const v = ctx.lookup(key);
    if (v === undefined) r.d.warn(pos, field, `environment variable ${key} is not set; it is left out of the service's environment`);
    else out[key] = v;
  };
  if (isNull(n)) return out;
  if (n.kind === 'seq') {
    n.items.forEach((it, i) => {
      const xf = fieldIdx(f, i);
      const s = r.str(it, xf);
      if (s === undefined) return;
      const eq = s.indexOf('=');
      if (eq === 0) return void r.d.error(it.pos, xf, `must be KEY=VALUE or KEY, got "${s}"`);
      if (eq === -1) fromEnv(s, it.pos, xf);
      else out[s.slice(0, eq)] = s.slice(eq + 1);
      r.d.origin(fieldKey(f, eq === -1 ? s : s.slice(0, eq)), it);
    });
    return out;
  }
  if (n.kind !== 'map') {
    r.d.error(n.pos, f, `must be a mapping or a list of KEY=VALUE, got ${describe(n)}`);
    return out;
  }
  for (const e of n.entries) {
    const xf = fieldKey(f, e.key);
    if (isNull(e.value)) fromEnv(e.key, e.value.pos, xf);
    else {
      const s = r.str(e.value, xf);
      if (s !== undefined) out[e.key] = s;
    }
  }
  return out;
}

/** `env_file` (and `label_file`, read the same way): KEY=VALUE files, relative to the project folder. */
function envFiles(r: Reader, n: TNode, f: string, ctx: NormaliseContext, what = 'env_file'): Record<string, string> {
  const out: Record<string, string> = {};
  if (isNull(n)) return out;
  const items: { node: TNode; field: string }[] = n.kind === 'seq' ? n.items.map((node, i) => ({ node, field: fieldIdx(f, i) })) : [{ node: n, field: f }];
  for (const { node, field } of items) {
    let path: string | undefined;
    let required = true;
    if (node.kind === 'map') {
      eachKey(r.d, node, field, {
        path: (x, xf) => (path = r.str(x.value, xf)),
        required: (x, xf) => (required = r.bool(x.value, xf) ?? true),
        format: (x, xf) => {
          const s = r.str(x.value, xf);
          if (s !== undefined && s !== 'env') r.d.error(x.value.pos, xf, `unsupported env_file format "${s}"; only env is supported`);
        },
      });
      if (path === undefined && !get(node, 'path')) r.d.error(node.pos, fieldKey(field, 'path'), `${what} entry needs a path`);
    } else {
      path = r.str(node, field);
    }
    if (path === undefined) continue;
    const abs = resolvePath(ctx.baseDir, path);
    const shown = isAbsolute(path) ? path : join(ctx.displayDir, path);
    let text: string;
    try {
      text = ctx.readFile(abs);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && !required) continue;
      r.d.error(node.pos, field, code === 'ENOENT' ? `${what} ${shown} not found` : `cannot read ${what} ${shown}: ${(e as Error).message}`);
      continue;
    }
    const res = parseDotenv(text, ctx.lookup);
    for (const er of res.errors) r.d.error({ file: shown, line: er.line, col: 1 }, undefined, er.message);
    for (const ms of res.missing) r.d.warn({ file: shown, line: ms.line, col: 1 }, undefined, `variable ${ms.name} is not set; using an empty string`);
    for (const en of res.entries) {
      const v = en.value ?? ctx.lookup(en.key);
      if (v === undefined) r.d.warn({ file: shown, line: en.line, col: 1 }, undefined, `environment variable ${en.key} is not set; left out`);
      else out[en.key] = v;
    }
  }
  return out;
}

// ---- ports ----

/** One port in Compose's short syntax ("8080:80", "127.0.0.1:53:53/udp"), for `service update --publish-add`. */
export function parsePortSpec(raw: string): PortSpec[] | string {
  const d = new Diagnostics();
  const out = port(new Reader(d), { kind: 'scalar', pos: { file: '', line: 0, col: 0 }, value: raw }, '', LIMITS.portsPerService);
  return d.errors.length ? d.errors[0].message : out;
}

function portRange(s: string): [number, number] | undefined {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (a < 1 || b > 65535 || b < a) return undefined;
  return [a, b];
}

/** One entry of `ports`; `room`: how many more ports the service may publish (a range is refused before it is expanded). */
function port(r: Reader, n: TNode, f: string, room: number): PortSpec[] {
  const d = r.d;
  if (n.kind === 'map') {
    const p: Partial<PortSpec> = { protocol: 'tcp', mode: 'ingress' };
    eachKey(d, n, f, {
      target: (x, xf) => (p.target = r.int(x.value, xf)),
      published: (x, xf) => {
        if (isNull(x.value) || (x.value.kind === 'scalar' && x.value.value === '')) return;
        p.published = r.int(x.value, xf);
      },
      protocol: (x, xf) => (p.protocol = r.oneOf(x.value, xf, ['tcp', 'udp'] as const)),
      mode: (x, xf) => (p.mode = r.oneOf(x.value, xf, ['ingress', 'host'] as const)),
      host_ip: (x, xf) => {
        const s = r.str(x.value, xf);
        if (s !== undefined && s !== '') p.host_ip = s;
      },
      name: (x, xf) => d.warn(x.keyPos, xf, `name ${NOT_YET}`),
      app_protocol: (x, xf) => d.warn(x.keyPos, xf, `app_protocol ${NOT_YET}`),
    });
    if (!get(n, 'target')) d.error(n.pos, fieldKey(f, 'target'), 'a port needs a target');
    if (p.target === undefined || p.protocol === undefined || p.mode === undefined) return [];
    const out: PortSpec = { target: p.target, protocol: p.protocol, mode: p.mode };
    if (p.published !== undefined) out.published = p.published;
    if (p.host_ip !== undefined) out.host_ip = p.host_ip;
    return [out];
  }
  if (n.kind !== 'scalar' || n.value === null || typeof n.value === 'boolean') {
    d.error(n.pos, f, `must be a port ("80", "8080:80", "127.0.0.1:8080:80/udp") or a mapping, got ${describe(n)}`);
    return [];
  }
  const raw = String(n.value);
  const bad = (why: string): PortSpec[] => {
    d.error(n.pos, f, `invalid port "${raw}": ${why}`);
    return [];
  };
  let s = raw.trim();
  let protocol: 'tcp' | 'udp' = 'tcp';
  const slash = s.lastIndexOf('/');
  if (slash !== -1) {
    const proto = s.slice(slash + 1);
    if (proto !== 'tcp' && proto !== 'udp') return bad(`protocol must be tcp or udp, got "${proto}"`);
    protocol = proto;
    s = s.slice(0, slash);
  }
  let hostIp: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close === -1 || s[close + 1] !== ':') return bad('expected [IPv6]:published:target');
    hostIp = s.slice(1, close);
    s = s.slice(close + 2);
  }
  let parts = s.split(':');
  if (parts.length > 3 && hostIp === undefined) {
    // unbracketed IPv6 host address: everything but the last two parts
    hostIp = parts.slice(0, -2).join(':');
    parts = parts.slice(-2);
  }
  let pubStr: string | undefined;
  let targetStr: string;
  if (parts.length === 1) targetStr = parts[0];
  else if (parts.length === 2) [pubStr, targetStr] = parts;
  else if (parts.length === 3 && hostIp === undefined) [hostIp, pubStr, targetStr] = parts;
  else return bad('expected [[host_ip:]published:]target[/protocol]');
  if (hostIp === '') hostIp = undefined;
  if (hostIp !== undefined && isIP(hostIp) === 0) return bad(`"${hostIp}" is not an IP address (IPv4 or IPv6)`);
  const target = portRange(targetStr);
  if (!target) return bad(`target "${targetStr}" is not a port or port range (1-65535)`);
  let published: [number, number] | undefined;
  if (pubStr !== undefined && pubStr !== '') {
    published = portRange(pubStr);
    if (!published) return bad(`published "${pubStr}" is not a port or port range (1-65535)`);
    if (published[1] - published[0] !== target[1] - target[0]) return bad('published and target ranges must have the same length');
  }
  const count = target[1] - target[0] + 1;
  if (count > room) {
    return bad(`the range holds ${count} ports; a service publishes at most ${LIMITS.portsPerService}${room < LIMITS.portsPerService ? ` (room for ${Math.max(room, 0)} more after its other ports)` : ''}`);
  }
  const out: PortSpec[] = [];
  for (let i = 0; i < count; i++) {
    const p: PortSpec = { target: target[0] + i, protocol, mode: 'ingress' };
    if (published) p.published = published[0] + i;
    if (hostIp !== undefined) p.host_ip = hostIp;
    out.push(p);
  }
  return out;
}

// ---- volumes ----

const PROPAGATIONS = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'] as const;

/** A tmpfs mode: permission bits, octal as written (1777, 0o755) or a decimal number. */
function fileModeBits(r: Reader, n: TNode, f: string): number | undefined {
  // 1777 is meant as octal, as mode bits are written (chmod); 0o1777 and "1777" too
  const text = n.kind === 'scalar' ? (n.raw ?? (typeof n.value === 'string' || typeof n.value === 'number' ? String(n.value).trim() : undefined)) : undefined;
  if (text !== undefined && /^(0o?)?[0-7]{1,4}$/.test(text)) return parseInt(text.replace(/^0o?/, '') || '0', 8);
  r.d.error(n.pos, f, `must be a file mode such as 1777 or 0755 (octal), got ${describe(n)}`);
  return undefined;
}

const SHORT_MODES = new Set(['ro', 'rw', 'z', 'Z', 'nocopy', 'consistent', 'cached', 'delegated', 'shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);

function isPathLike(s: string): boolean {
  return s.startsWith('/') || s.startsWith('.') || s.startsWith('~');
}

function hostPath(r: Reader, src: string, n: TNode, f: string, ctx: NormaliseContext): string | undefined {
  if (src === '~' || src.startsWith('~/')) {
    if (!ctx.home) {
      r.d.error(n.pos, f, 'cannot expand ~: HOME is not set');
      return undefined;
    }
    return resolvePath(ctx.home, src.slice(2));
  }
  return resolvePath(ctx.baseDir, src);
}

function checkNamedVolume(r: Reader, name: string, n: TNode, f: string, declared: Declared, service: string): boolean {
  if (declared.volumes[name]) return true;
  r.d.error(n.pos, f, `service ${service} uses volume "${name}", which is not declared in the top-level volumes section`);
  return false;
}

function mount(r: Reader, n: TNode, f: string, ctx: NormaliseContext, declared: Declared, service: string): MountSpec | undefined {
  const d = r.d;
  if (n.kind === 'map') {
    let type: MountSpec['type'] | undefined;
    let source: string | undefined;
    let target: string | undefined;
    let readOnly = false;
    const opts: Pick<MountSpec, 'volume' | 'bind' | 'tmpfs'> = {};
    const optNodes: Partial<Record<'volume' | 'bind' | 'tmpfs', TEntry>> = {};
    const sub = (key: 'volume' | 'bind' | 'tmpfs', handlers: (o: Record<string, unknown>) => Record<string, (y: TEntry, yf: string) => void>) => (x: TEntry, xf: string) => {
      const m = r.map(x.value, xf, true);
      if (!m) return;
      const o: Record<string, unknown> = {};
      eachKey(d, m, xf, handlers(o), (y, yf) => d.warn(y.keyPos, yf, `${key}.${y.key} ${NOT_YET}`));
      for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
      optNodes[key] = x;
      if (Object.keys(o).length) (opts as Record<string, unknown>)[key] = o;
    };
    eachKey(d, n, f, {
      type: (x, xf) => {
        if (x.value.kind === 'scalar' && (x.value.value === 'npipe' || x.value.value === 'cluster' || x.value.value === 'image')) {
          d.error(x.value.pos, xf, `volume type ${x.value.value} is not supported`);
          return;
        }
        type = r.oneOf(x.value, xf, ['volume', 'bind', 'tmpfs'] as const);
      },
      source: (x, xf) => (source = isNull(x.value) ? undefined : r.str(x.value, xf)),
      target: (x, xf) => (target = r.str(x.value, xf)),
      read_only: (x, xf) => (readOnly = r.bool(x.value, xf) ?? false),
      volume: sub('volume', (o) => ({ nocopy: (y, yf) => (o.nocopy = r.bool(y.value, yf)) })),
      bind: sub('bind', (o) => ({
        propagation: (y, yf) => (o.propagation = r.oneOf(y.value, yf, PROPAGATIONS)),
        create_host_path: (y, yf) => (o.create_host_path = r.bool(y.value, yf)),
        selinux: (y, yf) => d.warn(y.keyPos, yf, 'bind.selinux is ignored: SELinux relabelling is left to the node'),
      })),
      tmpfs: sub('tmpfs', (o) => ({
        size: (y, yf) => (o.size = r.size(y.value, yf, '64m')),
        mode: (y, yf) => (o.mode = fileModeBits(r, y.value, yf)),
      })),
      consistency: (x, xf) => d.warn(x.keyPos, xf, `consistency ${NOT_YET}`),
    });
    if (!get(n, 'type')) d.error(n.pos, fieldKey(f, 'type'), 'a volume in long syntax needs a type (volume, bind or tmpfs)');
    if (!get(n, 'target')) d.error(n.pos, fieldKey(f, 'target'), 'a volume needs a target');
    if (type === undefined || target === undefined) return undefined;
    if (!target.startsWith('/')) return void d.error(get(n, 'target')!.pos, fieldKey(f, 'target'), `target must be an absolute path, got "${target}"`);
    const srcNode = get(n, 'source') ?? n;
    const sf = fieldKey(f, 'source');
    const out: MountSpec = { type, target, read_only: readOnly };
    for (const k of ['volume', 'bind', 'tmpfs'] as const) {
      const e = optNodes[k];
      if (e && k !== type) d.error(e.keyPos, fieldKey(f, k), `${k} options apply to a mount of type ${k}, not ${type}`);
      else if (opts[k]) Object.assign(out, { [k]: opts[k] });
    }
    if (type === 'bind') {
      if (!source) return void d.error(srcNode.pos, sf, 'a bind mount needs a source path');
      const abs = hostPath(r, source, srcNode, sf, ctx);
      if (abs === undefined) return undefined;
      out.source = abs;
    } else if (type === 'volume') {
      if (source) {
        if (!checkNamedVolume(r, source, srcNode, sf, declared, service)) return undefined;
        out.source = source;
      }
    } else if (source) {
      return void d.error(srcNode.pos, sf, 'a tmpfs mount has no source');
    }
    return out;
  }
  if (n.kind !== 'scalar' || typeof n.value !== 'string') {
    d.error(n.pos, f, `must be a volume ("data:/path", "./dir:/path:ro", "/path") or a mapping, got ${describe(n)}`);
    return undefined;
  }
  const raw = n.value;
  const parts = raw.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) {
    d.error(n.pos, f, `invalid volume "${raw}": expected [source:]target[:mode]`);
    return undefined;
  }
  let source: string | undefined;
  let target: string;
  let mode: string | undefined;
  if (parts.length === 1) target = parts[0];
  else [source, target, mode] = parts;
  if (!target.startsWith('/')) {
    d.error(n.pos, f, `invalid volume "${raw}": the target must be an absolute path`);
    return undefined;
  }
  let readOnly = false;
  let nocopy = false;
  let propagation: (typeof PROPAGATIONS)[number] | undefined;
  const isBind = source !== undefined && isPathLike(source);
  for (const opt of mode?.split(',') ?? []) {
    if (!SHORT_MODES.has(opt)) {
      d.error(n.pos, f, `invalid volume "${raw}": unknown mode "${opt}" (use ro or rw)`);
      return undefined;
    }
    if (opt === 'ro') readOnly = true;
    else if (opt === 'nocopy' && !isBind) nocopy = true;
    else if ((PROPAGATIONS as readonly string[]).includes(opt) && isBind) propagation = opt as (typeof PROPAGATIONS)[number];
    else if (opt === 'nocopy' || (PROPAGATIONS as readonly string[]).includes(opt)) {
      d.error(n.pos, f, `invalid volume "${raw}": ${opt} applies to ${opt === 'nocopy' ? 'a named volume' : 'a bind mount (a host path)'}`);
      return undefined;
    } else if (opt !== 'rw') d.warn(n.pos, f, `volume mode ${opt} ${NOT_YET}`);
  }
  const volumeOpts = nocopy ? { volume: { nocopy: true } } : {};
  if (source === undefined) return { type: 'volume', target, read_only: readOnly, ...volumeOpts };
  if (isBind) {
    const abs = hostPath(r, source, n, f, ctx);
    return abs === undefined ? undefined : { type: 'bind', source: abs, target, read_only: readOnly, ...(propagation ? { bind: { propagation } } : {}) };
  }
  if (!checkNamedVolume(r, source, n, f, declared, service)) return undefined;
  return { type: 'volume', source, target, read_only: readOnly, ...volumeOpts };
}

// ---- networks, healthcheck, restart, depends_on ----

function serviceNetworks(r: Reader, n: TNode, f: string, declared: Declared, service: string): Record<string, ServiceNetworkSpec> {
  const out: Record<string, ServiceNetworkSpec> = {};
  const check = (name: string, pos: Pos, xf: string): boolean => {
    if (name === 'default' || declared.networks[name]) return true;
    r.d.error(pos, xf, `service ${service} uses network "${name}", which is not declared in the top-level networks section`);
    return false;
  };
  if (isNull(n)) return out;
  if (n.kind === 'seq') {
    n.items.forEach((it, i) => {
      const xf = fieldIdx(f, i);
      const s = r.str(it, xf);
      if (s !== undefined && check(s, it.pos, xf)) out[s] = { aliases: [] };
    });
    return out;
  }
  if (n.kind !== 'map') {
    r.d.error(n.pos, f, `must be a list of network names or a mapping, got ${describe(n)}`);
    return out;
  }
  for (const e of n.entries) {
    const xf = fieldKey(f, e.key);
    if (!check(e.key, e.keyPos, xf)) continue;
    const spec: ServiceNetworkSpec = { aliases: [] };
    const m = r.map(e.value, xf, true);
    if (m) {
      eachKey(r.d, m, xf, {
        aliases: (x, yf) => (spec.aliases = r.strList(x.value, yf) ?? []),
        ipv4_address: (x, yf) => r.d.warn(x.keyPos, yf, `ipv4_address ${NOT_YET}`),
        ipv6_address: (x, yf) => r.d.warn(x.keyPos, yf, `ipv6_address ${NOT_YET}`),
        link_local_ips: (x, yf) => r.d.warn(x.keyPos, yf, `link_local_ips ${NOT_YET}`),
        mac_address: (x, yf) => r.d.warn(x.keyPos, yf, `mac_address ${NOT_YET}`),
        priority: (x, yf) => r.d.warn(x.keyPos, yf, `priority ${NOT_YET}`),
        gw_priority: (x, yf) => r.d.warn(x.keyPos, yf, `gw_priority ${NOT_YET}`),
        driver_opts: (x, yf) => r.d.warn(x.keyPos, yf, `driver_opts ${NOT_YET}`),
      });
    }
    out[e.key] = spec;
  }
  return out;
}

function healthcheck(r: Reader, n: TNode, f: string): HealthcheckSpec | undefined {
  const m = r.map(n, f, true);
  if (!m) return undefined;
  const h: HealthcheckSpec = {};
  let disable = false;
  eachKey(r.d, m, f, {
    test: (x, xf) => {
      const v = x.value;
      if (v.kind === 'scalar' && typeof v.value === 'string') {
        if (v.value.trim() === '') return void r.d.error(v.pos, xf, 'must not be empty');
        h.test = ['CMD-SHELL', v.value];
        return;
      }
      const list = r.strList(v, xf);
      if (!list) return;
      if (list.length === 0 || !['CMD', 'CMD-SHELL', 'NONE'].includes(list[0])) {
        return void r.d.error(v.pos, xf, 'a test list must start with CMD, CMD-SHELL or NONE');
      }
      if (list[0] === 'NONE') disable = true;
      else if (list.length < 2) r.d.error(v.pos, xf, `${list[0]} needs a command`);
      else h.test = list;
    },
    interval: (x, xf) => (h.interval = r.duration(x.value, xf)),
    timeout: (x, xf) => (h.timeout = r.duration(x.value, xf)),
    start_period: (x, xf) => (h.start_period = r.duration(x.value, xf)),
    retries: (x, xf) => (h.retries = r.int(x.value, xf)),
    disable: (x, xf) => {
      if (r.bool(x.value, xf)) disable = true;
    },
    start_interval: (x, xf) => r.d.warn(x.keyPos, xf, `start_interval ${NOT_YET}`),
  });
  if (disable) return { disable: true };
  for (const k of Object.keys(h) as (keyof HealthcheckSpec)[]) if (h[k] === undefined) delete h[k];
  return h;
}

function restart(r: Reader, n: TNode, f: string): RestartPolicySpec | undefined {
  const base = defaultDeploy().restart_policy;
  // YAML 1.1 readers turn an unquoted `no` into false; accept that too
  if (n.kind === 'scalar' && n.value === false) return { ...base, condition: 'none' };
  const s = n.kind === 'scalar' && typeof n.value === 'string' ? n.value : undefined;
  if (s === 'no') return { ...base, condition: 'none' };
  if (s === 'always' || s === 'unless-stopped') return { ...base, condition: 'any' };
  if (s === 'on-failure') return { ...base, condition: 'on-failure' };
  const m = s === undefined ? null : /^on-failure:(\d+)$/.exec(s);
  if (m) return { ...base, condition: 'on-failure', max_attempts: Number(m[1]) };
  r.d.error(n.pos, f, `must be no, always, on-failure[:N] or unless-stopped, got ${describe(n)}`);
  return undefined;
}

const CONDITIONS = ['service_started', 'service_healthy', 'service_completed_successfully'] as const;

function dependsOn(r: Reader, n: TNode, f: string, declared: Declared, service: string, nodes: Record<string, TNode>): Record<string, DependsOnSpec> {
  const out: Record<string, DependsOnSpec> = {};
  const check = (name: string, pos: Pos, xf: string): boolean => {
    if (name === service) {
      r.d.error(pos, xf, `service ${service} cannot depend on itself`);
      return false;
    }
    if (declared.services.has(name)) return true;
    r.d.error(pos, xf, `service ${service} depends on undefined service "${name}"`);
    return false;
  };
  if (isNull(n)) return out;
  if (n.kind === 'seq') {
    n.items.forEach((it, i) => {
      const xf = fieldIdx(f, i);
      const s = r.str(it, xf);
      if (s !== undefined && check(s, it.pos, xf)) {
        out[s] = { condition: 'service_started', required: true };
        nodes[s] = it;
      }
    });
    return out;
  }
  if (n.kind !== 'map') {
    r.d.error(n.pos, f, `must be a list of service names or a mapping, got ${describe(n)}`);
    return out;
  }
  for (const e of n.entries) {
    const xf = fieldKey(f, e.key);
    if (!check(e.key, e.keyPos, xf)) continue;
    const spec: DependsOnSpec = { condition: 'service_started', required: true };
    const m = r.map(e.value, xf, true);
    if (m) {
      eachKey(r.d, m, xf, {
        condition: (x, yf) => (spec.condition = r.oneOf(x.value, yf, CONDITIONS) ?? spec.condition),
        required: (x, yf) => (spec.required = r.bool(x.value, yf) ?? true),
        restart: (x, yf) => { if (r.bool(x.value, yf)) spec.restart = true; },
      });
    }
    out[e.key] = spec;
    nodes[e.key] = e.value.kind === 'scalar' && e.value.value === null ? ({ ...e.value, pos: e.keyPos } as TNode) : e.value;
  }
  return out;
}

// ---- deploy ----

/** Values of deploy that the spec keeps elsewhere: limits.pids is the service's pids_limit. */
interface DeployExtras {
  pids?: { value: number; node: TNode };
  /** the service's `restart` key was given (a job's default restart condition then stays as it says) */
  restartGiven?: boolean;
}

function deploy(r: Reader, n: TNode, f: string, out: DeploySpec, extras: DeployExtras = {}): void {
  const d = r.d;
  const m = r.map(n, f, true);
  if (!m) return;
  const job: Partial<Record<'maxConcurrent' | 'totalCompletions', { value: number; entry: TEntry }>> = {};
  const jobCount = (x: TEntry, xf: string, which: 'maxConcurrent' | 'totalCompletions') => {
    const v = r.int(x.value, xf);
    if (v === undefined) return;
    if (job[which]) return void d.error(x.keyPos, xf, `${x.key} is given twice (also ${job[which]!.entry.key} at ${posStr(job[which]!.entry.keyPos)})`);
    if (which === 'maxConcurrent' && v < 1) return void d.error(x.value.pos, xf, 'must be at least 1');
    job[which] = { value: v, entry: x };
  };
  eachKey(d, m, f, {
    mode: (x, xf) => (out.mode = r.oneOf(x.value, xf, ['replicated', 'global', 'replicated-job', 'global-job'] as const) ?? out.mode),
    replicas: (x, xf) => (out.replicas = r.int(x.value, xf) ?? out.replicas),
    // a replicated-job's limits: Swarm's MaxConcurrent and TotalCompletions (x- forms pass docker stack deploy)
    'x-max-concurrent': (x, xf) => jobCount(x, xf, 'maxConcurrent'),
    max_concurrent: (x, xf) => jobCount(x, xf, 'maxConcurrent'),
    'x-total-completions': (x, xf) => jobCount(x, xf, 'totalCompletions'),
    total_completions: (x, xf) => jobCount(x, xf, 'totalCompletions'),
    labels: (x, xf) => (out.labels = r.kv(x.value, xf)),
    endpoint_mode: (x, xf) => {
      const v = r.oneOf(x.value, xf, ['vip', 'dnsrr'] as const);
      if (v === 'dnsrr') d.warn(x.value.pos, xf, 'endpoint_mode dnsrr is not supported; the service gets a virtual IP (vip)');
    },
    restart_policy: (x, xf) => {
      const rm = r.map(x.value, xf, true);
      if (!rm) return;
      const rp = out.restart_policy;
      eachKey(d, rm, xf, {
        condition: (y, yf) => (rp.condition = r.oneOf(y.value, yf, ['none', 'on-failure', 'any'] as const) ?? rp.condition),
        delay: (y, yf) => (rp.delay = r.duration(y.value, yf) ?? rp.delay),
        max_attempts: (y, yf) => (rp.max_attempts = r.int(y.value, yf) ?? rp.max_attempts),
        window: (y, yf) => (rp.window = r.duration(y.value, yf) ?? rp.window),
        'x-backoff': (y, yf) => {
          const b = r.oneOf(y.value, yf, ['exponential', 'none'] as const);
          if (b === 'exponential') rp['x-backoff'] = b;
          else if (b === 'none') delete rp['x-backoff'];
        },
        'x-max-delay': (y, yf) => {
          const md = r.duration(y.value, yf);
          if (md !== undefined) rp['x-max-delay'] = md;
        },
      }, (y, yf) => {
        if (!y.key.startsWith('x-')) d.warn(y.keyPos, yf, `unknown key ${y.key}; ignored`);
      });
      if (rp['x-max-delay'] !== undefined && rp['x-backoff'] === undefined) {
        d.warn(rm.pos, xf, 'x-max-delay has no effect without x-backoff: exponential');
      }
    },
    placement: (x, xf) => {
      const pm = r.map(x.value, xf, true);
      if (!pm) return;
      eachKey(d, pm, xf, {
        constraints: (y, yf) => {
          // the syntax of a constraint is the validator's; duplicates (merged files) collapse
          const list = r.strList(y.value, yf) ?? [];
          const have = new Set(out.placement.constraints);
          list.forEach((c, i) => {
            if (have.has(c)) return;
            have.add(c);
            d.origin(fieldIdx(yf, out.placement.constraints.length), y.value.kind === 'seq' ? y.value.items[i] : y.value);
            out.placement.constraints.push(c);
          });
        },
        preferences: (y, yf) => {
          if (isNull(y.value)) return;
          if (y.value.kind !== 'seq') return void d.error(y.value.pos, yf, `must be a list, got ${describe(y.value)}`);
          const have = new Set(out.placement.preferences.map((p) => p.spread));
          y.value.items.forEach((it, i) => {
            const pf = fieldIdx(yf, i);
            const im = r.map(it, pf);
            if (!im) return;
            eachKey(d, im, pf, {
              spread: (z, zf) => {
                const s = r.str(z.value, zf);
                if (s !== undefined && !have.has(s)) {
                  have.add(s);
                  out.placement.preferences.push({ spread: s });
                }
              },
            });
            if (!get(im, 'spread')) d.error(it.pos, pf, 'a placement preference needs spread');
          });
        },
        max_replicas_per_node: (y, yf) => {
          const v = r.int(y.value, yf);
          if (v !== undefined) out.placement.max_replicas_per_node = v;
        },
      });
    },
    resources: (x, xf) => {
      const rm = r.map(x.value, xf, true);
      if (!rm) return;
      const side = (which: 'limits' | 'reservations') => (y: TEntry, yf: string) => {
        const sm = r.map(y.value, yf, true);
        if (!sm) return;
        const res = out.resources[which];
        eachKey(d, sm, yf, {
          cpus: (z, zf) => {
            const v = r.float(z.value, zf);
            if (v !== undefined) res.cpus = v;
          },
          memory: (z, zf) => {
            const v = r.size(z.value, zf, '512M');
            if (v !== undefined) res.memory = v;
          },
          pids: (z, zf) => {
            if (which === 'reservations') return void d.warn(z.keyPos, zf, 'pids is a limit only (deploy.resources.limits.pids); ignored');
            const v = r.int(z.value, zf);
            if (v !== undefined) extras.pids = { value: v, node: z.value };
          },
          devices: (z, zf) => {
            if (which === 'limits') return void d.warn(z.keyPos, zf, 'devices is a reservation (deploy.resources.reservations.devices); ignored');
            const list = deviceRequests(r, z.value, zf, false);
            if (list) pendingDevices.set(out, list);
          },
          generic_resources: (z, zf) => d.warn(z.keyPos, zf, `generic_resources ${NOT_YET}`),
        });
      };
      eachKey(d, rm, xf, { limits: side('limits'), reservations: side('reservations') });
    },
    update_config: (x, xf) => updateConfig(r, x.value, xf, out.update_config),
    rollback_config: (x, xf) => updateConfig(r, x.value, xf, out.rollback_config),
    'x-node-down-grace': (x, xf) => {
      const g = r.duration(x.value, xf);
      if (g !== undefined) out['x-node-down-grace'] = g;
    },
  });
  if (out.mode === 'global' || out.mode === 'global-job') {
    const rep = get(m, 'replicas');
    if (rep && !isNull(rep)) d.error(rep.pos, fieldKey(f, 'replicas'), `replicas cannot be used with mode: ${out.mode}`);
    out.replicas = 1;
  }
  for (const x of Object.values(job)) {
    if (out.mode !== 'replicated-job') d.error(x.entry.keyPos, fieldKey(f, x.entry.key), `${x.entry.key} applies to mode: replicated-job only`);
  }
  if (out.mode === 'replicated-job') {
    const rep = get(m, 'replicas');
    const total = job.totalCompletions;
    if (total && rep && !isNull(rep) && out.replicas !== total.value) {
      d.error(total.entry.keyPos, fieldKey(f, total.entry.key), `${total.entry.key} (${total.value}) and replicas (${out.replicas}) disagree: a replicated-job's replicas are its total completions; give one of them`);
    } else if (total) out.replicas = total.value;
    if (job.maxConcurrent) out['x-max-concurrent'] = job.maxConcurrent.value;
  }
  if (isJobMode(out.mode)) {
    // a job's task that completed is done: it is restarted only on failure, unless told otherwise
    const cond = get(m, 'restart_policy');
    if (!extras.restartGiven && !(cond && cond.kind === 'map' && get(cond, 'condition'))) out.restart_policy.condition = 'on-failure';
    for (const key of ['update_config', 'rollback_config']) {
      const e = m.entries.find((x) => x.key === key);
      if (e) d.warn(e.keyPos, fieldKey(f, key), `${key} does not apply to mode: ${out.mode}: a job whose spec changes runs again from the start`);
    }
  }
}

function updateConfig(r: Reader, n: TNode, f: string, u: UpdateConfigSpec): void {
  const m = r.map(n, f, true);
  if (!m) return;
  eachKey(r.d, m, f, {
    parallelism: (x, xf) => (u.parallelism = r.int(x.value, xf) ?? u.parallelism),
    delay: (x, xf) => (u.delay = r.duration(x.value, xf) ?? u.delay),
    order: (x, xf) => (u.order = r.oneOf(x.value, xf, ['stop-first', 'start-first'] as const) ?? u.order),
    monitor: (x, xf) => (u.monitor = r.duration(x.value, xf) ?? u.monitor),
    max_failure_ratio: (x, xf) => (u.max_failure_ratio = r.float(x.value, xf) ?? u.max_failure_ratio),
    failure_action: (x, xf) => (u.failure_action = r.oneOf(x.value, xf, ['pause', 'continue', 'rollback'] as const) ?? u.failure_action),
  });
}
