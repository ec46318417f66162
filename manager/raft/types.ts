// Plain data types of the Raft core: entries, hard state, snapshots, configurations and the
// messages nodes exchange. No behaviour here, and no imports from node:* (see core.ts).

/** Node ids are positive integers; 0 means "none". */
export type NodeId = number;
export const NONE: NodeId = 0;

export type EntryType = 'normal' | 'confChange';

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must be durable before any message that depends on it leaves the node. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

/** The membership configuration as persisted with snapshots. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
  /** Voters of the outgoing configuration while in joint consensus (empty otherwise). */
  votersOutgoing: NodeId[];
  /** Voters that become learners when the joint configuration is left. */
  learnersNext: NodeId[];
  autoLeave: boolean;
}

export interface SnapshotMeta {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

export type ConfChangeType = 'addNode' | 'addLearner' | 'removeNode';

export interface ConfChangeSingle {
  type: ConfChangeType;
  nodeId: NodeId;
}

/**
 * A membership change (etcd's ConfChangeV2). One change with transition 'auto' is applied
 * directly (one voter at a time). Several changes, or transition 'explicit'/'implicit', go
 * through joint consensus. An empty change list leaves the joint configuration.
 * 'auto' and 'implicit' joint configurations are left automatically by the leader.
 */
export interface ConfChange {
  transition?: 'auto' | 'implicit' | 'explicit';
  changes: ConfChangeSingle[];
  /** Opaque to Raft; the runner puts e.g. the new member's address here. */
  context?: string;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

interface Base {
  from: NodeId;
  to: NodeId;
  /** 0 for local messages and for proposals/reads forwarded to the leader. */
  term: number;
}

export interface MsgApp extends Base {
  type: 'app';
  /** Index and term of the entry immediately preceding `entries`. */
  index: number;
  logTerm: number;
  entries: Entry[];
  commit: number;
}
export interface MsgAppResp extends Base {
  type: 'appResp';
  /** Accepted: the last index now matching the leader. Rejected: the probed index. */
  index: number;
  reject: boolean;
  /** On reject: the follower's guess of the highest index that may match, and its term. */
  rejectHint: number;
  logTerm: number;
}
export interface MsgVote extends Base {
  type: 'vote' | 'preVote';
  /** The candidate's last log index and term. */
  index: number;
  logTerm: number;
  /** Set when campaigning because of a leadership transfer (bypasses leases). */
  transfer: boolean;
}
export interface MsgVoteResp extends Base {
  type: 'voteResp' | 'preVoteResp';
  reject: boolean;
}
export interface MsgHeartbeat extends Base {
  type: 'heartbeat';
  commit: number;
  /** ReadIndex request context ('' for none). */
  context: string;
}
export interface MsgHeartbeatResp extends Base {
  type: 'heartbeatResp';
  context: string;
}
export interface MsgSnap extends Base {
  type: 'snap';
  snapshot: Snapshot;
}
export interface MsgTimeoutNow extends Base {
  type: 'timeoutNow';
}
export interface MsgProp extends Base {
  type: 'prop';
  entries: Entry[];
}
export interface MsgReadIndex extends Base {
  type: 'readIndex';
  context: string;
}
export interface MsgReadIndexResp extends Base {
  type: 'readIndexResp';
  index: number;
  context: string;
}
export interface MsgTransferLeader extends Base {
  type: 'transferLeader';
  /** The node that should become leader. */
  transferee: NodeId;
}
/** Local-only messages (never sent over the wire). */
export interface MsgLocal extends Base {
  type: 'hup' | 'beat' | 'checkQuorum';
}
export interface MsgSnapStatus extends Base {
  type: 'snapStatus';
  reject: boolean;
}
export interface MsgUnreachable extends Base {
  type: 'unreachable';
}

export type Message =
  | MsgApp
  | MsgAppResp
  | MsgVote
  | MsgVoteResp
  | MsgHeartbeat
  | MsgHeartbeatResp
  | MsgSnap
  | MsgTimeoutNow
  | MsgProp
  | MsgReadIndex
  | MsgReadIndexResp
  | MsgTransferLeader
  | MsgLocal
  | MsgSnapStatus
  | MsgUnreachable;

export type MessageType = Message['type'];

/** Messages that cross the network. */
export type WireMessage = Exclude<Message, MsgLocal | MsgSnapStatus | MsgUnreachable>;

export interface ReadState {
  /** Reads with this context are linearizable once the state machine has applied `index`. */
  index: number;
  context: string;
}

export interface SoftState {
  lead: NodeId;
  role: Role;
}

export const emptyConfState = (): ConfState => ({ voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false });

export const isEmptySnapshot = (s: Snapshot | undefined): boolean => !s || s.meta.index === 0;

export function entrySize(e: Entry): number {
  return e.data.length + 24;
}

export function entriesSize(es: readonly Entry[]): number {
  let n = 0;
  for (const e of es) n += entrySize(e);
  return n;
}

/** ConfChange <-> entry payload (JSON; the entry type says how to read it). */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(cc));
}
export function decodeConfChange(data: Uint8Array): ConfChange {
  return JSON.parse(new TextDecoder().decode(data)) as ConfChange;
}

export class RaftError extends Error {
  override name = 'RaftError';
}
/** The proposal cannot be taken here. `leader` is the current leader when known (else NONE). */
export class NotLeaderError extends RaftError {
  override name = 'NotLeaderError';
  constructor(readonly leader: NodeId, why = '') {
    super(leader === NONE ? `not leader, no leader known${why ? ` (${why})` : ''}` : `not leader, leader is ${leader}${why ? ` (${why})` : ''}`);
  }
}
export class ProposalDroppedError extends RaftError {
  override name = 'ProposalDroppedError';
}
export class CompactedError extends RaftError {
  override name = 'CompactedError';
  constructor(index: number) {
    super(`requested index ${index} is unavailable due to compaction`);
  }
}
export class UnavailableError extends RaftError {
  override name = 'UnavailableError';
  constructor(index: number) {
    super(`requested entry at index ${index} is unavailable`);
  }
}
export class SnapshotTemporarilyUnavailableError extends RaftError {
  override name = 'SnapshotTemporarilyUnavailableError';
}
/**
 * The node's data dir is full (ENOSPC) or over quota (EDQUOT): nothing more can be made
 * durable here, so nothing new is taken. What was already proposed stays pending (neither
 * acknowledged nor failed) and carries on once space is freed.
 */
export class DiskFullError extends RaftError {
  override name = 'DiskFullError';
  constructor(
    readonly dir: string,
    readonly errno: string,
    cause?: unknown,
  ) {
    super(`no space left for the Raft data dir ${dir} (${errno}): not taking changes until space is freed`, { cause });
  }
}
