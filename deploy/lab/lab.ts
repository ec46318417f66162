// The multi-host lab: N Docker hosts on this one machine. Each host is a network namespace on
// the lab bridge with its own address, hostname (a UTS namespace), dockerd and tsswarm daemon.
// docs/lab.md explains what it builds and how its faults work; plan.ts holds the names and
// commands (pure), this file runs them. Everything here needs root.

import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeObj } from '../../common/api/objects.js';
import {
  BRIDGE, BRIDGE_ADDR, CACHE_DIR, CHAIN_IN, CHAIN_OUT, LIB_DIR, LINK_IN_NS, NS_PREFIX, RUN_DIR, STATE_FILE, SUBNET, VETH_PREFIX,
  checkDelay, dockerdArgs, inHost, partitionRules, planHost, planLab, publicHost, tsswarmArgs,
  type HostPlan, type LabHost, type LabStatusHost, type Role, type TsswarmStart,
} from './plan.js';

export type { LabHost, LabStatusHost } from './plan.js';

export interface UpOptions {
  managers?: number;
  workers?: number;
  /** false: engines only (a Docker Swarm baseline on the same dockerds). */
  tsswarm?: boolean;
  /** More arguments for every `tsswarm manager` (at up and at each restart), e.g. ['--log-level', 'debug']. */
  managerArgs?: string[];
  /** More arguments for every `tsswarm agent`. */
  agentArgs?: string[];
  log?: (line: string) => void;
}

/** What the state file remembers: the shape of the lab and the faults in force. */
interface LabState {
  version: 1;
  createdAt: string;
  tsswarm: boolean;
  hosts: { role: Role; index: number }[];
  /** host → 'all' (both ways) or the addresses whose packets to it are dropped. */
  partitions: Record<string, 'all' | string[]>;
  delays: Record<string, string>;
  managerArgs?: string[];
  agentArgs?: string[];
}

const ENGINE_TIMEOUT_MS = 60_000;
const TSSWARM_TIMEOUT_MS = 60_000;
const READY_TIMEOUT_MS = 90_000;
const KILL_TIMEOUT_MS = 15_000;
const STOP_ENGINE_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// Small effects: commands, daemons, processes, sockets.

interface RunResult { code: number; stdout: string; stderr: string }

function run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; allowFail?: boolean } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: opts.timeoutMs ?? 30_000, env: opts.env ?? process.env, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : 1) : 0;
      const r = { code, stdout: String(stdout), stderr: String(stderr) };
      if (err && !opts.allowFail) {
        const why = (err as { killed?: boolean }).killed ? `timed out after ${(opts.timeoutMs ?? 30_000) / 1000} s` : (r.stderr.trim() || err.message).split('\n').slice(-3).join(' | ');
        reject(new Error(`${[cmd, ...args].join(' ').slice(0, 300)}: ${why}`));
      } else resolve(r);
    });
  });
}

/** Run a command in a host's network namespace. */
const inNs = (h: HostPlan, cmd: string, args: string[], allowFail = false): Promise<RunResult> =>
  run('nsenter', [`--net=${h.nsPath}`, cmd, ...args], { allowFail });

/** Start a daemon that outlives us (own session), its output appended to logFile. */
function spawnDaemon(argv: string[], env: NodeJS.ProcessEnv, logFile: string): { pid: number; exited: () => boolean } {
  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', fd, fd], env });
    let done = false;
    child.on('error', () => { done = true; });
    child.on('exit', () => { done = true; });
    child.unref();
    if (!child.pid) throw new Error(`could not start ${argv[0]} (see ${logFile})`);
    return { pid: child.pid, exited: () => done || !alive(child.pid!) };
  } finally {
    closeSync(fd);
  }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `check` until it returns a value (not undefined/false), at most timeoutMs; then throw `fail()`. */
async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, fail: () => string, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (true) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(fail());
    await delay(everyMs);
  }
}

/** The last lines of a log file, for error messages. */
function tail(file: string, lines = 8): string {
  try {
    const t = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    return t ? `\n--- last lines of ${file}:\n${t}` : '';
  } catch { return ''; }
}

/** GET over a unix socket: the status code and body, or undefined if nothing answers. */
function httpGet(socketPath: string, path: string, timeoutMs = 2_000): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    if (!existsSync(socketPath)) { resolve(undefined); return; }
    const req = request({ socketPath, path, method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => { req.destroy(); resolve(undefined); });
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

const engineAnswers = async (h: HostPlan): Promise<boolean> => (await httpGet(h.dockerSock, '/_ping'))?.status === 200;

async function apiNodes(h: HostPlan): Promise<NodeObj[] | undefined> {
  const r = await httpGet(`${h.tsswarmDir}/tsswarm.sock`, '/v1/nodes', 3_000);
  if (!r || r.status !== 200) return undefined;
  try { return JSON.parse(r.body) as NodeObj[]; } catch { return undefined; }
}

interface Proc { pid: number; args: string[] }

function procs(): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const raw = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      out.push({ pid: Number(d), args: raw.split('\0').filter((a) => a !== '') });
    } catch { /* gone */ }
  }
  return out;
}

