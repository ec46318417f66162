// npm run bench:raft [-- --seconds S] [--runs N] [--concurrency 1,16,256] [--no-failover]
// 3 tsswarm Raft managers (separate processes, real fsync, loopback) vs a 3-member etcd on
// loopback, side by side: 256-byte writes at concurrency 1 / 16 / 256, throughput and commit
// latency p50/p99; then leader kill -> next committed write. Both clusters run for the whole
// bench and their rows are interleaved (the order alternating run by run), so that a slow
// moment of the machine or its disk hits both; each figure is the median of N runs (5).
// Build first: npx tsc -p .
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { ProcCluster, type Member } from '../raft/cluster-procs.js';

const secArg = process.argv.indexOf('--seconds');
const SECONDS = secArg > 0 ? Number(process.argv[secArg + 1]) : 5;
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const concArg = process.argv.indexOf('--concurrency');
const CONCURRENCY = concArg > 0 ? process.argv[concArg + 1]!.split(',').map(Number) : [1, 16, 256];
const FAILOVER = !process.argv.includes('--no-failover');
const VALUE = 'x'.repeat(256);

interface Result {
  perSec: number;
  p50: number;
  p99: number;
}

async function drive(c: number, put: (key: string) => Promise<boolean>, seconds = SECONDS): Promise<Result> {
  const lat: number[] = [];
  const end = Date.now() + seconds * 1000;
  let n = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: c }, async (_, w) => {
      for (let i = 0; Date.now() < end; i++) {
        const s = process.hrtime.bigint();
        if (await put(`k${w}-${i % 1000}`)) {
          lat.push(Number(process.hrtime.bigint() - s) / 1e6);
          n++;
        }
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? NaN;
  return { perSec: n / secs, p50: q(0.5), p99: q(0.99) };
}

type Put = (key: string) => Promise<boolean>;

async function startOurs(): Promise<{ cluster: ProcCluster; put: Put }> {
  const entry = join(import.meta.dirname, '..', 'raft', 'proc-node.js');
  const cluster = new ProcCluster(entry, 3, 26400);
  await cluster.startAll();
  let leader = await cluster.waitLeader();
  const put: Put = async (key) => {
    const r = await cluster.http(leader, 'POST', `/put?key=${key}`, VALUE, 10_000);
    if (r.status === 421 && r.body.leader) leader = cluster.members[r.body.leader - 1]!;
    return r.status === 200;
  };
  return { cluster, put };
}

/** kill -9 the leader; time until a write commits on one of the others. The victim is restarted. */
async function failover(cluster: ProcCluster, leader: Member): Promise<number> {
  cluster.kill9(leader);
  const t0 = Date.now();
  let ms = NaN;
  while (Date.now() - t0 < 20_000 && Number.isNaN(ms)) {
    for (const m of cluster.members.filter((x) => x.proc)) {
      const r = await cluster.http(m, 'POST', '/put?key=failover', VALUE, 1000);
      if (r.status === 200) {
        ms = Date.now() - t0;
        break;
      }
    }
    if (Number.isNaN(ms)) await new Promise((r) => setTimeout(r, 10));
  }
  await cluster.start(leader);
  return ms;
}

/** A private 3-member etcd on loopback, and a put through the etcd3 client; undefined if it does not come up. */
async function startEtcd(base: string): Promise<{ procs: ChildProcess[]; client: Etcd3; put: Put } | undefined> {
  const names = ['e1', 'e2', 'e3'];
  const peer = (i: number): string => `http://127.0.0.1:${23800 + i}`;
  const url = (i: number): string => `http://127.0.0.1:${23790 + i}`;
  const initial = names.map((n, i) => `${n}=${peer(i)}`).join(',');
  const procs = names.map((name, i) =>
    spawn('/usr/bin/etcd', ['--name', name, '--data-dir', join(base, name), '--listen-client-urls', url(i), '--advertise-client-urls', url(i), '--listen-peer-urls', peer(i), '--initial-advertise-peer-urls', peer(i), '--initial-cluster', initial, '--initial-cluster-state', 'new', '--log-level', 'error'], { stdio: 'ignore' }),
  );
  let spawnError: Error | undefined;
  for (const p of procs) p.on('error', (e) => (spawnError ??= e));
  const client = new Etcd3({ hosts: names.map((_, i) => url(i)) });
  const end = Date.now() + 30_000;
  for (;;) {
    try {
      await client.put('warmup').value('1');
      break;
    } catch (err) {
      if (spawnError || Date.now() > end) {
        console.error(`etcd baseline unavailable: ${(spawnError ?? (err as Error)).message}`);
        client.close();
        for (const p of procs) p.kill('SIGKILL');
        return undefined;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const put: Put = async (key) => {
    try {
      await client.put(key).value(VALUE);
      return true;
    } catch {
      return false;
    }
  };
  return { procs, client, put };
}

const median = (xs: number[]): number => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const med = (rs: Result[]): Result => ({ perSec: median(rs.map((r) => r.perSec)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)) });

const etcdBase = mkdtempSync(join(tmpdir(), 'raft-bench-etcd-'));
const ours = await startOurs();
const etcd = await startEtcd(etcdBase);
const oursRows: Result[][] = CONCURRENCY.map(() => []);
const etcdRows: Result[][] = CONCURRENCY.map(() => []);
const failovers: number[] = [];
try {
  // Warm both up (connections, JIT, first WAL segment) before anything is measured.
  for (const c of [16, 1]) {
    await drive(c, ours.put, 2);
    if (etcd) await drive(c, etcd.put, 2);
  }
  for (let r = 0; r < RUNS; r++) {
    for (const [i, c] of CONCURRENCY.entries()) {
      const order = (r + i) % 2 === 0 ? ['ours', 'etcd'] : ['etcd', 'ours'];
      for (const who of order) {
        if (who === 'ours') oursRows[i]!.push(await drive(c, ours.put));
        else if (etcd) etcdRows[i]!.push(await drive(c, etcd.put));
      }
    }
  }
  for (let r = 0; FAILOVER && r < RUNS; r++) {
    failovers.push(await failover(ours.cluster, await ours.cluster.waitLeader()));
    await ours.cluster.waitLeader();
  }
} finally {
  await ours.cluster.stopAll();
  etcd?.client.close();
  for (const p of etcd?.procs ?? []) p.kill('SIGKILL');
  rmSync(etcdBase, { recursive: true, force: true });
}

const f = (x: number, d = 0): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
console.log(`\nRaft benchmark: 3 members on loopback, real fsync, 256-byte writes, ${SECONDS} s per row, medians of ${RUNS} interleaved runs`);
console.log('| concurrency | tsswarm puts/s | etcd puts/s | ratio | tsswarm p50 / p99 ms | etcd p50 / p99 ms | p99 ratio |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
CONCURRENCY.forEach((c, i) => {
  const o = med(oursRows[i]!);
  const e = etcd ? med(etcdRows[i]!) : undefined;
  console.log(`| ${c} | ${f(o.perSec)} | ${e ? f(e.perSec) : '-'} | ${e ? f(o.perSec / e.perSec, 2) : '-'} | ${f(o.p50, 1)} / ${f(o.p99, 1)} | ${e ? `${f(e.p50, 1)} / ${f(e.p99, 1)}` : '-'} | ${e ? f(o.p99 / e.p99, 2) : '-'} |`);
});
console.log('\nEach run (puts/s, p99 ms):');
CONCURRENCY.forEach((c, i) => {
  const show = (rs: Result[]): string => rs.map((r) => `${f(r.perSec)}/${f(r.p99, 1)}`).join('  ');
  console.log(`  c=${c}: tsswarm ${show(oursRows[i]!)}  |  etcd ${etcd ? show(etcdRows[i]!) : '-'}`);
});
if (FAILOVER) console.log(`leader killed -> next committed write (tsswarm, default timings): median ${f(median(failovers))} ms (${failovers.map((x) => f(x)).join(', ')})`);
process.exit(0);
