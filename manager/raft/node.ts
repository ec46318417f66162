// The node runner: drives RaftCore with a real clock, the disk WAL and the gRPC transport.
// Proposals return a promise that settles when the entry is applied here, or rejects with
// NotLeaderError (naming the leader) / LeadershipLostError (outcome unknown: the entry may
// still commit under the next leader).
//
// One Ready at a time. A Ready with early messages (a leader's appends) is handled in two event
// loop turns: hand the appends to the transport, yield one turn so that they are written to the
// sockets (HTTP/2 writes them from a native immediate, which runs before the next turn's
// setImmediate callbacks), then write and fsync the records. The appends travel and the
// followers persist them while the leader's own fsync runs. Between the turns the core is left
// alone: messages, ticks, reads and proposals arriving meanwhile wait in an inbox and are
// stepped right after advance(). So the core sees the same sequence of calls as with a plain
// save, the leader's own match index moves only in advance() (after its fsync), and answers in
// `messages` leave only once what they promise is durable. Entries committed by earlier
// Readies (durable here already) are applied before that fsync, as etcd applies concurrently
// with persisting. Any other Ready (a follower's append, a vote) is saved at once: there is
// nothing to overlap.
//
// The fsync itself is synchronous. An fsync on the libuv thread pool measured slightly slower
// at every concurrency: two thread hand-offs per fsync, and under load its completion waits
// behind the request parsing that the free loop took on meanwhile.
//
// Storage errors stop the node, except a full disk (ENOSPC, EDQUOT): the Ready that could not
// be saved is kept, the core left untouched (as between the turns above), and the save retried
// with a backoff (200 ms doubling to 2 s). Meanwhile new proposals, membership changes and
// reads are refused at once with DiskFullError, the proposals already taken stay pending
// (nothing was acknowledged; they commit once the save goes through), and messages from peers
// and ticks are dropped (Raft tolerates lost messages; the inbox does not grow).
import { RaftCore } from './core.js';
import { isNoSpace, NodeFileSystem, type FileSystem } from './fs.js';
import { GrpcTransport, type RaftTransport, type TransportOptions } from './transport.js';
import type { Ready } from './core.js';
import { decodeConfChange, DiskFullError, NotLeaderError, RaftError, type ConfChange, type ConfState, type Entry, type NodeId, type Role } from './types.js';
import { DiskStorage, type DiskStorageOptions } from './wal.js';

export class LeadershipLostError extends RaftError {
  override name = 'LeadershipLostError';
  constructor(index: number) {
    super(`leadership lost before entry ${index} was applied; it may or may not commit`);
  }
}

export interface StateMachine {
  /** Applies a committed entry's data (in log order, exactly once per node lifetime after restore). */
  apply(data: Uint8Array, index: number): unknown;
  /** Serialises the whole state (for snapshots). */
  snapshot(): Uint8Array;
  /** Replaces the state with a snapshot's. */
  restore(data: Uint8Array): void;
}

export interface RaftNodeOptions {
  id: NodeId;
  dir: string;
  /** Every member's Raft address (host:port), including this node's. */
  peers: Map<NodeId, string>;
  /** Address to listen on (default: this node's entry in peers). */
  listen?: string;
  /** Initial voters when the data dir is empty (a new cluster); omit to join an existing one. */
  bootstrap?: NodeId[];
  /**
   * With bootstrap: the state machine's initial state (a migrated or restored store), as a
   * snapshot at `index`; the log starts after it.
   */
  bootstrapState?: { index: number; data: Uint8Array };
  sm: StateMachine;
  tickMs?: number;
  electionTick?: number;
  heartbeatTick?: number;
  /**
   * How long a commit-index advance may wait to ride on the next MsgApp before it is sent on
   * its own to followers with nothing else to receive (default 5 ms; 0: at once). Only when
   * followers apply is affected, not when proposals commit here.
   */
  commitDelayMs?: number;
  /**
   * Take a snapshot and compact after this many applied entries (default 10,000), and not
   * before the entries applied since the last snapshot weigh as much as it does: the cost of
   * snapshots stays proportional to what is written to the log, however large the state.
   */
  snapshotEntries?: number;
  fs?: FileSystem;
  /** WAL segment size and preallocation (defaults: 64 MiB, preallocated). */
  wal?: DiskStorageOptions;
  transport?: Partial<TransportOptions>;
  /** Builds the transport (default: GrpcTransport). */
  transportFactory?: (o: TransportOptions) => RaftTransport;
  rand?: () => number;
  onRoleChange?: (role: Role, lead: NodeId, term: number) => void;
  /**
   * The data dir filled up (a DiskFullError), or (undefined) a save went through again: called
   * once at each change. Without it the node logs both to stderr.
   */
  onStorageError?: (err: Error | undefined) => void;
}

