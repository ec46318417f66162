// Unit tests of the core, one rule of the Raft paper (Fig. 2, §5-6) or of the extensions
// (pre-vote, check-quorum, flow control, ReadIndex) per test.
import { describe, expect, it } from 'vitest';
import { RaftCore } from '../../manager/raft/core.js';
import { RaftLog } from '../../manager/raft/log.js';
import { jointCommitted, majorityCommitted, majorityVoteResult } from '../../manager/raft/quorum.js';
import { MemoryStorage } from '../../manager/raft/storage.js';
import { Inflights } from '../../manager/raft/tracker.js';
import { entrySize, NotLeaderError, type Entry, type Message } from '../../manager/raft/types.js';
import { enc, Network, seededRand } from './harness.js';

const ent = (index: number, term: number): Entry => ({ index, term, type: 'normal', data: new Uint8Array() });

function newCore(id: number, peers: number[], opts: { preVote?: boolean; checkQuorum?: boolean; entries?: Entry[]; term?: number } = {}): { core: RaftCore; storage: MemoryStorage } {
  const storage = new MemoryStorage();
  storage.bootstrap(peers);
  if (opts.entries) storage.append(opts.entries);
  if (opts.term) storage.setHardState({ ...storage.hardState, term: opts.term });
  const core = new RaftCore({ id, storage, rand: seededRand(id), preVote: opts.preVote ?? false, checkQuorum: opts.checkQuorum ?? false });
  // apply the bootstrap configuration entries
  const rd = core.ready();
  storage.append(rd.entries);
  core.advance();
  return { core, storage };
}

function drain(core: RaftCore, storage: MemoryStorage): Message[] {
  const out: Message[] = [];
  while (core.hasReady()) {
    const rd = core.ready();
    storage.append(rd.entries);
    if (rd.hardState) storage.setHardState(rd.hardState);
    out.push(...rd.earlyMessages, ...rd.messages);
    core.advance();
  }
  return out;
}

describe('quorum', () => {
  it('majority commit index is the median acknowledgement', () => {
    const acked = new Map([[1, 5], [2, 3], [3, 4]]);
    expect(majorityCommitted(new Set([1, 2, 3]), (id) => acked.get(id) ?? 0)).toBe(4);
    expect(majorityCommitted(new Set([1, 2, 3, 4]), (id) => acked.get(id) ?? 0)).toBe(3);
  });
  it('joint commit needs both majorities', () => {
    const acked = new Map([[1, 9], [2, 9], [3, 1], [4, 1], [5, 1]]);
    expect(jointCommitted({ incoming: new Set([1, 2, 3]), outgoing: new Set([3, 4, 5]) }, (id) => acked.get(id) ?? 0)).toBe(1);
  });
  it('vote results', () => {
    expect(majorityVoteResult(new Set([1, 2, 3]), new Map([[1, true]]))).toBe('pending');
    expect(majorityVoteResult(new Set([1, 2, 3]), new Map([[1, true], [2, true]]))).toBe('won');
    expect(majorityVoteResult(new Set([1, 2, 3]), new Map([[1, false], [2, false]]))).toBe('lost');
  });
});

describe('inflights', () => {
  it('bounds messages and bytes, frees up to an index', () => {
    const f = new Inflights(3, 100);
    f.add(1, 10);
    f.add(2, 10);
    expect(f.full()).toBe(false);
    f.add(3, 90);
    expect(f.full()).toBe(true);
    f.freeLE(2);
    expect(f.count()).toBe(1);
    expect(f.full()).toBe(false);
  });
});

