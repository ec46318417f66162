// RaftCore: the Raft consensus algorithm as a pure, deterministic state machine (after
// etcd-io/raft). No clocks, timers, disks, sockets or randomness of its own: the caller ticks
// it, steps it with messages, and runs the ready()/advance() handshake:
//
//   const rd = core.ready();
//   send(rd.earlyMessages);            // optional: leader appends may go out before the fsync
//   persist(rd.hardState, rd.entries, rd.snapshot); fsync;
//   send(rd.messages);                 // only after the data they depend on is durable
//   apply(rd.snapshot, rd.committedEntries); serve(rd.readStates);
//   core.advance();
//
// Never import node:* here; the WAL, transport and runner are sibling modules.
import { Changer, isLeaveJoint, restoreConfState } from './confchange.js';
import { RaftLog } from './log.js';
import { jointVoteResult } from './quorum.js';
import { ReadOnly } from './readonly.js';
import type { Storage } from './storage.js';
import { isJoint, Progress, ProgressTracker, type TrackerConfig } from './tracker.js';
import {
  decodeConfChange,
  encodeConfChange,
  entriesSize,
  NONE,
  NotLeaderError,
  ProposalDroppedError,
  RaftError,
  SnapshotTemporarilyUnavailableError,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type MsgApp,
  type MsgAppResp,
  type MsgHeartbeat,
  type MsgHeartbeatResp,
  type MsgReadIndex,
  type MsgSnap,
  type MsgVote,
  type NodeId,
  type ReadState,
  type Role,
  type Snapshot,
  type SoftState,
  type WireMessage,
} from './types.js';

export interface RaftConfig {
  id: NodeId;
  storage: Storage;
  /** Uniform random number in [0, 1): the only source of randomness (seed it in tests). */
  rand: () => number;
  /** Ticks without hearing from a leader before campaigning (randomised in [n, 2n)). */
  electionTick?: number;
  heartbeatTick?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** Upper bound on the bytes of entries in one MsgApp. */
  maxSizePerMsg?: number;
  /** Pipelining window: MsgApps in flight per follower, and their total bytes (0: unbounded). */
  maxInflightMsgs?: number;
  maxInflightBytes?: number;
  /** Upper bound on the bytes of committed entries handed out in one Ready. */
  maxCommittedSizePerReady?: number;
  /** The last index the application has applied (on restart). */
  applied?: number;
  /** If set, followers refuse proposals with NotLeaderError instead of forwarding them. */
  disableProposalForwarding?: boolean;
  /**
   * If set, an advance of the commit index alone does not send an empty MsgApp to followers
   * that have nothing new to receive: it rides on the next MsgApp or heartbeat, or goes out
   * when the runner calls broadcastCommit() (after a short delay of its choosing;
   * commitBroadcastPending() says whether one is owed). Followers with new entries still get
   * them at once. Followers apply later; commits themselves are unaffected.
   */
  deferCommitBroadcast?: boolean;
}

export interface Ready {
  /** Set when leader or role changed. Volatile: need not be persisted. */
  softState?: SoftState;
  /** Set when term, vote or commit changed: persist before sending `messages`. */
  hardState?: HardState;
  /** Entries to append to stable storage before sending `messages`. */
  entries: Entry[];
  /** A snapshot to persist and install (before applying `committedEntries`). */
  snapshot?: Snapshot;
  /** Entries committed by a quorum and durable here: apply them in order. */
  committedEntries: Entry[];
  /** Send after persisting hardState/entries/snapshot of this Ready. */
  messages: WireMessage[];
  /** Leader replication messages that may be sent before/while persisting (Raft thesis 10.2.1). */
  earlyMessages: WireMessage[];
  /** Linearizable reads that became servable (once `index` is applied). */
  readStates: ReadState[];
  /** Whether persisting needs an fsync (entries, term or vote changed). */
  mustSync: boolean;
}

export interface ProgressStatus {
  match: number;
  next: number;
  state: Progress['state'];
  isLearner: boolean;
  recentActive: boolean;
}

