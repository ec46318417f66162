// The one validator of the normalised stack model: what the stack-file parser produced, or what
// the HTTP API received as JSON (untrusted). First the structure (the TypeBox schemas of
// schema.ts, compiled once), then the rules a schema cannot say: names, the image reference
// grammar, IP addresses, durations, signals, users, environment keys, cross-references between
// services, networks and volumes, dependency cycles, extension sizes. Errors name the field by
// its dotted path (services.web.ports[0].published); warnings (dangerous bind mounts) never
// refuse the value.

import { isIP } from 'node:net';
import { posix } from 'node:path';
import { Compile } from 'typebox/compile';
import type { Validator } from 'typebox/compile';
import type { TSchema } from 'typebox';
import { DurationError, parseDuration } from '../duration.js';
import type { ErrorDetail } from '../errors.js';
import { SECRETS_DIR, serviceFullName, type ServiceSpec, type StackSpec } from '../spec.js';
import type { DeployObject, DeployObjects } from './types.js';
import { validateConstraint } from './constraint.js';
import { parsePlatform, RUNTIME_RE } from './platform.js';
import { LIMITS } from './limits.js';
import { normaliseHostPath } from './objects.js';
import { SPEC_BOUNDS, ServiceSpecSchema, StackSpecSchema } from './schema.js';

export interface ValidationResult<T> {
  value?: T;
  errors: ErrorDetail[];
  warnings: ErrorDetail[];
}

// ---- names ----

const STACK_NAME_RE = /^[a-z0-9][a-z0-9_-]*$/;
const OBJECT_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Engine network names a stack must never attach tasks to. */
export const RESERVED_NETWORK_NAMES: readonly string[] = ['host', 'bridge', 'none', 'ingress', 'docker_gwbridge'];

/** Names: stack, service, network, volume, secret, config (DNS label rules, LIMITS.nameLength, no '/', not '.'/'..'). Undefined = valid, else the reason. */
export function checkName(kind: 'stack' | 'service' | 'network' | 'volume' | 'secret' | 'config', name: string): string | undefined {
  if (typeof name !== 'string' || name === '') return `${kind} name must not be empty`;
  if (name.length > LIMITS.nameLength) return `${kind} name "${clip(name)}" is ${name.length} characters long; at most ${LIMITS.nameLength}`;
  if (kind === 'stack') {
    if (!STACK_NAME_RE.test(name)) return `"${name}" is not a valid stack name: use lowercase letters, digits, _ and -, starting with a letter or digit`;
    return undefined;
  }
  if (!OBJECT_NAME_RE.test(name) || name.includes('..')) {
    return `invalid ${kind} name "${name}": use letters, digits, _, . and - (starting with a letter or digit; no "/" or "..")`;
  }
  return undefined;
}

const clip = (s: string, n = 40): string => (s.length > n ? `${s.slice(0, n)}...` : s);

// ---- value grammars ----

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?$`);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

/** Docker's image reference grammar: [registry[:port]/]name[:tag][@digest]. Undefined = valid. */
export function checkImageRef(ref: string): string | undefined {
  const bad = (why: string) => `invalid image reference "${clip(ref, 80)}": ${why}`;
  if (ref.length === 0) return 'must not be empty';
  if (ref.length > SPEC_BOUNDS.imageLength) return bad(`longer than ${SPEC_BOUNDS.imageLength} characters`);
  const odd = /[^A-Za-z0-9._:@/[\]-]/.exec(ref);
  if (odd) return bad(`${JSON.stringify(odd[0])} is not allowed (expected [registry[:port]/]name[:tag][@digest])`);
  let rest = ref;
  const at = rest.indexOf('@');
  if (at !== -1) {
    if (!DIGEST_RE.test(rest.slice(at + 1))) return bad('the digest must look like sha256:<hex>');
    rest = rest.slice(0, at);
  }
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    const tag = rest.slice(colon + 1);
    // an empty tag (`name:`, e.g. from an unset ${TAG}) means none, as the engine's default tag
    if (tag !== '' && !TAG_RE.test(tag)) return bad('a tag is up to 128 letters, digits, _, . and - (not starting with . or -)');
    rest = rest.slice(0, colon);
  }
  if (rest === '') return bad('the name is missing');
  if (rest.length > 255) return bad('the name is longer than 255 characters');
  const parts = rest.split('/');
  const first = parts[0];
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || /[A-Z]/.test(first))) {
    if (!DOMAIN_RE.test(first)) return bad(`"${clip(first)}" is not a registry host[:port]`);
    parts.shift();
  }
  for (const p of parts) {
    if (!PATH_COMPONENT_RE.test(p)) {
      return bad(/[A-Z]/.test(p) ? 'the repository name must be lowercase' : 'use lowercase letters, digits and separators (. _ __ -) in [registry[:port]/]name[:tag][@digest]');
    }
  }
  return undefined;
}

const IMAGE_ID_RE = /^sha256:[0-9a-f]{64}$/;

/** An image's ID as the engine gives it (sha256:<64 lowercase hex>, the config digest). Undefined = valid. */
export function checkImageId(id: string): string | undefined {
  return IMAGE_ID_RE.test(id) ? undefined : `invalid image ID "${clip(id, 80)}": expected sha256: and 64 lowercase hex digits (an image's ID, as docker image inspect shows it)`;
}

/** A build's context is a folder (an absolute path: the parser resolves relative ones) or a URL the engine fetches. */
export const BUILD_URL_RE = /^(https?:\/\/|git:\/\/|git@|github\.com\/)/;

function checkBuild(c: Collector, b: Json, field: string): void {
  const at = (k: string) => join(field, k);
  const ctx = str(b, 'context');
  if (ctx !== undefined && !posix.isAbsolute(ctx) && !BUILD_URL_RE.test(ctx)) c.error(at('context'), `must be an absolute folder or a git/http URL, got "${clip(ctx)}"`);
  if (b.dockerfile !== undefined && b.dockerfile_inline !== undefined) c.error(at('dockerfile_inline'), 'give either dockerfile or dockerfile_inline, not both');
  checkKeys(c, b.args, at('args'), 'build argument', true);
  checkKeys(c, b.labels, at('labels'), 'label');
  for (const k of ['cache_from', 'tags'] as const) {
    if (Array.isArray(b[k])) b[k].forEach((r, i) => typeof r === 'string' && c.error(`${at(k)}[${i}]`, checkImageRef(r)));
  }
  if (Array.isArray(b.extra_hosts)) {
    b.extra_hosts.forEach((h, i) => {
      if (typeof h !== 'string') return;
      const colon = h.indexOf(':');
      const ip = colon === -1 ? '' : h.slice(colon + 1);
      if (colon < 1 || !HOSTNAME_RE.test(h.slice(0, colon)) || (ip !== 'host-gateway' && isIP(ip) === 0)) {
        c.error(`${at('extra_hosts')}[${i}]`, `invalid extra host "${clip(h)}": expected host:ip (an IPv4 or IPv6 address, or host-gateway)`);
      }
    });
  }
}

