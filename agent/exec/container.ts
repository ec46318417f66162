// From a task to the Docker Engine's container-create request, and from the engine's
// container state back to a task status. Pure functions: no engine calls here.

import type Dockerode from 'dockerode';
import { parseDuration } from '../../common/duration.js';
import { DEFAULT_STOP_GRACE_PERIOD, type PortSpec, type ServiceSpec } from '../../common/spec.js';
import type { HealthState, TaskObj, TaskStatus } from '../../common/api/objects.js';
import { AgentErrorCodes, isEngineUnavailable, type AgentErrorCode } from '../errors.js';
import { engineErrorText } from '../../common/docker-host.js';

export const LABEL = {
  taskId: 'tsswarm.task.id',
  taskName: 'tsswarm.task.name',
  serviceId: 'tsswarm.service.id',
  serviceName: 'tsswarm.service.name',
  stack: 'tsswarm.stack.namespace',
  nodeId: 'tsswarm.node.id',
  slot: 'tsswarm.slot',
  network: 'tsswarm.network.id',
  volume: 'tsswarm.volume.id',
} as const;

/** Swarm-style container name: <service>.<slot|nodeId>.<taskId>. */
export const containerName = (t: TaskObj): string => `${t.serviceName}.${t.slot ?? t.nodeId}.${t.id}`;

/** The service's key in its stack file ("web" for "shop_web"). */
export const shortServiceName = (t: Pick<TaskObj, 'serviceName' | 'stack'>): string =>
  t.stack && t.serviceName.startsWith(`${t.stack}_`) ? t.serviceName.slice(t.stack.length + 1) : t.serviceName;

export const graceMs = (t: TaskObj): number => {
  try {
    return parseDuration(t.spec.stop_grace_period ?? DEFAULT_STOP_GRACE_PERIOD);
  } catch {
    return 10_000;
  }
};

const nanos = (d: string | undefined): number | undefined => {
  if (d === undefined) return undefined;
  return Math.round(parseDuration(d) * 1e6);
};

export interface ResolvedMount {
  type: 'volume' | 'bind' | 'tmpfs';
  source?: string; // full engine name for volumes
  target: string;
  readOnly: boolean;
  /** volume: do not copy the image's files into a new volume */
  noCopy?: boolean;
  /** bind: mount propagation */
  propagation?: string;
  /** bind: make the source folder on the node when it is missing (before the container is created) */
  createHostPath?: boolean;
  /** tmpfs: size in bytes, permission bits */
  tmpfsSize?: number;
  tmpfsMode?: number;
}

export interface CreateContext {
  nodeId: string;
  /** What the container is created from (Resources.ensureImage's answer): default the spec's image. */
  image?: string;
  /** Full engine names of the task's networks with their aliases, in attach order. */
  networks: { name: string; aliases: string[] }[];
  mounts: ResolvedMount[];
}

export const portKey = (p: Pick<PortSpec, 'target' | 'protocol'>): string => `${p.target}/${p.protocol}`;

export function taskLabels(t: TaskObj, nodeId: string): Record<string, string> {
  return {
    ...t.spec.labels,
    [LABEL.taskId]: t.id,
    [LABEL.taskName]: `${t.serviceName}.${t.slot ?? t.nodeId ?? nodeId}`,
    [LABEL.serviceId]: t.serviceId,
    [LABEL.serviceName]: t.serviceName,
    [LABEL.stack]: t.stack,
    [LABEL.nodeId]: nodeId,
    [LABEL.slot]: t.slot === undefined ? '' : String(t.slot),
  };
}

/** A resolved mount as the engine's HostConfig.Mounts entry (options only where set). */
export function engineMount(m: ResolvedMount): Dockerode.MountSettings {
  // the engine takes each options object partly filled; dockerode's types want every field
  const out: Record<string, unknown> = { Type: m.type, Source: m.source ?? '', Target: m.target, ReadOnly: m.readOnly };
  if (m.noCopy) out.VolumeOptions = { NoCopy: true };
  if (m.propagation) out.BindOptions = { Propagation: m.propagation };
  if (m.tmpfsSize !== undefined || m.tmpfsMode !== undefined) {
    out.TmpfsOptions = { ...(m.tmpfsSize !== undefined ? { SizeBytes: m.tmpfsSize } : {}), ...(m.tmpfsMode !== undefined ? { Mode: m.tmpfsMode } : {}) };
  }
  return out as unknown as Dockerode.MountSettings;
}