export interface Status {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  lead: NodeId;
  role: Role;
  lastIndex: number;
  leadTransferee: NodeId;
  confState: ConfState;
  /** Leader only. */
  progress: Map<NodeId, ProgressStatus>;
}

export type ProposeResult = { index: number; term: number } | { forwardedTo: NodeId };

const EARLY_TYPES = new Set(['app', 'heartbeat', 'snap', 'timeoutNow']);

type Outgoing = Message;

export class RaftCore {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: Role = 'follower';
  isLearner = false;
  readonly log: RaftLog;
  readonly trk: ProgressTracker;

  private msgs: Outgoing[] = [];
  private readStates: ReadState[] = [];
  private leadTransferee: NodeId = NONE;
  private pendingConfIndex = 0;
  private readOnly = new ReadOnly();
  private pendingReadIndexMessages: MsgReadIndex[] = [];

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  private readonly maxMsgSize: number;
  private readonly disableProposalForwarding: boolean;
  private readonly deferCommitBroadcast: boolean;
  private readonly rand: () => number;

  private prevSoft: SoftState;
  private prevHard: HardState;
  private handed: { lastEntry?: { index: number; term: number }; snapIndex?: number; applied?: number; hard?: HardState; soft?: SoftState } | undefined;

  constructor(c: RaftConfig) {
    if (c.id === NONE) throw new RaftError('cannot use none as id');
    this.id = c.id;
    this.rand = c.rand;
    this.electionTimeout = c.electionTick ?? 10;
    this.heartbeatTimeout = c.heartbeatTick ?? 1;
    if (this.heartbeatTimeout <= 0 || this.electionTimeout <= this.heartbeatTimeout) throw new RaftError('election tick must be greater than heartbeat tick');
    this.preVote = c.preVote ?? true;
    this.checkQuorum = c.checkQuorum ?? true;
    this.maxMsgSize = c.maxSizePerMsg ?? 1 << 20;
    this.disableProposalForwarding = c.disableProposalForwarding ?? false;
    this.deferCommitBroadcast = c.deferCommitBroadcast ?? false;
    this.log = new RaftLog(c.storage, c.maxCommittedSizePerReady ?? 4 << 20);
    this.trk = new ProgressTracker(c.maxInflightMsgs ?? 256, c.maxInflightBytes ?? 0);

    const { hardState, confState } = c.storage.initialState();
    const r = restoreConfState(confState, this.log.lastIndex(), (next, isLearner) => this.newProgress(next, isLearner));
    this.switchToConfig(r.config, r.progress);
    if (hardState.term !== 0 || hardState.vote !== 0 || hardState.commit !== 0) this.loadState(hardState);
    if (c.applied && c.applied > 0) this.log.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
    this.prevSoft = this.softState();
    this.prevHard = this.hardState();
  }

  // ---------------------------------------------------------------- public API

  /** Advances the logical clock by one tick. */
  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  /** Starts an election now (tests, or a single-node bootstrap). */
  campaign(): void {
    this.step({ type: 'hup', from: this.id, to: this.id, term: 0 });
  }

  /**
   * Proposes application data. On the leader the entry is appended and its index/term
   * returned; on a follower it is forwarded to the leader (unless forwarding is disabled:
   * then, as when no leader is known, NotLeaderError says who the leader is).
   */
  propose(data: Uint8Array): ProposeResult {
    return this.proposeEntries([{ term: 0, index: 0, type: 'normal', data }]);
  }

  /** Proposes several entries at once; the result gives the first index. */
  proposeMany(datas: Uint8Array[]): ProposeResult {
    return this.proposeEntries(datas.map((data) => ({ term: 0, index: 0, type: 'normal' as const, data })));
  }

  /** Proposes a membership change (leader only; one pending change at a time). */
  proposeConfChange(cc: ConfChange): { index: number; term: number } {
    if (this.role !== 'leader') throw new NotLeaderError(this.lead);
    const refused = this.confChangeRefusal(cc);
    if (refused) throw new ProposalDroppedError(refused);
    const r = this.proposeEntries([{ term: 0, index: 0, type: 'confChange', data: encodeConfChange(cc) }]);
    return r as { index: number; term: number };
  }

