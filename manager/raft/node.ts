// The node runner: drives RaftCore with a real clock, the disk WAL and the gRPC transport.
// Proposals return a promise that settles when the entry is applied here, or rejects with
// NotLeaderError (naming the leader) / LeadershipLostError (outcome unknown: the entry may
// still commit under the next leader).
import { RaftCore } from './core.js';
import { NodeFileSystem, type FileSystem } from './fs.js';
import { GrpcTransport, type TransportOptions } from './transport.js';
import { decodeConfChange, NotLeaderError, RaftError, type ConfChange, type ConfState, type Entry, type NodeId, type Role } from './types.js';
import { DiskStorage } from './wal.js';

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
  sm: StateMachine;
  tickMs?: number;
  electionTick?: number;
  heartbeatTick?: number;
  /** Take a snapshot and compact after this many applied entries. */
  snapshotEntries?: number;
  fs?: FileSystem;
  transport?: Partial<TransportOptions>;
  rand?: () => number;
  onRoleChange?: (role: Role, lead: NodeId, term: number) => void;
}

interface Waiter {
  term: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class RaftNode {
  core!: RaftCore;
  disk!: DiskStorage;
  transport!: GrpcTransport;
  private timer?: NodeJS.Timeout;
  private waiters = new Map<number, Waiter>();
  private proposals: { data: Uint8Array; resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];
  private reads = new Map<string, { resolve: () => void; reject: (e: Error) => void; index?: number }>();
  private nextRead = 1;
  private scheduled = false;
  private applied = 0;
  private confState!: ConfState;
  private stopped = false;
  private fatal?: Error;

  constructor(readonly o: RaftNodeOptions) {}

  async start(): Promise<void> {
    const fs = this.o.fs ?? new NodeFileSystem();
    this.disk = DiskStorage.open(fs, this.o.dir);
    if (this.disk.isEmpty() && this.o.bootstrap) this.disk.bootstrap(this.o.bootstrap);
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
    });
    this.transport = new GrpcTransport({
      id: this.o.id,
      listen: this.o.listen ?? this.o.peers.get(this.o.id)!,
      peers: this.o.peers,
      onMessage: (m) => {
        if (this.stopped) return;
        try {
          this.core.step(m);
        } catch {
          // proposals dropped etc.
        }
        this.schedule();
      },
      onSnapshotStatus: (to, ok) => {
        this.core.reportSnapshot(to, ok);
        this.schedule();
      },
      onUnreachable: (to) => this.core.reportUnreachable(to),
      ...this.o.transport,
    });
    await this.transport.start();
    const tickMs = this.o.tickMs ?? 50;
    this.timer = setInterval(() => {
      this.core.tick();
      this.schedule();
    }, tickMs);
    this.schedule();
  }

  get role(): Role {
    return this.core.role;
  }
  get leader(): NodeId {
    return this.core.lead;
  }

  /** Proposes data; resolves with the state machine's result once applied here. */
  propose(data: Uint8Array): Promise<unknown> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.core.role !== 'leader') return Promise.reject(new NotLeaderError(this.core.lead));
    return new Promise((resolve, reject) => {
      this.proposals.push({ data, resolve, reject });
      this.schedule();
    });
  }

  /** A linearizable read barrier: resolves once this node has applied everything committed before the call. */
  readIndex(): Promise<void> {
    if (this.core.role !== 'leader') return Promise.reject(new NotLeaderError(this.core.lead));
    const ctx = `${this.o.id}-${this.nextRead++}`;
    return new Promise((resolve, reject) => {
      this.reads.set(ctx, { resolve, reject });
      this.core.readIndex(ctx);
      this.schedule();
    });
  }

  proposeConfChange(cc: ConfChange): void {
    this.core.proposeConfChange(cc);
    this.schedule();
  }

  transferLeadership(to: NodeId): void {
    this.core.transferLeadership(to);
    this.schedule();
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
    if (this.stopped) return;
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
      this.transport.send(rd.earlyMessages);
      this.disk.save(rd, rd.mustSync || !!rd.snapshot);
      this.transport.send(rd.messages);
      if (rd.snapshot && rd.snapshot.meta.index > 0) {
        this.o.sm.restore(rd.snapshot.data);
        this.applied = rd.snapshot.meta.index;
        this.confState = rd.snapshot.meta.confState;
      }
      for (const e of rd.committedEntries) this.apply(e);
      for (const rs of rd.readStates) {
        const r = this.reads.get(rs.context);
        if (r) r.index = rs.index;
      }
      this.core.advance();
      this.serveReads();
      if (rd.softState) {
        this.o.onRoleChange?.(rd.softState.role, rd.softState.lead, this.core.term);
        if (rd.softState.role !== 'leader') this.failPending();
      }
    }
    this.maybeSnapshot();
  }

  private apply(e: Entry): void {
    this.applied = e.index;
    let result: unknown;
    if (e.type === 'confChange') {
      const cc = decodeConfChange(e.data);
      this.confState = this.core.applyConfChange(cc);
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
    const every = this.o.snapshotEntries ?? 10_000;
    const snapIndex = this.disk.mem.snapshot().meta.index;
    if (this.applied - snapIndex < every) return;
    this.disk.compact(this.applied, this.confState, this.o.sm.snapshot(), Math.min(every, 5000));
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
    if (this.timer) clearInterval(this.timer);
    await this.transport?.close();
    this.disk?.close();
  }
}
