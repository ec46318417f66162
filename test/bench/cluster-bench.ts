// npm run bench: tsswarm vs Docker Swarm vs the raw engine, side by side on one engine, one run.
// Every row is timed the same way for both systems: from the command's start until the ENGINE
// shows the expected containers running (or gone). Medians of --runs (default 3).
// The rolling-update rows are timed until the user's command returns (`tsswarm service update`
// and `docker service update` both wait for the update to complete), under a steady HTTP probe.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { dockerFromEnv } from '../../agent/docker.js';
import { printReplicated, replicatedBench } from './replicated-bench.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const BIN = join(ROOT, 'bin', 'tsswarm.js');
const IMAGE = 'tsswarm/busybox:latest';
const STEP_TIMEOUT = 180_000;

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt; };
const QUICK = argv.includes('--quick');
const RUNS = Number(opt('runs', QUICK ? '1' : '3'));
const SIZES = QUICK ? [1, 10] : [1, 10, 50];
const BIG = QUICK ? 20 : 50;

const docker = dockerFromEnv();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };

async function waitUntil(what: string, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + STEP_TIMEOUT;
  while (Date.now() < deadline) { if (await fn()) return; await sleep(50); }
  throw new Error(`timed out waiting for ${what}`);
}

type System = 'tsswarm' | 'swarm';
const stackLabel = (sys: System) => (sys === 'tsswarm' ? 'tsswarm.stack.namespace' : 'com.docker.stack.namespace');
async function containers(sys: System, stack: string, all = false): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all, filters: { label: [`${stackLabel(sys)}=${stack}`] } });
}
const running = async (sys: System, stack: string) => (await containers(sys, stack)).filter((c) => c.State === 'running').length;

function stackFile(dir: string, replicas: number): string {
  const f = join(dir, `stack-${replicas}.yml`);
  writeFileSync(f, `version: "3.8"
services:
  app:
    image: ${IMAGE}
    command: ["sleep", "3600"]
    init: true
    deploy:
      replicas: ${replicas}
      restart_policy: { condition: any, delay: 0s }
`);
  return f;
}

