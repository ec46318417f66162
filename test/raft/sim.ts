// Deterministic simulation of a Raft cluster: RaftCores over a simulated network, each node
// with its WAL on a simulated disk (unsynced writes lost on crash), a seeded scheduler and a
// virtual clock. A nemesis partitions (symmetric and one-way), crashes and restarts nodes from
// their on-disk state, drops/duplicates/delays/reorders messages, changes membership and
// transfers leadership, while clients drive a key-value state machine. Crashes also hit a node
// in the middle of persisting a Ready: after a leader's appends went out, before its own fsync
// completed (Raft thesis 10.2.1), or after a follower wrote but before it synced. Half the
// seeds defer commit-only broadcasts as the runner does (deferCommitBroadcast + a timer). Every step is checked
// for election safety, log matching, leader completeness and state-machine safety; at the end
// the client history is checked for linearizability.
import { RaftCore } from '../../manager/raft/core.js';
import { DiskStorage } from '../../manager/raft/wal.js';
import { decodeConfChange, NONE, type ConfState, type Entry, type Message, type NodeId } from '../../manager/raft/types.js';
import { describeMessage, seededRand } from './harness.js';
import { checkLinearizable, type KvOp } from './linearizability.js';
import { SimFS } from './simfs.js';

export interface SimOptions {
  seed: number;
  nodes: 3 | 5;
  /** Virtual milliseconds of chaos, then a calm period to check progress. */
  durationMs?: number;
  /** Virtual milliseconds of the calm period (default 4000). */
  calmMs?: number;
  clients?: number;
  verbose?: boolean;
  /** Another state machine instead of the key-value one (sim-store.ts); unset: the KV simulation. */
  hooks?: SimHooks;
}

/**
 * What a simulation built on this one plugs in (sim-store.ts). With hooks set, the KV state
 * machine is not used: the hooks own the state machine, its snapshots and their restoring.
 * None of them may call process(): they run inside it (defer work with at()).
 */
export interface SimHooks {
  /** The node's state machine from a snapshot's data (empty: the initial state), at start or when a snapshot is installed. */
  restore(n: SimNode, data: Uint8Array, index: number, why: 'start' | 'snapshot'): void;
  /** A committed entry (normal, empty or conf change) applied on n, after the simulation's own checks. */
  apply(n: SimNode, e: Entry): void;
  /** The state machine's snapshot data, for compaction at n.appliedIndex. */
  snapshot(n: SimNode): Uint8Array;
  /** Compact now, whatever the threshold (RaftNode does after applying the addition of a member). */
  snapshotNow?(n: SimNode): boolean;
  /** n's soft state (role, leader) changed. */
  softState?(n: SimNode): void;
  /** n crashed (its core is gone). */
  crash?(n: SimNode): void;
  /** The calm period begins (network healed, crashed nodes restarted). */
  calm?(): void;
  /** In the calm period, after every event: true ends the run early (it is done). */
  done?(): boolean;
  /** After the calm period's progress check: throw a Violation to fail the run. */
  end?(): void;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  violation?: string;
  trace: string[];
  stats: { ops: number; okOps: number; elections: number; crashes: number; confChanges: number; transfers: number; snapshotsSent: number; events: number };
}

export class Violation extends Error {}

interface Cmd {
  op: number;
  kind: 'put' | 'get';
  key: string;
  value?: string;
}

export interface SimNode {
  id: NodeId;
  fs: SimFS;
  disk?: DiskStorage;
  core?: RaftCore;
  kv: Map<string, string>;
  appliedIndex: number;
  confState: ConfState;
  /** Proposals this node made as leader: index -> (term, op). */
  pending: Map<number, { term: number; op: number }>;
  /** ReadIndex requests waiting: context -> op. */
  reads: Map<string, number>;
  readyReads: { index: number; op: number }[];
  wasLeaderTerm: number;
  removed: boolean;
  /** Crash at the next Ready that must be synced: early messages sent, records written, no fsync. */
  crashInPersist: boolean;
  commitTimerArmed: boolean;
}

