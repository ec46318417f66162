// npm run bench:lab: tsswarm vs Docker Swarm on the same lab of Docker hosts (deploy/lab:
// 3 managers + 2 workers, each a network namespace with its own dockerd), side by side in one
// run, medians of --runs (default 3). Each system gets the lab's engines to itself: tsswarm's
// rows first, then the lab is rebuilt with engines only and Docker Swarm (`docker swarm
// init/join` with the same 3 managers and 2 workers) runs the same rows.
//
// Rows, each timed from the fault or the command until the ENGINES show the result:
//  - worker host killed (dockerd, its containers, its tsswarm: a power loss) -> every task it
//    ran is running on another host (the service's full count running, none on the dead host);
//  - leader's host killed -> the next `service update --detach` accepted (exit 0), retried
//    against a surviving manager from the moment of the kill;
//  - deploy of 50 replicas across the hosts until all 50 run.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import * as lab from '../../deploy/lab/lab.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const BIN = join(ROOT, 'bin', 'tsswarm.js');
const IMAGE = 'tsswarm/busybox:latest';
const STEP_TIMEOUT = 180_000;

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1]! : dflt; };
const RUNS = Number(opt('runs', argv.includes('--quick') ? '1' : '3'));
const ONLY = opt('only', 'tsswarm,swarm').split(',');
const ROWS = opt('rows', 'kill,leader,deploy').split(',');
const MOVE_REPLICAS = 10;
const BIG = 50;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN; };
const say = (s: string) => process.stderr.write(`[bench:lab] ${s}\n`);

async function waitUntil(what: string, fn: () => Promise<boolean>, timeoutMs = STEP_TIMEOUT, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try { if (await fn()) return; } catch { /* the engine or manager is coming back */ }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

type System = 'tsswarm' | 'swarm';
const engine = (h: lab.LabHost) => new Docker({ socketPath: h.dockerHost.replace(/^unix:\/\//, ''), timeout: 5000 });

/** Running containers of `service` (tsswarm: <stack>_app; Swarm: the service name) on each live host. */
async function runningOn(sys: System, service: string, hosts: lab.LabHost[]): Promise<Map<string, number>> {
  const label = sys === 'tsswarm' ? `tsswarm.service.name=${service}` : `com.docker.swarm.service.name=${service}`;
  const out = new Map<string, number>();
  await Promise.all(hosts.map(async (h) => {
    try {
      const cs = await engine(h).listContainers({ filters: { label: [label], status: ['running'] } });
      out.set(h.name, cs.length);
    } catch { /* a dead host has no engine: none of its containers run */ }
  }));
  return out;
}
const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

interface Driver {
  sys: System;
  hosts: lab.LabHost[];
  /** Create the service with n replicas (returns when the command returns). */
  create(name: string, n: number): Promise<void>;
  remove(name: string): Promise<void>;
  /** One `service update --detach` attempt against a given manager: true when accepted. */
  update(name: string, via: lab.LabHost, i: number): Promise<boolean>;
  leader(): Promise<lab.LabHost>;
  nodeReady(host: string): Promise<boolean>;
  serviceName(name: string): string;
}

/** The stack both systems deploy: one service `app` of n replicas (its own stack network, as Compose gives). */
function stackFile(dir: string, name: string, n: number): string {
  const f = join(dir, `${name}.yml`);
  writeFileSync(f, `version: "3.8"\nservices:\n  app:\n    image: ${IMAGE}\n    command: ["sleep", "100000"]\n    init: true\n    deploy:\n      replicas: ${n}\n`);
  return f;
}

// ---------- tsswarm ----------
async function tsswarm(args: string[], via: lab.LabHost): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [BIN, ...args], { env: { ...process.env, TSSWARM_HOST: via.apiHost! }, timeout: STEP_TIMEOUT, maxBuffer: 16 << 20 })
    .then((r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }), (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(e) }));
}

