// npm run bench:raft [-- --seconds S]
// 3 tsswarm Raft managers (separate processes, real fsync, loopback) vs a 3-member etcd on
// loopback, side by side: 256-byte writes at concurrency 1 / 16 / 256, throughput and commit
// latency p50/p99; then leader kill -> next committed write. Build first: npx tsc -p .
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { ProcCluster, type Member } from '../raft/cluster-procs.js';

const secArg = process.argv.indexOf('--seconds');
const SECONDS = secArg > 0 ? Number(process.argv[secArg + 1]) : 5;
const CONCURRENCY = [1, 16, 256];
const VALUE = 'x'.repeat(256);

interface Result {
  ops: number;
  perSec: number;
  p50: number;
  p99: number;
}

async function drive(c: number, put: (key: string) => Promise<boolean>): Promise<Result> {
  const lat: number[] = [];
  const end = Date.now() + SECONDS * 1000;
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
  return { ops: n, perSec: n / secs, p50: q(0.5), p99: q(0.99) };
}

async function startEtcd(base: string): Promise<{ procs: ChildProcess[]; hosts: string[] }> {
  const names = ['e1', 'e2', 'e3'];
  const peer = (i: number): string => `http://127.0.0.1:${23800 + i}`;
  const client = (i: number): string => `http://127.0.0.1:${23790 + i}`;
  const initial = names.map((n, i) => `${n}=${peer(i)}`).join(',');
  const procs = names.map((name, i) =>
    spawn('/usr/bin/etcd', ['--name', name, '--data-dir', join(base, name), '--listen-client-urls', client(i), '--advertise-client-urls', client(i), '--listen-peer-urls', peer(i), '--initial-advertise-peer-urls', peer(i), '--initial-cluster', initial, '--initial-cluster-state', 'new', '--log-level', 'error'], { stdio: 'ignore' }),
  );
  const hosts = names.map((_, i) => client(i));
  const c = new Etcd3({ hosts });
  const end = Date.now() + 30_000;
  for (;;) {
    try {
      await c.put('warmup').value('1');
      break;
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  c.close();
  return { procs, hosts };
}

async function benchOurs(): Promise<{ rows: Result[]; failover: number }> {
  const entry = join(import.meta.dirname, '..', 'raft', 'proc-node.js');
  const cluster = new ProcCluster(entry, 3, 26400);
  try {
    await cluster.startAll();
    let leader = await cluster.waitLeader();
    const put = async (key: string): Promise<boolean> => {
      const r = await cluster.http(leader, 'POST', `/put?key=${key}`, VALUE, 10_000);
      if (r.status === 421 && r.body.leader) leader = cluster.members[r.body.leader - 1]!;
      return r.status === 200;
    };
    const rows: Result[] = [];
    for (const c of CONCURRENCY) rows.push(await drive(c, put));
    // failover: kill -9 the leader, time until a write commits on the new leader
    const victim: Member = leader;
    cluster.kill9(victim);
    const t0 = Date.now();
    let failover = NaN;
    while (Date.now() - t0 < 20_000) {
      const live = cluster.members.filter((m) => m.proc);
      for (const m of live) {
        const r = await cluster.http(m, 'POST', '/put?key=failover', VALUE, 1000);
        if (r.status === 200) {
          failover = Date.now() - t0;
          break;
        }
      }
      if (!Number.isNaN(failover)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    return { rows, failover };
  } finally {
    await cluster.stopAll();
  }
}

async function benchEtcd(): Promise<Result[] | undefined> {
  const base = mkdtempSync(join(tmpdir(), 'raft-bench-etcd-'));
  let procs: ChildProcess[] = [];
  try {
    const e = await startEtcd(base);
    procs = e.procs;
    const client = new Etcd3({ hosts: e.hosts });
    const rows: Result[] = [];
    for (const c of CONCURRENCY) {
      rows.push(
        await drive(c, async (key) => {
          try {
            await client.put(key).value(VALUE);
            return true;
          } catch {
            return false;
          }
        }),
      );
    }
    client.close();
    return rows;
  } catch (err) {
    console.error(`etcd baseline unavailable: ${(err as Error).message}`);
    return undefined;
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(base, { recursive: true, force: true });
  }
}

const ours = await benchOurs();
const etcd = await benchEtcd();
const f = (x: number, d = 0): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
console.log(`\nRaft benchmark: 3 members on loopback, real fsync, 256-byte writes, ${SECONDS} s per row`);
console.log('| concurrency | tsswarm puts/s | etcd puts/s | ratio | tsswarm p50 / p99 ms | etcd p50 / p99 ms | p99 ratio |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
CONCURRENCY.forEach((c, i) => {
  const o = ours.rows[i]!;
  const e = etcd?.[i];
  console.log(`| ${c} | ${f(o.perSec)} | ${e ? f(e.perSec) : '-'} | ${e ? f(o.perSec / e.perSec, 2) : '-'} | ${f(o.p50, 1)} / ${f(o.p99, 1)} | ${e ? `${f(e.p50, 1)} / ${f(e.p99, 1)}` : '-'} | ${e ? f(o.p99 / e.p99, 2) : '-'} |`);
});
console.log(`leader killed -> next committed write (tsswarm, default timings): ${f(ours.failover)} ms`);
process.exit(0);