/** Pids whose network namespace is the one at nsPath. */
function netnsPids(nsPath: string): number[] {
  let ino: number;
  try { ino = statSync(nsPath).ino; } catch { return []; }
  const want = `net:[${ino}]`;
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try { if (readlinkSync(`/proc/${d}/ns/net`) === want) out.push(Number(d)); } catch { /* gone or a kernel thread */ }
  }
  return out;
}

/**
 * Every cgroup dir whose name matches, in every controller, found up to 3 levels down (on some
 * machines a controller nests the engine's cgroups below the machine's own, e.g.
 * memory/process_api/ID/NAME); the search does not descend into a match.
 */
function cgroupDirs(match: (dirName: string) => boolean): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number): void => {
    let ents;
    try { ents = readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of ents) {
      if (!e.isDirectory()) continue;
      if (match(e.name)) out.push(join(d, e.name));
      else if (depth < 3) walk(join(d, e.name), depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return out;
}

/** All dirs below (and including) dir, deepest first. */
function dirsDeepestFirst(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let ents;
    try { ents = readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of ents) if (e.isDirectory()) walk(join(d, e.name));
    out.push(d);
  };
  walk(dir);
  return out;
}

function cgroupPids(dirs: string[]): number[] {
  const out = new Set<number>();
  for (const top of dirs) {
    for (const d of dirsDeepestFirst(top)) {
      try {
        for (const l of readFileSync(`${d}/cgroup.procs`, 'utf8').split('\n')) if (l.trim()) out.add(Number(l));
      } catch { /* gone */ }
    }
  }
  return [...out];
}

/** rmdir(2) every cgroup dir below (and including) each of dirs, deepest first (a busy one stays). */
function rmdirCgroups(dirs: string[]): void {
  for (const top of dirs) for (const d of dirsDeepestFirst(top)) { try { rmdirSync(d); } catch { /* busy or gone */ } }
}

/** SIGKILL everything pids() returns, again and again, until nothing is left (bounded). */
async function killAll(what: string, pids: () => number[]): Promise<void> {
  const self = new Set([process.pid, process.ppid]);
  await waitFor(() => {
    const left = pids().filter((p) => !self.has(p) && alive(p));
    for (const p of left) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    return left.length === 0;
  }, KILL_TIMEOUT_MS, () => `${what}: processes still alive after ${KILL_TIMEOUT_MS / 1000} s: ${pids().filter(alive).join(' ')}`, 50);
}

/** Mount points below any of the prefixes, deepest first (from /proc/self/mountinfo). */
function mountsUnder(prefixes: string[]): string[] {
  let info = '';
  try { info = readFileSync('/proc/self/mountinfo', 'utf8'); } catch { return []; }
  const pts = new Set<string>();
  for (const line of info.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mp = f[4].replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (prefixes.some((p) => mp === p || mp.startsWith(`${p}/`))) pts.add(mp);
  }
  return [...pts].sort((a, b) => b.split('/').length - a.split('/').length || b.length - a.length);
}

async function unmountUnder(prefixes: string[]): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const mps = mountsUnder(prefixes);
    if (mps.length === 0) return;
    for (const mp of mps) await run('umount', ['-l', mp], { allowFail: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The state file.

function readState(): LabState | undefined {
  try {
    const s = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as LabState;
    return s.version === 1 ? s : undefined;
  } catch { return undefined; }
}

function writeState(s: LabState): void {
  mkdirSync(LIB_DIR, { recursive: true });
  writeFileSync(`${STATE_FILE}.tmp`, JSON.stringify(s, null, 2) + '\n');
  renameSync(`${STATE_FILE}.tmp`, STATE_FILE);
}

/** partition/heal/slow read, change and write the state file: one at a time in this process. */
let stateQueue: Promise<unknown> = Promise.resolve();
function serialized<T>(fn: () => Promise<T>): Promise<T> {
  const next = stateQueue.then(fn, fn);
  stateQueue = next.catch(() => undefined);
  return next;
}

function planOf(s: LabState): HostPlan[] {
  return s.hosts.map((h) => planHost(h.role, h.index));
}

function needState(): LabState {
  const s = readState();
  if (!s) throw new Error(`no lab is up (no ${STATE_FILE}): run \`npm run lab -- up\``);
  return s;
}

function findHost(s: LabState, name: string): HostPlan {
  const all = planOf(s);
  const h = all.find((x) => x.name === name);
  if (!h) throw new Error(`unknown host ${JSON.stringify(name)}; the lab's hosts: ${all.map((x) => x.name).join(', ')}`);
  return h;
}

// ---------------------------------------------------------------------------------------------
// Preconditions: root, packages, the build.

function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('the lab needs root (network namespaces, iptables, dockerd): run it as root, e.g. `sudo npm run lab -- up`');
  }
}

async function has(cmd: string): Promise<boolean> {
  return (await run('sh', ['-c', `command -v ${cmd}`], { allowFail: true })).code === 0;
}

async function ensurePackages(log: (l: string) => void): Promise<void> {
  const missing = new Set<string>();
  if (!(await has('dockerd')) || !(await has('docker'))) missing.add('docker.io');
  const bb = await run('/bin/busybox', ['--list'], { allowFail: true });
  if (bb.code !== 0 || !bb.stdout.split('\n').includes('httpd')) missing.add('busybox-static');
  if (!(await has('ip')) || !(await has('tc'))) missing.add('iproute2');
  if (!(await has('iptables'))) missing.add('iptables');
  if (!(await has('nsenter')) || !(await has('unshare'))) missing.add('util-linux');
  if (missing.size === 0) return;
  log(`installing Debian packages: ${[...missing].join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { env, timeoutMs: 300_000 });
  await run('apt-get', ['install', '-y', '-qq', ...missing], { env, timeoutMs: 600_000 });
  log(`installed: ${[...missing].join(' ')}`);
}

/**
 * A dockerd uses the system's containerd when /run/containerd/containerd.sock answers: the lab's
 * engines would then share it (and its containers), and `kill` could not cut one host's power.
 */
async function refuseSystemContainerd(): Promise<void> {
  const sock = '/run/containerd/containerd.sock';
  if (!existsSync(sock)) return;
  const answers = await new Promise<boolean>((resolve) => {
    const c = connect(sock, () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
    c.setTimeout(1_000, () => { c.destroy(); resolve(false); });
  });
  if (answers) throw new Error(`a system containerd answers on ${sock}: each lab engine must run its own (stop the system's containerd, e.g. \`systemctl stop containerd\`, then run up again)`);
}

/** The checkout holding bin/tsswarm.js (this file runs from deploy/lab/ or dist/deploy/lab/). */
export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'bin', 'tsswarm.js')) && existsSync(join(d, 'package.json'))) return d;
    d = dirname(d);
  }
  throw new Error('cannot find the tsswarm checkout (bin/tsswarm.js) above deploy/lab');
}