// ---------- tsswarm ----------
class Tsswarm {
  proc?: ChildProcess;
  dir = mkdtempSync(join(tmpdir(), 'tsswarm-bench-'));
  env = { ...process.env, TSSWARM_HOST: `unix://${join(this.dir, 'tsswarm.sock')}` };
  async start(): Promise<void> {
    this.proc = spawn(process.execPath, [BIN, 'manager', '--init', '--listen-addr', '127.0.0.1:0', '--data-dir', this.dir, '--log-level', 'warn'], { stdio: 'ignore', env: process.env });
    await waitUntil('tsswarm manager', async () => { try { await this.cli('node', 'ls'); return true; } catch { return false; } });
  }
  async cli(...args: string[]): Promise<string> {
    const r = await run(process.execPath, [BIN, ...args], { env: this.env, timeout: STEP_TIMEOUT });
    return r.stdout;
  }
  rssMiB(): number {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.proc!.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  }
  async stop(): Promise<void> {
    if (this.proc && this.proc.exitCode === null) { this.proc.kill('SIGTERM'); await sleep(500); this.proc.kill('SIGKILL'); }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------- Docker Swarm on the same engine ----------
async function dockerCli(...args: string[]): Promise<string> {
  return (await run('docker', args, { env: process.env, timeout: STEP_TIMEOUT, maxBuffer: 16 << 20 })).stdout;
}
async function swarmInit(): Promise<boolean> {
  const info = await docker.info();
  if (info.Swarm?.LocalNodeState === 'active') return false;
  await dockerCli('swarm', 'init', '--advertise-addr', '127.0.0.1');
  return true;
}

interface Ops {
  deploy(file: string, stack: string): Promise<unknown>;
  scale(stack: string, n: number): Promise<unknown>;
  rm(stack: string): Promise<unknown>;
  /** `service update ARGS <stack>_app`, waiting until the update completes. */
  update(stack: string, args: string[]): Promise<unknown>;
  updateOrder(stack: string): Promise<string>;
}
const ops = (t: Tsswarm): Record<System, Ops> => ({
  tsswarm: {
    deploy: (f, s) => t.cli('deploy', '--detach', '--resolve-image', 'never', '-c', f, s),
    scale: (s, n) => t.cli('service', 'scale', '--detach', `${s}_app=${n}`),
    rm: (s) => t.cli('stack', 'rm', s),
    update: (s, args) => t.cli('service', 'update', ...args, `${s}_app`),
    updateOrder: async (s) => (JSON.parse(await t.cli('service', 'inspect', `${s}_app`)) as { spec: { deploy: { update_config: { order: string } } } }[])[0].spec.deploy.update_config.order,
  },
  swarm: {
    deploy: (f, s) => dockerCli('stack', 'deploy', '--detach=true', '--resolve-image', 'never', '-c', f, s),
    scale: (s, n) => dockerCli('service', 'scale', '--detach', `${s}_app=${n}`),
    rm: (s) => dockerCli('stack', 'rm', s),
    update: (s, args) => dockerCli('service', 'update', '--detach=false', '--no-resolve-image', ...args, `${s}_app`),
    updateOrder: async (s) => (await dockerCli('service', 'inspect', '--format', '{{.Spec.UpdateConfig.Order}}', `${s}_app`)).trim(),
  },
});

async function timed(fn: () => Promise<unknown>, until: () => Promise<boolean>, what: string): Promise<number> {
  const t0 = performance.now();
  await fn();
  await waitUntil(what, until);
  return (performance.now() - t0) / 1000;
}

async function teardown(o: Ops, sys: System, stack: string): Promise<number> {
  return timed(() => o.rm(stack), async () => (await containers(sys, stack, true)).length === 0, `${sys} ${stack} teardown`);
}

/** Untimed removal that retries while Swarm still counts a stopping task on the stack's network. */
async function removeStack(o: Ops, sys: System, stack: string): Promise<void> {
  for (let i = 0; ; i++) {
    try { await o.rm(stack); break; } catch (e) { if (i >= 30) throw e; await sleep(1000); }
  }
  await waitUntil(`${sys} ${stack} gone`, async () => (await containers(sys, stack, true)).length === 0);
}

// ---------- raw engine floor ----------
async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => { while (i < items.length) await fn(items[i++]); }));
}
async function rawDeploy(n: number): Promise<{ up: number; down: number }> {
  const ids: string[] = [];
  const t0 = performance.now();
  await pool([...Array(n).keys()], 8, async (i) => {
    const c = await docker.createContainer({ Image: IMAGE, Cmd: ['sleep', '3600'], name: `tsswarm-bench-raw-${i}`, Labels: { 'tsswarm.bench': 'raw' }, HostConfig: { Init: true } });
    await c.start();
    ids.push(c.id);
  });
  const up = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  await pool(ids, 8, (id) => docker.getContainer(id).remove({ force: true }));
  return { up, down: (performance.now() - t1) / 1000 };
}

// ---------- HTTP through the ingress proxy ----------
async function wrk(url: string): Promise<number> {
  const { stdout } = await run('wrk', ['-t2', '-c32', '-d5s', url], { timeout: 60_000 });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  return m ? Number(m[1]) : NaN;
}

// ---------- rolling update under an HTTP probe ----------
const ROLL_REPLICAS = 10;
const ROLL_MONITOR = '1s';
const ROLL_PORT: Record<System, number> = { tsswarm: 18781, swarm: 18782 };
type Order = 'start-first' | 'stop-first';
const ORDERS: Order[] = ['start-first', 'stop-first'];

/** The same service for both systems; only the published port differs (ingress mode, as by default). */
function rollStackFile(dir: string, sys: System): string {
  const f = join(dir, `roll-${sys}.yml`);
  writeFileSync(f, `version: "3.8"
services:
  app:
    image: ${IMAGE}
    command: ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
    init: true
    ports:
      - { target: 8080, published: ${ROLL_PORT[sys]}, protocol: tcp, mode: ingress }
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 500ms
      timeout: 1s
      retries: 2
    deploy:
      replicas: ${ROLL_REPLICAS}
      restart_policy: { condition: any, delay: 0s }
      update_config: { parallelism: 2, delay: 0s, order: start-first, monitor: ${ROLL_MONITOR}, failure_action: pause }
`);
  return f;
}