const SIGNALS = new Set([
  'HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'IOT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE', 'ALRM', 'TERM',
  'STKFLT', 'CHLD', 'CLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH', 'IO',
  'POLL', 'PWR', 'SYS', 'RTMIN', 'RTMAX',
]);

/** A signal as Docker reads it: a name (SIGTERM, TERM, SIGRTMIN+3) or a number 1-64. Undefined = valid. */
export function checkSignal(s: string): string | undefined {
  if (/^\d+$/.test(s)) return Number(s) >= 1 && Number(s) <= 64 ? undefined : `signal number ${s} is out of range (1-64)`;
  const name = s.toUpperCase().replace(/^SIG/, '');
  const rt = /^RTMIN\+(\d+)$|^RTMAX-(\d+)$/.exec(name);
  if (rt && Number(rt[1] ?? rt[2]) <= 30) return undefined;
  if (SIGNALS.has(name)) return undefined;
  return `unknown signal "${clip(s)}": use a name such as SIGTERM, SIGINT, SIGQUIT or a number`;
}

const USER_PART = '(?:[A-Za-z_][A-Za-z0-9_.-]{0,31}\\$?|\\d{1,10})';
const USER_RE = new RegExp(`^${USER_PART}(?::${USER_PART})?$`);

/** user[:group], each a name or a numeric id. */
export function checkUser(u: string): string | undefined {
  if (!USER_RE.test(u)) return `invalid user "${clip(u)}": expected user[:group], each a name or a numeric id`;
  for (const id of u.split(':')) if (/^\d+$/.test(id) && Number(id) > 0xfffffffe) return `invalid user "${u}": id ${id} is out of range`;
  return undefined;
}

/** Node labels (`node update --label-add`): bounds, as Docker's rules plus sane lengths. */
export const NODE_LABEL_BOUNDS = { keyLength: 256, valueLength: 4096, perNode: 1000 } as const;
const hasControlChar = (s: string): boolean => [...s].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f);

/** Why `key` is not a node label key, or undefined: non-empty, no "=", no control character, bounded. */
export function checkNodeLabelKey(key: string): string | undefined {
  if (key === '') return 'a label key must not be empty';
  if (key.includes('=')) return `label key "${clip(key)}" must not contain "="`;
  if (hasControlChar(key)) return `label key "${clip(JSON.stringify(key))}" must not contain control characters`;
  if (key.length > NODE_LABEL_BOUNDS.keyLength) return `label key "${clip(key)}" is longer than ${NODE_LABEL_BOUNDS.keyLength} characters`;
  return undefined;
}

/** `KEY=VALUE` or `KEY` (empty value) as a node label, or why it is not one. */
export function parseNodeLabel(kv: string): { key: string; value: string } | string {
  const i = kv.indexOf('=');
  const key = i < 0 ? kv : kv.slice(0, i);
  const value = i < 0 ? '' : kv.slice(i + 1);
  const bad = checkNodeLabelKey(key);
  if (bad) return bad;
  if (hasControlChar(value)) return `the value of label ${clip(key)} must not contain control characters`;
  if (value.length > NODE_LABEL_BOUNDS.valueLength) return `the value of label ${clip(key)} is longer than ${NODE_LABEL_BOUNDS.valueLength} characters`;
  return { key, value };
}

const HOSTNAME_RE = /^(?=.{1,253}$)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/** Host paths whose bind mount gives a task the host (or the engine). */
const DANGEROUS_EXACT = new Set(['/', '/var/run/docker.sock', '/run/docker.sock', '/var/run', '/run', '/var/lib/docker']);
const DANGEROUS_TREES = ['/etc', '/proc', '/sys', '/boot', '/dev', '/root'];

/** Why a bind mount of `source` is dangerous, or undefined. */
export function dangerousBindSource(source: string): string | undefined {
  const p = normaliseHostPath(source);
  if (p.endsWith('docker.sock')) return `bind-mounting ${p} gives the task control of the engine (root on the node)`;
  if (DANGEROUS_EXACT.has(p)) return `bind-mounting ${p} exposes the node's ${p === '/' ? 'whole file system' : p} to the task`;
  const tree = DANGEROUS_TREES.find((t) => p === t || p.startsWith(`${t}/`));
  if (tree) return `bind-mounting ${p} exposes the node's ${tree} to the task`;
  return undefined;
}

// ---- kernel and engine settings of a container ----

/** Linux capabilities as the engine knows them (without the CAP_ prefix). */
const CAPABILITIES = new Set([
  'AUDIT_CONTROL', 'AUDIT_READ', 'AUDIT_WRITE', 'BLOCK_SUSPEND', 'BPF', 'CHECKPOINT_RESTORE', 'CHOWN', 'DAC_OVERRIDE',
  'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'IPC_LOCK', 'IPC_OWNER', 'KILL', 'LEASE', 'LINUX_IMMUTABLE', 'MAC_ADMIN',
  'MAC_OVERRIDE', 'MKNOD', 'NET_ADMIN', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_RAW', 'PERFMON', 'SETFCAP', 'SETGID',
  'SETPCAP', 'SETUID', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_CHROOT', 'SYS_MODULE', 'SYS_NICE', 'SYS_PACCT', 'SYS_PTRACE',
  'SYS_RAWIO', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'SYSLOG', 'WAKE_ALARM',
]);

/** Capabilities that give a task the node (or its kernel). */
const DANGEROUS_CAPABILITIES = new Set(['ALL', 'SYS_ADMIN', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_PTRACE', 'SYS_BOOT', 'DAC_READ_SEARCH', 'BPF']);

/** A capability as written (net_admin, CAP_NET_ADMIN, ALL) -> the engine's name without prefix (NET_ADMIN, ALL). */
export function normaliseCapability(cap: string): string {
  const u = cap.toUpperCase();
  return u.startsWith('CAP_') ? u.slice(4) : u;
}

/** Why a capability name is not one, or undefined. */
export function checkCapability(cap: string): string | undefined {
  const n = normaliseCapability(cap);
  if (n === 'ALL' || CAPABILITIES.has(n)) return undefined;
  return `unknown capability "${clip(cap)}": use a name such as NET_ADMIN or CAP_NET_ADMIN, or ALL`;
}

/** ulimit names the engine accepts. */
export const ULIMIT_NAMES: readonly string[] = [
  'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack',
];

/** Log drivers whose logs the engine can read back (what `tsswarm service logs` shows). */
export const READABLE_LOG_DRIVERS: readonly string[] = ['json-file', 'local', 'journald'];

/** Sysctls the engine accepts in a container's namespaces (Docker's list). */
const NAMESPACED_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);
const SYSCTL_RE = /^[a-zA-Z0-9_]+(?:\.[a-zA-Z0-9_-]+)+$/;
const DEVICE_PERMS_RE = /^(?!.*(.).*\1)[rwm]{1,3}$/;
const SECURITY_OPT_RE = /^(?:no-new-privileges(?:[=:](?:true|false))?|(?:label|apparmor|seccomp)[=:].+|systempaths=unconfined)$/s;
const DNS_OPT_RE = /^[a-zA-Z0-9_-]+(?::\S+)?$/;
const LOG_DRIVER_RE = /^[a-zA-Z0-9][a-zA-Z0-9_./:-]*$/;
const GROUP_RE = new RegExp(`^${USER_PART}$`);

// ---- structure ----

interface Compiled {
  stack: Validator;
  service: Validator;
}
let compiled: Compiled | undefined;
const validators = (): Compiled => (compiled ??= { stack: Compile(StackSpecSchema), service: Compile(ServiceSpecSchema) });

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const own = (o: Json, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function describe(v: unknown): string {
  if (v === REDACTED) return 'a value not shown';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `"${clip(v)}"`;
  return `${typeof v} ${String(v)}`;
}

const join = (field: string, key: string): string => (field ? `${field}.${key}` : key);

/** JSON pointer of an instance -> dotted field path (arrays as [i]); walks the value to tell arrays from records. */
function pointerToField(root: unknown, pointer: string, prefix: string): { field: string; value: unknown } {
  let field = prefix;
  let cur: unknown = root;
  if (pointer === '') return { field, value: cur };
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      field = `${field}[${seg}]`;
      cur = cur[Number(seg)];
    } else {
      field = join(field, seg);
      cur = isObj(cur) && own(cur, seg) ? cur[seg] : undefined;
    }
  }
  return { field, value: cur };
}