interface PendingOp {
  op: KvOp;
  node: NodeId;
  timer: number;
}

class Heap<T extends { t: number; seq: number }> {
  private a: T[] = [];
  push(x: T): void {
    const a = this.a;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(a[p]!, a[i]!)) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.a;
    if (!a.length) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
  get size(): number {
    return this.a.length;
  }
}
const less = (x: { t: number; seq: number }, y: { t: number; seq: number }): boolean => x.t < y.t || (x.t === y.t && x.seq < y.seq);

const TICK_MS = 10;
const COMMIT_DELAY_MS = 3;
/** How long the transport takes to report a snapshot that did not arrive (with hooks only). */
const SNAP_FAILURE_MS = 50;
const enc = new TextEncoder();
const dec = new TextDecoder();

export class Simulation {
  private rand: () => number;
  now = 0;
  private seq = 0;
  private q = new Heap<{ t: number; seq: number; fn: () => void }>();
  nodes = new Map<NodeId, SimNode>();
  private blocked = new Set<string>();
  private dropRate = 0;
  private dupRate = 0;
  private maxDelay = 5;
  trace: string[] = [];
  private history: KvOp[] = [];
  private pendingOps = new Map<number, PendingOp>();
  private nextOp = 1;
  private nextCtx = 1;
  private leaders = new Map<number, NodeId>();
  /** index -> the entry every node applied there (state-machine safety). */
  private applied = new Map<number, { term: number; data: string }>();
  private maxCommitted = 0;
  private nextId: number;
  stats = { ops: 0, okOps: 0, elections: 0, crashes: 0, confChanges: 0, transfers: 0, snapshotsSent: 0, events: 0 };
  chaos = true;
  private clientProc = new Map<number, number>();
  private readonly deferCommit: boolean;

  constructor(private o: SimOptions) {
    this.rand = seededRand(o.seed * 7919 + o.nodes);
    this.deferCommit = o.seed % 4 >= 2;
    const ids = Array.from({ length: o.nodes }, (_, i) => i + 1);
    this.nextId = o.nodes + 1;
    for (const id of ids) {
      const n = this.newNode(id);
      n.disk = DiskStorage.open(n.fs, '/raft', { segmentBytes: 4096 });
      n.disk.bootstrap(ids);
      this.start(n);
    }
  }

  log(s: string): void {
    this.trace.push(`${String(this.now).padStart(6)} ${s}`);
    if (this.trace.length > 400) this.trace.splice(0, 100);
    if (this.o.verbose) console.log(`${String(this.now).padStart(6)} ${s}`);
  }

  at(dt: number, fn: () => void): void {
    this.q.push({ t: this.now + dt, seq: this.seq++, fn });
  }