function tsswarmDriver(hosts: lab.LabHost[], dir: string, dead: Set<string>): Driver {
  const managers = () => hosts.filter((h) => h.role === 'manager' && !dead.has(h.name));
  const ok = async (args: string[]) => {
    let last = '';
    for (const m of managers()) {
      const r = await tsswarm(args, m);
      if (r.code === 0) return r.stdout;
      last = r.stderr;
    }
    throw new Error(`tsswarm ${args.join(' ')}: ${last}`);
  };
  return {
    sys: 'tsswarm', hosts,
    serviceName: (name) => `${name}_app`,
    async create(name, n) {
      // Names as written, like Swarm's `--resolve-image never` below (the lab has no registry,
      // and every host holds the same test image).
      await ok(['deploy', '--detach', '--resolve-image', 'never', '-c', stackFile(dir, name, n), name]);
    },
    async remove(name) { await ok(['stack', 'rm', name]); },
    async update(name, via, i) { return (await tsswarm(['service', 'update', '--detach', '--env-add', `BENCH=${i}`, `${name}_app`], via)).code === 0; },
    async leader() {
      const st = JSON.parse(await ok(['cluster', 'status', '--format', 'json'])) as { leader?: string };
      const ns = JSON.parse(await ok(['node', 'ls', '--format', 'json'])) as { id: string; description: { hostname: string } }[];
      const name = ns.find((n) => n.id === st.leader)?.description.hostname;
      const h = hosts.find((x) => x.name === name);
      if (!h) throw new Error(`no leader (${st.leader})`);
      return h;
    },
    async nodeReady(host) {
      const ns = JSON.parse(await ok(['node', 'ls', '--format', 'json'])) as { description: { hostname: string }; status: { state: string } }[];
      return ns.find((n) => n.description.hostname === host)?.status.state === 'ready';
    },
  };
}

// ---------- Docker Swarm ----------
async function docker(h: lab.LabHost, ...args: string[]): Promise<string> {
  return (await run('docker', args, { env: { ...process.env, DOCKER_HOST: h.dockerHost }, timeout: STEP_TIMEOUT, maxBuffer: 16 << 20 })).stdout;
}

async function swarmUp(hosts: lab.LabHost[]): Promise<void> {
  const [first, ...rest] = hosts.filter((h) => h.role === 'manager');
  await docker(first!, 'swarm', 'init', '--advertise-addr', first!.addr);
  const mt = (await docker(first!, 'swarm', 'join-token', '-q', 'manager')).trim();
  const wt = (await docker(first!, 'swarm', 'join-token', '-q', 'worker')).trim();
  for (const m of rest) await docker(m, 'swarm', 'join', '--advertise-addr', m.addr, '--token', mt, `${first!.addr}:2377`);
  for (const w of hosts.filter((h) => h.role === 'worker')) await docker(w, 'swarm', 'join', '--advertise-addr', w.addr, '--token', wt, `${first!.addr}:2377`);
}

function swarmDriver(hosts: lab.LabHost[], dir: string, dead: Set<string>): Driver {
  const managers = () => hosts.filter((h) => h.role === 'manager' && !dead.has(h.name));
  const any = async (...args: string[]) => {
    let last: unknown;
    for (const m of managers()) { try { return await docker(m, ...args); } catch (e) { last = e; } }
    throw last;
  };
  return {
    sys: 'swarm', hosts,
    // The same stack file as tsswarm's, deployed the way a Swarm user would: `docker stack deploy`.
    serviceName: (name) => `${name}_app`,
    async create(name, n) {
      await any('stack', 'deploy', '--detach=true', '--resolve-image', 'never', '-c', stackFile(dir, name, n), name);
    },
    async remove(name) { await any('stack', 'rm', name); },
    async update(name, via, i) {
      return docker(via, 'service', 'update', '--detach', '--no-resolve-image', '--env-add', `BENCH=${i}`, `${name}_app`).then(() => true, () => false);
    },
    async leader() {
      const out = await any('node', 'ls', '--format', '{{.Hostname}} {{.ManagerStatus}}');
      const name = out.split('\n').find((l) => l.endsWith(' Leader'))?.split(' ')[0];
      const h = hosts.find((x) => x.name === name);
      if (!h) throw new Error(`no Swarm leader in ${JSON.stringify(out)}`);
      return h;
    },
    async nodeReady(host) {
      const out = await any('node', 'ls', '--format', '{{.Hostname}} {{.Status}}');
      return out.split('\n').some((l) => l === `${host} Ready`);
    },
  };
}

// ---------- the rows ----------
async function restore(d: Driver, dead: Set<string>, host: string): Promise<void> {
  await lab.start(host);
  dead.delete(host);
  await waitUntil(`${d.sys}: ${host} ready again`, () => d.nodeReady(host), STEP_TIMEOUT, 250);
}

