// The lab's pure parts: names, addresses, paths, the commands that start a host's daemons,
// the iptables rules of a partition, and the status table. No effects here: lab.ts runs them.

export const BRIDGE = 'tsswlab0';
export const SUBNET = '10.213.0.0/24';
export const BRIDGE_ADDR = '10.213.0.1';
export const GOSSIP_PORT = 4242;
/** Runtime state (sockets, pid files, exec-roots): gone on a reboot, like a host's /run. */
export const RUN_DIR = '/run/tsswarm-lab';
/** Persistent state (engines' data-roots, tsswarm data dirs, logs, the lab's state file). */
export const LIB_DIR = '/var/lib/tsswarm-lab';
export const STATE_FILE = `${LIB_DIR}/lab.json`;
/** Kept across `down`: the busybox image tarball (rebuilt when /bin/busybox changes). */
export const CACHE_DIR = '/var/cache/tsswarm-lab';
/** Prefix of every lab namespace and cgroup: tsswarm-lab-lab-m1. */
export const NS_PREFIX = 'tsswarm-lab-';
export const VETH_PREFIX = 'tswl-';
/** iptables chains in each host's namespace: raw PREROUTING and mangle POSTROUTING jump to them. */
export const CHAIN_IN = 'TSSWLAB-IN';
export const CHAIN_OUT = 'TSSWLAB-OUT';
/** The host's link to the lab bridge, inside its namespace. */
export const LINK_IN_NS = 'eth0';
export const MAX_MANAGERS = 9;
export const MAX_WORKERS = 50;

export type Role = 'manager' | 'worker';

export interface LabHost {
  name: string;
  role: Role;
  addr: string;
  dockerHost: string;
  apiHost?: string;
  gossipAddr: string;
}

export interface LabStatusHost extends LabHost {
  engine: boolean;
  tsswarm: boolean;
  partitioned: boolean;
  delay?: string;
}

/** Everything about one host that lab.ts needs, derived from its role and index. */
export interface HostPlan extends LabHost {
  /** 1-based within its role. */
  index: number;
  ns: string;
  nsPath: string;
  veth: string;
  vethPeer: string;
  /** The engine's docker0 (distinct per host: 10.214.<last octet>.1/24). */
  bip: string;
  cgroupParent: string;
  runDir: string;
  execRoot: string;
  dockerSock: string;
  dockerPidfile: string;
  libDir: string;
  dataRoot: string;
  dockerLog: string;
  tsswarmDir: string;
  tsswarmLog: string;
}

export function hostName(role: Role, index: number): string {
  return `lab-${role === 'manager' ? 'm' : 'w'}${index}`;
}

/** Managers are .11, .12, …; workers .21, .22, … (up to .70). */
export function hostAddr(role: Role, index: number): string {
  if (!Number.isInteger(index) || index < 1) throw new Error(`host index must be a positive integer, got ${index}`);
  if (role === 'manager' && index > MAX_MANAGERS) throw new Error(`at most ${MAX_MANAGERS} managers, got index ${index}`);
  if (role === 'worker' && index > MAX_WORKERS) throw new Error(`at most ${MAX_WORKERS} workers, got index ${index}`);
  return `10.213.0.${(role === 'manager' ? 10 : 20) + index}`;
}

export function planHost(role: Role, index: number): HostPlan {
  const name = hostName(role, index);
  const addr = hostAddr(role, index);
  const octet = addr.split('.')[3];
  const runDir = `${RUN_DIR}/${name}`;
  const libDir = `${LIB_DIR}/${name}`;
  const tsswarmDir = `${libDir}/tsswarm`;
  return {
    name, role, index, addr,
    dockerHost: `unix://${runDir}/docker.sock`,
    apiHost: role === 'manager' ? `unix://${tsswarmDir}/tsswarm.sock` : undefined,
    gossipAddr: `${addr}:${GOSSIP_PORT}`,
    ns: `${NS_PREFIX}${name}`,
    nsPath: `/var/run/netns/${NS_PREFIX}${name}`,
    veth: `${VETH_PREFIX}${name}`,
    vethPeer: `tswp-${name}`,
    bip: `10.214.${octet}.1/24`,
    cgroupParent: `${NS_PREFIX}${name}`,
    runDir,
    execRoot: `${runDir}/exec`,
    dockerSock: `${runDir}/docker.sock`,
    dockerPidfile: `${runDir}/docker.pid`,
    libDir,
    dataRoot: `${libDir}/docker`,
    dockerLog: `${libDir}/dockerd.log`,
    tsswarmDir,
    tsswarmLog: `${libDir}/tsswarm.log`,
  };
}

export function planLab(managers: number, workers: number): HostPlan[] {
  if (!Number.isInteger(managers) || managers < 1 || managers > MAX_MANAGERS) throw new Error(`managers must be 1..${MAX_MANAGERS}, got ${managers}`);
  if (!Number.isInteger(workers) || workers < 0 || workers > MAX_WORKERS) throw new Error(`workers must be 0..${MAX_WORKERS}, got ${workers}`);
  const out: HostPlan[] = [];
  for (let i = 1; i <= managers; i++) out.push(planHost('manager', i));
  for (let i = 1; i <= workers; i++) out.push(planHost('worker', i));
  return out;
}