  private newNode(id: NodeId): SimNode {
    const n: SimNode = {
      id,
      fs: new SimFS(seededRand(this.o.seed * 31 + id)),
      kv: new Map(),
      appliedIndex: 0,
      confState: { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      pending: new Map(),
      reads: new Map(),
      readyReads: [],
      wasLeaderTerm: 0,
      removed: false,
      crashInPersist: false,
      commitTimerArmed: false,
    };
    this.nodes.set(id, n);
    return n;
  }

  /** (Re)starts a node from its disk. */
  private start(n: SimNode): void {
    n.disk ??= DiskStorage.open(n.fs, '/raft', { segmentBytes: 4096 });
    const snap = n.disk.mem.snapshot();
    if (this.o.hooks) this.o.hooks.restore(n, snap.data, snap.meta.index, 'start');
    else n.kv = snap.data.length ? new Map(JSON.parse(dec.decode(snap.data)) as [string, string][]) : new Map();
    n.appliedIndex = snap.meta.index;
    n.confState = snap.meta.confState;
    n.core = new RaftCore({
      id: n.id,
      storage: n.disk.mem,
      rand: seededRand(this.o.seed * 131 + n.id * 17 + this.stats.crashes),
      electionTick: 10,
      heartbeatTick: 1,
      applied: snap.meta.index,
      maxSizePerMsg: 2048,
      maxInflightMsgs: 8,
      disableProposalForwarding: true,
      deferCommitBroadcast: this.deferCommit,
    });
    n.crashInPersist = false;
    n.commitTimerArmed = false;
    n.pending = new Map();
    n.reads = new Map();
    n.readyReads = [];
    n.wasLeaderTerm = 0;
    this.log(`start ${n.id} (snapshot ${snap.meta.index}, last ${n.disk.mem.lastIndex()})`);
    const phase = Math.floor(this.rand() * TICK_MS);
    const core = n.core;
    const tick = (): void => {
      if (n.core !== core) return;
      core.tick();
      this.process(n);
      this.at(TICK_MS, tick);
    };
    this.at(phase + 1, tick);
    this.process(n);
  }

  private crash(n: SimNode): void {
    if (!n.core) return;
    this.log(`CRASH ${n.id}`);
    this.stats.crashes++;
    n.core = undefined;
    n.disk?.close();
    n.disk = undefined;
    n.fs.crash();
    for (const [opId, p] of this.pendingOps) if (p.node === n.id) this.indeterminate(opId, 'node crashed');
    this.o.hooks?.crash?.(n);
  }

  // ---------------------------------------------------------------- ready loop

  process(n: SimNode): void {
    const core = n.core;
    if (!core) return;
    let guard = 0;
    while (core.hasReady()) {
      if (++guard > 1000) throw new Violation(`node ${n.id}: ready loop does not converge`);
      const rd = core.ready();
      for (const m of rd.earlyMessages) this.send(m);
      if (n.crashInPersist && rd.mustSync) {
        // Power loss while this Ready's fsync runs: written, never synced, nothing acknowledged.
        n.disk!.save(rd, false);
        this.log(`${n.id} crashes while persisting ${rd.entries.length} entries (${rd.earlyMessages.length} early messages out)`);
        this.crash(n);
        this.at(50 + Math.floor(this.rand() * 600), () => {
          if (!n.core && !n.removed) this.start(n);
        });
        return;
      }
      n.disk!.save(rd, rd.mustSync || !!rd.snapshot);
      for (const m of rd.messages) this.send(m);
      if (rd.snapshot && rd.snapshot.meta.index > 0) {
        const s = rd.snapshot;
        if (this.o.hooks) this.o.hooks.restore(n, s.data, s.meta.index, 'snapshot');
        else n.kv = new Map(JSON.parse(dec.decode(s.data)) as [string, string][]);
        n.appliedIndex = s.meta.index;
        n.confState = s.meta.confState;
        this.log(`${n.id} installed snapshot ${s.meta.index}/${s.meta.term}`);
      }
      for (const e of rd.committedEntries) this.apply(n, e);
      for (const rs of rd.readStates) {
        const op = n.reads.get(rs.context);
        if (op !== undefined) {
          n.reads.delete(rs.context);
          n.readyReads.push({ index: rs.index, op });
        }
      }
      core.advance();
      this.serveReads(n);
      if (rd.softState) this.onSoftState(n);
      if (n.core !== core) return;
    }
    if (this.deferCommit && !n.commitTimerArmed && core.commitBroadcastPending()) {
      n.commitTimerArmed = true;
      this.at(COMMIT_DELAY_MS, () => {
        n.commitTimerArmed = false;
        if (n.core !== core) return;
        core.broadcastCommit();
        this.process(n);
      });
    }
    this.maybeCompact(n);
  }

  private onSoftState(n: SimNode): void {
    const core = n.core!;
    if (core.role === 'leader' && n.wasLeaderTerm !== core.term) {
      n.wasLeaderTerm = core.term;
      this.stats.elections++;
      this.log(`${n.id} LEADER term ${core.term}`);
      const prev = this.leaders.get(core.term);
      if (prev !== undefined && prev !== n.id) throw new Violation(`election safety: ${prev} and ${n.id} are both leaders of term ${core.term}`);
      this.leaders.set(core.term, n.id);
      // Leader completeness: every committed entry is in the new leader's log.
      const last = core.log.lastIndex();
      if (last < this.maxCommitted) throw new Violation(`leader completeness: leader ${n.id} of term ${core.term} has last index ${last} < committed ${this.maxCommitted}`);
      const first = core.log.firstIndex();
      for (let i = Math.max(first, this.maxCommitted - 50); i <= this.maxCommitted; i++) {
        const a = this.applied.get(i);
        if (a && core.log.term(i) !== a.term) throw new Violation(`leader completeness: leader ${n.id} term ${core.term} has term ${core.log.term(i)} at committed index ${i} (committed term ${a.term})`);
      }
    }
    if (core.role !== 'leader') {
      // Leadership lost: proposals in flight have an unknown outcome.
      for (const [, p] of n.pending) this.indeterminate(p.op, 'leadership lost');
      n.pending.clear();
      for (const [, op] of n.reads) this.fail(op);
      n.reads.clear();
    }
    this.o.hooks?.softState?.(n);
  }

  private apply(n: SimNode, e: Entry): void {
    if (e.index !== n.appliedIndex + 1) throw new Violation(`node ${n.id} applies ${e.index} after ${n.appliedIndex}`);
    n.appliedIndex = e.index;
    const data = e.type === 'confChange' ? `cc:${dec.decode(e.data)}` : dec.decode(e.data);
    const seen = this.applied.get(e.index);
    if (seen) {
      if (seen.term !== e.term || seen.data !== data) throw new Violation(`state-machine safety: node ${n.id} applied ${e.term}/${e.index} ${data} but another node applied ${seen.term}/${e.index} ${seen.data}`);
    } else this.applied.set(e.index, { term: e.term, data });
    if (e.index > this.maxCommitted) this.maxCommitted = e.index;
    let result: string | null | undefined;
    if (e.type === 'confChange') {
      const cc = decodeConfChange(e.data);
      n.confState = n.core!.applyConfChange(cc);
      this.log(`${n.id} applied conf change ${e.index}: ${JSON.stringify(cc.changes)} -> voters ${n.confState.voters}${n.confState.votersOutgoing.length ? ` & ${n.confState.votersOutgoing}` : ''} learners ${n.confState.learners}`);
      const inConf = [...n.confState.voters, ...n.confState.votersOutgoing, ...n.confState.learners, ...n.confState.learnersNext].includes(n.id);
      if (!inConf && n.confState.voters.length && e.index > 3 * 0) {
        // this node was removed: stop it once the removal is applied
        if (cc.changes.some((c) => c.type === 'removeNode' && c.nodeId === n.id) || (cc.changes.length === 0 && !inConf)) {
          n.removed = true;
          this.at(50, () => {
            if (n.removed && n.core) {
              this.log(`stop removed node ${n.id}`);
              n.core = undefined;
            }
          });
        }
      }
    } else if (e.data.length && !this.o.hooks) {
      const cmd = JSON.parse(data) as Cmd;
      if (cmd.kind === 'put') n.kv.set(cmd.key, cmd.value!);
      else result = n.kv.get(cmd.key) ?? null;
      if (cmd.kind === 'put') result = undefined;
    }
    const p = n.pending.get(e.index);
    if (p) {
      n.pending.delete(e.index);
      if (p.term === e.term) this.complete(p.op, result ?? null);
      else this.fail(p.op);
    }
    this.o.hooks?.apply(n, e);
  }

  private serveReads(n: SimNode): void {
    n.readyReads = n.readyReads.filter((r) => {
      if (n.appliedIndex < r.index) return true;
      const p = this.pendingOps.get(r.op);
      if (p) this.complete(r.op, n.kv.get(p.op.key) ?? null);
      return false;
    });
  }

  private maybeCompact(n: SimNode): void {
    const snapIndex = n.disk!.mem.snapshot().meta.index;
    if (n.appliedIndex - snapIndex < 40 && !this.o.hooks?.snapshotNow?.(n)) return;
    const data = this.o.hooks ? this.o.hooks.snapshot(n) : enc.encode(JSON.stringify([...n.kv]));
    n.disk!.compact(n.appliedIndex, n.confState, data, 10);
  }

  // ---------------------------------------------------------------- network

  private send(m: Message): void {
    if (m.type === 'snap') this.stats.snapshotsSent++;
    const copies = this.chaos && this.rand() < this.dupRate ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      if (this.chaos && this.rand() < this.dropRate) {
        if (m.type === 'snap') this.at(SNAP_FAILURE_MS, () => this.snapshotFailed(m));
        continue;
      }
      const delay = 1 + Math.floor(this.rand() * this.maxDelay);
      this.at(delay, () => this.deliver(m));
    }
  }