function tsswarmBin(): string {
  const root = repoRoot();
  if (!existsSync(join(root, 'dist', 'launcher', 'main.js'))) throw new Error(`tsswarm is not built: run \`npm run build\` in ${root}`);
  return join(root, 'bin', 'tsswarm.js');
}

// ---------------------------------------------------------------------------------------------
// Cleanup: everything the lab may have left, whether or not a state file says so.

/** Lab processes by command line: dockerd/containerd/tsswarm whose arguments name a lab path. */
function labProcsByCmdline(): number[] {
  const daemons = new Set(['dockerd', 'containerd', 'containerd-shim', 'containerd-shim-runc-v2', 'docker-proxy', 'node', 'nsenter', 'unshare', 'sh', 'runc']);
  return procs()
    .filter((p) => p.args.length > 0 && daemons.has(basename(p.args[0])))
    .filter((p) => p.args.some((a) => a.startsWith(`${RUN_DIR}/`) || a.startsWith(`${LIB_DIR}/`) || a.startsWith(`unix://${RUN_DIR}/`) || a.startsWith(`--net=/var/run/netns/${NS_PREFIX}`)))
    .map((p) => p.pid);
}

function labNamespaces(): string[] {
  try { return readdirSync('/var/run/netns').filter((n) => n.startsWith(NS_PREFIX)); } catch { return []; }
}

