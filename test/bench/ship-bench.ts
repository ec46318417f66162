// npm run bench:ship: images shipped by tsswarm vs by hand, on the lab (deploy/lab: 1 manager +
// 2 workers). A 3-layer image (two files of random bytes and one RUN line on the lab's busybox)
// is built on lab-w1 only; it must run on the two other hosts (lab-m1 and lab-w2).
//
// Rows, medians of --runs (default 3), each timed until both hosts run a container of it:
//  - first ship: tsswarm (`deploy`, the nodes fetch it from lab-w1) vs the floor: `docker save`
//    on lab-w1 piped into `docker load` on both hosts at once, then `docker run` on each;
//  - changed-layer re-ship (v2: one RUN line changed; both hosts hold v1): tsswarm (`deploy` of
//    v2) vs the same by hand (`docker save v2 | docker load`, then run).
// Bytes: what crossed (tsswarm: the 'image fetched' log lines of the two hosts; by hand: the
// archive, once per host). "Of which fetch → running": from the first fetch's start (after the
// deploy and the scheduling; the deploy pins the tag to its ID, so no registry is tried first)
// to both running. Goals: first ship ≤ 1.2× the floor, re-ship ≤ 0.2× the floor.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import * as lab from '../../deploy/lab/lab.js';
import { planHost } from '../../deploy/lab/plan.js';
import { tarEnd, tarHeader, tarPadding } from '../../common/images/tar.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const BIN = join(ROOT, 'bin', 'tsswarm.js');
const STACK = 'shipb';
const IMAGE = 'shipbench';
const TARGETS = ['lab-m1', 'lab-w2'];
const SOURCE = 'lab-w1';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1]! : dflt; };
const RUNS = Number(opt('runs', argv.includes('--quick') ? '1' : '3'));
const LAYER_MB = [Number(opt('layer1-mb', '24')), Number(opt('layer2-mb', '8'))];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN; };
const say = (s: string) => process.stderr.write(`[bench:ship] ${s}\n`);