const healthyRunning = (cs: Docker.ContainerInfo[]) => cs.filter((c) => c.State === 'running' && c.Status.includes('(healthy)'));

/** One GET with a fresh connection (no keep-alive) and a hard deadline; null when it answered 200. */
function getOnce(port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolveGet) => {
    let done = false;
    const finish = (err: string | null) => { if (!done) { done = true; clearTimeout(timer); resolveGet(err); } };
    const kind = (e: Error) => (e as NodeJS.ErrnoException).code ?? e.message;
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, headers: { connection: 'close' } }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => finish(res.statusCode === 200 ? null : `HTTP ${res.statusCode}`));
      res.on('error', (e) => finish(kind(e)));
    });
    const timer = setTimeout(() => { finish('timeout'); req.destroy(); }, timeoutMs);
    req.on('error', (e) => finish(kind(e)));
    req.end();
  });
}

interface ProbeResult { total: number; failed: number; seconds: number; errors: Record<string, number> }
/** Sequential GETs, at most one per PROBE_INTERVAL ms, until stopped. */
const PROBE_INTERVAL = 5;
const PROBE_TIMEOUT = 1000;
function startProbe(port: number): { stop: () => Promise<ProbeResult> } {
  const r: ProbeResult = { total: 0, failed: 0, seconds: 0, errors: {} };
  let on = true;
  const t0 = performance.now();
  const loop = (async () => {
    while (on) {
      const started = performance.now();
      const err = await getOnce(port, PROBE_TIMEOUT);
      r.total++;
      if (err) { r.failed++; r.errors[err] = (r.errors[err] ?? 0) + 1; }
      const wait = PROBE_INTERVAL - (performance.now() - started);
      if (wait > 0) await sleep(wait);
    }
    r.seconds = (performance.now() - t0) / 1000;
  })();
  return { stop: async () => { on = false; await loop; return r; } };
}

/** Whether the published port serves 200s within a few seconds. */
async function portServes(port: number): Promise<string | null> {
  let last = 'no answer';
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const err = await getOnce(port, PROBE_TIMEOUT);
    if (!err) return null;
    last = err;
    await sleep(200);
  }
  return last;
}

// Coarser than the other rows' 50 ms: the update takes seconds, and the engine is busy enough.
const WATCH_INTERVAL = 200;
interface RollResult { command: number; converged: number; probe: ProbeResult | { na: string } }
/**
 * Runs `update` (the user's command, which waits for completion) under the probe, and watches the
 * engine meanwhile: `converged` is when all replicas are new containers, running and healthy, and
 * no old container still runs.
 */
async function rollingUpdate(sys: System, stack: string, update: () => Promise<unknown>): Promise<RollResult> {
  const old = new Set((await containers(sys, stack)).map((c) => c.Id));
  const na = await portServes(ROLL_PORT[sys]);
  const probe = na ? undefined : startProbe(ROLL_PORT[sys]);
  const t0 = performance.now();
  let converged = NaN;
  let failed = false;
  const watcher = (async () => {
    while (!failed && performance.now() - t0 < STEP_TIMEOUT) {
      const cs = await containers(sys, stack);
      const fresh = healthyRunning(cs).filter((c) => !old.has(c.Id));
      if (fresh.length === ROLL_REPLICAS && !cs.some((c) => old.has(c.Id) && c.State === 'running')) { converged = (performance.now() - t0) / 1000; return; }
      await sleep(WATCH_INTERVAL);
    }
  })();
  let command = NaN;
  let probed: ProbeResult | undefined;
  try {
    await update();
    command = (performance.now() - t0) / 1000;
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    probed = await probe?.stop();
    await watcher;
  }
  return { command, converged, probe: probed ?? { na: `port ${ROLL_PORT[sys]} did not answer 200: ${na}` } };
}

