// The runner (RaftNode) with real timers, an in-memory transport and simulated disks: the order
// of sending and persisting, and what the leader may count, observed from inside its fsync.
import { afterEach, describe, expect, it } from 'vitest';
import { LeadershipLostError, RaftNode, type StateMachine } from '../../manager/raft/node.js';
import type { RaftTransport, TransportOptions } from '../../manager/raft/transport.js';
import type { NodeId, WireMessage } from '../../manager/raft/types.js';
import { SimFS } from './simfs.js';
import { seededRand } from './harness.js';

/** Delivers messages between in-process nodes on a later turn, copied, unless a link is cut. */
class Hub {
  private nodes = new Map<NodeId, TransportOptions>();
  cut = new Set<NodeId>();
  /** Every message delivered, in order. */
  delivered: WireMessage[] = [];
  /** Runs just before each delivery (in the same turn). */
  beforeDeliver?: (m: WireMessage) => void;

  /** Delivers a message now, as if it had just arrived from its sender. */
  inject(m: WireMessage): void {
    const to = this.nodes.get(m.to);
    if (!to) return;
    this.delivered.push(m);
    to.onMessage(m);
  }

  transport(o: TransportOptions): RaftTransport {
    return {
      start: async () => {
        this.nodes.set(o.id, o);
      },
      send: (msgs) => {
        for (const m of msgs) {
          const copy = structuredClone(m);
          setImmediate(() => {
            const to = this.nodes.get(copy.to);
            if (!to || this.cut.has(copy.to) || this.cut.has(copy.from)) return;
            this.beforeDeliver?.(copy);
            this.delivered.push(copy);
            to.onMessage(copy);
          });
        }
      },
      addPeer: () => undefined, // every member is reachable through the hub
      removePeer: () => undefined,
      close: async () => {
        this.nodes.delete(o.id);
      },
    };
  }
}

const kv = (snapshotBytes = 0): StateMachine & { data: Map<number, string> } => {
  const data = new Map<number, string>();
  return {
    data,
    apply: (d, index) => data.set(index, new TextDecoder().decode(d)),
    snapshot: () => new Uint8Array(snapshotBytes),
    restore: () => undefined,
  };
};

interface Member {
  node: RaftNode;
  fs: SimFS;
}

let members: Member[] = [];
afterEach(async () => {
  for (const m of members) await m.node.stop();
  members = [];
});

/** Runs `hook` inside every fsync of `fs`, just before the data becomes durable. */
function onFsync(fs: SimFS, hook: () => void): void {
  const fsync = fs.fsync.bind(fs);
  fs.fsync = (h) => {
    hook();
    fsync(h);
  };
}

