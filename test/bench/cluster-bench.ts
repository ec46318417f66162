// npm run bench: tsswarm vs Docker Swarm vs the raw engine, side by side on one engine, one run.
// Every row is timed the same way for both systems: from the command's start until the ENGINE
// shows the expected containers running (or gone). Medians of --runs (default 3).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { dockerFromEnv } from '../../agent/docker.js';

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
    this.proc = spawn(process.execPath, [BIN, 'manager', '--init', '--data-dir', this.dir, '--log-level', 'warn'], { stdio: 'ignore', env: process.env });
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
}
const ops = (t: Tsswarm): Record<System, Ops> => ({
  tsswarm: {
    deploy: (f, s) => t.cli('deploy', '--detach', '-c', f, s),
    scale: (s, n) => t.cli('service', 'scale', '--detach', `${s}_app=${n}`),
    rm: (s) => t.cli('stack', 'rm', s),
  },
  swarm: {
    deploy: (f, s) => dockerCli('stack', 'deploy', '--detach=true', '--resolve-image', 'never', '-c', f, s),
    scale: (s, n) => dockerCli('service', 'scale', '--detach', `${s}_app=${n}`),
    rm: (s) => dockerCli('stack', 'rm', s),
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
  };
  process.once('SIGINT', () => { void cleanup().finally(() => process.exit(130)); });
  let rss = NaN;
  const http: { ingress?: number; direct?: number } = {};
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
    }
    // HTTP through tsswarm's ingress proxy vs straight at one task.
    const web = join(dir, 'web.yml');
    writeFileSync(web, `services:\n  app:\n    image: ${IMAGE}\n    command: ["httpd", "-f", "-p", "8080", "-h", "/var/www"]\n    init: true\n    ports: ["18780:8080"]\n    deploy: { replicas: 2 }\n`);
    await t.cli('deploy', '-c', web, 'benchweb');
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
    if (swarmStarted) await dockerCli('swarm', 'leave', '--force').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }

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
  console.log(`HTTP (wrk -t2 -c32 -d5s, loopback): through the ingress proxy ${http.ingress?.toFixed(0) ?? '—'} req/s; straight to one task ${http.direct?.toFixed(0) ?? '—'} req/s; Swarm routing mesh: not measured (needs Swarm's ingress overlay and iptables)`);
  const out = join(tmpdir(), 'tsswarm-bench-results.json');
  writeFileSync(out, JSON.stringify({ runs: RUNS, rows: results, rssMiB: rss, http }, null, 2));
  console.log(`\nJSON: ${out}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