/** Retries of a Ready that could not be saved for lack of space: first delay, then doubled up to the cap. */
const DISK_FULL_RETRY_MS = 200;
const DISK_FULL_RETRY_MAX_MS = 2000;

interface Waiter {
  term: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class RaftNode {
  core!: RaftCore;
  disk!: DiskStorage;
  transport!: RaftTransport;
  private timer?: NodeJS.Timeout;
  private commitTimer?: NodeJS.Timeout;
  private waiters = new Map<number, Waiter>();
  private proposals: { data: Uint8Array; resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];
  private reads = new Map<string, { resolve: () => void; reject: (e: Error) => void; index?: number }>();
  private nextRead = 1;
  private scheduled = false;
  /** A Ready's appends are out and its records not yet durable: the core must not be touched. */
  private persisting = false;
  /** Core inputs that arrived while persisting, in arrival order. */
  private inbox: (() => void)[] = [];
  private applied = 0;
  private appliedWaiters: { index: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  /** Take a snapshot at the next chance, whatever the thresholds (a member was added). */
  private snapshotNow = false;
  /** Snapshots received from a leader and restored (diagnostics, tests). */
  snapshotsInstalled = 0;
  /** Bytes of the entries applied since the last snapshot (this process's count). */
  private appliedBytes = 0;
  private confState!: ConfState;
  private stopped = false;
  private fatal?: Error;
  /** The disk is full: the Ready not yet saved, retried after `delay` ms (the core waits for it). */
  private full?: { err: DiskFullError; rd: Ready; sync: boolean; delay: number; timer?: NodeJS.Timeout };

  constructor(readonly o: RaftNodeOptions) {}

  async start(): Promise<void> {
    const fs = this.o.fs ?? new NodeFileSystem();
    this.disk = DiskStorage.open(fs, this.o.dir, this.o.wal);
    if (this.disk.isEmpty() && this.o.bootstrap) {
      const st = this.o.bootstrapState;
      if (st && st.index > 0) this.disk.bootstrapWithState(this.o.bootstrap, st.index, st.data);
      else this.disk.bootstrap(this.o.bootstrap);
    }
    const snap = this.disk.mem.snapshot();
    if (snap.data.length) this.o.sm.restore(snap.data);
    this.applied = snap.meta.index;
    this.confState = snap.meta.confState;
    this.core = new RaftCore({
      id: this.o.id,
      storage: this.disk.mem,
      rand: this.o.rand ?? Math.random,
      electionTick: this.o.electionTick ?? 10,
      heartbeatTick: this.o.heartbeatTick ?? 1,
      applied: snap.meta.index,
      disableProposalForwarding: true,
      maxSizePerMsg: 1 << 20,
      maxInflightMsgs: 256,
      maxInflightBytes: 32 << 20,
      deferCommitBroadcast: this.commitDelayMs > 0,
    });
    const topts: TransportOptions = {
      id: this.o.id,
      listen: this.o.listen ?? this.o.peers.get(this.o.id)!,
      peers: this.o.peers,
      onMessage: (m) => {
        this.heard.set(m.from, Date.now());
        this.input(() => {
          try {
            this.core.step(m);
          } catch {
            // proposals dropped etc.
          }
        });
      },
      // Kept while the disk is full: at most one per peer (one snapshot in flight each), and
      // without it the peer would wait in snapshot state for good.
      onSnapshotStatus: (to, ok) => this.input(() => this.core.reportSnapshot(to, ok), true),
      onUnreachable: (to) => this.input(() => this.core.reportUnreachable(to)),
      ...this.o.transport,
    };
    this.transport = this.o.transportFactory ? this.o.transportFactory(topts) : new GrpcTransport(topts);
    await this.transport.start();
    const tickMs = this.o.tickMs ?? 50;
    this.timer = setInterval(() => this.input(() => this.core.tick()), tickMs);
    this.schedule();
  }

  /**
   * Feeds the core now, or after the Ready being persisted is done; then runs the loop. While
   * the disk is full, inputs are dropped unless `keepWhileFull`.
   */
  private input(fn: () => void, keepWhileFull = false): void {
    if (this.stopped || (this.full && !keepWhileFull)) return;
    if (this.persisting) this.inbox.push(fn);
    else fn();
    this.schedule();
  }

  get role(): Role {
    return this.core.role;
  }
  /** When each peer was last heard from (any Raft message), ms since the epoch. */
  private readonly heard = new Map<NodeId, number>();

  /** This peer sent a message within the last `ms`. */
  heardWithin(id: NodeId, ms: number): boolean {
    const heard = this.heard.get(id) ?? 0;
    // A connection that failed since (the peer's process died): not heard, whatever the time.
    return Date.now() - heard <= ms && (this.transport.lastFailure?.(id) ?? 0) < heard;
  }

  /** The index of the last entry applied here. */
  get appliedIndex(): number {
    return this.applied;
  }
  /** The commit index this node knows of. */
  get commitIndex(): number {
    return this.core.hardState().commit;
  }

  /** Resolves once this node has applied `index` (rejects if the node stops first). */
  waitApplied(index: number): Promise<void> {
    if (this.applied >= index) return Promise.resolve();
    if (this.stopped) return Promise.reject(this.fatal ?? new RaftError('raft node stopped'));
    return new Promise((resolve, reject) => this.appliedWaiters.push({ index, resolve, reject }));
  }

  /** Starts an election at once (a single-voter cluster need not wait an election timeout). */
  campaign(): void {
    this.input(() => this.core.campaign());
  }

  private notifyApplied(): void {
    if (!this.appliedWaiters.length) return;
    const still: typeof this.appliedWaiters = [];
    for (const w of this.appliedWaiters) {
      if (this.applied >= w.index) w.resolve();
      else still.push(w);
    }
    this.appliedWaiters = still;
  }
  get leader(): NodeId {
    return this.core.lead;
  }
  /** Set (a DiskFullError) while the data dir is full and a Ready waits to be saved. */
  get diskFull(): Error | undefined {
    return this.full?.err;
  }

  /** Proposes data; resolves with the state machine's result once applied here. */
  propose(data: Uint8Array): Promise<unknown> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.full) return Promise.reject(this.full.err);
    if (this.core.role !== 'leader') return Promise.reject(new NotLeaderError(this.core.lead));
    return new Promise((resolve, reject) => {
      this.proposals.push({ data, resolve, reject });
      this.schedule();
    });
  }