export function createOptions(t: TaskObj, ctx: CreateContext): Dockerode.ContainerCreateOptions {
  const s = t.spec;
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  // on the host network (or none) a port is the node's own: nothing to bind
  const ownNetwork = s.network_mode !== undefined;
  for (const p of s.ports ?? []) {
    const k = portKey(p);
    exposed[k] = {};
    if (ownNetwork) continue;
    // Ingress: reachable only by the local proxy, on an ephemeral loopback port.
    const b = p.mode === 'host'
      ? { HostIp: p.host_ip ?? '', HostPort: p.published === undefined ? '' : String(p.published) }
      : { HostIp: '127.0.0.1', HostPort: '' };
    (bindings[k] ??= []).push(b);
  }
  const hostConfig: Dockerode.HostConfig = {
    RestartPolicy: { Name: 'no' },
    Mounts: ctx.mounts.map(engineMount),
    PortBindings: bindings,
  };
  if (s.init !== undefined) hostConfig.Init = s.init;
  const lim = s.deploy?.resources?.limits ?? {};
  if (lim.memory) hostConfig.Memory = lim.memory;
  if (lim.cpus) hostConfig.NanoCpus = Math.round(lim.cpus * 1e9);
  // a memory reservation is the engine's soft limit too (as Swarm sets it)
  const memReservation = s.deploy?.resources?.reservations?.memory;
  if (memReservation) hostConfig.MemoryReservation = memReservation;
  if (s.network_mode !== undefined) hostConfig.NetworkMode = s.network_mode;
  else if (ctx.networks.length === 0) hostConfig.NetworkMode = 'bridge';
  else hostConfig.NetworkMode = ctx.networks[0].name;
  applyContainerSettings(s, hostConfig);

  const opts: Dockerode.ContainerCreateOptions = {
    name: containerName(t),
    Image: ctx.image ?? s.image_id ?? s.image,
    Env: Object.entries(s.environment ?? {}).map(([k, v]) => `${k}=${v}`),
    Labels: taskLabels(t, ctx.nodeId),
    ExposedPorts: exposed,
    StopTimeout: Math.ceil(graceMs(t) / 1000),
    HostConfig: hostConfig,
  };
  if (s.command) opts.Cmd = s.command;
  if (s.entrypoint) opts.Entrypoint = s.entrypoint;
  if (s.user) opts.User = s.user;
  if (s.working_dir) opts.WorkingDir = s.working_dir;
  if (s.hostname) opts.Hostname = s.hostname;
  if (s.stop_signal) opts.StopSignal = s.stop_signal;
  if (s.domainname) opts.Domainname = s.domainname;
  if (s.tty !== undefined) opts.Tty = s.tty;
  if (s.stdin_open !== undefined) opts.OpenStdin = s.stdin_open;
  const hc = s.healthcheck;
  if (hc) {
    if (hc.disable || hc.test?.[0] === 'NONE') opts.Healthcheck = { Test: ['NONE'] };
    else {
      opts.Healthcheck = {
        Test: hc.test,
        Interval: nanos(hc.interval),
        Timeout: nanos(hc.timeout),
        Retries: hc.retries,
        StartPeriod: nanos(hc.start_period),
      };
    }
  }
  if (ctx.networks.length > 0 && s.network_mode === undefined) {
    const first = ctx.networks[0];
    opts.NetworkingConfig = { EndpointsConfig: { [first.name]: { Aliases: first.aliases } } };
  }
  return opts;
}