function schemaAt(root: TSchema, pointer: string): Record<string, unknown> | undefined {
  let cur: unknown = root;
  for (const raw of pointer.replace(/^#\/?/, '').split('/')) {
    if (raw === '') continue;
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    cur = isObj(cur) ? cur[seg] : undefined;
  }
  return isObj(cur) ? cur : undefined;
}

const TYPE_NAMES: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'a boolean (true or false)',
  object: 'an object',
  array: 'a list',
  null: 'null',
};

/** services.<name>.environment.<KEY> (or a lone service spec's environment.<KEY>). */
const ENV_VALUE_RE = /(^|\.)environment\./;
/** What describe() says of a value that must not be shown. */
const REDACTED = Symbol('redacted');

function structural(v: Validator, schema: TSchema, input: unknown, prefix: string): ErrorDetail[] {
  if (v.Check(input)) return [];
  const out: ErrorDetail[] = [];
  const seen = new Set<string>();
  const push = (field: string, message: string) => {
    if (seen.has(field)) return;
    seen.add(field);
    out.push(field ? { field, message } : { message });
  };
  const errors = v.Errors(input);
  // a union's own error only when none of its branches said something more precise
  const anyOf = new Map<string, string[]>();
  for (const e of errors) {
    const at = pointerToField(input, e.instancePath, prefix);
    const field = at.field;
    // An environment value may be a password: a message never quotes it.
    const value = ENV_VALUE_RE.test(field) ? REDACTED : at.value;
    const params = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'required':
        for (const p of params.requiredProperties as string[]) push(join(field, p), 'is required');
        break;
      case 'additionalProperties':
        for (const p of params.additionalProperties as string[]) push(join(field, p), `unknown field ${p}`);
        break;
      case 'boolean': // the "false" schema behind additionalProperties: reported above
        break;
      case 'type':
        push(field, `must be ${TYPE_NAMES[String(params.type)] ?? String(params.type)}, got ${describe(value)}`);
        break;
      case 'enum':
        push(field, `must be one of ${(params.allowedValues as unknown[]).join(', ')}, got ${describe(value)}`);
        break;
      case 'const': {
        const list = anyOf.get(field) ?? [];
        list.push(String(params.allowedValue));
        anyOf.set(field, list);
        break;
      }
      case 'anyOf': {
        const list = anyOf.get(field);
        push(field, list ? `must be one of ${list.join(', ')}, got ${describe(value)}` : `has an invalid form, got ${describe(value)}`);
        break;
      }
      case 'minimum':
      case 'exclusiveMinimum':
        push(field, `must be >= ${String(params.limit)}, got ${String(value)}`);
        break;
      case 'maximum':
      case 'exclusiveMaximum': {
        const s = schemaAt(schema, e.schemaPath);
        const min = s?.minimum;
        push(field, typeof min === 'number' ? `must be between ${min} and ${String(params.limit)}, got ${String(value)}` : `must be <= ${String(params.limit)}, got ${String(value)}`);
        break;
      }
      case 'minLength':
        push(field, params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters long`);
        break;
      case 'maxLength':
        push(field, `must be at most ${String(params.limit)} characters long, got ${typeof value === 'string' ? value.length : '?'}`);
        break;
      case 'minItems':
        push(field, `must have at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}`);
        break;
      case 'maxItems':
        push(field, `must have at most ${String(params.limit)} items, got ${Array.isArray(value) ? value.length : '?'}`);
        break;
      case 'maxProperties':
        push(field, `must have at most ${String(params.limit)} entries, got ${isObj(value) ? Object.keys(value).length : '?'}`);
        break;
      default:
        push(field, e.message);
    }
  }
  if (out.length === 0) out.push(prefix ? { field: prefix, message: 'is invalid' } : { message: 'is invalid' });
  return out;
}

// ---- semantic rules ----

class Collector {
  readonly errors: ErrorDetail[] = [];
  readonly warnings: ErrorDetail[] = [];
  constructor(private readonly structuralFields: Set<string>) {}

  error(field: string, message: string | undefined): void {
    if (message === undefined || this.structuralFields.has(field)) return;
    this.errors.push(field ? { field, message } : { message });
  }

  warn(field: string, message: string): void {
    this.warnings.push({ field, message });
  }
}

const str = (o: Json, k: string): string | undefined => (own(o, k) && typeof o[k] === 'string' ? (o[k] as string) : undefined);

function checkDuration(c: Collector, o: Json, k: string, field: string): void {
  const s = str(o, k);
  if (s === undefined) return;
  const f = join(field, k);
  let ms: number;
  try {
    ms = parseDuration(s);
  } catch (e) {
    if (!(e instanceof DurationError)) throw e;
    return c.error(f, e.message);
  }
  if (ms > SPEC_BOUNDS.durationMs) c.error(f, `must be at most 8760h (a year), got ${clip(s)}`);
}

function checkExtensions(c: Collector, ext: unknown, field: string): void {
  if (!isObj(ext)) return;
  let values = 0;
  const walk = (v: unknown, f: string, depth: number): boolean => {
    if (depth > SPEC_BOUNDS.extensionDepth) {
      c.error(f, `nested deeper than ${SPEC_BOUNDS.extensionDepth} levels`);
      return false;
    }
    if (++values > SPEC_BOUNDS.extensionValues) {
      c.error(field, `extension fields hold more than ${SPEC_BOUNDS.extensionValues} values`);
      return false;
    }
    if (typeof v === 'string') {
      if (v.length > LIMITS.stringLength) c.error(f, `must be at most ${LIMITS.stringLength} characters long, got ${v.length}`);
      return true;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) c.error(f, 'must be a finite number');
      return true;
    }
    if (v === null || typeof v === 'boolean') return true;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (!walk(v[i], `${f}[${i}]`, depth + 1)) return false;
      return true;
    }
    if (isObj(v)) {
      for (const [k, x] of Object.entries(v)) if (!walk(x, join(f, k), depth + 1)) return false;
      return true;
    }
    c.error(f, `must be JSON (string, number, boolean, null, list or object), got ${typeof v}`);
    return true;
  };
  for (const [k, v] of Object.entries(ext)) {
    if (!k.startsWith('x-')) c.error(join(field, k), 'extension fields are named x-*');
    if (!walk(v, join(field, k), 1)) return;
  }
}

function checkKeys(c: Collector, o: unknown, field: string, what: string, envKeys = false): void {
  if (!isObj(o)) return;
  for (const [k, v] of Object.entries(o)) {
    const f = join(field, k);
    if (k === '') c.error(field, `${what} names must not be empty`);
    else if (k.length > 4096) c.error(field, `${what} name "${clip(k)}" is longer than 4096 characters`);
    else if (envKeys && k.includes('=')) c.error(f, `${what} name "${clip(k)}" must not contain "="`);
    else if (k.includes('\0')) c.error(field, `${what} name "${clip(k)}" must not contain a NUL character`);
    if (typeof v === 'string' && v.includes('\0')) c.error(f, 'must not contain a NUL character');
  }
}

interface StackContext {
  stack: string;
  networks: Json;
  volumes: Json;
  services: Json;
}

function checkService(c: Collector, s: unknown, field: string, name: string | undefined, ctx: StackContext | undefined): void {
  if (!isObj(s)) return;
  const image = str(s, 'image');
  if (image !== undefined) c.error(join(field, 'image'), checkImageRef(image));
  const imageId = str(s, 'image_id');
  if (imageId !== undefined) c.error(join(field, 'image_id'), checkImageId(imageId));
  if (isObj(s.build)) checkBuild(c, s.build, join(field, 'build'));
  for (const k of ['command', 'entrypoint'] as const) {
    const list = s[k];
    if (Array.isArray(list)) list.forEach((a, i) => typeof a === 'string' && a.includes('\0') && c.error(`${join(field, k)}[${i}]`, 'must not contain a NUL character'));
  }
  checkKeys(c, s.environment, join(field, 'environment'), 'environment variable', true);
  checkKeys(c, s.labels, join(field, 'labels'), 'label');
  const user = str(s, 'user');
  if (user !== undefined) c.error(join(field, 'user'), checkUser(user));
  const wd = str(s, 'working_dir');
  if (wd !== undefined && !wd.startsWith('/')) c.error(join(field, 'working_dir'), `must be an absolute path, got "${clip(wd)}"`);
  const sig = str(s, 'stop_signal');
  if (sig !== undefined) c.error(join(field, 'stop_signal'), checkSignal(sig));
  checkDuration(c, s, 'stop_grace_period', field);
  const host = str(s, 'hostname');
  if (host !== undefined && !HOSTNAME_RE.test(host)) c.error(join(field, 'hostname'), `invalid hostname "${clip(host)}": use letters, digits, - and dots (RFC 1123)`);

  if (Array.isArray(s.ports)) {
    const published = new Map<string, number>();
    s.ports.forEach((p, i) => {
      if (!isObj(p)) return;
      const pf = `${join(field, 'ports')}[${i}]`;
      const ip = str(p, 'host_ip');
      if (ip !== undefined && isIP(ip) === 0) c.error(join(pf, 'host_ip'), `"${clip(ip)}" is not an IPv4 or IPv6 address`);
      if (typeof p.published === 'number') {
        const key = `${p.published}/${String(p.protocol)}@${ip ?? ''}`;
        const prev = published.get(key);
        if (prev !== undefined && (s.ports as Json[])[prev].target !== p.target) {
          c.error(join(pf, 'published'), `port ${p.published}/${String(p.protocol)} is published twice (also ports[${prev}])`);
        } else published.set(key, i);
      }
    });
  }

  if (Array.isArray(s.volumes)) {
    const targets = new Map<string, number>();
    s.volumes.forEach((m, i) => {
      if (!isObj(m)) return;
      const mf = `${join(field, 'volumes')}[${i}]`;
      const target = str(m, 'target');
      const source = str(m, 'source');
      if (target !== undefined) {
        if (!target.startsWith('/')) c.error(join(mf, 'target'), `must be an absolute path, got "${clip(target)}"`);
        else if (posix.normalize(target) === '/') c.error(join(mf, 'target'), 'cannot mount over /');
        const prev = targets.get(target);
        if (prev !== undefined) c.error(join(mf, 'target'), `duplicate mount target ${clip(target)} (also volumes[${prev}])`);
        else targets.set(target, i);
      }
      for (const k of ['volume', 'bind', 'tmpfs']) {
        if (own(m, k) && m.type !== k && typeof m.type === 'string') c.error(join(mf, k), `${k} options apply to a mount of type ${k}, not ${m.type}`);
      }
      if (m.type === 'bind') {
        if (source === undefined) c.error(join(mf, 'source'), 'a bind mount needs a source path');
        else if (!source.startsWith('/')) c.error(join(mf, 'source'), `a bind source must be an absolute path, got "${clip(source)}"`);
        else {
          const why = dangerousBindSource(source);
          if (why) c.warn(join(mf, 'source'), why);
        }
      } else if (m.type === 'tmpfs') {
        if (source !== undefined) c.error(join(mf, 'source'), 'a tmpfs mount has no source');
      } else if (m.type === 'volume' && source !== undefined) {
        if (ctx) {
          if (!own(ctx.volumes, source)) c.error(join(mf, 'source'), `service ${name} uses volume "${clip(source)}", which is not declared in the top-level volumes section`);
        } else {
          c.error(join(mf, 'source'), checkName('volume', source));
        }
      }
    });
  }

  if (isObj(s.networks)) {
    for (const [n, spec] of Object.entries(s.networks)) {
      const nf = join(join(field, 'networks'), n);
      if (ctx) {
        if (!own(ctx.networks, n)) c.error(nf, `service ${name} uses network "${clip(n)}", which is not declared in the top-level networks section`);
      } else c.error(nf, checkName('network', n));
      if (isObj(spec) && Array.isArray(spec.aliases)) {
        spec.aliases.forEach((a, i) => {
          if (typeof a === 'string' && !HOSTNAME_RE.test(a)) c.error(`${join(nf, 'aliases')}[${i}]`, `invalid alias "${clip(a)}": use letters, digits, - and dots`);
        });
      }
    }
  }

  if (isObj(s.healthcheck)) {
    const hf = join(field, 'healthcheck');
    const h = s.healthcheck;
    for (const k of ['interval', 'timeout', 'start_period']) checkDuration(c, h, k, hf);
    if (Array.isArray(h.test) && h.test.length > 0) {
      const kind = h.test[0];
      if (kind !== 'CMD' && kind !== 'CMD-SHELL' && kind !== 'NONE') c.error(join(hf, 'test'), 'a test list must start with CMD, CMD-SHELL or NONE');
      else if (kind !== 'NONE' && h.test.length < 2) c.error(join(hf, 'test'), `${String(kind)} needs a command`);
    }
  }

  if (isObj(s.depends_on)) {
    for (const dep of Object.keys(s.depends_on)) {
      const df = join(join(field, 'depends_on'), dep);
      if (dep === name) c.error(df, `service ${name} cannot depend on itself`);
      else if (ctx && !own(ctx.services, dep)) c.error(df, `service ${name} depends on undefined service "${clip(dep)}"`);
      else if (ctx && isObj(s.depends_on[dep]) && s.depends_on[dep].condition === 'service_completed_successfully') {
        const other = ctx.services[dep];
        const od = isObj(other) && isObj(other.deploy) ? other.deploy : undefined;
        const jobMode = od?.mode === 'replicated-job' || od?.mode === 'global-job';
        if (od && !jobMode && isObj(od.restart_policy) && od.restart_policy.condition === 'any') {
          c.warn(join(df, 'condition'), `service ${dep} is restarted whenever it exits (restart_policy condition any): it never stays completed, so ${name} would wait for ever; make ${dep} a job (deploy.mode: replicated-job) or give it restart: "no"`);
        }
      }
    }
  }

  if (isObj(s.deploy)) {
    const df = join(field, 'deploy');
    const d = s.deploy;
    checkKeys(c, d.labels, join(df, 'labels'), 'label');
    if (isObj(d.restart_policy)) {
      const rf = join(df, 'restart_policy');
      for (const k of ['delay', 'window', 'x-max-delay']) checkDuration(c, d.restart_policy, k, rf);
    }
    checkDuration(c, d, 'x-node-down-grace', df);
    if (d['x-max-concurrent'] !== undefined && d.mode !== 'replicated-job') c.error(join(df, 'x-max-concurrent'), `applies to mode: replicated-job only, not ${String(d.mode)}`);
    for (const u of ['update_config', 'rollback_config']) {
      const uc = d[u];
      if (isObj(uc)) for (const k of ['delay', 'monitor']) checkDuration(c, uc, k, join(df, u));
    }
    if (isObj(d.placement) && Array.isArray(d.placement.constraints)) {
      d.placement.constraints.forEach((x, i) => {
        if (typeof x === 'string') c.error(`${join(df, 'placement.constraints')}[${i}]`, validateConstraint(clip(x)));
      });
    }
  }
  checkContainerSettings(c, s, field);
  checkObjectRefs(c, s, field);
  checkExtensions(c, s.extensions, join(field, 'extensions'));
}

// ---- secrets and configs ----

/** Why the file target of a secret or config is not one, or undefined. */
export function checkObjectTarget(kind: 'secret' | 'config', target: string): string | undefined {
  if (target.includes('\0')) return 'must not contain a NUL character';
  if (target.length > SPEC_BOUNDS.pathLength) return `must be at most ${SPEC_BOUNDS.pathLength} characters long, got ${target.length}`;
  if (target.split('/').includes('..')) return `"${clip(target)}" holds a ".." segment`;
  if (kind === 'config' && !target.startsWith('/')) return `must be an absolute path, got "${clip(target)}"`;
  if (target.endsWith('/') || target.split('/').every((seg) => seg === '' || seg === '.')) return `must name a file, got "${clip(target)}"`;
  return undefined;
}

/** The path a task sees a secret or config at: a secret's bare file name is under /run/secrets. */
export const objectFilePath = (kind: 'secret' | 'config', target: string): string =>
  posix.normalize(kind === 'secret' && !target.startsWith('/') ? `${SECRETS_DIR}/${target}` : target);

const NUMERIC_ID_RE = /^\d{1,10}$/;

/** A service's `secrets` and `configs`: names, targets (no two at one path, none under a mount), uid, gid. */
function checkObjectRefs(c: Collector, s: Json, field: string): void {
  const paths = new Map<string, string>();
  for (const kind of ['secret', 'config'] as const) {
    const list = s[`${kind}s`];
    if (!Array.isArray(list)) continue;
    list.forEach((ref, i) => {
      if (!isObj(ref)) return;
      const rf = `${join(field, `${kind}s`)}[${i}]`;
      const source = str(ref, 'source');
      if (source !== undefined) c.error(join(rf, 'source'), checkName(kind, source));
      const target = str(ref, 'target');
      if (target !== undefined) {
        const bad = checkObjectTarget(kind, target);
        c.error(join(rf, 'target'), bad);
        const path = objectFilePath(kind, target);
        const prev = paths.get(path);
        if (!bad && prev !== undefined) c.error(join(rf, 'target'), `${path} is also the file of ${prev}`);
        else if (!bad) paths.set(path, `${kind}s[${i}]`);
      }
      for (const k of ['uid', 'gid']) {
        const id = str(ref, k);
        if (id !== undefined && (!NUMERIC_ID_RE.test(id) || Number(id) > 0xfffffffe)) c.error(join(rf, k), `must be a numeric id (such as "0" or "1000"), got "${clip(id)}"`);
      }
    });
  }
}

/** The largest base64 text of a value of `max` bytes. */
const base64Length = (max: number): number => Math.ceil(max / 3) * 4;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Bytes a base64 text decodes to (it must be valid). */
export const base64Size = (b64: string): number => (b64.length / 4) * 3 - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);

/** The bound of a secret's value or a config's content. */
export const objectBytes = (kind: 'secret' | 'config'): number => (kind === 'secret' ? LIMITS.secretBytes : LIMITS.configBytes);

/**
 * Why `data` is not the base64 of a value a secret (config) may hold: 1 byte to
 * LIMITS.secretBytes (configBytes), as Swarm's. Never quotes the data.
 */
export function checkObjectData(kind: 'secret' | 'config', data: unknown): string | undefined {
  const max = objectBytes(kind);
  const what = kind === 'secret' ? 'value' : 'content';
  if (typeof data !== 'string') return `must be the ${what} in base64 (a string), got ${data === null ? 'null' : Array.isArray(data) ? 'a list' : typeof data}`;
  if (data.length > base64Length(max)) return `the ${what} is over ${max} bytes (${max / 1024} KiB, the bound of a ${kind})`;
  if (!BASE64_RE.test(data)) return `must be the ${what} in base64 (A-Z, a-z, 0-9, +, / and = padding)`;
  const n = base64Size(data);
  if (n === 0) return `the ${what} is empty: a ${kind} holds 1 to ${max} bytes`;
  if (n > max) return `the ${what} is ${n} bytes; a ${kind} holds at most ${max} bytes (${max / 1024} KiB)`;
  return undefined;
}

/** Labels of a secret or config: a mapping of strings, bounded as a service's. */
function checkObjectLabels(c: Collector, labels: unknown, field: string): void {
  if (labels === undefined) return;
  if (!isObj(labels)) return c.error(field, `must be a mapping of strings, got ${describe(labels)}`);
  const keys = Object.keys(labels);
  if (keys.length > LIMITS.entriesPerService) return c.error(field, `must have at most ${LIMITS.entriesPerService} entries, got ${keys.length}`);
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== 'string') c.error(join(field, k), `must be a string, got ${describe(v)}`);
    else if (v.length > LIMITS.stringLength) c.error(join(field, k), `must be at most ${LIMITS.stringLength} characters long, got ${v.length}`);
  }
  checkKeys(c, labels, field, 'label');
}

/** `secret create` / `config create` (and update, without a name): what a client sent. */
export function validateObjectRequest(kind: 'secret' | 'config', input: { name?: unknown; data?: unknown; labels?: unknown }, withName: boolean): ErrorDetail[] {
  const c = new Collector(new Set());
  if (withName) c.error('name', typeof input.name === 'string' ? checkName(kind, input.name) : 'is required');
  c.error('data', checkObjectData(kind, input.data));
  checkObjectLabels(c, input.labels, 'labels');
  return c.errors;
}

/**
 * The secrets (or configs) a deploy request carries, by stored name: `{ data, labels? }` or
 * `{ external: true }`. Errors name the field and never quote a value.
 */
export function validateDeployObjects(kind: 'secret' | 'config', input: unknown, field = `${kind}s`): ValidationResult<DeployObjects> {
  const c = new Collector(new Set());
  if (input === undefined || input === null) return { value: {}, errors: [], warnings: [] };
  if (!isObj(input)) {
    c.error(field, `must be a mapping of ${kind} names to { data, labels } or { external: true }, got ${describe(input)}`);
    return { errors: c.errors, warnings: [] };
  }
  const names = Object.keys(input);
  if (names.length > LIMITS.resourcesPerStack) c.error(field, `must have at most ${LIMITS.resourcesPerStack} entries, got ${names.length}`);
  else {
    for (const [name, o] of Object.entries(input)) {
      const f = join(field, name);
      const bad = checkName(kind, name);
      if (bad) { c.error(f, bad); continue; }
      if (!isObj(o)) { c.error(f, `must be { data, labels } or { external: true }, got ${describe(o)}`); continue; }
      if (own(o, 'external')) {
        if (o.external !== true) c.error(join(f, 'external'), 'must be true (leave it out for a value the deploy carries)');
        for (const k of Object.keys(o)) if (k !== 'external') c.error(join(f, k), `an external ${kind} takes no ${k}`);
        continue;
      }
      for (const k of Object.keys(o)) if (k !== 'data' && k !== 'labels') c.error(join(f, k), `unknown field ${k}`);
      if (!own(o, 'data')) c.error(join(f, 'data'), 'is required');
      else c.error(join(f, 'data'), checkObjectData(kind, o.data));
      checkObjectLabels(c, o.labels, join(f, 'labels'));
    }
  }
  return c.errors.length ? { errors: c.errors, warnings: [] } : { value: input as Record<string, DeployObject>, errors: [], warnings: [] };
}

const strings = (v: unknown): [string, number][] => (Array.isArray(v) ? v.map((x, i) => [x, i] as [unknown, number]).filter((p): p is [string, number] => typeof p[0] === 'string') : []);

/** Capabilities, devices, sysctls, ulimits, DNS, hosts, logging, network_mode: what the engine would refuse, and what gives a task its node. */
function checkContainerSettings(c: Collector, s: Json, field: string): void {
  const at = (k: string) => join(field, k);
  const idx = (k: string, i: number) => `${at(k)}[${i}]`;
  for (const k of ['cap_add', 'cap_drop'] as const) {
    for (const [cap, i] of strings(s[k])) {
      c.error(idx(k, i), checkCapability(cap));
      if (k === 'cap_add' && DANGEROUS_CAPABILITIES.has(normaliseCapability(cap))) {
        c.warn(idx(k, i), `cap_add ${normaliseCapability(cap)} gives the task control of its node`);
      }
    }
  }
  if (s.privileged === true) c.warn(at('privileged'), 'a privileged task has every capability and every device of its node: it controls the node');
  for (const [opt, i] of strings(s.security_opt)) {
    const f = idx('security_opt', i);
    if (!SECURITY_OPT_RE.test(opt)) c.error(f, `invalid security option "${clip(opt)}": expected label=..., apparmor=..., seccomp=..., no-new-privileges[=true|false] or systempaths=unconfined`);
    else if (/^seccomp[=:]/.test(opt) && !/^seccomp[=:](unconfined|\s*\{)/s.test(opt)) {
      c.error(f, `"${clip(opt)}": a seccomp profile is given as its JSON text (or unconfined), not as a file path`);
    } else if (/^(seccomp|apparmor)[=:]unconfined$|^label[=:]disable$|^systempaths=unconfined$/.test(opt)) {
      c.warn(f, `${opt} lifts a protection of the node from the task`);
    }
  }
  if (Array.isArray(s.devices)) {
    s.devices.forEach((d, i) => {
      if (!isObj(d)) return;
      const f = idx('devices', i);
      const src = str(d, 'source');
      const dst = str(d, 'target');
      const perms = str(d, 'permissions');
      if (src !== undefined && !src.startsWith('/')) c.error(join(f, 'source'), `must be an absolute path on the node, got "${clip(src)}"`);
      if (dst !== undefined && !dst.startsWith('/')) c.error(join(f, 'target'), `must be an absolute path in the container, got "${clip(dst)}"`);
      if (perms !== undefined && !DEVICE_PERMS_RE.test(perms)) c.error(join(f, 'permissions'), `must be some of r, w and m (such as rwm or r), got "${clip(perms)}"`);
      if (src !== undefined) c.warn(f, `device ${clip(src)} gives the task direct access to the node's hardware`);
    });
  }
  for (const [g, i] of strings(s.group_add)) {
    if (!GROUP_RE.test(g) || (/^\d+$/.test(g) && Number(g) > 0xfffffffe)) c.error(idx('group_add', i), `invalid group "${clip(g)}": expected a group name or a numeric id`);
  }
  const hostNet = s.network_mode === 'host';
  if (isObj(s.sysctls)) {
    checkKeys(c, s.sysctls, at('sysctls'), 'sysctl');
    for (const k of Object.keys(s.sysctls)) {
      const f = join(at('sysctls'), k);
      if (!SYSCTL_RE.test(k)) c.error(f, `invalid sysctl name "${clip(k)}": expected e.g. net.core.somaxconn`);
      else if (!NAMESPACED_SYSCTLS.has(k) && !k.startsWith('net.') && !k.startsWith('fs.mqueue.')) {
        c.error(f, `sysctl ${clip(k)} is not namespaced: a container may set only net.*, fs.mqueue.*, kernel.msg*, kernel.sem and kernel.shm* (others would change the node)`);
      } else if (hostNet && k.startsWith('net.')) c.error(f, `sysctl ${clip(k)} would change the node's own network settings: not allowed with network_mode: host`);
    }
  }
  if (isObj(s.ulimits)) {
    for (const [name, u] of Object.entries(s.ulimits)) {
      const f = join(at('ulimits'), name);
      if (!ULIMIT_NAMES.includes(name)) c.error(f, `unknown ulimit "${clip(name)}": one of ${ULIMIT_NAMES.join(', ')}`);
      else if (isObj(u) && typeof u.soft === 'number' && typeof u.hard === 'number') {
        const inf = (n: number) => (n === -1 ? Infinity : n);
        if (inf(u.soft) > inf(u.hard)) c.error(f, `the soft limit (${u.soft}) must not be above the hard limit (${u.hard})`);
      }
    }
  }
  const mountTargets = new Set(Array.isArray(s.volumes) ? s.volumes.map((m) => (isObj(m) ? m.target : undefined)) : []);
  for (const [t, i] of strings(s.tmpfs)) {
    const f = idx('tmpfs', i);
    const path = t.split(':')[0];
    if (!path.startsWith('/')) c.error(f, `must be an absolute path (path[:options]), got "${clip(t)}"`);
    else if (posix.normalize(path) === '/') c.error(f, 'cannot mount over /');
    else if (mountTargets.has(path)) c.error(f, `${clip(path)} is also the target of a volume`);
  }
  for (const [h, i] of strings(s.extra_hosts)) {
    const colon = h.indexOf(':');
    const host = colon === -1 ? h : h.slice(0, colon);
    const ip = colon === -1 ? '' : h.slice(colon + 1);
    if (!HOSTNAME_RE.test(host) || (ip !== 'host-gateway' && isIP(ip) === 0)) {
      c.error(idx('extra_hosts', i), `invalid extra host "${clip(h)}": expected host:ip (an IPv4 or IPv6 address, or host-gateway)`);
    }
  }
  for (const [ip, i] of strings(s.dns)) if (isIP(ip) === 0) c.error(idx('dns', i), `"${clip(ip)}" is not an IPv4 or IPv6 address`);
  for (const [d, i] of strings(s.dns_search)) if (d !== '.' && !HOSTNAME_RE.test(d)) c.error(idx('dns_search', i), `invalid search domain "${clip(d)}"`);
  for (const [o, i] of strings(s.dns_opt)) if (!DNS_OPT_RE.test(o)) c.error(idx('dns_opt', i), `invalid resolver option "${clip(o)}": expected e.g. ndots:2 or use-vc`);
  if (isObj(s.logging)) {
    const f = at('logging');
    const driver = str(s.logging, 'driver');
    checkKeys(c, s.logging.options, join(f, 'options'), 'option');
    if (driver !== undefined) {
      if (!LOG_DRIVER_RE.test(driver)) c.error(join(f, 'driver'), `invalid log driver "${clip(driver)}"`);
      else if (!READABLE_LOG_DRIVERS.includes(driver)) {
        c.warn(join(f, 'driver'), `with log driver ${clip(driver)}, tsswarm service logs shows nothing (it reads ${READABLE_LOG_DRIVERS.join(', ')})`);
      }
    }
  }
  checkNamespacesAndLimits(c, s, field);
  const mode = str(s, 'network_mode');
  if (mode === 'host' || mode === 'none') {
    if (mode === 'host') c.warn(at('network_mode'), 'network_mode: host gives the task the node\'s network stack (every interface and port of the node)');
    if (isObj(s.networks) && Object.keys(s.networks).length > 0) {
      c.error(at('networks'), `a service with network_mode: ${mode} cannot join networks; drop its networks section`);
    }
    if (Array.isArray(s.ports)) {
      s.ports.forEach((p, i) => {
        if (!isObj(p)) return;
        const f = idx('ports', i);
        if (mode === 'none') c.error(f, 'a service with network_mode: none has no network: it cannot publish ports');
        else if (p.mode !== 'host') c.error(join(f, 'mode'), 'a service on the host network (network_mode: host) cannot publish ports through the ingress: use mode: host (published equal to target) or drop the port');
        else if (p.published === undefined) c.error(f, `on the host network a task listens on the node's own ports: give published (equal to target, ${String(p.target)}) so that no other task takes it`);
        else if (p.published !== p.target) {
          c.error(join(f, 'published'), `on the host network a task listens on the node's own ports: published (${String(p.published)}) must equal target (${String(p.target)})`);
        }
      });
    }
  }
}