// ---------- main ----------
type Row = { row: string; tsswarm: number[]; swarm: number[]; raw: number[] };
async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsswarm-bench-stacks-'));
  const t = new Tsswarm();
  let swarmStarted = false;
  const rows = new Map<string, Row>();
  const add = (row: string, sys: System | 'raw', v: number) => {
    const r = rows.get(row) ?? { row, tsswarm: [], swarm: [], raw: [] };
    r[sys].push(v);
    rows.set(row, r);
  };
  const cleanup = async () => {
    for (const sys of ['tsswarm', 'swarm'] as System[]) for (const c of await docker.listContainers({ all: true, filters: { label: [stackLabel(sys)] } }).catch(() => [])) {
      if ((c.Labels[stackLabel(sys)] ?? '').startsWith('bench')) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
    for (const c of await docker.listContainers({ all: true, filters: { label: ['tsswarm.bench=raw'] } }).catch(() => [])) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    for (const n of await docker.listNetworks({ filters: { label: [stackLabel('tsswarm')] } }).catch(() => [])) {
      if ((n.Labels?.[stackLabel('tsswarm')] ?? '').startsWith('bench')) await docker.getNetwork(n.Id).remove().catch(() => undefined);
    }
  };
  process.once('SIGINT', () => { void cleanup().finally(() => process.exit(130)); });
  let rss = NaN;
  const http: { ingress?: number; direct?: number } = {};
  const rolls: ({ run: number; order: Order; sys: System } & RollResult)[] = [];
  let envSerial = 0;
  try {
    await cleanup();
    await t.start();
    swarmStarted = await swarmInit();
    const o = ops(t);
    for (let runNo = 1; runNo <= RUNS; runNo++) {
      process.stderr.write(`run ${runNo}/${RUNS}\n`);
      for (const n of SIZES) {
        for (const sys of ['tsswarm', 'swarm'] as System[]) {
          const stack = `bench${sys === 'tsswarm' ? 't' : 's'}${n}`;
          add(`deploy ${n} replica${n === 1 ? '' : 's'}`, sys, await timed(() => o[sys].deploy(stackFile(dir, n), stack), async () => (await running(sys, stack)) === n, `${sys} deploy ${n}`));
          if (n === SIZES[SIZES.length - 1] && sys === 'tsswarm' && runNo === 1) { await sleep(2000); rss = t.rssMiB(); }
          add(`teardown ${n}`, sys, await teardown(o[sys], sys, stack));
        }
        const raw = await rawDeploy(n);
        add(`deploy ${n} replica${n === 1 ? '' : 's'}`, 'raw', raw.up);
        add(`teardown ${n}`, 'raw', raw.down);
      }
      for (const sys of ['tsswarm', 'swarm'] as System[]) {
        const stack = `bench${sys === 'tsswarm' ? 't' : 's'}scale`;
        await o[sys].deploy(stackFile(dir, 10), stack);
        await waitUntil('10 running', async () => (await running(sys, stack)) === 10);
        add(`scale 10 -> ${BIG}`, sys, await timed(() => o[sys].scale(stack, BIG), async () => (await running(sys, stack)) === BIG, `${sys} scale`));
        await o[sys].scale(stack, 10);
        await waitUntil('back to 10', async () => (await running(sys, stack)) === 10);
        await sleep(1000);
        const [victim] = await containers(sys, stack);
        add('killed task replaced', sys, await timed(() => docker.getContainer(victim.Id).kill(), async () => {
          const cs = await containers(sys, stack);
          return cs.filter((c) => c.State === 'running').length === 10 && !cs.some((c) => c.Id === victim.Id && c.State === 'running');
        }, `${sys} replacement`));
        await teardown(o[sys], sys, stack);
      }
      // Rolling updates: start-first, then stop-first on the same service, under the probe.
      for (const sys of ['tsswarm', 'swarm'] as System[]) {
        const stack = `bench${sys === 'tsswarm' ? 't' : 's'}roll`;
        await o[sys].deploy(rollStackFile(dir, sys), stack);
        await waitUntil(`${sys} ${ROLL_REPLICAS} healthy`, async () => healthyRunning(await containers(sys, stack)).length === ROLL_REPLICAS);
        for (const order of ORDERS) {
          if ((await o[sys].updateOrder(stack)) !== order) await o[sys].update(stack, ['--update-order', order]);
          const got = await o[sys].updateOrder(stack);
          if (got !== order) throw new Error(`${sys} ${stack}: update order is ${got}, wanted ${order}`);
          process.stderr.write(`rolling update: ${sys}, ${order}\n`);
          const r = await rollingUpdate(sys, stack, () => o[sys].update(stack, ['--env-add', `BENCH=${++envSerial}`]));
          add(`rolling update ${ROLL_REPLICAS}, ${order}`, sys, r.command);
          rolls.push({ run: runNo, order, sys, ...r });
        }
        await removeStack(o[sys], sys, stack);
      }
    }
    // HTTP through tsswarm's ingress proxy vs straight at one task.
    const web = join(dir, 'web.yml');
    writeFileSync(web, `services:\n  app:\n    image: ${IMAGE}\n    command: ["httpd", "-f", "-p", "8080", "-h", "/var/www"]\n    init: true\n    ports: ["18780:8080"]\n    deploy: { replicas: 2 }\n`);
    await t.cli('deploy', '--resolve-image', 'never', '-c', web, 'benchweb');
    const tasks = JSON.parse(await t.cli('service', 'ps', 'benchweb_app', '--format', 'json')) as { desiredState: string; status: { portBindings?: { hostPort: number }[] } }[];
    const direct = tasks.find((x) => x.desiredState === 'running' && x.status.portBindings?.length)?.status.portBindings?.[0].hostPort;
    try {
      http.ingress = await wrk('http://127.0.0.1:18780/');
      if (direct) http.direct = await wrk(`http://127.0.0.1:${direct}/`);
    } catch (e) { process.stderr.write(`wrk: ${(e as Error).message}\n`); }
    await t.cli('stack', 'rm', 'benchweb');
    await waitUntil('benchweb gone', async () => (await containers('tsswarm', 'benchweb', true)).length === 0);
  } finally {
    await cleanup();
    await t.stop();
    if (swarmStarted) {
      await dockerCli('swarm', 'leave', '--force').catch(() => undefined);
      // Leaving a swarm keeps the bridge that joining created: remove it too. The engine may
      // hold a stale endpoint on it until it restarts (scripts/engine.sh removes it then).
      let removed = false;
      for (let i = 0; i < 10 && !removed; i++) {
        removed = await dockerCli('network', 'rm', 'docker_gwbridge').then(() => true, () => false);
        if (!removed) await sleep(500);
      }
      if (!removed) process.stderr.write('note: docker_gwbridge (from docker swarm init) is held by the engine until it restarts; the private engine removes it on its next start\n');
    }
    rmSync(dir, { recursive: true, force: true });
  }

  // Replicated managers, after the single-manager system is gone (one agent on the engine at a time).
  const repDir = mkdtempSync(join(tmpdir(), 'tsswarm-bench-rep-'));
  const replicated = argv.includes('--no-replicated') ? undefined : await replicatedBench({
    bin: BIN, runs: RUNS, sizes: SIZES.slice(0, 2), big: BIG, waitUntil,
    stackFile: (n) => stackFile(repDir, n),
    running: (stack) => running('tsswarm', stack),
    all: async (stack) => (await containers('tsswarm', stack, true)).length,
  }).finally(() => rmSync(repDir, { recursive: true, force: true }));

  const f = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)} s` : '—');
  const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : '—');
  const lines = [['row', 'tsswarm', 'swarm', 'raw engine', 'tsswarm/swarm', 'tsswarm/raw', 'goal']];
  const results: Record<string, unknown>[] = [];
  for (const r of rows.values()) {
    const [a, b, c] = [median(r.tsswarm), median(r.swarm), median(r.raw)];
    // Goals: every row at most half of Swarm's time; deploys also within 1.3x of the raw engine.
    const ok = a <= 0.5 * b && (!r.row.startsWith('deploy') || !Number.isFinite(c) || a <= 1.3 * c);
    lines.push([r.row, f(a), f(b), f(c), ratio(a, b), ratio(a, c), ok ? 'PASS' : 'MISS']);
    results.push({ row: r.row, tsswarm: a, swarm: b, raw: Number.isFinite(c) ? c : null, runs: r });
  }
  const widths = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  console.log(`\ntsswarm vs Docker Swarm vs raw engine (${(await docker.version()).Version}), medians of ${RUNS} run(s)\n`);
  for (const l of lines) console.log(l.map((c, i) => c.padEnd(widths[i])).join('  '));
  console.log(`\ntsswarm manager RSS (embedded agent) after the ${SIZES[SIZES.length - 1]}-replica deploy: ${rss.toFixed(0)} MiB`);
  console.log(`HTTP (wrk -t2 -c32 -d5s, loopback): through the ingress proxy ${http.ingress?.toFixed(0) ?? '—'} req/s; straight to one task ${http.direct?.toFixed(0) ?? '—'} req/s; Swarm routing mesh: not measured (it needs IPVS in the kernel; see docs/benchmarks.md)`);
  printRolls(rolls);
  if (replicated) printReplicated(replicated, median);
  const out = join(tmpdir(), 'tsswarm-bench-results.json');
  writeFileSync(out, JSON.stringify({ runs: RUNS, rows: results, rssMiB: rss, http, rollingUpdates: rolls, replicated: replicated && { ...replicated, rows: Object.fromEntries(replicated.rows) } }, null, 2));
  console.log(`\nJSON: ${out}`);
}

function printRolls(rolls: ({ order: Order; sys: System } & RollResult)[]): void {
  console.log(`\nRolling update: ${ROLL_REPLICAS} replicas of busybox httpd, healthcheck (wget every 500ms, timeout 1s, retries 2), port published in ingress mode;`);
  console.log(`update_config parallelism 2, delay 0s, monitor ${ROLL_MONITOR}, failure_action pause, same for both; triggered by \`service update --env-add BENCH=N\`.`);
  console.log(`"command": until the update command returns (both wait for completion, monitor included); "engine": until the engine shows ${ROLL_REPLICAS} new healthy`);
  console.log(`containers and no old one running (polled every ${WATCH_INTERVAL} ms). Probe: sequential GETs to 127.0.0.1:<published port>, new connection each, ${PROBE_TIMEOUT} ms timeout, at most one per ${PROBE_INTERVAL} ms.\n`);
  const lines = [['order', 'system', 'command', 'engine', 'failed/total requests', 'req/s', 'failures']];
  const f = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)} s` : '—');
  for (const order of ORDERS) for (const sys of ['tsswarm', 'swarm'] as System[]) {
    const rs = rolls.filter((r) => r.order === order && r.sys === sys);
    if (!rs.length) continue;
    const probes = rs.map((r) => r.probe).filter((p): p is ProbeResult => 'total' in p);
    const na = rs.map((r) => r.probe).find((p): p is { na: string } => 'na' in p);
    const total = probes.reduce((a, p) => a + p.total, 0);
    const failed = probes.reduce((a, p) => a + p.failed, 0);
    const secs = probes.reduce((a, p) => a + p.seconds, 0);
    const kinds: Record<string, number> = {};
    for (const p of probes) for (const [k, v] of Object.entries(p.errors)) kinds[k] = (kinds[k] ?? 0) + v;
    lines.push([order, sys, f(median(rs.map((r) => r.command))), f(median(rs.map((r) => r.converged))),
      na ? `N/A (${na.na})` : `${failed}/${total}`, na ? '—' : (total / secs).toFixed(0),
      Object.entries(kinds).map(([k, v]) => `${k} ${v}`).join(', ') || '—']);
  }
  const widths = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  for (const l of lines) console.log(l.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
  if (rolls.some((r) => r.sys === 'swarm' && 'na' in r.probe)) {
    const ipvs = existsSync('/proc/net/ip_vs') ? 'IPVS is present, see the engine log' : 'IPVS, which the mesh needs, is missing from this kernel: no /proc/net/ip_vs';
    console.log(`\nSwarm's routing mesh did not answer on its published port (${ipvs}), so Swarm's requests are not counted; its times are`);
    console.log(`still measured. A mode: host fallback cannot help: one node serves a host-mode published port from one task only, not ${ROLL_REPLICAS}.`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