describe('log', () => {
  it('findConflictByTerm skips whole terms (fast back-off)', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 3)]);
    const log = new RaftLog(s);
    expect(log.findConflictByTerm(5, 1)).toEqual([2, 1]);
    expect(log.findConflictByTerm(5, 2)).toEqual([4, 2]);
  });
  it('maybeAppend truncates a conflicting uncommitted tail', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
    const log = new RaftLog(s);
    expect(log.maybeAppend(1, 1, 1, [ent(2, 2)])).toBe(2);
    expect(log.lastIndex()).toBe(2);
    expect(log.term(2)).toBe(2);
    expect(log.committed).toBe(1);
  });
  it('storage: appends in place (a conflicting tail is cut), entries() stops at maxSize, compaction keeps the rest', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1), ent(2, 1), ent(3, 1), ent(4, 1)]);
    s.append([ent(3, 2), ent(4, 2), ent(5, 2)]);
    s.append([ent(4, 3)]);
    expect(s.lastIndex()).toBe(4);
    expect([1, 2, 3, 4].map((i) => s.term(i))).toEqual([1, 1, 2, 3]);
    s.append([ent(5, 3), ent(6, 3)]);
    const one = entrySize(ent(2, 1));
    expect(s.entries(2, 7, 0).map((e) => e.index)).toEqual([2]); // at least one entry
    expect(s.entries(2, 7, 2 * one).map((e) => e.index)).toEqual([2, 3]);
    expect(s.entries(2, 7, 1 << 20).map((e) => e.index)).toEqual([2, 3, 4, 5, 6]);
    s.compact(3);
    expect(s.firstIndex()).toBe(4);
    expect(s.term(3)).toBe(2);
    expect(s.entries(4, 7, 1 << 20).map((e) => [e.index, e.term])).toEqual([
      [4, 3],
      [5, 3],
      [6, 3],
    ]);
    expect(() => s.entries(3, 5, 1 << 20)).toThrow(/compaction/);
  });
  it('refuses to overwrite committed entries', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1), ent(2, 1)]);
    const log = new RaftLog(s);
    log.commitTo(2);
    expect(() => log.maybeAppend(1, 1, 2, [ent(2, 2)])).toThrow(/conflict with committed/);
  });
});

describe('election (§5.2)', () => {
  it('a follower that hears nothing for the election timeout campaigns, incrementing its term', () => {
    const { core, storage } = newCore(1, [1, 2, 3]);
    for (let i = 0; i < 20; i++) core.tick();
    expect(core.role).toBe('candidate');
    expect(core.term).toBe(2);
    const msgs = drain(core, storage);
    expect(msgs.filter((m) => m.type === 'vote').map((m) => m.to)).toEqual([2, 3]);
    expect(storage.hardState.vote).toBe(1); // vote persisted with the Ready that carries the requests
  });
  it('randomised election timeout lies in [electionTick, 2*electionTick)', () => {
    for (let seed = 1; seed < 30; seed++) {
      const s = new MemoryStorage();
      s.bootstrap([1, 2, 3]);
      const core = new RaftCore({ id: 1, storage: s, rand: seededRand(seed), preVote: false });
      core.ready();
      core.advance();
      let t = 0;
      while (core.role === 'follower') {
        core.tick();
        t++;
      }
      expect(t).toBeGreaterThanOrEqual(10);
      expect(t).toBeLessThan(20);
    }
  });
  it('grants at most one vote per term (first come)', () => {
    const { core } = newCore(1, [1, 2, 3]);
    core.step({ type: 'vote', from: 2, to: 1, term: 2, index: 3, logTerm: 1, transfer: false });
    core.step({ type: 'vote', from: 3, to: 1, term: 2, index: 3, logTerm: 1, transfer: false });
    const rd = core.ready();
    const resp = rd.messages.filter((m) => m.type === 'voteResp');
    expect(resp.map((m) => [m.to, (m as { reject: boolean }).reject])).toEqual([
      [2, false],
      [3, true],
    ]);
  });
  it('refuses to vote for a candidate whose log is less up to date (§5.4.1)', () => {
    const { core } = newCore(1, [1, 2, 3], { entries: [ent(4, 2)], term: 2 });
    core.step({ type: 'vote', from: 2, to: 1, term: 3, index: 10, logTerm: 1, transfer: false });
    core.step({ type: 'vote', from: 3, to: 1, term: 3, index: 4, logTerm: 2, transfer: false });
    const resp = core.ready().messages.filter((m) => m.type === 'voteResp');
    expect(resp.map((m) => (m as { reject: boolean }).reject)).toEqual([true, false]);
  });
  it('a higher term in any message makes a leader step down (§5.1)', () => {
    const net = new Network([1, 2, 3], { preVote: false, checkQuorum: false });
    net.stabilize();
    net.node(1).campaign();
    net.stabilize();
    expect(net.node(1).role).toBe('leader');
    net.node(1).step({ type: 'appResp', from: 2, to: 1, term: 9, index: 0, reject: false, rejectHint: 0, logTerm: 0 });
    expect(net.node(1).role).toBe('follower');
    expect(net.node(1).term).toBe(9);
  });
  it('a candidate that learns of a leader of its term becomes follower', () => {
    const { core } = newCore(1, [1, 2, 3]);
    core.campaign();
    expect(core.role).toBe('candidate');
    core.step({ type: 'heartbeat', from: 2, to: 1, term: core.term, commit: 0, context: '' });
    expect(core.role).toBe('follower');
    expect(core.lead).toBe(2);
  });
  it('split votes end in a later election that someone wins (5 nodes)', () => {
    const net = new Network([1, 2, 3, 4, 5], { preVote: true, checkQuorum: true, seed: 3 });
    net.stabilize();
    const l = net.electSomeone();
    expect([1, 2, 3, 4, 5]).toContain(l);
    const leaders = [...net.nodes.values()].filter((n) => n.core.role === 'leader' && n.core.term === net.node(l).term);
    expect(leaders.length).toBe(1);
  });
});