const CPUSET_RE = /^\d{1,4}(?:-\d{1,4})?(?:,\d{1,4}(?:-\d{1,4})?)*$/;
const CGROUP_RULE_RE = /^[abc] (?:\d{1,10}|\*):(?:\d{1,10}|\*) (?!.*(.).*\1)[rwm]{1,3}$/;
const STORAGE_OPT_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Namespaces, CPU and memory tuning, block I/O, storage options, annotations. */
function checkNamespacesAndLimits(c: Collector, s: Json, field: string): void {
  const at = (k: string) => join(field, k);
  if (s.pid === 'host') c.warn(at('pid'), 'pid: host lets the task see and signal every process of its node');
  if (s.ipc === 'host') c.warn(at('ipc'), 'ipc: host shares the node\'s shared memory and semaphores with the task');
  if (s.userns_mode === 'host') c.warn(at('userns_mode'), 'userns_mode: host runs the task without the node\'s user namespace remapping: its root is the node\'s root');
  if (s.uts === 'host') {
    for (const k of ['hostname', 'domainname']) if (own(s, k)) c.error(at(k), `with uts: host the task has its node's ${k === 'hostname' ? 'host name' : 'domain name'}: drop ${k} or uts`);
  }
  const dom = str(s, 'domainname');
  if (dom !== undefined && !HOSTNAME_RE.test(dom)) c.error(at('domainname'), `invalid domain name "${clip(dom)}": use letters, digits, - and dots (RFC 1123)`);
  const cpuset = str(s, 'cpuset');
  if (cpuset !== undefined && !CPUSET_RE.test(cpuset)) c.error(at('cpuset'), `invalid cpuset "${clip(cpuset)}": expected CPU numbers and ranges such as 0-3 or 0,2`);
  else if (cpuset !== undefined) {
    for (const part of cpuset.split(',')) {
      const [a, b] = part.split('-').map(Number);
      if (b !== undefined && b < a) c.error(at('cpuset'), `invalid cpuset "${clip(cpuset)}": the range ${part} ends before it starts`);
    }
  }
  if (typeof s.cpu_quota === 'number' && s.cpu_quota !== -1 && s.cpu_quota < 1000) c.error(at('cpu_quota'), `must be -1 (unlimited) or at least 1000 microseconds, got ${s.cpu_quota}`);
  const limits = isObj(s.deploy) && isObj(s.deploy.resources) && isObj(s.deploy.resources.limits) ? s.deploy.resources.limits : {};
  for (const k of ['cpu_period', 'cpu_quota']) {
    if (typeof s[k] === 'number' && typeof limits.cpus === 'number' && limits.cpus > 0) {
      c.error(at(k), `${k} and a CPU limit (cpus or deploy.resources.limits.cpus) cannot both be set: the engine takes one way to limit CPU; keep cpus`);
    }
  }
  const reservations = isObj(s.deploy) && isObj(s.deploy.resources) && isObj(s.deploy.resources.reservations) ? s.deploy.resources.reservations : {};
  if (typeof reservations.memory === 'number' && typeof limits.memory === 'number' && limits.memory > 0 && reservations.memory > limits.memory) {
    c.error(join(field, 'deploy.resources.reservations.memory'), `the memory reservation (${reservations.memory} bytes) is above the memory limit (${limits.memory} bytes): the engine refuses it`);
  }
  if (typeof s.memswap_limit === 'number') {
    const mem = limits.memory;
    if (typeof mem !== 'number' || mem === 0) c.error(at('memswap_limit'), 'needs a memory limit (mem_limit or deploy.resources.limits.memory): it is memory plus swap');
    else if (s.memswap_limit !== -1 && s.memswap_limit < mem) c.error(at('memswap_limit'), `is memory plus swap: it must be at least the memory limit (${mem} bytes), got ${s.memswap_limit}`);
  }
  for (const [rule, i] of strings(s.device_cgroup_rules)) {
    if (!CGROUP_RULE_RE.test(rule)) c.error(`${at('device_cgroup_rules')}[${i}]`, `invalid device cgroup rule "${clip(rule)}": expected "type major:minor access" such as "c 1:3 mr" (type a, b or c; * for any number)`);
  }
  if (isObj(s.storage_opt)) {
    checkKeys(c, s.storage_opt, at('storage_opt'), 'storage option');
    for (const k of Object.keys(s.storage_opt)) if (!STORAGE_OPT_RE.test(k)) c.error(join(at('storage_opt'), k), `invalid storage option "${clip(k)}"`);
  }
  if (isObj(s.blkio_config)) {
    const bf = at('blkio_config');
    for (const k of ['weight_device', 'device_read_bps', 'device_write_bps', 'device_read_iops', 'device_write_iops']) {
      const list = s.blkio_config[k];
      if (!Array.isArray(list)) continue;
      list.forEach((dv, i) => {
        const p = isObj(dv) ? str(dv, 'path') : undefined;
        if (p !== undefined && !p.startsWith('/')) c.error(join(`${join(bf, k)}[${i}]`, 'path'), `must be the absolute path of a block device on the node, got "${clip(p)}"`);
      });
    }
  }
  checkKeys(c, s.annotations, at('annotations'), 'annotation');
  const platform = str(s, 'platform');
  if (platform !== undefined) {
    const p = parsePlatform(platform);
    if (typeof p === 'string') c.error(at('platform'), p);
  }
  const runtime = str(s, 'runtime');
  if (runtime !== undefined && !RUNTIME_RE.test(runtime)) c.error(at('runtime'), `invalid runtime "${clip(runtime)}": a name such as runc, runsc or nvidia`);
}