  private deliver(m: Message): void {
    const n = this.nodes.get(m.to);
    if (this.blocked.has(`${m.from}>${m.to}`) || !n?.core) {
      if (m.type === 'snap') this.at(SNAP_FAILURE_MS, () => this.snapshotFailed(m));
      return;
    }
    this.stats.events++;
    if (this.o.verbose) this.log(`  ${describeMessage(m)}`);
    try {
      n.core.step(m);
    } catch (e) {
      if (!(e instanceof Error) || !/Proposal|NotLeader/.test(e.name)) throw e;
    }
    this.process(n);
    if (m.type === 'snap') {
      // The sender learns the snapshot was delivered.
      const from = this.nodes.get(m.from);
      if (from?.core && from.core.role === 'leader') {
        from.core.reportSnapshot(m.to, true);
        this.process(from);
      }
    }
  }

  /**
   * A snapshot that did not arrive is reported failed to its sender, as the real transport does
   * (RaftNode onSnapshotStatus); otherwise the follower's progress waits in the snapshot state
   * for ever (seed 1230394: a snapshot lost just before the network calmed left a leader unable
   * to commit for good).
   */
  private snapshotFailed(m: Message): void {
    const from = this.nodes.get(m.from);
    if (!from?.core || from.core.role !== 'leader' || from.core.term !== m.term) return;
    from.core.reportSnapshot(m.to, false);
    this.process(from);
  }

