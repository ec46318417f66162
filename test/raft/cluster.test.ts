// Real processes: a 3-member cluster on 127.0.0.x; kill -9 the leader while clients write.
// Every acknowledged write must survive, a new leader must be elected, and writes resume.
// Small snapshot intervals and WAL segments, so that the kill lands among background work:
// segments zero-filled and cut, snapshot files written on the thread pool, segments released.
// The killed member stays down until the others have compacted past its log, so that it comes
// back through InstallSnapshot, sent over gRPC in many small chunks.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildProcNode, ProcCluster, type Member } from './cluster-procs.js';

let cluster: ProcCluster;

beforeAll(() => {
  cluster = new ProcCluster(buildProcNode(), 3, 27400 + Math.floor(Math.random() * 500), undefined, { snapshotEntries: 300, segmentBytes: 64 << 10, snapshotChunkBytes: 512 });
}, 120_000);
afterAll(async () => {
  await cluster?.stopAll();
});

it('kill -9 of the leader loses no acknowledged write; a new leader takes writes', async () => {
  await cluster.startAll();
  const leader = await cluster.waitLeader();
  const acked = new Map<string, string>();
  let stop = false;
  let leaderHint: Member = leader;
  let killedAt = 0;
  let firstAfterKill = 0;
  const writer = async (w: number): Promise<void> => {
    for (let i = 0; !stop; i++) {
      const key = `w${w}-${i}`;
      const target = leaderHint;
      const sentAt = Date.now();
      const r = await cluster.http(target, 'POST', `/put?key=${key}`, `val-${i}`, 2000);
      if (r.status === 200) {
        acked.set(key, `val-${i}`);
        // Only a write sent after the kill counts: an answer already on its way does not.
        if (killedAt && sentAt >= killedAt && !firstAfterKill) firstAfterKill = Date.now();
      } else if (r.status === 421 && r.body.leader) {
        leaderHint = cluster.members[r.body.leader - 1]!;
      } else {
        await new Promise((res) => setTimeout(res, 20));
        const live = cluster.members.filter((m) => m.proc);
        leaderHint = live[Math.floor(Math.random() * live.length)]!;
      }
    }
  };
  const writers = [1, 2, 3, 4].map((w) => writer(w));
  // Kill the leader once writes are flowing (a few hundred acknowledged), not after a fixed time.
  const warmDeadline = Date.now() + 20_000;
  while (acked.size < 300 && Date.now() < warmDeadline) await new Promise((r) => setTimeout(r, 20));
  expect(acked.size).toBeGreaterThanOrEqual(300);
  const before = acked.size;
  const killedCommit = ((await cluster.http(leader, 'GET', '/status')).body as { commit: number }).commit;
  cluster.kill9(leader);
  killedAt = Date.now();
  const deadline = Date.now() + 15_000;
  while (!firstAfterKill && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  // Go on writing until the new leader's snapshot is well past anything the killed member
  // holds (it keeps 300 entries behind its snapshot; 600 leaves room for entries in flight).
  let leaderSnap = 0;
  const compactDeadline = Date.now() + 30_000;
  while (leaderSnap < killedCommit + 600 && Date.now() < compactDeadline) {
    await new Promise((r) => setTimeout(r, 200));
    for (const m of cluster.members.filter((x) => x.proc)) {
      const st = await cluster.http(m, 'GET', '/status', undefined, 1000);
      if (st.status === 200 && st.body.role === 'leader') leaderSnap = st.body.snapIndex as number;
    }
  }
  stop = true;
  await Promise.all(writers);
  expect(before).toBeGreaterThan(10);
  expect(firstAfterKill, 'a write committed after the leader was killed').toBeGreaterThan(0);
  const failover = firstAfterKill - killedAt;
  console.log(`acknowledged writes: ${acked.size}; leader killed -> next committed write: ${failover} ms`);

  // Restart the killed member from its disk; every acknowledged write is readable (linearizably) from the leader.
  expect(leaderSnap, 'the new leader compacted past the killed member').toBeGreaterThanOrEqual(killedCommit + 600);
  await cluster.start(leader);
  const newLeader = await cluster.waitLeader();
  // It reconnects and catches up, through a snapshot: its log ends before the leader's begins.
  const target = ((await cluster.http(newLeader, 'GET', '/status')).body as { commit: number }).commit;
  let back: { applied: number; snapshotsInstalled: number } = { applied: 0, snapshotsInstalled: 0 };
  const catchUp = Date.now() + 15_000;
  while (back.applied < target && Date.now() < catchUp) {
    await new Promise((r) => setTimeout(r, 50));
    const st = await cluster.http(leader, 'GET', '/status', undefined, 1000);
    if (st.status === 200) back = st.body;
  }
  expect(back.applied, 'the restarted member caught up').toBeGreaterThanOrEqual(target);
  expect(back.snapshotsInstalled, 'through InstallSnapshot').toBeGreaterThanOrEqual(1);
  for (const [k, v] of acked) {
    const r = await cluster.http(newLeader, 'GET', `/get?key=${k}`);
    expect(r.status).toBe(200);
    expect(r.body.value, k).toBe(v);
  }
  // The killed member restarted from a snapshot and a WAL that had been cut and released.
  const snaps = readdirSync(join(leader.dir, 'snap')).filter((f) => f.endsWith('.snap'));
  expect(snaps.some((f) => parseInt(f.slice(0, 16), 16) > 0), `snapshots: ${snaps.join(' ')}`).toBe(true);
  const segs = readdirSync(join(leader.dir, 'wal')).filter((f) => f.endsWith('.wal'));
  expect(parseInt(segs[0]!.slice(0, 16), 16), `segments: ${segs.join(' ')}`).toBeGreaterThan(0);
}, 120_000);
