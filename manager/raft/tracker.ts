// Per-follower replication progress (probe / replicate / snapshot), in-flight windows bounded
// by message count and bytes, and the tracker that combines them with the configuration.
import { jointCommitted, jointVoteResult, type VoteResult } from './quorum.js';
import type { ConfState, NodeId } from './types.js';

/** Sliding window of in-flight MsgApps (their last index and size), bounded by count and bytes. */
export class Inflights {
  private idx: number[] = [];
  private sizes: number[] = [];
  private bytes = 0;
  constructor(
    readonly maxCount: number,
    readonly maxBytes: number,
  ) {}
  add(index: number, bytes: number): void {
    this.idx.push(index);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }
  /** Frees every in-flight message with last index <= `to`. */
  freeLE(to: number): void {
    let i = 0;
    while (i < this.idx.length && this.idx[i]! <= to) {
      this.bytes -= this.sizes[i]!;
      i++;
    }
    if (i > 0) {
      this.idx.splice(0, i);
      this.sizes.splice(0, i);
    }
  }
  full(): boolean {
    return this.idx.length >= this.maxCount || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }
  count(): number {
    return this.idx.length;
  }
  inflightBytes(): number {
    return this.bytes;
  }
  reset(): void {
    this.idx = [];
    this.sizes = [];
    this.bytes = 0;
  }
  clone(): Inflights {
    const c = new Inflights(this.maxCount, this.maxBytes);
    c.idx = [...this.idx];
    c.sizes = [...this.sizes];
    c.bytes = this.bytes;
    return c;
  }
}

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  pendingSnapshot = 0;
  recentActive = false;
  /**
   * Whether appends to this follower wait. In probe state: one MsgApp is outstanding, wait for
   * its answer (or a heartbeat reply). In replicate state: the in-flight window was full when
   * the last MsgApp went out. Cleared by an acknowledgement and by a heartbeat response, so a
   * follower whose whole window of appends was lost still gets one (empty) append per
   * heartbeat round, whose answer (accept or reject) frees the window or moves it to probe.
   */
  msgAppFlowPaused = false;
  /** The highest commit index sent to this follower (MsgApp or heartbeat). */
  sentCommit = 0;
  inflights: Inflights;
  isLearner: boolean;

  constructor(next: number, inflights: Inflights, isLearner: boolean) {
    this.next = next;
    this.inflights = inflights;
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }
  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }
  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }
  becomeSnapshot(snapIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapIndex;
  }
  /** Records that entries up to `last` (of `bytes` total) were sent. */
  sentEntries(count: number, last: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = last + 1;
        this.inflights.add(last, bytes);
      }
      this.msgAppFlowPaused = this.inflights.full();
    } else if (this.state === 'probe') {
      this.msgAppFlowPaused = true;
    }
  }
  /** An acknowledgement up to `n`; false if stale. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }
  /**
   * A rejection of the MsgApp whose previous index was `rejected`; `matchHint` is the
   * follower's guess of the last index that may match. False if the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.msgAppFlowPaused;
      case 'replicate':
        return this.msgAppFlowPaused;
      case 'snapshot':
        return true;
    }
  }
  clone(): Progress {
    const p = new Progress(this.next, this.inflights.clone(), this.isLearner);
    p.match = this.match;
    p.state = this.state;
    p.pendingSnapshot = this.pendingSnapshot;
    p.recentActive = this.recentActive;
    p.msgAppFlowPaused = this.msgAppFlowPaused;
    p.sentCommit = this.sentCommit;
    return p;
  }
  toString(): string {
    return `${this.state} match=${this.match} next=${this.next}${this.isLearner ? ' learner' : ''}${this.state === 'snapshot' ? ` pendingSnap=${this.pendingSnapshot}` : ''}${this.msgAppFlowPaused ? ' paused' : ''}${this.inflights.count() ? ` inflight=${this.inflights.count()}` : ''}`;
  }
}

export interface TrackerConfig {
  voters: { incoming: Set<NodeId>; outgoing: Set<NodeId> };
  learners: Set<NodeId>;
  learnersNext: Set<NodeId>;
  autoLeave: boolean;
}

export const emptyTrackerConfig = (): TrackerConfig => ({
  voters: { incoming: new Set(), outgoing: new Set() },
  learners: new Set(),
  learnersNext: new Set(),
  autoLeave: false,
});

export function cloneTrackerConfig(c: TrackerConfig): TrackerConfig {
  return {
    voters: { incoming: new Set(c.voters.incoming), outgoing: new Set(c.voters.outgoing) },
    learners: new Set(c.learners),
    learnersNext: new Set(c.learnersNext),
    autoLeave: c.autoLeave,
  };
}

export function isJoint(c: TrackerConfig): boolean {
  return c.voters.outgoing.size > 0;
}

const sorted = (s: Iterable<NodeId>): NodeId[] => [...s].sort((a, b) => a - b);

export function configToConfState(c: TrackerConfig): ConfState {
  return {
    voters: sorted(c.voters.incoming),
    learners: sorted(c.learners),
    votersOutgoing: sorted(c.voters.outgoing),
    learnersNext: sorted(c.learnersNext),
    autoLeave: c.autoLeave,
  };
}

export class ProgressTracker {
  config: TrackerConfig = emptyTrackerConfig();
  progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();

  constructor(
    readonly maxInflight: number,
    readonly maxInflightBytes: number,
  ) {}

  newInflights(): Inflights {
    return new Inflights(this.maxInflight, this.maxInflightBytes);
  }

  confState(): ConfState {
    return configToConfState(this.config);
  }

  isSingleton(): boolean {
    return this.config.voters.incoming.size === 1 && this.config.voters.outgoing.size === 0;
  }

  committed(): number {
    return jointCommitted(this.config.voters, (id) => this.progress.get(id)?.match ?? 0);
  }

  /** Voter ids of the joint configuration, sorted. */
  voterIds(): NodeId[] {
    return sorted(new Set([...this.config.voters.incoming, ...this.config.voters.outgoing]));
  }

  /** All tracked ids (voters and learners), sorted. */
  ids(): NodeId[] {
    return sorted(this.progress.keys());
  }

  isVoter(id: NodeId): boolean {
    return this.config.voters.incoming.has(id) || this.config.voters.outgoing.has(id);
  }

  /** Is a quorum of voters recently active (self always counts)? */
  quorumActive(self: NodeId): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      votes.set(id, id === self || pr.recentActive);
    }
    return jointVoteResult(this.config.voters, votes) === 'won';
  }

  resetVotes(): void {
    this.votes = new Map();
  }
  recordVote(id: NodeId, v: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, v);
  }
  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: jointVoteResult(this.config.voters, this.votes) };
  }
}
