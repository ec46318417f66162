// Positioned tree -> the normalised StackSpec (common/spec.ts), collecting every error and
// warning with file:line:col and the field's path.

import { isAbsolute, resolve as resolvePath } from 'node:path/posix';
import { DurationError, normaliseDuration } from '../duration.js';
import type { ErrorDetail } from '../errors.js';
import {
  defaultDeploy, DEFAULT_STOP_GRACE_PERIOD, type DependsOnSpec, type DeploySpec, type HealthcheckSpec, type MountSpec,
  type NetworkSpec, type PortSpec, type ServiceSpec, type StackSpec, type UpdateConfigSpec, type VolumeSpec,
} from '../spec.js';
import { parseDotenv } from './dotenv.js';
import { seqToMap, type Pos, type TNode } from './tree.js';

export interface NormaliseContext {
  /** directory of the first stack file: relative paths resolve against it */
  baseDir: string;
  stackName: string;
  env: (name: string) => string | undefined;
  readFile: (absPath: string) => string;
}

type Entries = Map<string, { keyPos: Pos; value: TNode }>;

const IGNORED_SERVICE_KEYS: Record<string, string> = {
  container_name: 'tasks are named <service>.<slot>',
  build: 'images are not built by a cluster; build and push (or docker build on each node) first',
  privileged: 'not supported for services', devices: 'not supported for services', pid: 'not supported for services',
  security_opt: 'not supported for services', shm_size: 'not supported for services', links: 'use networks; services find each other by name',
  network_mode: 'services use the stack networks', cap_add: 'not supported yet', cap_drop: 'not supported yet',
  profiles: 'profiles are a Compose feature; every service of a stack is deployed', extends: 'not supported; use YAML anchors',
  cgroup_parent: 'not supported for services', ipc: 'not supported for services', userns_mode: 'not supported for services',
  sysctls: 'not supported yet', ulimits: 'not supported yet', tty: 'not supported yet', stdin_open: 'not supported yet',
  logging: 'tasks log to the engine default driver', dns: 'not supported yet', dns_search: 'not supported yet', extra_hosts: 'not supported yet',
  expose: 'has no effect: services on a stack network reach every port', external_links: 'not supported', domainname: 'not supported yet',
  mac_address: 'not supported', platform: 'not supported yet', pull_policy: 'not supported yet', secrets: 'secrets are not supported yet',
  configs: 'configs are not supported yet', tmpfs: 'use a volume of type tmpfs', read_only: 'not supported yet', isolation: 'not supported',
  group_add: 'not supported yet', scale: 'use deploy.replicas', mem_limit: 'use deploy.resources.limits.memory', cpus: 'use deploy.resources.limits.cpus',
  memswap_limit: 'not supported', oom_score_adj: 'not supported', init_path: 'not supported',
};