async function cleanup(log: (l: string) => void): Promise<void> {
  const nsPaths = labNamespaces().map((n) => `/var/run/netns/${n}`);
  const cgs = cgroupDirs((n) => n.startsWith(NS_PREFIX));
  const pids = (): number[] => [...new Set([...nsPaths.flatMap(netnsPids), ...cgroupPids(cgs), ...labProcsByCmdline()])];
  const n = pids().length;
  await killAll('lab cleanup', pids);
  if (n) log(`killed ${n} lab process(es)`);
  const mounts = mountsUnder([RUN_DIR, LIB_DIR]);
  await unmountUnder([RUN_DIR, LIB_DIR]);
  if (mounts.length) log(`unmounted ${mounts.length} mount(s) under ${RUN_DIR} and ${LIB_DIR}`);
  for (const ns of labNamespaces()) await run('ip', ['netns', 'del', ns], { allowFail: true });
  const links = (await run('ip', ['-o', 'link', 'show'], { allowFail: true })).stdout.split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1]).filter((x): x is string => !!x)
    .filter((x) => x === BRIDGE || x.startsWith(VETH_PREFIX) || x.startsWith('tswp-'));
  for (const l of links) await run('ip', ['link', 'del', l], { allowFail: true });
  let rules = 0;
  while ((await run('iptables', ['-D', 'FORWARD', '-i', BRIDGE, '-o', BRIDGE, '-j', 'ACCEPT'], { allowFail: true })).code === 0) rules++;
  rmdirCgroups(cgroupDirs((n) => n.startsWith(NS_PREFIX)));
  rmSync(RUN_DIR, { recursive: true, force: true });
  rmSync(LIB_DIR, { recursive: true, force: true });
  if (nsPaths.length || links.length || rules || cgs.length) log(`removed ${nsPaths.length} namespace(s), ${links.length} link(s), ${rules} FORWARD rule(s), ${cgs.length} cgroup dir(s)`);
}

// ---------------------------------------------------------------------------------------------
// Building a host.

async function makeNetwork(hostsPlan: HostPlan[]): Promise<void> {
  await run('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  await run('ip', ['addr', 'add', `${BRIDGE_ADDR}/24`, 'dev', BRIDGE]);
  await run('ip', ['link', 'set', BRIDGE, 'up']);
  // A host dockerd sets FORWARD's policy to DROP, and br_netfilter passes bridged frames through it.
  await run('iptables', ['-I', 'FORWARD', '-i', BRIDGE, '-o', BRIDGE, '-j', 'ACCEPT']);
  await Promise.all(hostsPlan.map(async (h) => {
    await run('ip', ['netns', 'add', h.ns]);
    await run('ip', ['link', 'add', h.veth, 'type', 'veth', 'peer', 'name', h.vethPeer]);
    await run('ip', ['link', 'set', h.vethPeer, 'netns', h.ns]);
    await inNs(h, 'ip', ['link', 'set', 'lo', 'up']);
    await inNs(h, 'ip', ['link', 'set', h.vethPeer, 'name', LINK_IN_NS]);
    await inNs(h, 'ip', ['addr', 'add', `${h.addr}/24`, 'dev', LINK_IN_NS]);
    await inNs(h, 'ip', ['link', 'set', LINK_IN_NS, 'up']);
    await run('ip', ['link', 'set', h.veth, 'master', BRIDGE]);
    await run('ip', ['link', 'set', h.veth, 'up']);
    // The partition chains: empty until `partition`, untouched by the host's dockerd.
    await inNs(h, 'iptables', ['-t', 'raw', '-N', CHAIN_IN]);
    await inNs(h, 'iptables', ['-t', 'raw', '-I', 'PREROUTING', '-j', CHAIN_IN]);
    await inNs(h, 'iptables', ['-t', 'mangle', '-N', CHAIN_OUT]);
    await inNs(h, 'iptables', ['-t', 'mangle', '-I', 'POSTROUTING', '-j', CHAIN_OUT]);
  }));
}

function dockerdPids(h: HostPlan): number[] {
  return procs().filter((p) => p.args.length > 0 && basename(p.args[0]) === 'dockerd' && p.args.includes(h.dockerHost)).map((p) => p.pid);
}

function tsswarmPids(h: HostPlan): number[] {
  // A daemon that read a join token from its command line rewrites it as one string (the token
  // hidden): match the words, not the separate arguments.
  return procs().filter((p) => {
    const words = p.args.join(' ').split(' ');
    return words.some((a) => a.endsWith('tsswarm.js')) && words.includes(h.tsswarmDir);
  }).map((p) => p.pid);
}

/**
 * What a power loss leaves behind and a reboot would clear: the engine's /run (exec-root with
 * containerd's state, pid file, socket) and the mounts of its dead containers.
 */
async function clearRuntime(h: HostPlan): Promise<void> {
  await unmountUnder([h.runDir, h.dataRoot]);
  rmSync(h.runDir, { recursive: true, force: true });
  rmdirCgroups(cgroupDirs((n) => n === h.cgroupParent));
}

async function startEngineOf(h: HostPlan): Promise<void> {
  if (dockerdPids(h).length) {
    // Running already (maybe still starting): wait for it rather than start a second one.
    await waitFor(async () => (await engineAnswers(h)) || (dockerdPids(h).length ? false : 'gone'), ENGINE_TIMEOUT_MS,
      () => `the dockerd of ${h.name} runs but does not answer within ${ENGINE_TIMEOUT_MS / 1000} s (log: ${h.dockerLog}); \`kill ${h.name}\` then \`start ${h.name}\``);
    if (await engineAnswers(h)) return;
  }
  await clearRuntime(h);
  mkdirSync(h.execRoot, { recursive: true });
  mkdirSync(h.dataRoot, { recursive: true });
  const d = spawnDaemon(inHost(h, dockerdArgs(h)), process.env, h.dockerLog);
  await waitFor(async () => {
    if (await engineAnswers(h)) return true;
    if (d.exited()) throw new Error(`the dockerd of ${h.name} exited (log: ${h.dockerLog})${tail(h.dockerLog)}`);
    return false;
  }, ENGINE_TIMEOUT_MS, () => `the dockerd of ${h.name} did not answer within ${ENGINE_TIMEOUT_MS / 1000} s (log: ${h.dockerLog})${tail(h.dockerLog)}`);
}

function tsswarmEnv(h: HostPlan): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: h.dockerHost };
  delete env.TSSWARM_HOST;
  delete env.TSSWARM_CONTEXT;
  return env;
}