  /** Requests a linearizable read; the answer arrives as a ReadState with this context. */
  readIndex(context: string): void {
    if (this.role !== 'leader' && this.lead === NONE) throw new NotLeaderError(NONE);
    this.step({ type: 'readIndex', from: this.id, to: this.id, term: 0, context });
  }

  /** Asks the leader to hand leadership to `transferee`. */
  transferLeadership(transferee: NodeId): void {
    this.step({ type: 'transferLeader', from: this.id, to: this.id, term: 0, transferee });
  }

  /** Reports the outcome of sending a snapshot to `id`. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.step({ type: 'snapStatus', from: id, to: this.id, term: 0, reject: !ok });
  }

  reportUnreachable(id: NodeId): void {
    this.step({ type: 'unreachable', from: id, to: this.id, term: 0 });
  }

  /** Applies a committed membership change; returns the new configuration. */
  applyConfChange(cc: ConfChange): ConfState {
    const changer = new Changer(this.trk.config, this.trk.progress, this.log.lastIndex(), (next, isLearner) => this.newProgress(next, isLearner));
    const r = changer.apply(cc);
    return this.switchToConfig(r.config, r.progress);
  }

  status(): Status {
    const progress = new Map<NodeId, ProgressStatus>();
    if (this.role === 'leader') {
      for (const [id, pr] of this.trk.progress) {
        progress.set(id, { match: pr.match, next: pr.next, state: pr.state, isLearner: pr.isLearner, recentActive: pr.recentActive });
      }
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.log.committed,
      applied: this.log.applied,
      lead: this.lead,
      role: this.role,
      lastIndex: this.log.lastIndex(),
      leadTransferee: this.leadTransferee,
      confState: this.trk.confState(),
      progress,
    };
  }

  softState(): SoftState {
    return { lead: this.lead, role: this.role };
  }
  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  hasReady(): boolean {
    const ss = this.softState();
    if (ss.lead !== this.prevSoft.lead || ss.role !== this.prevSoft.role) return true;
    const hs = this.hardState();
    if (!sameHardState(hs, this.prevHard)) return true;
    if (this.log.unstable.snapshot) return true;
    if (this.msgs.length > 0 || this.log.unstableEntries().length > 0 || this.readStates.length > 0) return true;
    return this.log.hasNextCommittedEnts();
  }

  /** What to persist, send and apply now. Call advance() once it is done. */
  ready(): Ready {
    if (this.handed) throw new RaftError('ready() called twice without advance()');
    const soft = this.softState();
    const hard = this.hardState();
    const entries = [...this.log.unstableEntries()];
    const snapshot = this.log.unstable.snapshot;
    const committedEntries = this.log.nextCommittedEnts();
    const termOrVoteChanged = hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote;
    const messages: WireMessage[] = [];
    const earlyMessages: WireMessage[] = [];
    const early = this.role === 'leader' && !termOrVoteChanged;
    for (const m of this.msgs) {
      if (early && EARLY_TYPES.has(m.type)) earlyMessages.push(m as WireMessage);
      else messages.push(m as WireMessage);
    }
    const rd: Ready = {
      softState: soft.lead !== this.prevSoft.lead || soft.role !== this.prevSoft.role ? soft : undefined,
      hardState: sameHardState(hard, this.prevHard) ? undefined : hard,
      entries,
      snapshot,
      committedEntries,
      messages,
      earlyMessages,
      readStates: this.readStates,
      mustSync: entries.length > 0 || termOrVoteChanged,
    };
    this.msgs = [];
    this.readStates = [];
    const last = entries[entries.length - 1];
    this.handed = {
      lastEntry: last ? { index: last.index, term: last.term } : undefined,
      snapIndex: snapshot?.meta.index,
      applied: committedEntries.length ? committedEntries[committedEntries.length - 1]!.index : undefined,
      hard: rd.hardState,
      soft: rd.softState,
    };
    return rd;
  }