describe('pre-vote and check-quorum', () => {
  it('a pre-candidate does not increment its term', () => {
    const { core } = newCore(1, [1, 2, 3], { preVote: true });
    core.campaign();
    expect(core.role).toBe('preCandidate');
    expect(core.term).toBe(1);
  });
  it('pre-vote answers carry the future term and do not change the voter', () => {
    const { core } = newCore(2, [1, 2, 3], { preVote: true });
    core.step({ type: 'preVote', from: 1, to: 2, term: 5, index: 3, logTerm: 1, transfer: false });
    expect(core.term).toBe(1);
    const m = core.ready().messages[0]!;
    expect(m).toMatchObject({ type: 'preVoteResp', term: 5, reject: false });
  });
  it('with check-quorum, a follower in its leader lease ignores a vote request', () => {
    const { core } = newCore(2, [1, 2, 3], { checkQuorum: true });
    core.step({ type: 'heartbeat', from: 1, to: 2, term: 1, commit: 0, context: '' });
    core.step({ type: 'vote', from: 3, to: 2, term: 5, index: 9, logTerm: 1, transfer: false });
    expect(core.term).toBe(1);
    expect(core.lead).toBe(1);
  });
});

describe('replication (§5.3)', () => {
  it('an entry is committed once a majority stores it, and only then applied', () => {
    const net = new Network([1, 2, 3], { preVote: false });
    net.stabilize();
    net.node(1).campaign();
    net.stabilize();
    net.isolate(3);
    const { index } = net.node(1).propose(enc('x')) as { index: number };
    net.stabilize();
    expect(net.node(1).log.committed).toBe(index);
    expect(net.nodes.get(1)!.applied.some((e) => e.index === index)).toBe(true);
    expect(net.node(3).log.lastIndex()).toBeLessThan(index);
  });
  it('a leader never commits an entry of a previous term by counting replicas (§5.4.2)', () => {
    // Node 1 is leader of term 3 with an uncommitted entry of term 2 replicated on a majority.
    const storage = new MemoryStorage();
    storage.bootstrap([1, 2, 3]);
    storage.append([ent(4, 2)]);
    storage.setHardState({ term: 2, vote: 0, commit: 3 });
    const core = new RaftCore({ id: 1, storage, rand: seededRand(1), preVote: false });
    drain(core, storage);
    core.campaign();
    core.step({ type: 'voteResp', from: 2, to: 1, term: 3, reject: false });
    expect(core.role).toBe('leader');
    drain(core, storage);
    // follower 2 acknowledges index 4 (term 2) only
    core.step({ type: 'appResp', from: 2, to: 1, term: 3, index: 4, reject: false, rejectHint: 0, logTerm: 0 });
    expect(core.log.committed).toBe(3);
    core.step({ type: 'appResp', from: 2, to: 1, term: 3, index: 5, reject: false, rejectHint: 0, logTerm: 0 });
    expect(core.log.committed).toBe(5);
  });
  it('the leader counts itself only after its own entries are durable (advance)', () => {
    const net = new Network([1], { preVote: false });
    net.stabilize();
    const core = net.node(1);
    core.campaign();
    expect(core.role).toBe('leader');
    const rd = core.ready();
    expect(rd.committedEntries.length).toBe(0);
    expect(rd.entries.length).toBe(1);
    net.nodes.get(1)!.storage.append(rd.entries);
    core.advance();
    expect(core.log.committed).toBe(rd.entries[0]!.index);
  });
  it('followers reject an append whose previous entry does not match, with a hint', () => {
    const { core } = newCore(2, [1, 2, 3]);
    core.step({ type: 'app', from: 1, to: 2, term: 2, index: 7, logTerm: 2, entries: [], commit: 0 });
    const m = core.ready().messages.find((x) => x.type === 'appResp')!;
    expect(m).toMatchObject({ reject: true, index: 7, rejectHint: 3, logTerm: 1 });
  });
  it('pipelines appends in replicate state up to the in-flight bound', () => {
    const storage = new MemoryStorage();
    storage.bootstrap([1, 2]);
    const core = new RaftCore({ id: 1, storage, rand: seededRand(1), preVote: false, maxInflightMsgs: 2 });
    drain(core, storage);
    core.campaign();
    core.step({ type: 'voteResp', from: 2, to: 1, term: 2, reject: false });
    drain(core, storage);
    core.step({ type: 'appResp', from: 2, to: 1, term: 2, index: 3, reject: false, rejectHint: 0, logTerm: 0 }); // -> replicate
    drain(core, storage);
    for (let i = 0; i < 5; i++) core.propose(enc(`p${i}`));
    const apps = drain(core, storage).filter((m) => m.type === 'app' && m.entries.length > 0);
    expect(apps.length).toBe(2);
  });
  it('a follower proposal is forwarded to the leader, or refused with the leader id', () => {
    const { core } = newCore(2, [1, 2, 3]);
    expect(() => core.propose(enc('x'))).toThrow(NotLeaderError);
    core.step({ type: 'heartbeat', from: 1, to: 2, term: 1, commit: 0, context: '' });
    expect(core.propose(enc('x'))).toEqual({ forwardedTo: 1 });
    const s = new MemoryStorage();
    s.bootstrap([1, 2, 3]);
    const strict = new RaftCore({ id: 2, storage: s, rand: seededRand(1), disableProposalForwarding: true });
    strict.step({ type: 'heartbeat', from: 1, to: 2, term: 1, commit: 0, context: '' });
    expect(() => strict.propose(enc('x'))).toThrow('not leader, leader is 1');
  });
});