/** Start the host's tsswarm daemon; resolves once it is up (a manager: its API answers). */
async function startTsswarmOf(h: HostPlan, s: TsswarmStart, extra: string[] = []): Promise<void> {
  if (tsswarmPids(h).length) return;
  mkdirSync(h.tsswarmDir, { recursive: true, mode: 0o700 });
  const logStart = existsSync(h.tsswarmLog) ? statSync(h.tsswarmLog).size : 0;
  const d = spawnDaemon(inHost(h, [process.execPath, tsswarmBin(), ...tsswarmArgs(h, s), ...extra]), tsswarmEnv(h), h.tsswarmLog);
  await waitFor(async () => {
    if (d.exited()) throw new Error(`the tsswarm ${h.role === 'manager' ? 'manager' : 'agent'} of ${h.name} exited (log: ${h.tsswarmLog})${tail(h.tsswarmLog)}`);
    if (h.role === 'manager') return (await httpGet(`${h.tsswarmDir}/tsswarm.sock`, '/v1/nodes'))?.status !== undefined;
    // An agent is up once it has said something (it logs before it connects).
    try { return statSync(h.tsswarmLog).size > logStart; } catch { return false; }
  }, TSSWARM_TIMEOUT_MS, () => `the tsswarm ${h.role} of ${h.name} was not up within ${TSSWARM_TIMEOUT_MS / 1000} s (log: ${h.tsswarmLog})${tail(h.tsswarmLog)}`);
}

async function tsswarmCli(h: HostPlan, args: string[]): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, TSSWARM_HOST: h.apiHost };
  delete env.TSSWARM_CONTEXT;
  return (await run(process.execPath, [tsswarmBin(), ...args], { env, timeoutMs: 30_000 })).stdout.trim();
}

const docker = (h: HostPlan, args: string[], timeoutMs = 60_000): Promise<RunResult> =>
  run('docker', args, { env: { ...process.env, DOCKER_HOST: h.dockerHost }, timeoutMs });

