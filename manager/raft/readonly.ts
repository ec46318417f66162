// ReadIndex bookkeeping on the leader: a read is served at the commit index recorded when it
// arrived, once a quorum has acknowledged a heartbeat carrying its context.
import type { NodeId } from './types.js';

export interface ReadIndexStatus {
  index: number;
  from: NodeId;
  context: string;
  acks: Set<NodeId>;
}

export class ReadOnly {
  private pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  addRequest(index: number, from: NodeId, context: string): void {
    if (this.pending.has(context)) return;
    this.pending.set(context, { index, from, context, acks: new Set() });
    this.queue.push(context);
  }
  recvAck(id: NodeId, context: string): Set<NodeId> | undefined {
    const rs = this.pending.get(context);
    if (!rs) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }
  /** Pops every request queued up to and including `context`. */
  advance(context: string): ReadIndexStatus[] {
    const i = this.queue.indexOf(context);
    if (i < 0) return [];
    const out = this.queue.splice(0, i + 1).map((c) => this.pending.get(c)!);
    for (const rs of out) this.pending.delete(rs.context);
    return out;
  }
  lastPendingContext(): string | undefined {
    return this.queue[this.queue.length - 1];
  }
  size(): number {
    return this.queue.length;
  }
}