async function workerKilled(d: Driver, dead: Set<string>, runs: number): Promise<number[]> {
  const name = 'benchmove';
  const svc = d.serviceName(name);
  await d.create(name, MOVE_REPLICAS);
  await waitUntil(`${d.sys}: ${MOVE_REPLICAS} running`, async () => total(await runningOn(d.sys, svc, d.hosts)) === MOVE_REPLICAS);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const before = await runningOn(d.sys, svc, d.hosts);
    // The worker holding the most tasks.
    const victim = d.hosts.filter((h) => h.role === 'worker').sort((a, b) => (before.get(b.name) ?? 0) - (before.get(a.name) ?? 0))[0]!;
    const live = d.hosts.filter((h) => h.name !== victim.name);
    say(`${d.sys}: killing ${victim.name} (${before.get(victim.name) ?? 0} of ${MOVE_REPLICAS} tasks)`);
    const t0 = performance.now();
    await lab.kill(victim.name);
    dead.add(victim.name);
    await waitUntil(`${d.sys}: ${MOVE_REPLICAS} running without ${victim.name}`, async () => total(await runningOn(d.sys, svc, live)) >= MOVE_REPLICAS);
    times.push((performance.now() - t0) / 1000);
    say(`${d.sys}: worker host killed -> tasks elsewhere: ${times.at(-1)!.toFixed(2)} s`);
    await restore(d, dead, victim.name);
  }
  await d.remove(name);
  await waitUntil(`${d.sys}: ${name} gone`, async () => total(await runningOn(d.sys, svc, d.hosts)) === 0);
  return times;
}

async function leaderKilled(d: Driver, dead: Set<string>, runs: number): Promise<number[]> {
  const name = 'benchlead';
  const svc = d.serviceName(name);
  await d.create(name, 2);
  await waitUntil(`${d.sys}: 2 running`, async () => total(await runningOn(d.sys, svc, d.hosts)) === 2);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const leader = await d.leader();
    const via = d.hosts.filter((h) => h.role === 'manager' && h.name !== leader.name);
    say(`${d.sys}: killing the leader's host ${leader.name}`);
    const t0 = performance.now();
    await lab.kill(leader.name);
    dead.add(leader.name);
    let n = 0;
    for (;;) {
      if (await d.update(name, via[n % via.length]!, 100 * i + n)) break;
      if (performance.now() - t0 > STEP_TIMEOUT) throw new Error(`${d.sys}: no update accepted after the leader's death`);
      n++;
      await sleep(20);
    }
    times.push((performance.now() - t0) / 1000);
    say(`${d.sys}: leader killed -> update accepted: ${times.at(-1)!.toFixed(2)} s (${n + 1} attempts)`);
    await restore(d, dead, leader.name);
  }
  await d.remove(name);
  await waitUntil(`${d.sys}: ${name} gone`, async () => total(await runningOn(d.sys, svc, d.hosts)) === 0);
  return times;
}

async function deployBig(d: Driver, runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const name = `benchbig${i}`;
    const svc = d.serviceName(name);
    const t0 = performance.now();
    await d.create(name, BIG);
    await waitUntil(`${d.sys}: ${BIG} running`, async () => total(await runningOn(d.sys, svc, d.hosts)) === BIG, STEP_TIMEOUT, 100);
    times.push((performance.now() - t0) / 1000);
    say(`${d.sys}: deploy ${BIG} across the hosts: ${times.at(-1)!.toFixed(2)} s`);
    await d.remove(name);
    await waitUntil(`${d.sys}: ${name} gone`, async () => total(await runningOn(d.sys, svc, d.hosts)) === 0);
  }
  return times;
}

/**
 * The floor: 50 `docker run --init` spread evenly over the lab's engines, 8 at a time per
 * engine, no orchestrator; on `network` (a user-defined bridge made on each engine first, as a
 * stack's network is) or on the default bridge.
 */