  // ---------------------------------------------------------------- clients

  leaderNode(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) if (n.core?.role === 'leader' && (!best || n.core.term > best.core!.term)) best = n;
    return best;
  }

  private clientLoop(client: number): void {
    if (!this.chaos && this.now > this.endAt) return;
    const proc = this.clientProc.get(client) ?? client;
    const key = `k${Math.floor(this.rand() * 3)}`;
    const r = this.rand();
    const kind: Cmd['kind'] = r < 0.5 ? 'put' : 'get';
    const opId = this.nextOp++;
    const op: KvOp = { id: opId, client: proc, kind, key, value: kind === 'put' ? `v${opId}` : undefined, call: this.now, ret: Infinity };
    // Pick a node: usually the leader, sometimes a random one (which answers "not leader").
    const live = [...this.nodes.values()].filter((n) => n.core);
    const target = this.rand() < 0.8 ? this.leaderNode() : live[Math.floor(this.rand() * live.length)];
    if (!target?.core) {
      this.at(20, () => this.clientLoop(client));
      return;
    }
    const core = target.core;
    const cmd: Cmd = { op: opId, kind, key, value: op.value ?? undefined };
    this.stats.ops++;
    this.history.push(op);
    const timer = this.seq;
    this.pendingOps.set(opId, { op, node: target.id, timer });
    const viaReadIndex = kind === 'get' && this.rand() < 0.6;
    try {
      if (viaReadIndex) {
        if (core.role !== 'leader') throw new Error('not leader');
        const ctx = `r${this.nextCtx++}`;
        target.reads.set(ctx, opId);
        core.readIndex(ctx);
      } else {
        const res = core.propose(enc.encode(JSON.stringify(cmd)));
        if (!('index' in res)) throw new Error('forwarded');
        target.pending.set(res.index, { term: res.term, op: opId });
      }
    } catch {
      // NotLeaderError etc.: the operation definitely did not happen.
      this.fail(opId);
      this.at(5 + Math.floor(this.rand() * 20), () => this.clientLoop(client));
      return;
    }
    this.process(target);
    // Client-side timeout: the outcome becomes unknown and the client moves on as a new process.
    this.at(1500, () => {
      if (this.pendingOps.has(opId)) {
        this.indeterminate(opId, 'timeout');
        for (const n of this.nodes.values()) {
          for (const [i, p] of n.pending) if (p.op === opId) n.pending.delete(i);
          for (const [c, o] of n.reads) if (o === opId) n.reads.delete(c);
          n.readyReads = n.readyReads.filter((rr) => rr.op !== opId);
        }
      }
    });
    this.waiters.set(opId, () => this.at(1 + Math.floor(this.rand() * 10), () => this.clientLoop(client)));
  }
  private waiters = new Map<number, () => void>();
  private endAt = 0;

  private complete(opId: number, value: string | null): void {
    const p = this.pendingOps.get(opId);
    if (!p) return;
    this.pendingOps.delete(opId);
    p.op.ret = this.now;
    if (p.op.kind === 'get') p.op.value = value;
    this.stats.okOps++;
    this.waiters.get(opId)?.();
    this.waiters.delete(opId);
  }
  /** The operation definitely did not take effect: drop it from the history. */
  private fail(opId: number): void {
    const p = this.pendingOps.get(opId);
    if (!p) return;
    this.pendingOps.delete(opId);
    this.history = this.history.filter((h) => h.id !== opId);
    this.waiters.get(opId)?.();
    this.waiters.delete(opId);
  }
  /** Unknown outcome: stays in the history with ret = Infinity; the client continues as a new process. */
  private indeterminate(opId: number, why: string): void {
    const p = this.pendingOps.get(opId);
    if (!p) return;
    this.pendingOps.delete(opId);
    if (p.op.kind === 'get') this.history = this.history.filter((h) => h.id !== opId);
    this.log(`op ${opId} indeterminate (${why})`);
    this.clientProc.set(p.op.client, 1000 + this.nextOp);
    this.waiters.get(opId)?.();
    this.waiters.delete(opId);
  }

  // ---------------------------------------------------------------- nemesis

  private nemesis(): void {
    if (!this.chaos) return;
    const r = this.rand();
    const ids = [...this.nodes.values()].filter((n) => !n.removed).map((n) => n.id);
    const pick = (): NodeId => ids[Math.floor(this.rand() * ids.length)]!;
    if (r < 0.15) {
      // symmetric partition: a random minority/majority split
      this.blocked.clear();
      const side = new Set(ids.filter(() => this.rand() < 0.4));
      for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) this.blocked.add(`${a}>${b}`);
      this.log(`PARTITION ${[...side]} | ${ids.filter((i) => !side.has(i))}`);
    } else if (r < 0.25) {
      const a = pick();
      const b = pick();
      if (a !== b) {
        this.blocked.add(`${a}>${b}`);
        this.log(`ONE-WAY cut ${a}->${b}`);
      }
    } else if (r < 0.4) {
      this.blocked.clear();
      this.log('HEAL');
    } else if (r < 0.52) {
      const victim = this.rand() < 0.5 ? this.leaderNode() : this.nodes.get(pick());
      if (victim?.core && this.rand() < 0.4) {
        victim.crashInPersist = true;
        this.log(`ARM crash of ${victim.id} at its next persist`);
      } else if (victim?.core) {
        this.crash(victim);
        this.at(50 + Math.floor(this.rand() * 600), () => {
          if (!victim.core && !victim.removed) this.start(victim);
        });
      }
    } else if (r < 0.6) {
      this.dropRate = this.rand() < 0.5 ? 0 : this.rand() * 0.2;
      this.dupRate = this.rand() < 0.5 ? 0 : this.rand() * 0.1;
      this.maxDelay = 2 + Math.floor(this.rand() * 40);
      this.log(`NET drop=${this.dropRate.toFixed(2)} dup=${this.dupRate.toFixed(2)} delay<=${this.maxDelay}`);
    } else if (r < 0.7) {
      const l = this.leaderNode();
      if (l?.core) {
        const to = l.confState.voters.filter((v) => v !== l.id);
        const t = to[Math.floor(this.rand() * to.length)];
        if (t) {
          this.stats.transfers++;
          this.log(`TRANSFER ${l.id} -> ${t}`);
          l.core.transferLeadership(t);
          this.process(l);
        }
      }
    } else if (r < 0.8) {
      this.membershipChange();
    }
    this.at(100 + Math.floor(this.rand() * 300), () => this.nemesis());
  }

  private membershipChange(): void {
    const l = this.leaderNode();
    if (!l?.core) return;
    const cs = l.core.status().confState;
    if (cs.votersOutgoing.length) return;
    const st = l.core.status();
    try {
      if (cs.learners.length) {
        // Promote a learner once it has caught up.
        const id = cs.learners[0]!;
        const pr = st.progress.get(id);
        if (!pr || pr.match < st.lastIndex - 5) return;
        const joint = this.rand() < 0.5 && cs.voters.length > this.o.nodes - 1;
        const victim = cs.voters.filter((v) => v !== l.id)[Math.floor(this.rand() * (cs.voters.length - 1))]!;
        const changes = joint
          ? [
              { type: 'addNode' as const, nodeId: id },
              { type: 'removeNode' as const, nodeId: victim },
            ]
          : [{ type: 'addNode' as const, nodeId: id }];
        l.core.proposeConfChange({ changes });
        this.log(`CONF ${joint ? 'joint ' : ''}${JSON.stringify(changes)}`);
      } else if (cs.voters.length > this.o.nodes) {
        const victim = cs.voters[Math.floor(this.rand() * cs.voters.length)]!;
        l.core.proposeConfChange({ changes: [{ type: 'removeNode', nodeId: victim }] });
        this.log(`CONF remove ${victim}`);
      } else if (this.nextId <= this.o.nodes + 4) {
        const id = this.nextId++;
        const n = this.newNode(id);
        this.start(n);
        l.core.proposeConfChange({ changes: [{ type: 'addLearner', nodeId: id }] });
        this.log(`CONF add learner ${id}`);
      } else return;
      this.stats.confChanges++;
      this.process(l);
    } catch (e) {
      this.log(`conf change refused: ${(e as Error).message}`);
    }
  }

  // ---------------------------------------------------------------- invariants

  private checkLogMatching(): void {
    const live = [...this.nodes.values()].filter((n) => n.core);
    for (let i = 0; i < live.length; i++) {
      for (let j = i + 1; j < live.length; j++) {
        const a = live[i]!.core!.log;
        const b = live[j]!.core!.log;
        const lo = Math.max(a.firstIndex(), b.firstIndex());
        let k = Math.min(a.lastIndex(), b.lastIndex());
        while (k >= lo && a.term(k) !== b.term(k)) k--;
        for (let x = k; x >= lo; x--) {
          if (a.term(x) !== b.term(x)) throw new Violation(`log matching: nodes ${live[i]!.id} and ${live[j]!.id} agree at ${k} but differ at ${x}`);
        }
        // same index and term => same entry
        if (k >= lo) {
          const ea = a.slice(Math.max(lo, k - 5), k + 1, Infinity);
          const eb = b.slice(Math.max(lo, k - 5), k + 1, Infinity);
          for (let x = 0; x < ea.length; x++) {
            if (dec.decode(ea[x]!.data) !== dec.decode(eb[x]!.data)) throw new Violation(`log matching: same index/term ${ea[x]!.index}/${ea[x]!.term} with different data on ${live[i]!.id} and ${live[j]!.id}`);
          }
        }
      }
    }
  }

  // ---------------------------------------------------------------- run

  run(): SimResult {
    const duration = this.o.durationMs ?? 4000;
    this.endAt = duration;
    try {
      for (let c = 0; c < (this.o.clients ?? 3); c++) this.at(100 + c * 7, () => this.clientLoop(c + 1));
      this.at(300, () => this.nemesis());
      let steps = 0;
      const runUntil = (t: number): void => {
        while (this.q.size) {
          const ev = this.q.pop()!;
          if (ev.t > t) {
            this.q.push(ev);
            break;
          }
          this.now = ev.t;
          ev.fn();
          if (++steps % 200 === 0) this.checkLogMatching();
          if (!this.chaos && this.o.hooks?.done?.()) return;
        }
        this.now = t;
      };
      runUntil(duration);
      // Calm: heal everything, restart crashed members, and require progress.
      this.chaos = false;
      this.blocked.clear();
      this.log('CALM: heal all, restart crashed nodes');
      for (const n of this.nodes.values()) if (!n.core && !n.removed) this.start(n);
      this.o.hooks?.calm?.();
      const commitBefore = this.maxCommitted;
      let progressed = false;
      const deadline = duration + (this.o.calmMs ?? 4000);
      const probe = (): void => {
        const l = this.leaderNode();
        if (l?.core) {
          try {
            l.core.propose(enc.encode(''));
            this.process(l);
          } catch {
            // retry below
          }
        }
        if (this.maxCommitted > commitBefore) progressed = true;
        if (!progressed && this.now < deadline) this.at(100, probe);
      };
      this.at(100, probe);
      runUntil(deadline);
      this.checkLogMatching();
      if (!progressed) throw new Violation(`liveness: no entry committed within 4 s after healing (leader: ${this.leaderNode()?.id ?? NONE})`);
      this.o.hooks?.end?.();
      for (const [opId] of this.pendingOps) this.indeterminate(opId, 'end of run');
      const lin = checkLinearizable(this.history);
      if (!lin.ok) {
        const ops = lin.ops!.map((o) => `  ${o.kind} ${o.key} ${o.value} client=${o.client} [${o.call}, ${o.ret}]`);
        throw new Violation(`linearizability: history of key ${lin.key} is not linearizable:\n${ops.join('\n')}`);
      }
      return { seed: this.o.seed, ok: true, trace: [], stats: this.stats };
    } catch (e) {
      const msg = e instanceof Violation ? e.message : `crash: ${(e as Error).stack}`;
      return { seed: this.o.seed, ok: false, violation: msg, trace: this.trace.slice(-80), stats: this.stats };
    }
  }
}

export function runSeed(seed: number, opts: Partial<SimOptions> = {}): SimResult {
  const nodes = opts.nodes ?? (seed % 2 === 0 ? 3 : 5);
  return new Simulation({ seed, nodes, ...opts }).run();
}

export function formatFailure(r: SimResult): string {
  return [`SIMULATION FAILED seed=${r.seed}: ${r.violation}`, `replay: npm run sim -- --seeds 1 --first-seed ${r.seed} --verbose`, 'last events:', ...r.trace].join('\n');
}