/** Capabilities, devices, kernel settings, DNS, hosts, logging: the spec's fields as the engine's HostConfig has them. */
function applyContainerSettings(s: ServiceSpec, h: Dockerode.HostConfig): void {
  if (s.cap_add?.length) h.CapAdd = s.cap_add;
  if (s.cap_drop?.length) h.CapDrop = s.cap_drop;
  if (s.privileged !== undefined) h.Privileged = s.privileged;
  if (s.security_opt?.length) h.SecurityOpt = s.security_opt;
  if (s.devices?.length) h.Devices = s.devices.map((d) => ({ PathOnHost: d.source, PathInContainer: d.target, CgroupPermissions: d.permissions }));
  if (s.group_add?.length) h.GroupAdd = s.group_add;
  if (s.sysctls && Object.keys(s.sysctls).length) h.Sysctls = s.sysctls;
  if (s.ulimits && Object.keys(s.ulimits).length) h.Ulimits = Object.entries(s.ulimits).map(([Name, u]) => ({ Name, Soft: u.soft, Hard: u.hard }));
  if (s.pids_limit !== undefined) h.PidsLimit = s.pids_limit;
  if (s.shm_size !== undefined) h.ShmSize = s.shm_size;
  if (s.read_only !== undefined) h.ReadonlyRootfs = s.read_only;
  if (s.tmpfs?.length) {
    const tmpfs: Record<string, string> = {};
    for (const t of s.tmpfs) {
      const i = t.indexOf(':');
      tmpfs[i === -1 ? t : t.slice(0, i)] = i === -1 ? '' : t.slice(i + 1);
    }
    h.Tmpfs = tmpfs;
  }
  if (s.extra_hosts?.length) h.ExtraHosts = s.extra_hosts;
  if (s.dns?.length) h.Dns = s.dns;
  if (s.dns_search?.length) h.DnsSearch = s.dns_search;
  if (s.dns_opt?.length) h.DnsOptions = s.dns_opt;
  if (s.logging) h.LogConfig = { Type: s.logging.driver ?? '', Config: s.logging.options };
  if (s.runtime !== undefined) h.Runtime = s.runtime;
  const devices = s.deploy?.resources?.reservations?.devices;
  if (devices?.length) {
    h.DeviceRequests = devices.map((dr) => ({
      Driver: dr.driver ?? '',
      Count: dr.count ?? (dr.device_ids ? 0 : -1),
      DeviceIDs: dr.device_ids ?? [],
      Capabilities: [dr.capabilities],
      Options: dr.options ?? {},
    }));
  }
  if (s.pid !== undefined) h.PidMode = s.pid;
  if (s.ipc !== undefined) h.IpcMode = s.ipc;
  if (s.uts !== undefined) h.UTSMode = s.uts;
  if (s.userns_mode !== undefined) h.UsernsMode = s.userns_mode;
  if (s.cgroup !== undefined) (h as { CgroupnsMode?: string }).CgroupnsMode = s.cgroup;
  if (s.oom_score_adj !== undefined) h.OomScoreAdj = s.oom_score_adj;
  if (s.oom_kill_disable !== undefined) h.OomKillDisable = s.oom_kill_disable;
  if (s.cpu_shares !== undefined) h.CpuShares = s.cpu_shares;
  if (s.cpu_period !== undefined) h.CpuPeriod = s.cpu_period;
  if (s.cpu_quota !== undefined) h.CpuQuota = s.cpu_quota;
  if (s.cpuset !== undefined) h.CpusetCpus = s.cpuset;
  if (s.memswap_limit !== undefined) h.MemorySwap = s.memswap_limit;
  if (s.mem_swappiness !== undefined) h.MemorySwappiness = s.mem_swappiness;
  if (s.device_cgroup_rules?.length) h.DeviceCgroupRules = s.device_cgroup_rules;
  if (s.storage_opt && Object.keys(s.storage_opt).length) h.StorageOpt = s.storage_opt;
  if (s.annotations && Object.keys(s.annotations).length) (h as { Annotations?: Record<string, string> }).Annotations = s.annotations;
  const b = s.blkio_config;
  if (b) {
    const rates = (l: { path: string; rate: number }[] | undefined) => l?.map((x) => ({ Path: x.path, Rate: x.rate }));
    if (b.weight !== undefined) h.BlkioWeight = b.weight;
    if (b.weight_device) h.BlkioWeightDevice = b.weight_device.map((x) => ({ Path: x.path, Weight: x.weight }));
    if (b.device_read_bps) h.BlkioDeviceReadBps = rates(b.device_read_bps);
    if (b.device_write_bps) h.BlkioDeviceWriteBps = rates(b.device_write_bps);
    if (b.device_read_iops) h.BlkioDeviceReadIOps = rates(b.device_read_iops);
    if (b.device_write_iops) h.BlkioDeviceWriteIOps = rates(b.device_write_iops);
  }
}

export type PortBinding = NonNullable<TaskStatus['portBindings']>[number];