const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export class Normaliser {
  readonly errors: ErrorDetail[] = [];
  readonly warnings: ErrorDetail[] = [];

  constructor(private readonly ctx: NormaliseContext) {}

  private err(n: { pos: Pos } | Pos, field: string, message: string): void {
    const pos = 'pos' in n ? n.pos : n;
    this.errors.push({ ...pos, field, message });
  }

  private warn(pos: Pos, field: string, message: string): void {
    this.warnings.push({ ...pos, field, message });
  }

  // ---------- typed readers ----------
  private map(n: TNode, field: string, allowNull = true): Entries | undefined {
    if (n.kind === 'map') return n.entries;
    if (n.kind === 'scalar' && n.value === null && allowNull) return new Map();
    this.err(n, field, `must be a mapping, not ${describe(n)}`);
    return undefined;
  }

  private str(n: TNode, field: string): string | undefined {
    if (n.kind === 'scalar' && n.value !== null) return String(n.value);
    this.err(n, field, `must be a string, not ${describe(n)}`);
    return undefined;
  }

  private int(n: TNode, field: string, min = 0): number | undefined {
    const v = n.kind === 'scalar' ? (typeof n.value === 'number' ? n.value : typeof n.value === 'string' && /^-?\d+$/.test(n.value.trim()) ? Number(n.value) : NaN) : NaN;
    if (!Number.isInteger(v)) { this.err(n, field, `must be an integer, not ${describe(n)}`); return undefined; }
    if (v < min) { this.err(n, field, `must be at least ${min}, not ${v}`); return undefined; }
    return v;
  }

  private num(n: TNode, field: string): number | undefined {
    const v = n.kind === 'scalar' ? Number(n.value) : NaN;
    if (n.kind !== 'scalar' || n.value === null || n.value === '' || !Number.isFinite(v) || v < 0) { this.err(n, field, `must be a non-negative number, not ${describe(n)}`); return undefined; }
    return v;
  }

  private bool(n: TNode, field: string): boolean | undefined {
    if (n.kind === 'scalar') {
      if (typeof n.value === 'boolean') return n.value;
      if (n.value === 'true') return true;
      if (n.value === 'false') return false;
    }
    this.err(n, field, `must be true or false, not ${describe(n)}`);
    return undefined;
  }

  private duration(n: TNode, field: string): string | undefined {
    if (n.kind !== 'scalar' || n.value === null || typeof n.value === 'boolean') { this.err(n, field, `must be a duration such as 30s or 1m30s, not ${describe(n)}`); return undefined; }
    try {
      return normaliseDuration(typeof n.value === 'number' ? n.value : String(n.value));
    } catch (e) {
      this.err(n, field, e instanceof DurationError ? e.message : String(e));
      return undefined;
    }
  }

  private oneOf<T extends string>(n: TNode, field: string, values: readonly T[]): T | undefined {
    const s = this.str(n, field);
    if (s === undefined) return undefined;
    if (!(values as readonly string[]).includes(s)) { this.err(n, field, `must be one of ${values.join(', ')}, not ${JSON.stringify(s)}`); return undefined; }
    return s as T;
  }

  /** "a b 'c d'" or a list -> argv. */
  private argv(n: TNode, field: string): string[] | undefined {
    if (n.kind === 'seq') return n.items.map((x, i) => this.str(x, `${field}[${i}]`) ?? '');
    const s = this.str(n, field);
    if (s === undefined) return undefined;
    const r = shellSplit(s);
    if (typeof r === 'string') { this.err(n, field, r); return undefined; }
    return r;
  }

  private strList(n: TNode, field: string): string[] {
    if (n.kind === 'scalar' && typeof n.value === 'string') return [n.value];
    if (n.kind !== 'seq') { this.err(n, field, `must be a list, not ${describe(n)}`); return []; }
    return n.items.map((x, i) => this.str(x, `${field}[${i}]`)).filter((x): x is string => x !== undefined);
  }

  /** list ["K=V"] or map {K: V}; null values via `fromEnv` (environment) or dropped. */
  private kv(n: TNode, field: string, fromEnv: boolean): Record<string, string> {
    const out: Record<string, string> = {};
    const m = this.map(seqToMap(n), field);
    if (!m) return out;
    for (const [k, { value }] of m) {
      if (value.kind === 'scalar' && value.value === null) {
        if (!fromEnv) { out[k] = ''; continue; }
        const v = this.ctx.env(k);
        if (v === undefined) this.warn(value.pos, `${field}.${k}`, `${k} has no value and is not set in the environment; left out`);
        else out[k] = v;
        continue;
      }
      if (value.kind !== 'scalar') { this.err(value, `${field}.${k}`, `must be a string, number or boolean, not ${describe(value)}`); continue; }
      out[k] = String(value.value);
    }
    return out;
  }

  private unknownKeys(entries: Entries, field: string, known: readonly string[], ignored: Record<string, string> = {}): void {
    for (const [k, { keyPos }] of entries) {
      if (known.includes(k) || k.startsWith('x-')) continue;
      const why = ignored[k];
      this.warn(keyPos, field ? `${field}.${k}` : k, why ? `${k} is ignored: ${why}` : `unknown key ${k} is ignored`);
    }
  }

  // ---------- the stack ----------
  stack(root: TNode): StackSpec {
    const stack: StackSpec = { name: this.ctx.stackName, services: {}, networks: {}, volumes: {} };
    const top = this.map(root, '(top level)', false);
    if (!top) return stack;
    this.unknownKeys(top, '', ['version', 'name', 'services', 'networks', 'volumes', 'secrets', 'configs', 'include']);
    for (const k of ['secrets', 'configs', 'include'] as const) {
      const e = top.get(k);
      if (e) this.warn(e.keyPos, k, `top-level ${k} are not supported yet and are ignored`);
    }
    const nets = top.get('networks');
    if (nets) for (const [k, { value }] of this.map(nets.value, 'networks') ?? []) stack.networks[k] = this.network(value, `networks.${k}`);
    const vols = top.get('volumes');
    if (vols) for (const [k, { value }] of this.map(vols.value, 'volumes') ?? []) stack.volumes[k] = this.volume(value, `volumes.${k}`);
    const svcs = top.get('services');
    if (!svcs) { this.err(root, 'services', 'a stack needs a services: section'); return stack; }
    const services = this.map(svcs.value, 'services') ?? emptyEntries();
    for (const [name, { keyPos, value }] of services) {
      if (!SERVICE_NAME.test(name)) { this.err(keyPos, `services.${name}`, `invalid service name ${JSON.stringify(name)}: use letters, digits, '_', '.', '-'`); continue; }
      const s = this.service(name, value, keyPos, stack);
      if (s) stack.services[name] = s;
    }
    // Cross references.
    for (const [name, s] of Object.entries(stack.services)) {
      const e = services.get(name)!.value;
      const entries = e.kind === 'map' ? e.entries : new Map();
      for (const dep of Object.keys(s.depends_on)) {
        if (!(dep in stack.services) && services.has(dep) === false) this.err(entries.get('depends_on')?.value ?? e, `services.${name}.depends_on`, `depends on undefined service ${dep}`);
      }
      for (const net of Object.keys(s.networks)) {
        if (net === 'default' && !stack.networks.default) stack.networks.default = defaultNetwork();
        else if (!stack.networks[net]) this.err(entries.get('networks')?.value ?? e, `services.${name}.networks`, `service ${name} refers to undefined network ${net}`);
      }
      for (const m of s.volumes) {
        if (m.type === 'volume' && m.source && !stack.volumes[m.source]) {
          this.err(entries.get('volumes')?.value ?? e, `services.${name}.volumes`, `service ${name} refers to undefined volume ${m.source}: declare it under the top-level volumes:`);
        }
      }
    }
    return stack;
  }

  private network(n: TNode, field: string): NetworkSpec {
    const spec = defaultNetwork();
    const m = this.map(n, field);
    if (!m) return spec;
    this.unknownKeys(m, field, ['driver', 'external', 'name', 'attachable', 'internal', 'labels', 'driver_opts', 'ipam', 'enable_ipv6']);
    for (const [k, { value }] of m) {
      const f = `${field}.${k}`;
      if (k === 'driver') spec.driver = this.str(value, f) ?? spec.driver;
      else if (k === 'external') this.external(value, f, spec);
      else if (k === 'name') spec.name = this.str(value, f);
      else if (k === 'attachable') spec.attachable = this.bool(value, f);
      else if (k === 'internal') spec.internal = this.bool(value, f);
      else if (k === 'labels') spec.labels = this.kv(value, f, false);
      else if (k === 'driver_opts') spec.driver_opts = this.kv(value, f, false);
      else if (k === 'ipam' || k === 'enable_ipv6') this.warn(value.pos, f, `${k} is not supported yet and is ignored`);
    }
    return spec;
  }

  private volume(n: TNode, field: string): VolumeSpec {
    const spec: VolumeSpec = { driver: 'local', external: false, labels: {}, driver_opts: {} };
    const m = this.map(n, field);
    if (!m) return spec;
    this.unknownKeys(m, field, ['driver', 'external', 'name', 'labels', 'driver_opts']);
    for (const [k, { value }] of m) {
      const f = `${field}.${k}`;
      if (k === 'driver') spec.driver = this.str(value, f) ?? spec.driver;
      else if (k === 'external') this.external(value, f, spec);
      else if (k === 'name') spec.name = this.str(value, f);
      else if (k === 'labels') spec.labels = this.kv(value, f, false);
      else if (k === 'driver_opts') spec.driver_opts = this.kv(value, f, false);
    }
    return spec;
  }

  private external(value: TNode, f: string, spec: { external: boolean; name?: string }): void {
    if (value.kind === 'map') {
      spec.external = true;
      const name = value.entries.get('name');
      if (name) spec.name = this.str(name.value, `${f}.name`);
      this.warn(value.pos, f, 'external: {name: ...} is deprecated; use external: true and name:');
    } else spec.external = this.bool(value, f) ?? false;
  }

  private service(name: string, n: TNode, keyPos: Pos, _stack: StackSpec): ServiceSpec | undefined {
    const field = `services.${name}`;
    const m = this.map(n, field, false);
    if (!m) return undefined;
    const s: ServiceSpec = { image: '', environment: {}, labels: {}, ports: [], volumes: [], networks: {}, depends_on: {}, deploy: defaultDeploy() };
    const known = ['image', 'command', 'entrypoint', 'environment', 'env_file', 'ports', 'volumes', 'networks', 'healthcheck', 'init', 'user',
      'working_dir', 'labels', 'stop_signal', 'stop_grace_period', 'restart', 'deploy', 'depends_on', 'hostname'];
    this.unknownKeys(m, field, known, IGNORED_SERVICE_KEYS);
    const get = (k: string) => m.get(k)?.value;
    const f = (k: string) => `${field}.${k}`;
    const image = get('image');
    if (!image) this.err(keyPos, f('image'), `service ${name} has no image`);
    else s.image = this.str(image, f('image')) ?? '';
    if (image && s.image === '') this.err(image, f('image'), 'must not be empty');
    if (get('command')) s.command = this.argv(get('command')!, f('command'));
    if (get('entrypoint')) s.entrypoint = this.argv(get('entrypoint')!, f('entrypoint'));
    if (get('env_file')) s.environment = this.envFiles(get('env_file')!, f('env_file'));
    if (get('environment')) s.environment = { ...s.environment, ...this.kv(get('environment')!, f('environment'), true) };
    if (get('labels')) s.labels = this.kv(get('labels')!, f('labels'), false);
    for (const k of ['user', 'working_dir', 'stop_signal', 'hostname'] as const) {
      const v = get(k);
      if (v) { const x = this.str(v, f(k)); if (x !== undefined) s[k] = x; }
    }
    if (get('init')) s.init = this.bool(get('init')!, f('init'));
    if (get('stop_grace_period')) s.stop_grace_period = this.duration(get('stop_grace_period')!, f('stop_grace_period'));
    if (get('ports')) s.ports = this.ports(get('ports')!, f('ports'));
    if (get('volumes')) s.volumes = this.mounts(get('volumes')!, f('volumes'));
    s.networks = get('networks') ? this.serviceNetworks(get('networks')!, f('networks')) : { default: { aliases: [] } };
    if (get('healthcheck')) s.healthcheck = this.healthcheck(get('healthcheck')!, f('healthcheck'));
    if (get('depends_on')) s.depends_on = this.dependsOn(get('depends_on')!, f('depends_on'));
    if (get('restart')) this.restart(get('restart')!, f('restart'), s.deploy);
    if (get('deploy')) this.deploy(get('deploy')!, f('deploy'), s.deploy);
    if (s.stop_grace_period === undefined) s.stop_grace_period = DEFAULT_STOP_GRACE_PERIOD;
    const ext: Record<string, unknown> = {};
    for (const [k, { value }] of m) if (k.startsWith('x-')) ext[k] = plain(value);
    if (Object.keys(ext).length) s.extensions = ext;
    return s;
  }

  private envFiles(n: TNode, field: string): Record<string, string> {
    const items = n.kind === 'seq' ? n.items : [n];
    const env: Record<string, string> = {};
    items.forEach((it, i) => {
      const fi = n.kind === 'seq' ? `${field}[${i}]` : field;
      let path: string | undefined;
      let required = true;
      if (it.kind === 'map') {
        const p = it.entries.get('path');
        if (!p) { this.err(it, fi, 'needs a path'); return; }
        path = this.str(p.value, `${fi}.path`);
        const r = it.entries.get('required');
        if (r) required = this.bool(r.value, `${fi}.required`) ?? true;
      } else path = this.str(it, fi);
      if (!path) return;
      const abs = isAbsolute(path) ? path : resolvePath(this.ctx.baseDir, path);
      let text: string;
      try {
        text = this.ctx.readFile(abs);
      } catch (e) {
        if (required) this.err(it, fi, `cannot read env file ${abs}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        return;
      }
      const parsed = parseDotenv(text);
      for (const pe of parsed.errors) this.errors.push({ file: abs, line: pe.line, col: 1, field: fi, message: pe.message });
      Object.assign(env, parsed.values);
    });
    return env;
  }

  private ports(n: TNode, field: string): PortSpec[] {
    if (n.kind !== 'seq') { this.err(n, field, `must be a list, not ${describe(n)}`); return []; }
    const out: PortSpec[] = [];
    n.items.forEach((it, i) => {
      const fi = `${field}[${i}]`;
      if (it.kind === 'map') {
        const e = it.entries;
        this.unknownKeys(e, fi, ['target', 'published', 'protocol', 'mode', 'host_ip', 'name', 'app_protocol']);
        const target = e.get('target') ? this.port(e.get('target')!.value, `${fi}.target`) : undefined;
        if (!e.get('target')) this.err(it, `${fi}.target`, 'a port needs a target');
        let published: number | undefined;
        const pub = e.get('published');
        if (pub && !(pub.value.kind === 'scalar' && pub.value.value === null)) published = this.port(pub.value, `${fi}.published`);
        const protocol = e.get('protocol') ? this.oneOf(e.get('protocol')!.value, `${fi}.protocol`, ['tcp', 'udp'] as const) : 'tcp';
        const mode = e.get('mode') ? this.oneOf(e.get('mode')!.value, `${fi}.mode`, ['ingress', 'host'] as const) : 'ingress';
        const hostIp = e.get('host_ip') ? this.str(e.get('host_ip')!.value, `${fi}.host_ip`) : undefined;
        if (target !== undefined) out.push(clean({ target, published, protocol: protocol ?? 'tcp', mode: mode ?? 'ingress', host_ip: hostIp }));
        return;
      }
      if (it.kind !== 'scalar' || it.value === null) { this.err(it, fi, `must be a port such as "8080:80", not ${describe(it)}`); return; }
      const r = parseShortPort(String(it.value));
      if (typeof r === 'string') this.err(it, fi, r);
      else out.push(...r);
    });
    return out;
  }

  private port(n: TNode, field: string): number | undefined {
    const v = n.kind === 'scalar' ? Number(n.value) : NaN;
    if (!Number.isInteger(v) || v < 1 || v > 65535) { this.err(n, field, `must be a port number 1-65535, not ${describe(n)}`); return undefined; }
    return v;
  }

  private mounts(n: TNode, field: string): MountSpec[] {
    if (n.kind !== 'seq') { this.err(n, field, `must be a list, not ${describe(n)}`); return []; }
    const out: MountSpec[] = [];
    n.items.forEach((it, i) => {
      const fi = `${field}[${i}]`;
      if (it.kind === 'map') {
        const e = it.entries;
        this.unknownKeys(e, fi, ['type', 'source', 'target', 'read_only', 'volume', 'bind', 'tmpfs', 'consistency']);
        const type = e.get('type') ? this.oneOf(e.get('type')!.value, `${fi}.type`, ['volume', 'bind', 'tmpfs'] as const) : 'volume';
        const target = e.get('target') ? this.str(e.get('target')!.value, `${fi}.target`) : undefined;
        if (!target) { if (!e.get('target')) this.err(it, `${fi}.target`, 'a mount needs a target'); return; }
        let source = e.get('source') ? this.str(e.get('source')!.value, `${fi}.source`) : undefined;
        if (type === 'bind') {
          if (!source) { this.err(it, `${fi}.source`, 'a bind mount needs a source'); return; }
          source = this.hostPath(source);
        }
        const ro = e.get('read_only') ? this.bool(e.get('read_only')!.value, `${fi}.read_only`) ?? false : false;
        if (!target.startsWith('/')) this.err(e.get('target')!.value, `${fi}.target`, `must be an absolute path in the container, not ${JSON.stringify(target)}`);
        if (type) out.push(clean({ type, source, target, read_only: ro }));
        return;
      }
      const spec = this.str(it, fi);
      if (spec === undefined) return;
      const parts = spec.split(':');
      let mode = '';
      if (parts.length === 3 || (parts.length === 2 && !parts[1].startsWith('/') && parts[0].startsWith('/'))) mode = parts.pop()!;
      if (parts.length === 1) {
        if (!parts[0].startsWith('/')) { this.err(it, fi, `must be an absolute container path, or SOURCE:TARGET[:ro], not ${JSON.stringify(spec)}`); return; }
        out.push({ type: 'volume', target: parts[0], read_only: false });
        return;
      }
      if (parts.length !== 2 || !parts[1].startsWith('/')) { this.err(it, fi, `invalid volume ${JSON.stringify(spec)}: use SOURCE:TARGET[:ro|rw]`); return; }
      if (mode && !['ro', 'rw', 'z', 'Z', 'ro,z', 'ro,Z'].includes(mode)) { this.err(it, fi, `invalid volume mode ${JSON.stringify(mode)} (ro or rw)`); return; }
      const [src, target] = parts;
      const isPath = src.startsWith('/') || src.startsWith('.') || src.startsWith('~');
      out.push({ type: isPath ? 'bind' : 'volume', source: isPath ? this.hostPath(src) : src, target, read_only: mode.startsWith('ro') });
    });
    return out;
  }

  private hostPath(p: string): string {
    if (p.startsWith('~')) return resolvePath(this.ctx.env('HOME') ?? '/root', p.slice(2));
    return isAbsolute(p) ? p : resolvePath(this.ctx.baseDir, p);
  }

  private serviceNetworks(n: TNode, field: string): Record<string, { aliases: string[] }> {
    const out: Record<string, { aliases: string[] }> = {};
    if (n.kind === 'seq') {
      n.items.forEach((it, i) => { const s = this.str(it, `${field}[${i}]`); if (s) out[s] = { aliases: [] }; });
      return out;
    }
    for (const [k, { value }] of this.map(n, field) ?? []) {
      const aliases: string[] = [];
      if (value.kind === 'map') {
        this.unknownKeys(value.entries, `${field}.${k}`, ['aliases', 'ipv4_address', 'ipv6_address', 'priority']);
        const a = value.entries.get('aliases');
        if (a) aliases.push(...this.strList(a.value, `${field}.${k}.aliases`));
      } else if (!(value.kind === 'scalar' && value.value === null)) this.err(value, `${field}.${k}`, `must be a mapping or empty, not ${describe(value)}`);
      out[k] = { aliases };
    }
    return out;
  }

  private healthcheck(n: TNode, field: string): HealthcheckSpec | undefined {
    const m = this.map(n, field);
    if (!m) return undefined;
    this.unknownKeys(m, field, ['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval', 'disable']);
    const h: HealthcheckSpec = {};
    for (const [k, { value }] of m) {
      const f = `${field}.${k}`;
      if (k === 'test') {
        if (value.kind === 'seq') {
          h.test = value.items.map((x, i) => this.str(x, `${f}[${i}]`) ?? '');
          if (!['CMD', 'CMD-SHELL', 'NONE'].includes(h.test[0] ?? '')) this.err(value, f, 'a list test must start with CMD, CMD-SHELL or NONE');
        } else { const s = this.str(value, f); if (s !== undefined) h.test = ['CMD-SHELL', s]; }
      } else if (k === 'interval' || k === 'timeout' || k === 'start_period') h[k] = this.duration(value, f);
      else if (k === 'retries') h.retries = this.int(value, f, 0);
      else if (k === 'disable') h.disable = this.bool(value, f);
      else if (k === 'start_interval') this.warn(value.pos, f, 'start_interval is not supported by the engine here and is ignored');
    }
    if (h.disable || h.test?.[0] === 'NONE') return { disable: true };
    return clean(h);
  }

  private dependsOn(n: TNode, field: string): Record<string, DependsOnSpec> {
    const out: Record<string, DependsOnSpec> = {};
    if (n.kind === 'seq') {
      n.items.forEach((it, i) => { const s = this.str(it, `${field}[${i}]`); if (s) out[s] = { condition: 'service_started', required: true }; });
      return out;
    }
    for (const [k, { value }] of this.map(n, field) ?? []) {
      const d: DependsOnSpec = { condition: 'service_started', required: true };
      const vm = this.map(value, `${field}.${k}`);
      if (vm) {
        this.unknownKeys(vm, `${field}.${k}`, ['condition', 'required', 'restart']);
        const c = vm.get('condition');
        if (c) d.condition = this.oneOf(c.value, `${field}.${k}.condition`, ['service_started', 'service_healthy', 'service_completed_successfully'] as const) ?? d.condition;
        const r = vm.get('required');
        if (r) d.required = this.bool(r.value, `${field}.${k}.required`) ?? true;
      }
      out[k] = d;
    }
    return out;
  }

  private restart(n: TNode, field: string, d: DeploySpec): void {
    const s = this.str(n, field);
    if (s === undefined) return;
    const m = /^on-failure(?::(\d+))?$/.exec(s);
    if (s === 'no' || s === 'false') d.restart_policy.condition = 'none';
    else if (s === 'always' || s === 'unless-stopped') d.restart_policy.condition = 'any';
    else if (m) { d.restart_policy.condition = 'on-failure'; if (m[1]) d.restart_policy.max_attempts = Number(m[1]); }
    else this.err(n, field, `must be no, always, on-failure[:N] or unless-stopped, not ${JSON.stringify(s)}`);
  }

  private deploy(n: TNode, field: string, d: DeploySpec): void {
    const m = this.map(n, field);
    if (!m) return;
    this.unknownKeys(m, field, ['mode', 'replicas', 'labels', 'restart_policy', 'placement', 'resources', 'update_config', 'rollback_config', 'endpoint_mode']);
    const get = (k: string) => m.get(k)?.value;
    if (get('mode')) d.mode = this.oneOf(get('mode')!, `${field}.mode`, ['replicated', 'global'] as const) ?? d.mode;
    if (get('replicas')) {
      const r = this.int(get('replicas')!, `${field}.replicas`, 0);
      if (r !== undefined) d.replicas = r;
      if (d.mode === 'global') this.err(get('replicas')!, `${field}.replicas`, 'replicas cannot be set for a global service');
    }
    if (get('endpoint_mode')) {
      const em = this.oneOf(get('endpoint_mode')!, `${field}.endpoint_mode`, ['vip', 'dnsrr'] as const);
      if (em === 'dnsrr') this.warn(get('endpoint_mode')!.pos, `${field}.endpoint_mode`, 'dnsrr is not supported yet: tasks are reached through the service name on its networks');
    }
    if (get('labels')) d.labels = this.kv(get('labels')!, `${field}.labels`, false);
    const rp = get('restart_policy');
    if (rp) {
      const rm = this.map(rp, `${field}.restart_policy`) ?? emptyEntries();
      this.unknownKeys(rm, `${field}.restart_policy`, ['condition', 'delay', 'max_attempts', 'window']);
      const f = (k: string) => `${field}.restart_policy.${k}`;
      if (rm.get('condition')) d.restart_policy.condition = this.oneOf(rm.get('condition')!.value, f('condition'), ['none', 'on-failure', 'any'] as const) ?? d.restart_policy.condition;
      if (rm.get('delay')) d.restart_policy.delay = this.duration(rm.get('delay')!.value, f('delay')) ?? d.restart_policy.delay;
      if (rm.get('max_attempts')) d.restart_policy.max_attempts = this.int(rm.get('max_attempts')!.value, f('max_attempts')) ?? 0;
      if (rm.get('window')) d.restart_policy.window = this.duration(rm.get('window')!.value, f('window')) ?? d.restart_policy.window;
    }
    const pl = get('placement');
    if (pl) {
      const pm = this.map(pl, `${field}.placement`) ?? emptyEntries();
      this.unknownKeys(pm, `${field}.placement`, ['constraints', 'preferences', 'max_replicas_per_node']);
      if (pm.get('constraints')) d.placement.constraints = this.strList(pm.get('constraints')!.value, `${field}.placement.constraints`);
      const pr = pm.get('preferences');
      if (pr) {
        if (pr.value.kind !== 'seq') this.err(pr.value, `${field}.placement.preferences`, 'must be a list of {spread: ...}');
        else pr.value.items.forEach((it, i) => {
          const sp = it.kind === 'map' ? it.entries.get('spread') : undefined;
          const v = sp ? this.str(sp.value, `${field}.placement.preferences[${i}].spread`) : undefined;
          if (!sp) this.err(it, `${field}.placement.preferences[${i}]`, 'must be {spread: node.labels.X}');
          if (v) d.placement.preferences.push({ spread: v });
        });
      }
      if (pm.get('max_replicas_per_node')) d.placement.max_replicas_per_node = this.int(pm.get('max_replicas_per_node')!.value, `${field}.placement.max_replicas_per_node`, 1);
    }
    const rs = get('resources');
    if (rs) {
      const rm = this.map(rs, `${field}.resources`) ?? emptyEntries();
      this.unknownKeys(rm, `${field}.resources`, ['limits', 'reservations']);
      for (const kind of ['limits', 'reservations'] as const) {
        const km = rm.get(kind);
        if (!km) continue;
        const e = this.map(km.value, `${field}.resources.${kind}`) ?? emptyEntries();
        this.unknownKeys(e, `${field}.resources.${kind}`, ['cpus', 'memory', 'pids', 'devices', 'generic_resources']);
        if (e.get('cpus')) d.resources[kind].cpus = this.num(e.get('cpus')!.value, `${field}.resources.${kind}.cpus`);
        if (e.get('memory')) {
          const mem = parseBytes(e.get('memory')!.value);
          if (mem === undefined) this.err(e.get('memory')!.value, `${field}.resources.${kind}.memory`, `must be a size such as 512M or 1G, not ${describe(e.get('memory')!.value)}`);
          else d.resources[kind].memory = mem;
        }
      }
    }
    for (const k of ['update_config', 'rollback_config'] as const) if (get(k)) this.updateConfig(get(k)!, `${field}.${k}`, d[k]);
  }

  private updateConfig(n: TNode, field: string, u: UpdateConfigSpec): void {
    const m = this.map(n, field);
    if (!m) return;
    this.unknownKeys(m, field, ['parallelism', 'delay', 'order', 'monitor', 'max_failure_ratio', 'failure_action']);
    const v = (k: string) => m.get(k)?.value;
    if (v('parallelism')) u.parallelism = this.int(v('parallelism')!, `${field}.parallelism`) ?? u.parallelism;
    if (v('delay')) u.delay = this.duration(v('delay')!, `${field}.delay`) ?? u.delay;
    if (v('monitor')) u.monitor = this.duration(v('monitor')!, `${field}.monitor`) ?? u.monitor;
    if (v('order')) u.order = this.oneOf(v('order')!, `${field}.order`, ['stop-first', 'start-first'] as const) ?? u.order;
    if (v('max_failure_ratio')) u.max_failure_ratio = this.num(v('max_failure_ratio')!, `${field}.max_failure_ratio`) ?? u.max_failure_ratio;
    if (v('failure_action')) u.failure_action = this.oneOf(v('failure_action')!, `${field}.failure_action`, ['pause', 'continue', 'rollback'] as const) ?? u.failure_action;
  }
}

export const defaultNetwork = (): NetworkSpec => ({ driver: 'bridge', external: false, labels: {}, driver_opts: {} });

function describe(n: TNode): string {
  if (n.kind === 'map') return 'a mapping';
  if (n.kind === 'seq') return 'a list';
  return n.value === null ? 'empty' : JSON.stringify(n.value);
}

function clean<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function plain(n: TNode): unknown {
  if (n.kind === 'scalar') return n.value;
  if (n.kind === 'seq') return n.items.map(plain);
  return Object.fromEntries([...n.entries].map(([k, v]) => [k, plain(v.value)]));
}

/** "512M", "1g", "100k", "1024", 1024 -> bytes */
export function parseBytes(n: TNode): number | undefined {
  if (n.kind !== 'scalar' || n.value === null) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$/i.exec(String(n.value).trim());
  if (!m) return undefined;
  const mult = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as 'k'];
  return Math.round(Number(m[1]) * mult);
}

/** Compose's short port syntax: [HOST_IP:][PUBLISHED[-END]:]TARGET[-END][/PROTOCOL] */
export function parseShortPort(s: string): PortSpec[] | string {
  const bad = `invalid port ${JSON.stringify(s)}: use TARGET, PUBLISHED:TARGET or IP:PUBLISHED:TARGET, with an optional /udp`;
  let rest = s.trim();
  let protocol: 'tcp' | 'udp' = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1);
    if (p !== 'tcp' && p !== 'udp') return `invalid protocol ${JSON.stringify(p)} in port ${JSON.stringify(s)} (tcp or udp)`;
    protocol = p;
    rest = rest.slice(0, slash);
  }
  let hostIp: string | undefined;
  const ipv6 = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (ipv6) { hostIp = ipv6[1]; rest = ipv6[2]; }
  const parts = rest.split(':');
  if (!ipv6 && parts.length === 3) hostIp = parts.shift();
  if (parts.length > 2 || parts.length === 0) return bad;
  const range = (x: string): [number, number] | undefined => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(x);
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] ? Number(m[2]) : a;
    return a >= 1 && b <= 65535 && a <= b ? [a, b] : undefined;
  };
  const target = range(parts[parts.length - 1]);
  if (!target) return bad;
  const published = parts.length === 2 && parts[0] !== '' ? range(parts[0]) : undefined;
  if (parts.length === 2 && parts[0] !== '' && !published) return bad;
  const count = target[1] - target[0] + 1;
  if (published && published[1] - published[0] + 1 !== count) return `port ranges of different sizes in ${JSON.stringify(s)}`;
  const out: PortSpec[] = [];
  for (let i = 0; i < count; i++) {
    out.push(clean({ target: target[0] + i, published: published ? published[0] + i : undefined, protocol, mode: 'ingress' as const, host_ip: hostIp || undefined }));
  }
  return out;
}

/** POSIX-shell-like word splitting with quotes and backslashes, as compose splits a string command. */
export function shellSplit(s: string): string[] | string {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < s.length && '"\\$`'.includes(s[i + 1])) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") { quote = c; inWord = true; }
    else if (c === '\\' && i + 1 < s.length) { cur += s[++i]; inWord = true; }
    else if (/\s/.test(c)) { if (inWord) { out.push(cur); cur = ''; inWord = false; } }
    else { cur += c; inWord = true; }
  }
  if (quote) return `unterminated ${quote} quote in ${JSON.stringify(s)}`;
  if (inWord) out.push(cur);
  return out;
}

const emptyEntries = (): Entries => new Map();