/** The public view of a host (what tests and the benchmark use). */
export function publicHost(h: HostPlan): LabHost {
  const out: LabHost = { name: h.name, role: h.role, addr: h.addr, dockerHost: h.dockerHost, gossipAddr: h.gossipAddr };
  if (h.apiHost) out.apiHost = h.apiHost;
  return out;
}

/** A host's process runs in its network namespace and a UTS namespace of its own named after it. */
export function inHost(h: HostPlan, argv: string[]): string[] {
  return ['nsenter', `--net=${h.nsPath}`, 'unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', h.name, ...argv];
}

export function dockerdArgs(h: HostPlan): string[] {
  return [
    'dockerd',
    '--host', h.dockerHost,
    '--data-root', h.dataRoot,
    '--exec-root', h.execRoot,
    '--pidfile', h.dockerPidfile,
    '--bip', h.bip,
    '--cgroup-parent', h.cgroupParent,
    '--iptables=true',
    '--shutdown-timeout', '5',
    // A registry on the lab network (e.g. on the bridge address) is plain HTTP, as on a laptop's lab.
    '--insecure-registry', SUBNET,
  ];
}

export interface TsswarmStart {
  /** First manager: a new cluster. */
  init?: boolean;
  /** Join the cluster through this manager (gossip address) with this token. */
  join?: { addr: string; token: string };
  /** An agent's restart: the manager it first connects to (its data dir knows the others). */
  manager?: string;
}

/** The tsswarm command line (after `node bin/tsswarm.js`) that starts this host's daemon. */
export function tsswarmArgs(h: HostPlan, s: TsswarmStart): string[] {
  if (h.role === 'manager') {
    const a = ['manager'];
    if (s.init) a.push('--init');
    if (s.join) a.push('--join', s.join.addr, '--token', s.join.token);
    if (s.init || s.join) a.push('--listen-addr', h.gossipAddr, '--advertise-addr', h.gossipAddr);
    a.push('--data-dir', h.tsswarmDir);
    return a;
  }
  if (s.join) return ['agent', '--join', s.join.addr, '--token', s.join.token, '--data-dir', h.tsswarmDir];
  if (!s.manager) throw new Error(`restarting the agent of ${h.name} needs a manager address`);
  return ['agent', '--manager', s.manager, '--data-dir', h.tsswarmDir];
}

/**
 * The rules of a partition, added to the host's own chains (raw PREROUTING → CHAIN_IN,
 * mangle POSTROUTING → CHAIN_OUT): only the lab link is cut, so the host's engine, its
 * containers and its loopback keep talking among themselves.
 * With `from`: only packets from that address to this host are dropped (one way).
 */
export function partitionRules(from?: string): { table: 'raw' | 'mangle'; chain: string; rule: string[] }[] {
  if (from) return [{ table: 'raw', chain: CHAIN_IN, rule: ['-i', LINK_IN_NS, '-s', from, '-j', 'DROP'] }];
  return [
    { table: 'raw', chain: CHAIN_IN, rule: ['-i', LINK_IN_NS, '-j', 'DROP'] },
    { table: 'mangle', chain: CHAIN_OUT, rule: ['-o', LINK_IN_NS, '-j', 'DROP'] },
  ];
}

/** `200ms`, `1s`, `1.5s`, `500us`: what netem takes as a delay. */
export function checkDelay(d: string): string {
  if (!/^\d+(\.\d+)?(us|ms|s)$/.test(d)) throw new Error(`delay must be like 200ms, 1s or 500us (or "off"), got ${JSON.stringify(d)}`);
  return d;
}

/** NAME ROLE ADDRESS ENGINE TSSWARM NOTES, then the `export TSSWARM_HOST=…` line. */
export function statusTable(hosts: LabStatusHost[], tsswarmHost?: string, enginesOnly = false): string {
  const rows = [['NAME', 'ROLE', 'ADDRESS', 'ENGINE', 'TSSWARM', 'NOTES']];
  for (const h of hosts) {
    const notes: string[] = [];
    if (h.partitioned) notes.push('partitioned');
    if (h.delay) notes.push(`delay ${h.delay}`);
    rows.push([h.name, h.role, h.addr, h.engine ? 'up' : 'down', enginesOnly ? '-' : h.tsswarm ? 'up' : 'down', notes.join(', ')]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
  if (hosts.length === 0) lines.push('(no lab: `npm run lab -- up`)');
  if (tsswarmHost) lines.push('', `export TSSWARM_HOST=${tsswarmHost}`);
  else if (enginesOnly && hosts.length) lines.push('', '# engines only (up --engines-only): no tsswarm');
  else if (hosts.length) lines.push('', '# no live manager answers');
  return lines.join('\n') + '\n';
}

export function statusJson(hosts: LabStatusHost[], tsswarmHost?: string, enginesOnly = false): string {
  return JSON.stringify({ hosts, ...(tsswarmHost ? { tsswarmHost } : {}), ...(enginesOnly ? { enginesOnly } : {}) }, null, 2) + '\n';
}