describe('deferred commit broadcast', () => {
  const leaderWith = (defer: boolean): { core: RaftCore; storage: MemoryStorage } => {
    const storage = new MemoryStorage();
    storage.bootstrap([1, 2, 3]);
    const core = new RaftCore({ id: 1, storage, rand: seededRand(1), preVote: false, deferCommitBroadcast: defer });
    drain(core, storage);
    core.campaign();
    core.step({ type: 'voteResp', from: 2, to: 1, term: 2, reject: false });
    drain(core, storage);
    for (const f of [2, 3]) core.step({ type: 'appResp', from: f, to: 1, term: 2, index: 4, reject: false, rejectHint: 0, logTerm: 0 });
    drain(core, storage);
    return { core, storage };
  };
  const ack = (core: RaftCore, from: number, index: number): void => core.step({ type: 'appResp', from, to: 1, term: 2, index, reject: false, rejectHint: 0, logTerm: 0 });

  it('off (default): a commit advance sends an empty MsgApp to every follower at once', () => {
    const { core, storage } = leaderWith(false);
    const { index } = core.propose(enc('x')) as { index: number };
    drain(core, storage);
    ack(core, 2, index);
    const out = drain(core, storage);
    expect(core.log.committed).toBe(index);
    expect(out.filter((m) => m.type === 'app' && m.entries.length === 0 && m.commit === index).map((m) => m.to)).toEqual([2, 3]);
  });

  it('on: the commit waits for broadcastCommit() or rides on the next MsgApp', () => {
    const { core, storage } = leaderWith(true);
    const { index } = core.propose(enc('x')) as { index: number };
    drain(core, storage);
    ack(core, 2, index);
    expect(drain(core, storage).filter((m) => m.type === 'app')).toEqual([]);
    expect(core.log.committed).toBe(index);
    expect(core.commitBroadcastPending()).toBe(true);
    // the next proposal's appends carry it
    const next = (core.propose(enc('y')) as { index: number }).index;
    const apps = drain(core, storage).filter((m) => m.type === 'app');
    expect(apps.map((m) => (m.type === 'app' ? [m.to, m.commit, m.entries.length] : []))).toEqual([
      [2, index, 1],
      [3, index, 1],
    ]);
    expect(core.commitBroadcastPending()).toBe(false);
    // alone, it goes out on broadcastCommit()
    ack(core, 3, next);
    drain(core, storage);
    expect(core.commitBroadcastPending()).toBe(true);
    core.broadcastCommit();
    const empties = drain(core, storage).filter((m) => m.type === 'app' && m.entries.length === 0 && m.commit === next);
    expect(empties.map((m) => m.to)).toEqual([2, 3]);
    expect(core.commitBroadcastPending()).toBe(false);
    core.broadcastCommit();
    expect(drain(core, storage)).toEqual([]);
  });

  it('on: a follower with entries due gets them at once, carrying the commit', () => {
    const storage = new MemoryStorage();
    storage.bootstrap([1, 2, 3]);
    const core = new RaftCore({ id: 1, storage, rand: seededRand(1), preVote: false, deferCommitBroadcast: true, maxInflightMsgs: 1 });
    drain(core, storage);
    core.campaign();
    core.step({ type: 'voteResp', from: 2, to: 1, term: 2, reject: false });
    drain(core, storage);
    for (const f of [2, 3]) ack(core, f, 4);
    drain(core, storage);
    const a = (core.propose(enc('a')) as { index: number }).index;
    drain(core, storage); // a goes to 2 and 3; both windows are now full
    core.propose(enc('b'));
    expect(drain(core, storage).filter((m) => m.type === 'app')).toEqual([]);
    ack(core, 3, a); // commits a; 3's window frees and b is due to it
    const out = drain(core, storage).filter((m) => m.type === 'app');
    expect(core.log.committed).toBe(a);
    expect(out.map((m) => (m.type === 'app' ? [m.to, m.commit, m.entries.length] : []))).toEqual([[3, a, 1]]);
    expect(core.commitBroadcastPending()).toBe(false); // 2 is paused: nothing can be sent to it now
  });
});

describe('ready/advance contract', () => {
  it('messages that depend on a new term/vote are never early', () => {
    const { core } = newCore(1, [1, 2, 3]);
    core.campaign();
    const rd = core.ready();
    expect(rd.earlyMessages.length).toBe(0);
    expect(rd.hardState?.vote).toBe(1);
    expect(rd.mustSync).toBe(true);
  });
  it('ready twice without advance is an error', () => {
    const { core } = newCore(1, [1, 2, 3]);
    core.campaign();
    core.ready();
    expect(() => core.ready()).toThrow(/twice/);
  });
});