function checkCycles(c: Collector, services: Json): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const deps = (s: string): string[] => {
    const svc = services[s];
    return isObj(svc) && isObj(svc.depends_on) ? Object.keys(svc.depends_on) : [];
  };
  // iterative depth-first search: a long chain of dependencies must not exhaust the stack
  for (const start of Object.keys(services)) {
    if (state.has(start)) continue;
    const stack: { s: string; next: string[]; i: number }[] = [{ s: start, next: deps(start), i: 0 }];
    state.set(start, 'visiting');
    path.push(start);
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (top.i >= top.next.length) {
        state.set(top.s, 'done');
        path.pop();
        stack.pop();
        continue;
      }
      const dep = top.next[top.i++];
      if (!own(services, dep)) continue;
      const st = state.get(dep);
      if (st === 'visiting') {
        const cycle = [...path.slice(path.indexOf(dep)), dep].join(' -> ');
        c.error(`services.${top.s}.depends_on.${dep}`, `dependency cycle: ${cycle}`);
      } else if (st === undefined) {
        state.set(dep, 'visiting');
        path.push(dep);
        stack.push({ s: dep, next: deps(dep), i: 0 });
      }
    }
  }
}

function checkResources(c: Collector, kind: 'network' | 'volume', all: unknown, stack: string | undefined): void {
  if (!isObj(all)) return;
  const top = `${kind}s`;
  for (const [key, spec] of Object.entries(all)) {
    const f = join(top, key);
    c.error(f, checkName(kind, key));
    if (!isObj(spec)) continue;
    const name = str(spec, 'name');
    if (name !== undefined) c.error(join(f, 'name'), checkName(kind, name));
    const engineName = name ?? (spec.external === true ? key : stack !== undefined ? `${stack}_${key}` : undefined);
    if (kind === 'network' && engineName !== undefined && RESERVED_NETWORK_NAMES.includes(engineName) && (name !== undefined || spec.external === true)) {
      c.error(name !== undefined ? join(f, 'name') : f, `"${engineName}" is a reserved engine network: a stack cannot attach tasks to it`);
    }
    if (name === undefined && spec.external !== true && stack !== undefined && engineName !== undefined && engineName.length > LIMITS.nameLength) {
      c.error(f, `the full ${kind} name "${clip(engineName)}" is ${engineName.length} characters long; at most ${LIMITS.nameLength}`);
    }
    checkKeys(c, spec.labels, join(f, 'labels'), 'label');
    checkKeys(c, spec.driver_opts, join(f, 'driver_opts'), 'option');
  }
}