/** tsswarm/busybox:latest on every host, the same image ID everywhere (one import, then save/load). */
async function ensureImages(hs: HostPlan[], log: (l: string) => void): Promise<void> {
  const digest = createHash('sha256').update(readFileSync('/bin/busybox')).digest('hex').slice(0, 16);
  const tarball = `${CACHE_DIR}/busybox-${digest}.tar`;
  if (!existsSync(tarball)) {
    log(`building tsswarm/busybox:latest from /bin/busybox on ${hs[0].name} (cached in ${tarball})`);
    const root = mkdtempSync(join(tmpdir(), 'tsswarm-lab-rootfs-'));
    try {
      for (const d of ['bin', 'etc', 'tmp', 'var/www', 'root']) mkdirSync(join(root, d), { recursive: true });
      writeFileSync(join(root, 'bin', 'busybox'), readFileSync('/bin/busybox'), { mode: 0o755 });
      const applets = (await run('/bin/busybox', ['--list'])).stdout.split('\n').filter((a) => a && a !== 'busybox');
      for (const a of applets) symlinkSync('busybox', join(root, 'bin', a));
      writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n');
      writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\nnobody:x:65534:\n');
      writeFileSync(join(root, 'var', 'www', 'index.html'), '<h1>hello from tsswarm</h1>\n');
      await run('sh', ['-c', `tar -C "$1" -c . | docker import -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' - tsswarm/busybox:latest >/dev/null`, 'sh', root],
        { env: { ...process.env, DOCKER_HOST: hs[0].dockerHost }, timeoutMs: 60_000 });
      mkdirSync(CACHE_DIR, { recursive: true });
      await docker(hs[0], ['save', '-o', `${tarball}.tmp`, 'tsswarm/busybox:latest']);
      renameSync(`${tarball}.tmp`, tarball);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    await Promise.all(hs.slice(1).map((h) => docker(h, ['load', '-q', '-i', tarball])));
  } else {
    await Promise.all(hs.map((h) => docker(h, ['load', '-q', '-i', tarball])));
  }
}

function nodesReport(nodes: NodeObj[] | undefined, want: HostPlan[]): { missing: string[]; text: string } {
  const byName = new Map((nodes ?? []).map((n) => [n.description.hostname, n]));
  const missing = want.filter((h) => byName.get(h.name)?.status.state !== 'ready').map((h) => h.name);
  const text = want.map((h) => `${h.name}: ${byName.get(h.name)?.status.state ?? 'absent'}`).join(', ');
  return { missing, text };
}

/** Every host ready in `node ls`, asked of the first manager whose API answers. */
async function untilNodesReady(all: HostPlan[], want: HostPlan[], timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  let last: NodeObj[] | undefined;
  await waitFor(async () => {
    for (const m of all.filter((h) => h.role === 'manager')) {
      const nodes = await apiNodes(m);
      if (!nodes) continue;
      last = nodes;
      return nodesReport(nodes, want).missing.length === 0;
    }
    return false;
  }, timeoutMs, () => {
    const r = nodesReport(last, want);
    return `not every host was ready in \`node ls\` within ${timeoutMs / 1000} s (${r.text}); logs: ${r.missing.map((n) => all.find((h) => h.name === n)!.tsswarmLog).join(', ')}`
      + r.missing.map((n) => tail(all.find((h) => h.name === n)!.tsswarmLog, 5)).join('');
  }, 200);
}

// ---------------------------------------------------------------------------------------------
// The library.

export async function up(opts: UpOptions = {}): Promise<LabHost[]> {
  const log = opts.log ?? (() => {});
  requireRoot();
  const plan = planLab(opts.managers ?? 3, opts.workers ?? 2);
  const withTsswarm = opts.tsswarm !== false;
  const t0 = Date.now();
  const step = (what: string): void => log(`${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  await ensurePackages(log);
  if (withTsswarm) tsswarmBin();
  await refuseSystemContainerd();
  await cleanup(log);
  try {
    mkdirSync(RUN_DIR, { recursive: true });
    const state: LabState = {
      version: 1, createdAt: new Date().toISOString(), tsswarm: withTsswarm, hosts: plan.map((h) => ({ role: h.role, index: h.index })), partitions: {}, delays: {},
      managerArgs: opts.managerArgs ?? [], agentArgs: opts.agentArgs ?? [],
    };
    writeState(state);
    await makeNetwork(plan);
    step(`network: bridge ${BRIDGE} ${BRIDGE_ADDR}/24, ${plan.length} namespaces`);
    await Promise.all(plan.map(startEngineOf));
    step(`engines answer: ${plan.map((h) => h.name).join(', ')}`);
    await ensureImages(plan, log);
    step('image tsswarm/busybox:latest on every engine');
    if (withTsswarm) {
      const [first, ...rest] = plan;
      await startTsswarmOf(first, { init: true }, extraArgs(state, first));
      step(`manager ${first.name} initialised the cluster (${first.gossipAddr})`);
      const [mTok, wTok] = await Promise.all([
        tsswarmCli(first, ['cluster', 'join-token', 'manager', '-q']),
        tsswarmCli(first, ['cluster', 'join-token', 'worker', '-q']),
      ]);
      // Managers join one after another (each is a Raft membership change); agents all at once.
      for (const m of rest.filter((h) => h.role === 'manager')) await startTsswarmOf(m, { join: { addr: first.gossipAddr, token: mTok } }, extraArgs(state, m));
      await Promise.all(rest.filter((h) => h.role === 'worker').map((w) => startTsswarmOf(w, { join: { addr: first.gossipAddr, token: wTok } }, extraArgs(state, w))));
      await untilNodesReady(plan, plan);
      step(`every host ready in node ls; export TSSWARM_HOST=${first.apiHost}`);
    }
    return plan.map(publicHost);
  } catch (err) {
    const kept = keepLogs(plan);
    log(`up failed: ${(err as Error).message.split('\n')[0]}; tearing down${kept ? ` (logs kept in ${kept})` : ''}`);
    await cleanup(log).catch((e: Error) => log(`teardown after the failure failed too: ${e.message}`));
    if (kept && err instanceof Error) err.message += `\n(the lab was torn down; its logs are kept in ${kept})`;
    throw err;
  }
}

/** Copy the hosts' logs out of the lab's dirs (which the teardown removes); returns where. */
function keepLogs(plan: HostPlan[]): string | undefined {
  const dir = join(tmpdir(), `tsswarm-lab-logs-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  let n = 0;
  for (const h of plan) {
    for (const f of [h.dockerLog, h.tsswarmLog]) {
      if (!existsSync(f)) continue;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${h.name}-${basename(f)}`), readFileSync(f));
      n++;
    }
  }
  return n ? dir : undefined;
}

export async function down(opts: { log?: (l: string) => void } = {}): Promise<void> {
  requireRoot();
  await cleanup(opts.log ?? (() => {}));
}

export async function hosts(): Promise<LabHost[]> {
  const s = readState();
  return s ? planOf(s).map(publicHost) : [];
}

/** Every host's state; tsswarmHost: the API socket of the first manager that answers; enginesOnly: up --engines-only. */
export async function status(): Promise<{ hosts: LabStatusHost[]; tsswarmHost?: string; enginesOnly?: boolean }> {
  const s = readState();
  if (!s) return { hosts: [] };
  const plan = planOf(s);
  const out = await Promise.all(plan.map(async (h): Promise<LabStatusHost> => {
    const st: LabStatusHost = {
      ...publicHost(h),
      engine: await engineAnswers(h),
      tsswarm: s.tsswarm && tsswarmPids(h).length > 0,
      partitioned: !!s.partitions[h.name],
    };
    if (s.delays[h.name]) st.delay = s.delays[h.name];
    return st;
  }));
  let tsswarmHost: string | undefined;
  for (const h of plan.filter((x) => x.role === 'manager')) {
    if (await apiNodes(h)) { tsswarmHost = h.apiHost; break; }
  }
  return { hosts: out, ...(tsswarmHost ? { tsswarmHost } : {}), ...(s.tsswarm ? {} : { enginesOnly: true }) };
}

/** Resolves once every named host (default: all) shows ready in `node ls` (bounded: timeoutMs, default 90 s). */
export async function waitReady(names?: string[], opts: { timeoutMs?: number } = {}): Promise<void> {
  const s = needState();
  if (!s.tsswarm) throw new Error('this lab runs engines only (up --engines-only): no tsswarm nodes to wait for');
  const all = planOf(s);
  const want = names ? names.map((n) => findHost(s, n)) : all;
  await untilNodesReady(all, want, opts.timeoutMs ?? READY_TIMEOUT_MS);
}

/**
 * Run a command as the host does, in its network namespace and with its hostname (e.g. `['wget', '-qO-', 'http://10.213.0.21:8080/']`).
 * Never throws for a non-zero exit: the caller reads code, stdout and stderr.
 */
export async function execIn(host: string, argv: string[], opts: { timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  requireRoot();
  const h = findHost(needState(), host);
  if (argv.length === 0) throw new Error('execIn needs a command');
  const [cmd, ...args] = inHost(h, argv);
  return run(cmd, args, { allowFail: true, timeoutMs: opts.timeoutMs ?? 30_000 });
}

export function env(host: LabHost): Record<string, string> {
  const e: Record<string, string> = { DOCKER_HOST: host.dockerHost };
  if (host.apiHost) e.TSSWARM_HOST = host.apiHost;
  return e;
}

/** A host losing power: every process of its namespace and its containers' cgroups, SIGKILL. */
export async function kill(host: string): Promise<void> {
  requireRoot();
  const h = findHost(needState(), host);
  const cgs = cgroupDirs((n) => n === h.cgroupParent);
  await killAll(`kill ${h.name}`, () => [...new Set([...netnsPids(h.nsPath), ...cgroupPids(cgs), ...dockerdPids(h), ...tsswarmPids(h)])]);
  await clearRuntime(h);
}

/** Power back: its dockerd, then its tsswarm daemon from its data dir. */
export async function start(host: string): Promise<void> {
  requireRoot();
  const s = needState();
  const h = findHost(s, host);
  await startEngineOf(h);
  if (s.tsswarm) await startTsswarmOf(h, restartArgs(s, h), extraArgs(s, h));
}

const extraArgs = (s: LabState, h: HostPlan): string[] => (h.role === 'manager' ? s.managerArgs : s.agentArgs) ?? [];

function restartArgs(s: LabState, h: HostPlan): TsswarmStart {
  if (h.role === 'manager') return {};
  // An agent restarts from its data dir (its certificate and the managers it knew) through a
  // manager: the first whose daemon runs, else the first.
  const ms = planOf(s).filter((x) => x.role === 'manager');
  const live = ms.find((m) => tsswarmPids(m).length > 0) ?? ms[0];
  return { manager: live.gossipAddr };
}

export async function stopTsswarm(host: string): Promise<void> {
  requireRoot();
  const h = findHost(needState(), host);
  await killAll(`stop the tsswarm daemon of ${h.name}`, () => tsswarmPids(h));
}

export async function startTsswarm(host: string): Promise<void> {
  requireRoot();
  const s = needState();
  const h = findHost(s, host);
  if (!s.tsswarm) throw new Error('this lab runs engines only (up --engines-only): no tsswarm to start');
  await startTsswarmOf(h, restartArgs(s, h), extraArgs(s, h));
}

/**
 * Stop only the engine: SIGTERM to its dockerd, which stops its containers (SIGTERM, then
 * SIGKILL after its --shutdown-timeout of 5 s) and its containerd, then exits; SIGKILL after
 * 30 s if it has not. The tsswarm daemon keeps running and sees its engine gone.
 */
export async function stopEngine(host: string): Promise<void> {
  requireRoot();
  const h = findHost(needState(), host);
  for (const p of dockerdPids(h)) { try { process.kill(p, 'SIGTERM'); } catch { /* gone */ } }
  const stopped = await waitFor(() => dockerdPids(h).length === 0 || undefined, STOP_ENGINE_TIMEOUT_MS, () => '', 100).then(() => true, () => false);
  const cgs = cgroupDirs((n) => n === h.cgroupParent);
  const tss = new Set(tsswarmPids(h));
  // What the engine leaves (a SIGKILL after the timeout; containerd and shims): gone too, never the tsswarm daemon.
  const engineProcs = (): number[] => {
    const inNsPids = new Set(netnsPids(h.nsPath));
    return procs().filter((x) => inNsPids.has(x.pid) && !tss.has(x.pid) && /containerd|docker-proxy|runc/.test(basename(x.args[0] ?? ''))).map((x) => x.pid);
  };
  await killAll(`stop the engine of ${h.name}`, () => [...dockerdPids(h), ...cgroupPids(cgs), ...engineProcs()]);
  if (!stopped) await clearRuntime(h);
}

export async function startEngine(host: string): Promise<void> {
  requireRoot();
  await startEngineOf(findHost(needState(), host));
}

async function applyPartition(h: HostPlan, p: 'all' | string[] | undefined): Promise<void> {
  await inNs(h, 'iptables', ['-t', 'raw', '-F', CHAIN_IN]);
  await inNs(h, 'iptables', ['-t', 'mangle', '-F', CHAIN_OUT]);
  if (!p) return;
  const rules = p === 'all' ? partitionRules() : p.flatMap((a) => partitionRules(a));
  for (const r of rules) await inNs(h, 'iptables', ['-t', r.table, '-A', r.chain, ...r.rule]);
}

/** Cut the host off the lab network both ways; with from: only packets from `from` to it. */
export async function partition(host: string, opts: { from?: string } = {}): Promise<void> {
  requireRoot();
  return serialized(() => partitionNow(host, opts));
}

async function partitionNow(host: string, opts: { from?: string }): Promise<void> {
  const s = needState();
  const h = findHost(s, host);
  let next: 'all' | string[];
  if (opts.from !== undefined) {
    const f = findHost(s, opts.from);
    if (f.name === h.name) throw new Error(`--from ${opts.from}: a host cannot be partitioned from itself`);
    const cur = s.partitions[h.name];
    next = cur === 'all' ? 'all' : [...new Set([...(cur ?? []), f.addr])];
  } else next = 'all';
  await applyPartition(h, next);
  s.partitions[h.name] = next;
  writeState(s);
}

export async function heal(host: string): Promise<void> {
  requireRoot();
  return serialized(() => healNow(host));
}

async function healNow(host: string): Promise<void> {
  const s = needState();
  const h = findHost(s, host);
  await applyPartition(h, undefined);
  delete s.partitions[h.name];
  writeState(s);
}

/** Delay every packet leaving the host on the lab link (netem); `off` removes it. */
export async function slow(host: string, d: string): Promise<void> {
  requireRoot();
  return serialized(() => slowNow(host, d));
}

async function slowNow(host: string, d: string): Promise<void> {
  const s = needState();
  const h = findHost(s, host);
  if (d === 'off') {
    await inNs(h, 'tc', ['qdisc', 'del', 'dev', LINK_IN_NS, 'root'], true);
    delete s.delays[h.name];
    writeState(s);
    return;
  }
  checkDelay(d);
  const args = ['qdisc', 'replace', 'dev', LINK_IN_NS, 'root', 'netem', 'delay', d];
  let r = await inNs(h, 'tc', args, true);
  if (r.code !== 0 && /unknown|No such file|not found/i.test(r.stderr)) {
    await run('modprobe', ['sch_netem'], { allowFail: true }).catch(() => undefined);
    r = await inNs(h, 'tc', args, true);
    if (r.code !== 0) throw new Error(`slow ${h.name}: the kernel has no netem (sch_netem): ${r.stderr.trim()}`);
  }
  if (r.code !== 0) throw new Error(`slow ${h.name}: tc ${args.join(' ')}: ${r.stderr.trim()}`);
  s.delays[h.name] = d;
  writeState(s);
}

export { SUBNET };
