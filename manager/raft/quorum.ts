// Quorum arithmetic: majority configurations and joint (two-majority) configurations.
import type { NodeId } from './types.js';

export type VoteResult = 'pending' | 'lost' | 'won';

/** The largest index acknowledged by a majority of `voters`. Empty config: +Infinity. */
export function majorityCommitted(voters: ReadonlySet<NodeId>, acked: (id: NodeId) => number): number {
  const n = voters.size;
  if (n === 0) return Number.POSITIVE_INFINITY;
  const xs: number[] = [];
  for (const id of voters) xs.push(acked(id));
  xs.sort((a, b) => b - a);
  return xs[Math.floor(n / 2)]!;
}

export function majorityVoteResult(voters: ReadonlySet<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.size === 0) return 'won';
  let yes = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) yes++;
  }
  const q = Math.floor(voters.size / 2) + 1;
  if (yes >= q) return 'won';
  if (yes + missing >= q) return 'pending';
  return 'lost';
}

/** Joint quorum: both the incoming and the outgoing majority must agree. */
export interface JointConfig {
  incoming: ReadonlySet<NodeId>;
  outgoing: ReadonlySet<NodeId>;
}

export function jointCommitted(c: JointConfig, acked: (id: NodeId) => number): number {
  return Math.min(majorityCommitted(c.incoming, acked), majorityCommitted(c.outgoing, acked));
}

export function jointVoteResult(c: JointConfig, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const r1 = majorityVoteResult(c.incoming, votes);
  const r2 = majorityVoteResult(c.outgoing, votes);
  if (r1 === r2) return r1;
  if (r1 === 'lost' || r2 === 'lost') return 'lost';
  return 'pending';
}