async function rawDeploy(hosts: lab.LabHost[], runs: number, network?: string, perEngine = 8): Promise<number[]> {
  const slow = (h: lab.LabHost) => new Docker({ socketPath: h.dockerHost.replace(/^unix:\/\//, ''), timeout: STEP_TIMEOUT });
  if (network) await Promise.all(hosts.map((h) => slow(h).createNetwork({ Name: network, Driver: 'bridge' })));
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const ids = new Map<lab.LabHost, string[]>();
    await Promise.all(hosts.map(async (h, hi) => {
      const mine = Array.from({ length: BIG }, (_, i) => i).filter((i) => i % hosts.length === hi);
      const out: string[] = [];
      let next = 0;
      await Promise.all(Array.from({ length: perEngine }, async () => {
        while (next < mine.length) {
          next++;
          const c = await slow(h).createContainer({ Image: IMAGE, Cmd: ['sleep', '100000'], Labels: { 'tsswarm.bench': 'raw' }, HostConfig: { Init: true, NetworkMode: network ?? 'bridge' } });
          await c.start();
          out.push(c.id);
        }
      }));
      ids.set(h, out);
    }));
    times.push((performance.now() - t0) / 1000);
    say(`raw engines (${network ?? 'default bridge'}, ${perEngine} at a time per engine): ${BIG} containers across the hosts: ${times.at(-1)!.toFixed(2)} s`);
    await Promise.all([...ids].map(([h, list]) => Promise.all(list.map((id) => slow(h).getContainer(id).remove({ force: true })))));
  }
  if (network) await Promise.all(hosts.map((h) => slow(h).getNetwork(network).remove()));
  return times;
}

type Rows = Record<string, number[]>;
async function bench(d: Driver, dead: Set<string>): Promise<Rows> {
  return {
    kill: ROWS.includes('kill') ? await workerKilled(d, dead, RUNS) : [],
    leader: ROWS.includes('leader') ? await leaderKilled(d, dead, RUNS) : [],
    deploy: ROWS.includes('deploy') ? await deployBig(d, RUNS) : [],
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsswarm-bench-lab-'));
  const results: Partial<Record<System, Rows>> = {};
  let raw: number[] = [];
  let rawNet: number[] = [];
  const sweep: { perEngine: number; bridge: number; network: number }[] = [];
  try {
    if (ONLY.includes('tsswarm')) {
      say('tsswarm: lab up (3 managers + 2 workers)');
      const hosts = await lab.up({ managers: 3, workers: 2, log: say });
      const dead = new Set<string>();
      results.tsswarm = await bench(tsswarmDriver(hosts, dir, dead), dead);
      await lab.down({ log: say });
    }
    if (ONLY.includes('swarm')) {
      say('Docker Swarm: lab up, engines only, then swarm init/join');
      const hosts = await lab.up({ managers: 3, workers: 2, tsswarm: false, log: say });
      if (ROWS.includes('deploy')) {
        raw = await rawDeploy(hosts, RUNS);
        rawNet = await rawDeploy(hosts, RUNS, 'benchnet');
      }
      // --floor-sweep: the floor at 2, 4, 8 and 16 starts at a time per engine (one run each).
      if (argv.includes('--floor-sweep')) {
        for (const n of [2, 4, 8, 16]) sweep.push({ perEngine: n, bridge: (await rawDeploy(hosts, 1, undefined, n))[0]!, network: (await rawDeploy(hosts, 1, 'benchnet', n))[0]! });
      }
      await swarmUp(hosts);
      const dead = new Set<string>();
      const d = swarmDriver(hosts, dir, dead);
      await waitUntil('5 ready Swarm nodes', async () => (await Promise.all(hosts.map((h) => d.nodeReady(h.name)))).every(Boolean), 60_000, 250);
      results.swarm = await bench(d, dead);
      await lab.down({ log: say });
    }
  } finally {
    await lab.down().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }

  const f = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)} s` : '—');
  const rows: [string, keyof Rows & string, (a: number, b: number) => boolean, string][] = [
    ['worker host killed -> its tasks running elsewhere', 'kill', (a, b) => a <= 5 && (!Number.isFinite(b) || a <= 0.15 * b), '<= 5 s and <= 0.15x'],
    ['leader killed -> next service update accepted', 'leader', (a, b) => a <= 2 && (!Number.isFinite(b) || a <= 0.1 * b), '<= 2 s and <= 0.1x'],
    [`deploy ${BIG} replicas across the hosts`, 'deploy', (a, b) => !Number.isFinite(b) || a <= 0.5 * b, '<= 0.5x'],
  ];
  const lines = [['row', 'tsswarm', 'swarm', 'ratio', 'goal', '']];
  for (const [label, key, ok, goal] of rows) {
    const a = median(results.tsswarm?.[key] ?? []);
    const b = median(results.swarm?.[key] ?? []);
    lines.push([label, f(a), f(b), Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(2)}x` : '—', goal, Number.isFinite(a) ? (ok(a, b) ? 'PASS' : 'MISS') : '—']);
  }
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  console.log(`\ntsswarm vs Docker Swarm on the lab (3 managers + 2 workers, one dockerd per host), medians of ${RUNS} run(s)\n`);
  for (const l of lines) console.log(l.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  if (raw.length) {
    console.log(`\nfloor: ${BIG} x docker run --init spread over the 5 engines (8 at a time per engine, no orchestrator):`);
    console.log(`  on each engine's default bridge: ${f(median(raw))}; on a user-defined bridge per engine (as a stack network): ${f(median(rawNet))}`);
  }
  if (sweep.length) {
    console.log(`\nfloor by starts at a time per engine (${BIG} x docker run --init, one run each): default bridge / user-defined bridge`);
    for (const w of sweep) console.log(`  ${String(w.perEngine).padStart(2)}: ${f(w.bridge)} / ${f(w.network)}`);
  }
  const out = join(tmpdir(), 'tsswarm-bench-lab-results.json');
  writeFileSync(out, JSON.stringify({ runs: RUNS, results, raw, rawNet }, null, 2));
  console.log(`\nJSON: ${out}`);
}

main().catch(async (e) => { console.error(e); await lab.down().catch(() => undefined); process.exit(1); });