async function cluster(hub: Hub, opts: { commitDelayMs?: number; heartbeatTick?: number; electionTick?: number; tickMs?: number; snapshotEntries?: number; snapshotBytes?: number } = {}): Promise<Member[]> {
  const ids = [1, 2, 3];
  const peers = new Map(ids.map((id) => [id, `mem:${id}`] as [number, string]));
  members = ids.map((id) => {
    const fs = new SimFS(seededRand(id));
    const node = new RaftNode({
      id,
      dir: `/n${id}`,
      peers,
      bootstrap: ids,
      sm: kv(opts.snapshotBytes),
      fs,
      wal: { segmentBytes: 1 << 16 },
      snapshotEntries: opts.snapshotEntries,
      tickMs: opts.tickMs ?? 5,
      electionTick: opts.electionTick ?? 10,
      heartbeatTick: opts.heartbeatTick ?? 1,
      commitDelayMs: opts.commitDelayMs,
      rand: seededRand(id * 101),
      transportFactory: (o) => hub.transport(o),
    });
    return { node, fs };
  });
  for (const m of members) await m.node.start();
  return members;
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

async function steadyLeader(ms: Member[]): Promise<{ leader: Member; followers: Member[] }> {
  await until(() => ms.some((m) => m.node.role === 'leader'), 'a leader', 10_000);
  const leader = ms.find((m) => m.node.role === 'leader')!;
  // its first entry committed and applied everywhere
  await leader.node.propose(new TextEncoder().encode('warm-up'));
  const idx = leader.node.core.log.committed;
  await until(() => ms.every((m) => m.node.core.log.applied >= idx), 'followers to apply');
  return { leader, followers: ms.filter((m) => m !== leader) };
}

const settled = <T>(p: Promise<T>): { done: boolean } => {
  const s = { done: false };
  p.then(
    () => (s.done = true),
    () => (s.done = true),
  );
  return s;
};

describe('RaftNode persist/send ordering', () => {
  it("the leader's appends go out before its own fsync, and it counts itself only after it", async () => {
    const hub = new Hub();
    const { leader, followers } = await steadyLeader(await cluster(hub));
    const [a, b] = followers as [Member, Member];
    const L = leader.node.o.id;
    // With b cut off, a commit needs the leader's own vote as well as a's.
    hub.cut.add(b.node.o.id);
    const idx = leader.node.core.log.lastIndex() + 1;
    // a answers at once, before the leader's fsync can have run (as a fast follower may).
    const send = leader.node.transport.send.bind(leader.node.transport);
    leader.node.transport.send = (msgs) => {
      send(msgs);
      for (const m of msgs) {
        if (m.type === 'app' && m.to === a.node.o.id && m.entries.some((e) => e.index === idx)) {
          queueMicrotask(() => hub.inject({ type: 'appResp', from: a.node.o.id, to: L, term: m.term, index: idx, reject: false, rejectHint: 0, logTerm: 0 }));
        }
      }
    };
    const seen: { deliveredToA: boolean; ackIn: boolean; ackStepped: boolean; committed: number; selfMatch: number }[] = [];
    onFsync(leader.fs, () => {
      if (seen.length || leader.node.core.log.lastIndex() < idx) return;
      seen.push({
        deliveredToA: hub.delivered.some((m) => m.type === 'app' && m.to === a.node.o.id && m.entries.some((e) => e.index === idx)),
        ackIn: hub.delivered.some((m) => m.type === 'appResp' && m.to === L && m.index === idx),
        // the ack waits in the inbox: the core is not touched between ready() and advance()
        ackStepped: leader.node.core.status().progress.get(a.node.o.id)!.match >= idx,
        committed: leader.node.core.log.committed,
        selfMatch: leader.node.core.status().progress.get(L)!.match,
      });
    });
    await leader.node.propose(new TextEncoder().encode('x'));
    expect(seen[0]).toEqual({ deliveredToA: true, ackIn: true, ackStepped: false, committed: idx - 1, selfMatch: idx - 1 });
    expect(leader.node.core.log.committed).toBeGreaterThanOrEqual(idx);
  });

  it('a follower acknowledges an append only after its fsync, and never if the fsync fails', async () => {
    const hub = new Hub();
    const ms = await cluster(hub);
    const { leader, followers } = await steadyLeader(ms);
    const [a, b] = followers as [Member, Member];
    // a's disk operations and a's sends, in one timeline
    const timeline: string[] = [];
    const afs = a.fs;
    const writeAt = afs.writeAt.bind(afs);
    afs.writeAt = (h, d, pos) => {
      timeline.push('write');
      writeAt(h, d, pos);
    };
    onFsync(afs, () => timeline.push('fsync'));
    const send = a.node.transport.send.bind(a.node.transport);
    a.node.transport.send = (msgs) => {
      for (const m of msgs) if (m.type === 'appResp') timeline.push(`ack ${m.index}`);
      send(msgs);
    };
    hub.cut.add(b.node.o.id);
    await leader.node.propose(new TextEncoder().encode('y'));
    const idx = leader.node.core.log.committed;
    const ack = timeline.findIndex((x) => x.startsWith('ack ') && Number(x.slice(4)) >= idx);
    expect(ack).toBeGreaterThan(0);
    const lastWrite = timeline.lastIndexOf('write', ack);
    expect(timeline.slice(lastWrite, ack)).toContain('fsync');
    // A failing fsync: the follower stops, and what it wrote is never acknowledged.
    afs.failFsyncIn = 1;
    const p = leader.node.propose(new TextEncoder().encode('lost?'));
    const s = settled(p);
    const next = leader.node.core.log.lastIndex() + 1;
    await until(() => a.fs.failFsyncIn === 0, 'the failing fsync');
    // The follower has stopped (it refuses work with the fsync's error): whatever it would have
    // acknowledged after the failed fsync would have gone out before this.
    await expect(a.node.propose(new Uint8Array())).rejects.toThrow(/EIO/);
    expect(timeline.filter((x) => x.startsWith('ack ') && Number(x.slice(4)) >= next)).toEqual([]);
    expect(leader.node.core.log.committed).toBeLessThan(next);
    expect(s.done).toBe(false);
  });

  it('a leader losing power between sending and its fsync acknowledges nothing; the entry may still commit', async () => {
    const hub = new Hub();
    const ms = await cluster(hub);
    const { leader, followers } = await steadyLeader(ms);
    const idx = leader.node.core.log.lastIndex() + 1;
    let crashed = false;
    onFsync(leader.fs, () => {
      if (crashed || leader.node.core.log.lastIndex() < idx) return;
      // The appends are out; the power goes before the leader's own records are durable.
      crashed = true;
      hub.cut.add(leader.node.o.id);
      leader.fs.crash();
      throw new Error('EIO: power lost');
    });
    const p = leader.node.propose(new TextEncoder().encode('z'));
    await expect(p).rejects.toThrow();
    expect(crashed).toBe(true);
    await leader.node.stop();
    // The other two elect a leader that has the entry (they both persisted it) and commit it.
    await until(() => followers.some((f) => f.node.role === 'leader'), 'a new leader');
    const nl = followers.find((f) => f.node.role === 'leader')!;
    await nl.node.propose(new TextEncoder().encode('after'));
    expect(new TextDecoder().decode(nl.node.core.log.slice(idx, idx + 1, Infinity)[0]!.data)).toBe('z');
    // The old leader restarts from what its disk kept and catches up.
    hub.cut.delete(leader.node.o.id);
    const peers = leader.node.o.peers;
    const restarted = new RaftNode({ ...leader.node.o, peers, transportFactory: (o) => hub.transport(o) });
    members.push({ node: restarted, fs: leader.fs });
    await restarted.start();
    const target = nl.node.core.log.committed;
    await until(() => restarted.core.log.applied >= target, 'the old leader to catch up');
    expect(new TextDecoder().decode(restarted.core.log.slice(idx, idx + 1, Infinity)[0]!.data)).toBe('z');
  });

  it('entries committed earlier are applied before the fsync of the Ready that reports them', async () => {
    const hub = new Hub();
    const { leader } = await steadyLeader(await cluster(hub));
    const L = leader.node.o.id;
    const idx1 = leader.node.core.log.lastIndex() + 1;
    let p2: Promise<unknown> | undefined;
    // When the first ack for p1 reaches the leader, p2 arrives in the same turn: the next Ready
    // carries p2's entry (to be fsynced) and p1's commit.
    hub.beforeDeliver = (m) => {
      if (!p2 && m.to === L && m.type === 'appResp' && m.index >= idx1) p2 = leader.node.propose(new TextEncoder().encode('p2'));
    };
    const p1 = leader.node.propose(new TextEncoder().encode('p1'));
    const s1 = settled(p1);
    let atFsyncOfP2: boolean | undefined;
    onFsync(leader.fs, () => {
      if (atFsyncOfP2 === undefined && leader.node.core.log.lastIndex() > idx1) atFsyncOfP2 = s1.done;
    });
    await p1;
    await until(() => !!p2, 'p2');
    await p2;
    expect(atFsyncOfP2).toBe(true);
  });

  it('inputs arriving while a Ready is persisted are stepped after it, in order, and nothing is lost', async () => {
    const hub = new Hub();
    const { leader } = await steadyLeader(await cluster(hub));
    const more: Promise<unknown>[] = [];
    let read: Promise<void> | undefined;
    onFsync(leader.fs, () => {
      if (more.length) return;
      // proposals and a read issued from inside the fsync wait for it
      for (let i = 1; i <= 20; i++) more.push(leader.node.propose(new TextEncoder().encode(`p${i}`)));
      read = leader.node.readIndex();
    });
    await leader.node.propose(new TextEncoder().encode('p0'));
    expect(more).toHaveLength(20);
    await Promise.all(more);
    await read;
    const sm = leader.node.o.sm as ReturnType<typeof kv>;
    const order = [...sm.data.entries()]
      .sort((x, y) => x[0] - y[0])
      .map(([, v]) => v)
      .filter((v) => /^p\d+$/.test(v));
    expect(order).toEqual(Array.from({ length: 21 }, (_, i) => `p${i}`));
  });
});

describe('RaftNode commit broadcast', () => {
  it('a commit rides on the next append; alone it reaches followers after commitDelayMs, long before a heartbeat', async () => {
    const hub = new Hub();
    // heartbeats every 500 ms: they cannot be what tells followers the commit index
    const { leader, followers } = await steadyLeader(await cluster(hub, { commitDelayMs: 5, tickMs: 10, heartbeatTick: 50, electionTick: 100 }));
    const start = hub.delivered.length;
    for (let i = 0; i < 20; i++) await leader.node.propose(new TextEncoder().encode(`b${i}`));
    const idx = leader.node.core.log.committed;
    await until(() => followers.every((f) => f.node.core.log.applied >= idx), 'followers to apply the last commit', 2000);
    // Unless a heartbeat happened to go out meanwhile (one every 500 ms), what told each
    // follower the last commit index was an append: nobody waited for the next heartbeat.
    const since = hub.delivered.slice(start);
    if (!since.some((m) => m.type === 'heartbeat')) {
      for (const f of followers) {
        expect(since.some((m) => m.type === 'app' && m.to === f.node.o.id && m.commit >= idx)).toBe(true);
      }
    }
    const apps = hub.delivered.slice(start).filter((m) => m.type === 'app' && m.from === leader.node.o.id);
    const emptyApps = apps.filter((m) => m.type === 'app' && m.entries.length === 0);
    // 20 proposals to 2 followers: 40 appends with entries; commit-only appends only when no append followed soon
    expect(apps.length - emptyApps.length).toBeGreaterThanOrEqual(40);
    expect(emptyApps.length).toBeLessThan(10);
  });

  it('commitDelayMs 0 tells followers at once (an empty append per commit)', async () => {
    const hub = new Hub();
    const { leader, followers } = await steadyLeader(await cluster(hub, { commitDelayMs: 0, tickMs: 10, heartbeatTick: 50, electionTick: 100 }));
    const start = hub.delivered.length;
    for (let i = 0; i < 5; i++) await leader.node.propose(new TextEncoder().encode(`c${i}`));
    const idx = leader.node.core.log.committed;
    await until(() => followers.every((f) => f.node.core.log.applied >= idx), 'followers to apply', 1000);
    const emptyApps = hub.delivered.slice(start).filter((m) => m.type === 'app' && m.entries.length === 0);
    expect(emptyApps.length).toBeGreaterThanOrEqual(2 * 5);
  });

  it('snapshots every snapshotEntries entries, but a large state waits until the log since the last one weighs as much', async () => {
    const hub = new Hub();
    // Each snapshot is 2,000 bytes; entries are 20 bytes: after the first snapshot, the next
    // needs ~100 entries, not 5.
    const { leader } = await steadyLeader(await cluster(hub, { snapshotEntries: 5, snapshotBytes: 2000 }));
    const snapIndex = (): number => leader.node.disk.mem.snapshot().meta.index;
    const put = (i: number): Promise<unknown> => leader.node.propose(new TextEncoder().encode(`entry-${String(i).padStart(14, '0')}`));
    for (let i = 0; i < 6; i++) await put(i);
    const first = snapIndex();
    expect(first).toBeGreaterThan(0);
    for (let i = 0; i < 60; i++) await put(100 + i);
    expect(snapIndex()).toBe(first);
    for (let i = 0; i < 60; i++) await put(200 + i);
    expect(snapIndex()).toBeGreaterThan(first + 95);
  });

  it('a proposal pending when its leader loses leadership fails with LeadershipLostError; a proposal to a follower names the leader', async () => {
    const hub = new Hub();
    const ms = await cluster(hub);
    const { leader, followers } = await steadyLeader(ms);
    await expect(followers[0]!.node.propose(new Uint8Array([1]))).rejects.toThrow(new RegExp(`not leader, leader is ${leader.node.o.id}`));
    // Cut the leader off: its proposal cannot commit, and check-quorum makes it step down.
    hub.cut.add(leader.node.o.id);
    const p = leader.node.propose(new TextEncoder().encode('stranded'));
    const s = settled(p);
    await expect(p).rejects.toBeInstanceOf(LeadershipLostError);
    expect(s.done).toBe(true);
    expect(leader.node.role).not.toBe('leader');
    await expect(p).rejects.toThrow(/may or may not commit/);
  });

  it('transferLeadership hands the lead to the named member, which takes proposals', async () => {
    const hub = new Hub();
    const { leader, followers } = await steadyLeader(await cluster(hub));
    const to = followers[1]!;
    leader.node.transferLeadership(to.node.o.id);
    await until(() => to.node.role === 'leader', 'the transferee to lead');
    expect(leader.node.role).toBe('follower');
    await to.node.propose(new TextEncoder().encode('after transfer'));
    const idx = to.node.core.log.committed;
    await until(() => [leader, ...followers].every((m) => m.node.core.log.applied >= idx), 'everyone to apply');
  });
});