  /** A linearizable read barrier: resolves once this node has applied everything committed before the call. */
  readIndex(): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    // The core is waiting for a Ready to be saved: it cannot confirm leadership meanwhile.
    if (this.full) return Promise.reject(this.full.err);
    if (this.core.role !== 'leader') return Promise.reject(new NotLeaderError(this.core.lead));
    const ctx = `${this.o.id}-${this.nextRead++}`;
    return new Promise((resolve, reject) => {
      this.reads.set(ctx, { resolve, reject });
      this.input(() => {
        try {
          this.core.readIndex(ctx);
        } catch (e) {
          this.reads.delete(ctx);
          reject(e as Error);
        }
      });
    });
  }

  /** Proposes a membership change; resolves once it is in the leader's log (not yet committed). */
  proposeConfChange(cc: ConfChange): Promise<{ index: number; term: number }> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.full) return Promise.reject(this.full.err);
    return new Promise((resolve, reject) =>
      this.input(() => {
        try {
          resolve(this.core.proposeConfChange(cc));
        } catch (e) {
          reject(e as Error);
        }
      }),
    );
  }

  transferLeadership(to: NodeId): void {
    this.input(() => this.core.transferLeadership(to));
  }

  /**
   * Where to reach a member that is not in `peers` (say, added before the snapshot this node
   * restarted from: addresses in membership changes reach the transport only as the entries
   * are applied).
   */
  addPeer(id: NodeId, addr: string): void {
    this.transport.addPeer(id, addr);
  }

  /**
   * A membership change names where added members are reached in its `context`: the address
   * when it adds one member, a JSON object {id: address} when it adds several. Every member
   * applies it, so every member can reach them. Removed members are dropped.
   */
  private connect(cc: ConfChange): void {
    const added = cc.changes.filter((c) => c.type !== 'removeNode');
    let addrs: Record<string, string> = {};
    if (cc.context?.startsWith('{')) addrs = JSON.parse(cc.context) as Record<string, string>;
    else if (cc.context && added.length === 1) addrs = { [added[0]!.nodeId]: cc.context };
    for (const c of added) if (addrs[c.nodeId] && c.nodeId !== this.o.id) this.transport.addPeer(c.nodeId, addrs[c.nodeId]!);
    for (const c of cc.changes) if (c.type === 'removeNode' && c.nodeId !== this.o.id) this.transport.removePeer(c.nodeId);
  }

  /** The configuration as of the last applied entry (voters, learners). */
  get membership(): ConfState {
    return this.confState;
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      try {
        this.run();
      } catch (e) {
        this.fail(e as Error);
      }
    });
  }

  private run(): void {
    if (this.stopped || this.persisting) return;
    if (this.inbox.length) {
      const inbox = this.inbox;
      this.inbox = [];
      for (const fn of inbox) fn();
    }
    if (this.proposals.length) {
      const batch = this.proposals;
      this.proposals = [];
      if (this.core.role !== 'leader') {
        for (const p of batch) p.reject(new NotLeaderError(this.core.lead));
      } else {
        const r = this.core.proposeMany(batch.map((p) => p.data));
        if ('index' in r) batch.forEach((p, i) => this.waiters.set(r.index + i, { term: r.term, resolve: p.resolve, reject: p.reject }));
      }
    }
    while (this.core.hasReady()) {
      const rd = this.core.ready();
      // Appends and heartbeats first: they travel while the records below are written and synced.
      this.transport.send(rd.earlyMessages);
      const sync = rd.mustSync || !!rd.snapshot;
      if (sync && rd.earlyMessages.length > 0) {
        this.persisting = true;
        // Entries committed earlier and already durable here need not wait for this fsync
        // (as etcd applies in parallel with persisting): answer their proposals now.
        // Membership changes, and everything after one, are applied after advance() as usual.
        const durable = rd.entries.length ? rd.entries[0]!.index : Infinity;
        for (const e of rd.committedEntries) {
          if (e.index >= durable || e.type !== 'normal') break;
          this.apply(e);
        }
        setImmediate(() => this.persistReady(rd));
        return;
      }
      if (!this.save(rd, sync)) return;
      this.finishReady(rd);
    }
    // A commit-index advance waits up to commitDelayMs for an append to carry it; the wait
    // restarts once an append has (so a steady stream of proposals never needs empty appends).
    const owed = this.core.commitBroadcastPending();
    if (!owed && this.commitTimer) {
      clearTimeout(this.commitTimer);
      this.commitTimer = undefined;
    } else if (owed && !this.commitTimer) {
      this.commitTimer = setTimeout(() => {
        this.commitTimer = undefined;
        this.input(() => this.core.broadcastCommit());
      }, this.commitDelayMs);
    }
    this.maybeSnapshot();
  }

  private get commitDelayMs(): number {
    return this.o.commitDelayMs ?? 5;
  }

  /**
   * Second turn of a leader's Ready: its appends are on the wire; persist, finish it, and go
   * straight on with what arrived meanwhile (one loop turn per round, as with a plain save).
   */
  private persistReady(rd: Ready): void {
    if (this.stopped) return;
    try {
      if (!this.save(rd, true)) return;
      this.persisting = false;
      this.finishReady(rd);
      this.run();
    } catch (e) {
      this.fail(e as Error);
    }
  }

  /** The Ready is durable: send the answers, apply, advance. */
  private finishReady(rd: Ready): void {
    this.transport.send(rd.messages);
    if (rd.snapshot && rd.snapshot.meta.index > 0) {
      this.snapshotsInstalled++;
      this.o.sm.restore(rd.snapshot.data);
      this.applied = rd.snapshot.meta.index;
      this.confState = rd.snapshot.meta.confState;
    }
    for (const e of rd.committedEntries) if (e.index > this.applied) this.apply(e);
    for (const rs of rd.readStates) {
      const r = this.reads.get(rs.context);
      if (r) r.index = rs.index;
    }
    this.core.advance();
    this.notifyApplied();
    this.serveReads();
    if (rd.softState) {
      this.o.onRoleChange?.(rd.softState.role, rd.softState.lead, this.core.term);
      if (rd.softState.role !== 'leader') this.failPending();
    }
  }

  private apply(e: Entry): void {
    this.applied = e.index;
    this.appliedBytes += e.data.length;
    let result: unknown;
    if (e.type === 'confChange') {
      const cc = decodeConfChange(e.data);
      this.confState = this.core.applyConfChange(cc);
      this.connect(cc);
      // A member added here may need a snapshot to catch up, and refuses one whose
      // configuration does not name it: the next snapshot is taken at once.
      if (cc.changes.some((c) => c.type !== 'removeNode')) this.snapshotNow = true;
    } else if (e.data.length) {
      result = this.o.sm.apply(e.data, e.index);
    }
    const w = this.waiters.get(e.index);
    if (w) {
      this.waiters.delete(e.index);
      if (w.term === e.term) w.resolve(result);
      else w.reject(new LeadershipLostError(e.index));
    }
  }

  private serveReads(): void {
    for (const [ctx, r] of this.reads) {
      if (r.index !== undefined && this.applied >= r.index) {
        this.reads.delete(ctx);
        r.resolve();
      }
    }
  }

  private failPending(): void {
    for (const [index, w] of this.waiters) w.reject(new LeadershipLostError(index));
    this.waiters.clear();
    for (const [, r] of this.reads) r.reject(new NotLeaderError(this.core.lead, 'leadership lost'));
    this.reads.clear();
  }

  private maybeSnapshot(): void {
    if (this.disk.snapshotError) {
      console.error(`raft node ${this.o.id}: writing a snapshot or releasing old files failed (the WAL still holds everything; retrying later): ${this.disk.snapshotError.message}`);
      this.disk.snapshotError = undefined;
    }
    // One snapshot file at a time (it is written off the event loop).
    if (this.disk.snapshotting) return;
    const every = this.o.snapshotEntries ?? 10_000;
    const last = this.disk.mem.snapshot();
    if (!this.snapshotNow) {
      if (this.applied - last.meta.index < every) return;
      // A state much larger than the recent log is not rewritten every `every` entries.
      if (this.appliedBytes < last.data.length) return;
    }
    if (this.applied <= last.meta.index) return;
    try {
      this.disk.compact(this.applied, this.confState, this.o.sm.snapshot(), Math.min(every, 5000));
    } catch (e) {
      // Written on the loop (a file system without a background writer) and out of space: as
      // when a background write fails, the WAL still holds everything.
      if (!isNoSpace(e)) throw e;
      this.disk.snapshotError = e;
    }
    this.appliedBytes = 0;
    this.snapshotNow = false;
  }

  /**
   * Saves a Ready. False if the disk is full: the Ready is kept and retried (see retrySave),
   * and until then nothing touches the core. Other errors are thrown (fatal).
   */
  private save(rd: Ready, sync: boolean): boolean {
    try {
      this.disk.save(rd, sync);
      return true;
    } catch (e) {
      if (!isNoSpace(e)) throw e;
      this.persisting = true;
      this.full = { err: new DiskFullError(this.o.dir, e.code ?? 'ENOSPC', e), rd, sync, delay: DISK_FULL_RETRY_MS };
      this.storageEvent(this.full.err);
      this.scheduleRetry();
      return false;
    }
  }

  private scheduleRetry(): void {
    const f = this.full!;
    f.timer = setTimeout(() => this.retrySave(), f.delay);
    f.delay = Math.min(f.delay * 2, DISK_FULL_RETRY_MAX_MS);
  }

  /** Saves the kept Ready again; once it goes through, the node carries on where it stopped. */
  private retrySave(): void {
    const f = this.full;
    if (!f || this.stopped) return;
    f.timer = undefined;
    try {
      this.disk.save(f.rd, f.sync);
    } catch (e) {
      if (isNoSpace(e)) {
        this.scheduleRetry();
      } else {
        this.full = undefined;
        this.fail(e as Error);
      }
      return;
    }
    this.full = undefined;
    this.persisting = false;
    this.storageEvent(undefined);
    try {
      this.finishReady(f.rd);
      this.run();
    } catch (e) {
      this.fail(e as Error);
    }
  }

  private storageEvent(err: Error | undefined): void {
    if (!this.o.onStorageError) {
      console.error(err ? `raft node ${this.o.id}: ${err.message}` : `raft node ${this.o.id}: the data dir ${this.o.dir} takes writes again`);
      return;
    }
    try {
      this.o.onStorageError(err);
    } catch {
      // the callback's own trouble must not stop the node
    }
  }

  private fail(e: Error): void {
    // Storage errors are fatal: stop rather than continue with an unknown disk state.
    this.fatal = e;
    this.failPending();
    for (const p of this.proposals) p.reject(e);
    this.proposals = [];
    void this.stop();
    console.error(`raft node ${this.o.id} stopped: ${e.message}`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const w of this.appliedWaiters) w.reject(this.fatal ?? new RaftError('raft node stopped'));
    this.appliedWaiters = [];
    if (this.timer) clearInterval(this.timer);
    if (this.commitTimer) clearTimeout(this.commitTimer);
    if (this.full?.timer) clearTimeout(this.full.timer);
    await this.transport?.close();
    this.disk?.close();
    await this.disk?.idle();
  }
}