/** Where the task's published ports ended up, read from the container's inspect data. */
export function portBindingsOf(t: TaskObj, info: Dockerode.ContainerInspectInfo): PortBinding[] | undefined {
  const ports = t.spec.ports ?? [];
  if (ports.length === 0) return undefined;
  const out: PortBinding[] = [];
  if (t.spec.network_mode === 'host') {
    // the task listens on the node's own ports
    return ports.map((p) => ({ target: p.target, protocol: p.protocol, hostIp: p.host_ip ?? '0.0.0.0', hostPort: p.published ?? p.target }));
  }
  const actual = (info.NetworkSettings?.Ports ?? {}) as Record<string, { HostIp: string; HostPort: string }[] | null>;
  for (const p of ports) {
    const list = actual[portKey(p)] ?? [];
    const want = p.mode === 'host' ? (p.host_ip || '0.0.0.0') : '127.0.0.1';
    const b = list.find((x) => x.HostIp === want) ?? list.find((x) => !x.HostIp.includes(':')) ?? list[0];
    if (!b) continue;
    out.push({ target: p.target, protocol: p.protocol, hostIp: b.HostIp || want, hostPort: Number(b.HostPort) });
  }
  return out;
}

/** The task status a container's state stands for. Undefined: created but never started. */
export function statusFromContainer(t: TaskObj, info: Dockerode.ContainerInspectInfo, now = Date.now()): TaskStatus | undefined {
  const st = info.State;
  const base = { timestamp: now, containerId: info.Id };
  if (st.Running || st.Paused || st.Restarting) {
    const hasHc = !!info.Config?.Healthcheck?.Test && info.Config.Healthcheck.Test[0] !== 'NONE';
    const h = (st as { Health?: { Status?: string } }).Health?.Status;
    const health: HealthState = !hasHc ? 'none' : h === 'healthy' ? 'healthy' : h === 'unhealthy' ? 'unhealthy' : 'starting';
    return { ...base, state: 'running', message: 'started', pid: st.Pid, health, portBindings: portBindingsOf(t, info) };
  }
  if (st.Status === 'created') return undefined;
  const code = st.ExitCode;
  if (code === 0) return { ...base, state: 'complete', message: 'finished', exitCode: 0 };
  const oom = st.OOMKilled;
  const message = `task: non-zero exit (${code})`;
  return oom
    ? { ...base, state: 'failed', message, exitCode: code, err: `OOM killed: ${message}`, errCode: AgentErrorCodes.OOM_KILLED }
    : { ...base, state: 'failed', message, exitCode: code, err: st.Error || message, errCode: AgentErrorCodes.EXIT_NON_ZERO };
}

/** A user-facing reason for an engine error (create/start). */
export function explainEngineError(err: unknown, t: TaskObj): string {
  return classifyEngineError(err, t, AgentErrorCodes.CONTAINER_CREATE_FAILED).err;
}

/**
 * The reason and code of an engine error at create or start: a known cause (port taken, image
 * or mount source missing, engine unreachable) gets its own code, anything else `fallback`.
 */
export function classifyEngineError(err: unknown, t: TaskObj, fallback: AgentErrorCode): { err: string; errCode: AgentErrorCode } {
  const msg = engineMessage(err);
  if (/port is already allocated|address already in use/i.test(msg)) {
    // e.g. "Bind for 0.0.0.0:8080 failed: port is already allocated",
    //      "... listen tcp4 0.0.0.0:8080: bind: address already in use"
    const numbers = [...msg.matchAll(/:(\d+)/g)].map((m) => Number(m[1]));
    const ports = t.spec.ports ?? [];
    const spec = ports.find((p) => p.published !== undefined && numbers.includes(p.published))
      ?? (ports.filter((p) => p.mode === 'host' && p.published !== undefined).length === 1 ? ports.find((p) => p.mode === 'host' && p.published !== undefined) : undefined);
    const code = AgentErrorCodes.PORT_IN_USE;
    if (spec) return { err: `port ${spec.published}/${spec.protocol} is already in use on this node`, errCode: code };
    return { err: `a published port is already in use on this node (${msg})`, errCode: code };
  }
  if (/No such image|pull access denied|manifest unknown/i.test(msg)) return { err: `image ${t.spec.image} not found`, errCode: AgentErrorCodes.IMAGE_NOT_FOUND };
  if (/bind source path does not exist|invalid mount config/i.test(msg)) return { err: `invalid mount: ${msg}`, errCode: AgentErrorCodes.MOUNT_INVALID };
  if (isEngineUnavailable(err)) return { err: msg, errCode: AgentErrorCodes.ENGINE_UNAVAILABLE };
  return { err: msg, errCode: fallback };
}

export const engineMessage = engineErrorText;

export const statusCode = (err: unknown): number | undefined => (err as { statusCode?: number })?.statusCode;