  /** The last Ready was persisted, sent and applied. */
  advance(): void {
    const h = this.handed;
    if (!h) throw new RaftError('advance() without ready()');
    this.handed = undefined;
    if (h.soft) this.prevSoft = h.soft;
    if (h.hard) this.prevHard = h.hard;
    if (h.snapIndex !== undefined) {
      this.log.stableSnapTo(h.snapIndex);
      if (h.snapIndex > this.log.applied) this.log.applied = h.snapIndex;
    }
    if (h.lastEntry) this.log.stableTo(h.lastEntry.index, h.lastEntry.term);
    if (h.applied !== undefined) this.appliedTo(h.applied);
    if (this.role === 'leader') {
      const pr = this.trk.progress.get(this.id);
      if (pr && pr.maybeUpdate(this.log.stableLastIndex()) && this.maybeCommit()) {
        this.releasePendingReadIndexMessages();
        this.bcastCommit();
      }
    }
  }

  /** deferCommitBroadcast: whether some follower that could be sent a MsgApp has not been told the commit index. */
  commitBroadcastPending(): boolean {
    if (this.role !== 'leader') return false;
    const committed = this.log.committed;
    for (const [id, pr] of this.trk.progress) if (id !== this.id && pr.sentCommit < committed && !pr.isPaused()) return true;
    return false;
  }

  /** deferCommitBroadcast: tells the commit index to every follower not told yet (an empty MsgApp if nothing else is due). */
  broadcastCommit(): void {
    if (this.role !== 'leader') return;
    const committed = this.log.committed;
    for (const [id, pr] of this.trk.progress) {
      if (id === this.id || pr.sentCommit >= committed) continue;
      this.sendAppend(id);
      // Not sendable now (paused, snapshot unavailable): the next MsgApp or heartbeat tells it.
      pr.sentCommit = committed;
    }
  }

  // ---------------------------------------------------------------- step