let hosts: lab.LabHost[] = [];
const host = (n: string) => hosts.find((h) => h.name === n)!;
const engine = (n: string) => new Docker({ socketPath: host(n).dockerHost.replace(/^unix:\/\//, '') });

async function waitUntil(what: string, fn: () => Promise<boolean>, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try { if (await fn()) return; } catch { /* not yet */ }
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function tsswarm(...args: string[]): Promise<string> {
  const env = { ...process.env, TSSWARM_HOST: host('lab-m1').apiHost!, DOCKER_HOST: host(SOURCE).dockerHost };
  delete (env as Record<string, string | undefined>).TSSWARM_CONTEXT;
  return (await run(process.execPath, [BIN, ...args], { env, maxBuffer: 16 << 20 })).stdout;
}

/** Build tag on the source: busybox, two COPYs of random files (the same for every version), one RUN. */
async function build(tag: string, version: string, files: Record<string, Buffer>): Promise<void> {
  const parts: Buffer[] = [];
  const dockerfile = `FROM tsswarm/busybox:latest\nCOPY a.bin /a.bin\nCOPY b.bin /b.bin\nRUN echo ${version} > /version\n`;
  for (const [name, data] of Object.entries({ Dockerfile: Buffer.from(dockerfile), ...files })) parts.push(tarHeader({ name, type: 'file', size: data.length }), data, tarPadding(data.length));
  parts.push(tarEnd());
  const d = engine(SOURCE);
  const stream = await d.buildImage(Readable.from([Buffer.concat(parts)]) as unknown as NodeJS.ReadableStream, { t: tag, rm: true });
  await new Promise<void>((res, rej) => d.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
    const f = out?.find((o) => o.error);
    if (err || f) rej(err ?? new Error(f!.error)); else res();
  }));
}

/** Containers of the stack (tsswarm) or of the floor (label shipbench.floor) running `image` on every target. */
async function runningEverywhere(label: string, image: string): Promise<boolean> {
  for (const t of TARGETS) {
    const cs = await engine(t).listContainers({ filters: { label: [label], status: ['running'] } });
    if (!cs.some((c) => c.Image === image)) return false;
  }
  return true;
}

async function cleanTargets(): Promise<void> {
  for (const t of TARGETS) {
    const d = engine(t);
    for (const c of await d.listContainers({ all: true, filters: { label: ['shipbench.floor'] } })) await d.getContainer(c.Id).remove({ force: true });
    for (const tag of [`${IMAGE}:1`, `${IMAGE}:2`]) await d.getImage(tag).remove({ force: true }).catch(() => undefined);
  }
}

/** The floor: save on the source, piped into load on both targets at once, then run on each. Returns ms and bytes per host. */
async function byHand(tag: string): Promise<{ ms: number; bytes: number }> {
  const t0 = Date.now();
  const saved = (await engine(SOURCE).getImage(tag).get()) as unknown as Readable;
  let bytes = 0;
  const outs = TARGETS.map(() => new PassThrough({ highWaterMark: 1 << 20 }));
  saved.on('data', (c: Buffer) => {
    bytes += c.length;
    // Paused until every output that is full has drained (only those emit 'drain').
    const full = outs.filter((o) => !o.write(c));
    if (full.length) { saved.pause(); let n = full.length; for (const o of full) o.once('drain', () => { if (--n === 0) saved.resume(); }); }
  });
  saved.on('end', () => { for (const o of outs) o.end(); });
  await Promise.all(TARGETS.map(async (t, i) => {
    const res = (await engine(t).loadImage(outs[i], { quiet: true })) as NodeJS.ReadableStream;
    for await (const c of res as AsyncIterable<Buffer>) if (String(c).includes('"error')) throw new Error(String(c));
    const c = await engine(t).createContainer({ Image: tag, Cmd: ['sleep', '100000'], Labels: { 'shipbench.floor': '1' }, HostConfig: { Init: true } });
    await c.start();
  }));
  await waitUntil('the floor\'s containers', () => runningEverywhere('shipbench.floor', tag));
  return { ms: Date.now() - t0, bytes };
}

const stackFile = (dir: string, tag: string): string => {
  const f = join(dir, 'stack.yml');
  writeFileSync(f, `services:
  app:
    image: ${tag}
    command: ["sleep", "100000"]
    init: true
    deploy:
      replicas: ${TARGETS.length}
      placement: { constraints: ["node.hostname != ${SOURCE}"], max_replicas_per_node: 1 }
      update_config: { parallelism: ${TARGETS.length}, delay: 0s, order: stop-first }
`);
  return f;
};

interface LogLine { msg: string; image: string; bytes: number; time: number; ms?: number; saveOpenMs?: number; queryMs?: number; stages?: Record<string, number> }

/** Each built tag's image ID: a deploy pins a tag no registry gave to its ID, and the nodes fetch (and log) that. */
const idOf = new Map<string, string>();

/** The log lines `msg` about `tag` (or its ID) since `since`, on the hosts `on`. */
function logLines(on: string[], msg: string, tag: string, since: number): (LogLine & { host: string })[] {
  const out: (LogLine & { host: string })[] = [];
  for (const t of on) {
    const file = planHost(t.startsWith('lab-m') ? 'manager' : 'worker', Number(t.slice(-1))).tsswarmLog;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.includes(`"${msg}"`)) continue;
      try {
        const o = JSON.parse(line) as LogLine;
        if ((o.image === tag || o.image === idOf.get(tag)) && o.time >= since) out.push({ ...o, host: t });
      } catch { /* not JSON */ }
    }
  }
  return out;
}

/** Bytes the targets' agents logged as fetched for `tag` since `since`. */
const fetchedBytes = (tag: string, since: number): number => logLines(TARGETS, 'image fetched', tag, since).reduce((n, o) => n + o.bytes, 0);

/** Where the time of a tsswarm row went (from the hosts' logs), relative to the deploy's start. */
function stagesOf(tag: string, t0: number, end: number): string {
  const parts: string[] = [];
  for (const o of logLines(TARGETS, 'pull failed', tag, t0)) parts.push(`${o.host}: registry pull failed at +${o.time - t0} ms`);
  for (const o of logLines(TARGETS, 'image fetched', tag, t0)) {
    const began = o.time - (o.ms ?? 0) - t0;
    parts.push(`${o.host}: fetch from +${began} ms (${Object.entries(o.stages ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')}) to +${o.time - t0} ms`);
  }
  for (const o of logLines([SOURCE], 'image sent', tag, t0)) parts.push(`${SOURCE} sent: save began at +${o.saveOpenMs} ms, all ${o.ms} ms`);
  for (const o of logLines(['lab-m1'], 'relaying an image', tag, t0)) parts.push(`leader query ${o.queryMs} ms`);
  parts.push(`both running at +${end - t0} ms`);
  return parts.join('; ');
}

/** From the first fetch's start (after the deploy and the scheduling) to both running. */
function shipPart(tag: string, t0: number, end: number): number {
  const starts = logLines(TARGETS, 'image fetched', tag, t0).map((o) => o.time - (o.ms ?? 0));
  return starts.length ? end - Math.min(...starts) : NaN;
}

