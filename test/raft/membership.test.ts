// Membership changes between real processes: a fourth member that the others have never heard
// of starts empty, is added as a learner (its address travels in the change), catches up
// through a snapshot, is promoted to voter; a founding member is removed; then, with one of
// the two remaining founders killed, writes still commit: the newcomer is a working voter;
// leadership is handed to it, and it takes writes.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildProcNode, ProcCluster, type Member } from './cluster-procs.js';

let cluster: ProcCluster;

beforeAll(() => {
  cluster = new ProcCluster(buildProcNode(), 4, 28400 + Math.floor(Math.random() * 500), undefined, { snapshotEntries: 100, snapshotChunkBytes: 1024 });
  cluster.joiners.add(4);
}, 120_000);
afterAll(async () => {
  await cluster?.stopAll();
});

interface Status {
  role: string;
  commit: number;
  applied: number;
  snapIndex: number;
  snapshotsInstalled: number;
  voters: number[];
  learners: number[];
}

const status = async (m: Member): Promise<Status | undefined> => {
  const r = await cluster.http(m, 'GET', '/status', undefined, 1000);
  return r.status === 200 ? (r.body as Status) : undefined;
};

/** Polls `check` every 50 ms until it holds (bounded). */
async function until(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Proposes a membership change on the leader; resolves once every live member applied it (but
 * the one it removes: once out, it is told nothing more).
 */
async function change(op: string, id: number, addr?: string): Promise<void> {
  const leader = await cluster.waitLeader();
  const r = await cluster.http(leader, 'POST', `/conf?op=${op}&id=${id}${addr ? `&addr=${addr}` : ''}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const index = (r.body as { index: number }).index;
  await until(`${op} ${id} applied everywhere`, async () => {
    for (const m of cluster.members.filter((x) => x.proc && !(op === 'removeNode' && x.id === id))) if (((await status(m))?.applied ?? 0) < index) return false;
    return true;
  });
}

it('a member unknown to the others joins as a learner, catches up, is promoted, and carries the quorum after a removal and a crash', async () => {
  const [m1, m2, m3, m4] = cluster.members as [Member, Member, Member, Member];
  await Promise.all([m1, m2, m3].map((m) => cluster.start(m)));
  let leader = await cluster.waitLeader();
  const acked = new Map<string, string>();
  const put = async (key: string, value: string): Promise<void> => {
    for (let attempt = 0; attempt < 100; attempt++) {
      const r = await cluster.http(leader, 'POST', `/put?key=${key}`, value, 3000);
      if (r.status === 200) {
        acked.set(key, value);
        return;
      }
      if (r.status === 421 && r.body.leader) leader = cluster.members[r.body.leader - 1]!;
      else leader = await cluster.waitLeader();
    }
    throw new Error(`put ${key} never committed`);
  };
  // Enough entries for several snapshots: the newcomer cannot be sent the log from the start.
  for (let i = 0; i < 400; i++) await put(`a${i}`, `v${i}`);

  await cluster.start(m4);
  await change('addLearner', 4, m4.raft);
  leader = await cluster.waitLeader();
  expect((await status(leader))!.learners).toEqual([4]);
  const target = (await status(leader))!.commit;
  await until('the learner caught up', async () => ((await status(m4))?.applied ?? 0) >= target);
  const s4 = (await status(m4))!;
  expect(s4.snapshotsInstalled, 'it caught up through a snapshot').toBeGreaterThanOrEqual(1);
  expect(s4.role).toBe('follower');

  await change('addNode', 4);
  expect((await status(leader))!.voters.sort()).toEqual([1, 2, 3, 4]);

  // Remove a founding member that is not the leader, and stop it.
  leader = await cluster.waitLeader();
  const removed = [m1, m2, m3].find((m) => m !== leader)!;
  await change('removeNode', removed.id);
  cluster.kill9(removed);
  expect((await status(leader))!.voters.sort()).toEqual([1, 2, 3, 4].filter((id) => id !== removed.id));
  for (let i = 0; i < 50; i++) await put(`b${i}`, `w${i}`);

  // Kill the other remaining founder that is not the leader: the quorum is now leader + member 4.
  const other = [m1, m2, m3].find((m) => m !== leader && m !== removed)!;
  cluster.kill9(other);
  for (let i = 0; i < 50; i++) await put(`c${i}`, `x${i}`);
  await until('member 4 applied the last write', async () => ((await status(m4))?.applied ?? 0) >= (await status(leader))!.commit);

  // Hand the lead to the newcomer: it takes writes.
  if (leader !== m4) {
    await cluster.http(leader, 'POST', '/transfer?to=4');
    await until('member 4 to lead', async () => (await status(m4))?.role === 'leader');
    leader = m4;
  }
  for (let i = 0; i < 20; i++) await put(`d${i}`, `y${i}`);

  for (const [k, v] of acked) {
    const r = await cluster.http(leader, 'GET', `/get?key=${k}`);
    expect(r.status).toBe(200);
    expect(r.body.value, k).toBe(v);
  }
}, 120_000);