// ---- entry points ----

/** A normalised stack as the API receives it (untrusted JSON) or as the parser produced it. */
export function validateStack(input: unknown): ValidationResult<StackSpec> {
  const v = validators();
  const errors = structural(v.stack, StackSpecSchema, input, '');
  const c = new Collector(new Set(errors.map((e) => e.field ?? '')));
  if (isObj(input)) {
    const name = str(input, 'name');
    if (name !== undefined) c.error('name', checkName('stack', name));
    const services = isObj(input.services) ? input.services : {};
    const ctx: StackContext = {
      stack: name ?? '',
      networks: isObj(input.networks) ? input.networks : {},
      volumes: isObj(input.volumes) ? input.volumes : {},
      services,
    };
    if (isObj(input.services) && Object.keys(services).length === 0) c.error('services', 'a stack needs at least one service');
    for (const [svc, spec] of Object.entries(services)) {
      const f = join('services', svc);
      const bad = checkName('service', svc);
      c.error(f, bad);
      const full = name === undefined ? undefined : serviceFullName(name, svc);
      if (!bad && full !== undefined && full.length > LIMITS.nameLength) {
        c.error(f, `the full service name "${full}" is ${full.length} characters long; at most ${LIMITS.nameLength}`);
      }
      checkService(c, spec, f, svc, ctx);
    }
    checkCycles(c, services);
    checkResources(c, 'network', input.networks, name);
    checkResources(c, 'volume', input.volumes, name);
    checkExtensions(c, input.extensions, 'extensions');
  }
  errors.push(...c.errors);
  return errors.length ? { errors, warnings: c.warnings } : { value: input as StackSpec, errors, warnings: c.warnings };
}

/** One service spec (e.g. the result of `service update` flags applied to a stored spec); `field` prefixes error paths. */
export function validateServiceSpec(input: unknown, field = ''): ValidationResult<ServiceSpec> {
  const v = validators();
  const errors = structural(v.service, ServiceSpecSchema, input, field);
  const c = new Collector(new Set(errors.map((e) => e.field ?? '')));
  checkService(c, input, field, undefined, undefined);
  errors.push(...c.errors);
  return errors.length ? { errors, warnings: c.warnings } : { value: input as ServiceSpec, errors, warnings: c.warnings };
}