  step(m: Message): void {
    if (m.term === 0) {
      // local message, or a proposal/read forwarded to the leader
    } else if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const force = m.transfer;
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        // Ignore disruptive candidates while we hear from a leader (check-quorum lease).
        if (!force && inLease) return;
      }
      if (m.type === 'preVote') {
        // Never change our term in response to a PreVote.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // The term in a granted PreVote answer is the future term of our campaign.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A stale leader (e.g. after a partition) learns the new term from this answer and
        // steps down; without it, check-quorum + pre-vote could leave it stranded.
        this.send({ type: 'appResp', from: this.id, to: m.from, term: this.term, index: 0, reject: false, rejectHint: 0, logTerm: 0 });
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResp', from: this.id, to: m.from, term: this.term, reject: true });
      }
      return;
    }

    switch (m.type) {
      case 'hup':
        this.hup(false);
        return;
      case 'vote':
      case 'preVote':
        this.handleVote(m);
        return;
      default:
        switch (this.role) {
          case 'leader':
            this.stepLeader(m);
            return;
          case 'candidate':
          case 'preCandidate':
            this.stepCandidate(m);
            return;
          case 'follower':
            this.stepFollower(m);
            return;
        }
    }
  }

  private handleVote(m: MsgVote): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === 'preVote' && m.term > this.term);
    const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // The answer carries the candidate's term so that it is not dropped as stale (for a
      // PreVote it is a term we have not moved to).
      this.send({ type: respType, from: this.id, to: m.from, term: m.term, reject: false });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'beat':
        this.bcastHeartbeat('');
        return;
      case 'checkQuorum':
        if (!this.trk.quorumActive(this.id)) this.becomeFollower(this.term, NONE);
        for (const [id, pr] of this.trk.progress) if (id !== this.id) pr.recentActive = false;
        return;
      case 'prop': {
        if (m.entries.length === 0) throw new RaftError('stepped empty MsgProp');
        if (!this.trk.progress.has(this.id)) throw new ProposalDroppedError('this node was removed from the configuration');
        if (this.leadTransferee !== NONE) throw new ProposalDroppedError(`leadership is being transferred to ${this.leadTransferee}`);
        const entries = m.entries.map((e) => {
          if (e.type !== 'confChange') return e;
          const refused = this.confChangeRefusal(decodeConfChange(e.data));
          // A refused (e.g. forwarded) change becomes a no-op so indexes stay meaningful.
          return refused ? { ...e, type: 'normal' as const, data: new Uint8Array() } : e;
        });
        const li = this.log.lastIndex();
        entries.forEach((e, i) => {
          if (e.type === 'confChange') this.pendingConfIndex = li + i + 1;
        });
        this.appendEntry(entries);
        this.bcastAppend();
        return;
      }
      case 'readIndex':
        if (this.trk.isSingleton()) {
          this.respondReadIndex(m, this.log.committed);
          return;
        }
        if (!this.committedEntryInCurrentTerm()) {
          // The commit index is only known to be current once an entry of this term commits.
          this.pendingReadIndexMessages.push(m);
          return;
        }
        this.handleReadIndex(m);
        return;
      case 'transferLeader': {
        const to = m.transferee;
        const pr = this.trk.progress.get(to);
        if (!pr || pr.isLearner) return;
        if (this.leadTransferee !== NONE) {
          if (this.leadTransferee === to) return;
          this.abortLeaderTransfer();
        }
        if (to === this.id) return;
        this.electionElapsed = 0;
        this.leadTransferee = to;
        if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
        else this.sendAppend(to);
        return;
      }
      default:
        break;
    }

    const pr = this.trk.progress.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case 'appResp':
        this.handleAppResp(m, pr);
        return;
      case 'heartbeatResp':
        this.handleHeartbeatResp(m, pr);
        return;
      case 'snapStatus':
        if (pr.state !== 'snapshot') return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Wait for a heartbeat answer (or an append reply) before probing again.
        pr.msgAppFlowPaused = true;
        return;
      case 'unreachable':
        if (pr.state === 'replicate') pr.becomeProbe();
        return;
      default:
        return;
    }
  }

  private handleAppResp(m: MsgAppResp, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      let nextProbe = m.rejectHint;
      if (m.logTerm > 0) {
        // Fast back-off: skip every entry of ours whose term is above the follower's term
        // at the hint; one round trip per term instead of one per entry.
        nextProbe = this.log.findConflictByTerm(m.rejectHint, m.logTerm)[0];
      }
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);

    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastCommit();
    } else if (oldPaused) {
      this.sendAppend(m.from);
    }
    // Pipelining: keep the window full.
    while (this.maybeSendAppend(m.from, false));
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private handleHeartbeatResp(m: MsgHeartbeatResp, pr: Progress): void {
    pr.recentActive = true;
    pr.msgAppFlowPaused = false;
    if (pr.match < this.log.lastIndex() || pr.state === 'probe') this.sendAppend(m.from);
    if (!m.context) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (!acks) return;
    const votes = new Map<NodeId, boolean>();
    for (const id of acks) votes.set(id, true);
    if (jointVoteResult(this.trk.config.voters, votes) !== 'won') return;
    for (const rs of this.readOnly.advance(m.context)) {
      this.respondReadIndex({ type: 'readIndex', from: rs.from, to: this.id, term: 0, context: rs.context }, rs.index);
    }
  }

  private stepCandidate(m: Message): void {
    const myResp = this.role === 'preCandidate' ? 'preVoteResp' : 'voteResp';
    switch (m.type) {
      case 'prop':
        throw new ProposalDroppedError(`no leader at term ${this.term}`);
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'preVoteResp':
      case 'voteResp': {
        if (m.type !== myResp) return;
        this.trk.recordVote(m.from, !m.reject);
        const { result } = this.trk.tallyVotes();
        if (result === 'won') {
          if (this.role === 'preCandidate') this.campaign2('election', false);
          else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === 'lost') {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'prop':
        if (this.lead === NONE) throw new NotLeaderError(NONE);
        if (this.disableProposalForwarding) throw new NotLeaderError(this.lead);
        this.send({ ...m, to: this.lead, from: this.id, term: 0 });
        return;
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'transferLeader':
        if (this.lead === NONE) return;
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case 'timeoutNow':
        // Leadership transfer: campaign at once, skipping pre-vote and leases.
        this.hup(true);
        return;
      case 'readIndex':
        if (this.lead === NONE) return;
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case 'readIndexResp':
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  private handleAppendEntries(m: MsgApp): void {
    if (m.index < this.log.committed) {
      this.send({ type: 'appResp', from: this.id, to: m.from, term: this.term, index: this.log.committed, reject: false, rejectHint: 0, logTerm: 0 });
      return;
    }
    const lastnewi = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastnewi !== undefined) {
      this.send({ type: 'appResp', from: this.id, to: m.from, term: this.term, index: lastnewi, reject: false, rejectHint: 0, logTerm: 0 });
      return;
    }
    // Reject with a hint: the last index <= m.index whose term is <= m.logTerm.
    const hintIndex = Math.min(m.index, this.log.lastIndex());
    const [hi, ht] = this.log.findConflictByTerm(hintIndex, m.logTerm);
    this.send({ type: 'appResp', from: this.id, to: m.from, term: this.term, index: m.index, reject: true, rejectHint: hi, logTerm: ht });
  }

  private handleHeartbeat(m: MsgHeartbeat): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ type: 'heartbeatResp', from: this.id, to: m.from, term: this.term, context: m.context });
  }

  private handleSnapshot(m: MsgSnap): void {
    const s = m.snapshot;
    if (this.restore(s)) {
      this.send({ type: 'appResp', from: this.id, to: m.from, term: this.term, index: this.log.lastIndex(), reject: false, rejectHint: 0, logTerm: 0 });
    } else {
      this.send({ type: 'appResp', from: this.id, to: m.from, term: this.term, index: this.log.committed, reject: false, rejectHint: 0, logTerm: 0 });
    }
  }

  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false;
    if (this.role !== 'follower') {
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    const cs = s.meta.confState;
    const found = [...cs.voters, ...cs.learners, ...cs.votersOutgoing].includes(this.id);
    if (!found) return false;
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // Our log already holds the snapshot's last entry: just fast-forward the commit.
      this.log.commitTo(s.meta.index);
      return false;
    }
    this.log.restore(s);
    const r = restoreConfState(cs, this.log.lastIndex(), (next, isLearner) => this.newProgress(next, isLearner));
    this.switchToConfig(r.config, r.progress);
    return true;
  }

  // ---------------------------------------------------------------- roles

  private hup(transfer: boolean): void {
    if (this.role === 'leader') return;
    if (!this.promotable()) return;
    if (this.hasUnappliedConfChanges()) return;
    if (transfer) this.campaign2('election', true);
    else if (this.preVote) this.campaign2('preElection', false);
    else this.campaign2('election', false);
  }

  private campaign2(kind: 'preElection' | 'election', transfer: boolean): void {
    let term: number;
    let type: 'vote' | 'preVote';
    if (kind === 'preElection') {
      this.becomePreCandidate();
      type = 'preVote';
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      type = 'vote';
      term = this.term;
    }
    this.trk.recordVote(this.id, true);
    const { result } = this.trk.tallyVotes();
    if (result === 'won') {
      if (kind === 'preElection') this.campaign2('election', transfer);
      else this.becomeLeader();
      return;
    }
    for (const id of this.trk.voterIds()) {
      if (id === this.id) continue;
      this.send({ type, from: this.id, to: id, term, index: this.log.lastIndex(), logTerm: this.log.lastTerm(), transfer });
    }
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(this.rand() * this.electionTimeout);
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    const last = this.log.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      const np = this.newProgress(last + 1, pr.isLearner);
      if (id === this.id) np.match = this.log.stableLastIndex();
      this.trk.progress.set(id, np);
    }
    this.pendingConfIndex = 0;
    this.readOnly = new ReadOnly();
    this.pendingReadIndexMessages = [];
  }

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  private becomeCandidate(): void {
    if (this.role === 'leader') throw new RaftError('invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomePreCandidate(): void {
    if (this.role === 'leader') throw new RaftError('invalid transition [leader -> pre-candidate]');
    // Neither term nor vote change: a pre-election that fails disrupts nobody.
    this.trk.resetVotes();
    this.lead = NONE;
    this.role = 'preCandidate';
  }

  private becomeLeader(): void {
    if (this.role === 'follower') throw new RaftError('invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    const self = this.trk.progress.get(this.id);
    if (self) {
      self.match = this.log.stableLastIndex();
      self.becomeReplicate();
    }
    // Conservatively: there may be an uncommitted configuration change in the log.
    this.pendingConfIndex = this.log.lastIndex();
    // An empty entry of our term: committing it commits everything before it (§5.4.2).
    this.appendEntry([{ term: 0, index: 0, type: 'normal', data: new Uint8Array() }]);
  }

  private promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return !!pr && !pr.isLearner && !this.log.unstable.snapshot;
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    const ents = this.log.slice(this.log.applied + 1, this.log.committed + 1, Number.MAX_SAFE_INTEGER);
    return ents.some((e) => e.type === 'confChange');
  }

  // ---------------------------------------------------------------- ticks

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step({ type: 'hup', from: this.id, to: this.id, term: 0 });
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step({ type: 'checkQuorum', from: this.id, to: this.id, term: 0 });
      if (this.role === 'leader' && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.role !== 'leader') return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step({ type: 'beat', from: this.id, to: this.id, term: 0 });
    }
  }

  // ---------------------------------------------------------------- replication

  private appendEntry(es: Entry[]): void {
    let li = this.log.lastIndex();
    const stamped = es.map((e) => ({ ...e, term: this.term, index: ++li }));
    this.log.append(stamped);
  }

  private proposeEntries(entries: Entry[]): ProposeResult {
    if (this.role === 'leader') {
      const first = this.log.lastIndex() + 1;
      this.step({ type: 'prop', from: this.id, to: this.id, term: 0, entries });
      return { index: first, term: this.term };
    }
    if (this.role !== 'follower' || this.lead === NONE) throw new NotLeaderError(NONE, this.role === 'follower' ? '' : `election in progress at term ${this.term}`);
    if (this.disableProposalForwarding) throw new NotLeaderError(this.lead);
    const lead = this.lead;
    this.step({ type: 'prop', from: this.id, to: this.id, term: 0, entries });
    return { forwardedTo: lead };
  }

  private confChangeRefusal(cc: ConfChange): string | undefined {
    if (this.pendingConfIndex > this.log.applied) return `possible unapplied conf change at index ${this.pendingConfIndex} (applied to ${this.log.applied})`;
    const alreadyJoint = isJoint(this.trk.config);
    const wantsLeave = isLeaveJoint(cc);
    if (alreadyJoint && !wantsLeave) return 'must transition out of joint config first';
    if (!alreadyJoint && wantsLeave) return 'not in joint state; refusing empty conf change';
    return undefined;
  }

  private maybeCommit(): boolean {
    return this.log.maybeCommit(this.trk.committed(), this.term);
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private bcastAppend(): void {
    for (const id of this.trk.ids()) if (id !== this.id) this.sendAppend(id);
  }

  /** The commit index advanced: tell the followers (at once, or only those with entries due). */
  private bcastCommit(): void {
    if (!this.deferCommitBroadcast) return this.bcastAppend();
    for (const id of this.trk.ids()) if (id !== this.id) this.maybeSendAppend(id, false);
  }

  private bcastHeartbeat(context: string): void {
    for (const [id, pr] of this.trk.progress) {
      if (id === this.id) continue;
      const commit = Math.min(pr.match, this.log.committed);
      this.send({ type: 'heartbeat', from: this.id, to: id, term: this.term, commit, context });
      if (commit > pr.sentCommit) pr.sentCommit = commit;
    }
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /** Sends one MsgApp (or a snapshot) to `to` unless its flow is paused. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    let ents: Entry[] | undefined;
    if (prevTerm !== undefined && pr.state === 'replicate' && pr.inflights.full()) {
      // A throttled follower (window full, unpaused by a heartbeat response) gets an empty
      // append: if every message of its window was lost, its answer is what unblocks it.
      ents = [];
    } else if (prevTerm !== undefined) {
      try {
        ents = this.log.entries(pr.next, this.maxMsgSize);
      } catch {
        ents = undefined;
      }
    }
    if (prevTerm === undefined || ents === undefined) return this.maybeSendSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'app', from: this.id, to, term: this.term, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed });
    pr.sentCommit = this.log.committed;
    pr.sentEntries(ents.length, ents.length ? ents[ents.length - 1]!.index : prevIndex, entriesSize(ents));
    return true;
  }

  private maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    let snapshot: Snapshot;
    try {
      snapshot = this.log.snapshot();
    } catch (e) {
      if (e instanceof SnapshotTemporarilyUnavailableError) return false;
      throw e;
    }
    if (snapshot.meta.index === 0) throw new RaftError('need non-empty snapshot');
    pr.becomeSnapshot(snapshot.meta.index);
    this.send({ type: 'snap', from: this.id, to, term: this.term, snapshot });
    return true;
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'timeoutNow', from: this.id, to, term: this.term });
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  private handleReadIndex(m: MsgReadIndex): void {
    this.readOnly.addRequest(this.log.committed, m.from, m.context);
    this.readOnly.recvAck(this.id, m.context);
    this.bcastHeartbeat(m.context);
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const ms = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of ms) this.handleReadIndex(m);
  }

  private respondReadIndex(m: MsgReadIndex, index: number): void {
    if (m.from === this.id || m.from === NONE) this.readStates.push({ index, context: m.context });
    else this.send({ type: 'readIndexResp', from: this.id, to: m.from, term: this.term, index, context: m.context });
  }

  private appliedTo(index: number): void {
    this.log.appliedTo(index);
    if (this.trk.config.autoLeave && index >= this.pendingConfIndex && this.role === 'leader') {
      // Leave an auto-leave joint configuration once entering it has been applied.
      this.appendEntry([{ term: 0, index: 0, type: 'confChange', data: encodeConfChange({ changes: [] }) }]);
      this.pendingConfIndex = this.log.lastIndex();
      this.bcastAppend();
    }
  }

  private switchToConfig(config: TrackerConfig, progress: Map<NodeId, Progress>): ConfState {
    this.trk.config = config;
    this.trk.progress = progress;
    const cs = this.trk.confState();
    const pr = progress.get(this.id);
    this.isLearner = !!pr && pr.isLearner;
    if ((!pr || this.isLearner) && this.role === 'leader') {
      // Removed or demoted leader: the change is committed, so step down and let the
      // remaining voters elect a leader among themselves.
      this.becomeFollower(this.term, NONE);
      return cs;
    }
    if (this.role !== 'leader' || cs.voters.length === 0) return cs;
    if (this.maybeCommit()) this.bcastAppend();
    else for (const id of this.trk.ids()) if (id !== this.id) this.maybeSendAppend(id, false);
    if (this.leadTransferee !== NONE && !this.trk.isVoter(this.leadTransferee)) this.abortLeaderTransfer();
    return cs;
  }

  private newProgress(next: number, isLearner: boolean): Progress {
    return new Progress(next, this.trk.newInflights(), isLearner);
  }

  private send(m: Outgoing): void {
    this.msgs.push(m);
  }

  private loadState(hs: HardState): void {
    if (hs.commit < this.log.committed || hs.commit > this.log.lastIndex()) {
      throw new RaftError(`state.commit ${hs.commit} is out of range [${this.log.committed}, ${this.log.lastIndex()}]`);
    }
    this.log.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