async function viaTsswarm(dir: string, tag: string): Promise<{ ms: number; bytes: number; shipMs: number }> {
  const t0 = Date.now();
  await tsswarm('deploy', '--detach', '-c', stackFile(dir, tag), STACK);
  await waitUntil(`tsswarm running ${tag} on ${TARGETS.join(', ')}`, () => runningEverywhere(`tsswarm.stack.namespace=${STACK}`, tag));
  const end = Date.now();
  const ms = end - t0;
  await waitUntil('the fetches logged', async () => fetchedBytes(tag, t0) > 0, 10_000);
  say(`${tag}: ${stagesOf(tag, t0, end)}`);
  return { ms, bytes: fetchedBytes(tag, t0), shipMs: shipPart(tag, t0, end) };
}

async function main(): Promise<void> {
  say(`lab up (1 manager + 2 workers); image of 3 layers (${LAYER_MB[0]} MB, ${LAYER_MB[1]} MB, one RUN line) on ${SOURCE} only; ${RUNS} run(s)`);
  hosts = await lab.up({ managers: 1, workers: 2, log: (l) => say(l) });
  const dir = mkdtempSync(join(tmpdir(), 'tsswarm-bench-ship-'));
  const rows = { floorFirst: [] as number[], floorRe: [] as number[], tsFirst: [] as number[], tsRe: [] as number[], shipFirst: [] as number[], shipRe: [] as number[] };
  const bytes = { floorFirst: 0, floorRe: 0, tsFirst: 0, tsRe: 0 };
  try {
    const files = { 'a.bin': randomBytes(LAYER_MB[0] << 20), 'b.bin': randomBytes(LAYER_MB[1] << 20) };
    await build(`${IMAGE}:1`, 'v1', files);
    await build(`${IMAGE}:2`, 'v2', files);
    for (const tag of [`${IMAGE}:1`, `${IMAGE}:2`]) idOf.set(tag, (await engine(SOURCE).getImage(tag).inspect()).Id);
    for (let i = 0; i < RUNS; i++) {
      await cleanTargets();
      const f1 = await byHand(`${IMAGE}:1`);
      const f2 = await byHand(`${IMAGE}:2`);
      rows.floorFirst.push(f1.ms); rows.floorRe.push(f2.ms);
      bytes.floorFirst = f1.bytes * TARGETS.length; bytes.floorRe = f2.bytes * TARGETS.length;
      await cleanTargets();
      const t1 = await viaTsswarm(dir, `${IMAGE}:1`);
      const t2 = await viaTsswarm(dir, `${IMAGE}:2`);
      rows.tsFirst.push(t1.ms); rows.tsRe.push(t2.ms);
      rows.shipFirst.push(t1.shipMs); rows.shipRe.push(t2.shipMs);
      bytes.tsFirst = t1.bytes; bytes.tsRe = t2.bytes;
      await tsswarm('stack', 'rm', STACK);
      say(`run ${i + 1}: first ship tsswarm ${t1.ms} ms vs by hand ${f1.ms} ms; re-ship ${t2.ms} ms vs ${f2.ms} ms`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await lab.down();
  }
  const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
  const line = (what: string, ts: number[], ship: number[], floor: number[], tb: number, fb: number, goal: number) => {
    const r = median(ts) / median(floor);
    return `| ${what} | ${(median(ts) / 1000).toFixed(2)} s | ${(median(ship) / 1000).toFixed(2)} s | ${(median(floor) / 1000).toFixed(2)} s | ${r.toFixed(2)}× (goal ≤ ${goal}×) ${r <= goal ? 'met' : 'NOT met'} | ${mb(tb)} | ${mb(fb)} | ${(tb / fb).toFixed(3)}× |`;
  };
  const out = [
    `ship a 3-layer image from ${SOURCE} to ${TARGETS.join(' and ')} until both run it (medians of ${RUNS}):`,
    '',
    '| row | tsswarm | of which fetch → running | by hand (save \\| load, run) | time ratio | bytes tsswarm | bytes by hand | bytes ratio |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    line('first ship', rows.tsFirst, rows.shipFirst, rows.floorFirst, bytes.tsFirst, bytes.floorFirst, 1.2),
    line('changed-layer re-ship', rows.tsRe, rows.shipRe, rows.floorRe, bytes.tsRe, bytes.floorRe, 0.2),
  ];
  process.stdout.write(out.join('\n') + '\n');
}

main().catch((err: Error) => { say(`failed: ${err.stack ?? err.message}`); process.exitCode = 1; });
