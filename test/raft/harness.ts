// An in-memory cluster of RaftCores for interaction tests: synchronous delivery, with
// dropped links and message filters, and a printable trace of every delivered message.
import { RaftCore, type RaftConfig } from '../../manager/raft/core.js';
import { MemoryStorage, persistToMemory } from '../../manager/raft/storage.js';
import { decodeConfChange, type Entry, type Message, type NodeId } from '../../manager/raft/types.js';

export function seededRand(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface HNode {
  core: RaftCore;
  storage: MemoryStorage;
  applied: Entry[];
}

export function describeMessage(m: Message): string {
  const base = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'app':
      return `${base} index=${m.index} logTerm=${m.logTerm} commit=${m.commit}${m.entries.length ? ` entries=[${m.entries.map((e) => `${e.term}/${e.index}${e.type === 'confChange' ? ' cc' : ''}${e.data.length && e.type === 'normal' ? ` ${new TextDecoder().decode(e.data)}` : ''}`).join(', ')}]` : ''}`;
    case 'appResp':
      return `${base} index=${m.index}${m.reject ? ` reject hint=${m.rejectHint}/${m.logTerm}` : ''}`;
    case 'vote':
    case 'preVote':
      return `${base} lastIndex=${m.index} lastTerm=${m.logTerm}${m.transfer ? ' transfer' : ''}`;
    case 'voteResp':
    case 'preVoteResp':
      return `${base}${m.reject ? ' reject' : ''}`;
    case 'heartbeat':
      return `${base} commit=${m.commit}${m.context ? ` ctx=${m.context}` : ''}`;
    case 'heartbeatResp':
      return `${base}${m.context ? ` ctx=${m.context}` : ''}`;
    case 'snap':
      return `${base} snapshot=${m.snapshot.meta.index}/${m.snapshot.meta.term} voters=${m.snapshot.meta.confState.voters.join(',')}`;
    case 'readIndexResp':
      return `${base} index=${m.index} ctx=${m.context}`;
    default:
      return base;
  }
}

export class Network {
  nodes = new Map<NodeId, HNode>();
  private cut = new Set<string>();
  /** Message types dropped everywhere. */
  dropTypes = new Set<string>();
  trace: string[] = [];
  queue: Message[] = [];

  constructor(
    ids: NodeId[],
    private opts: Partial<RaftConfig> & { seed?: number } = {},
  ) {
    for (const id of ids) this.add(id, ids);
  }

  add(id: NodeId, voters: NodeId[], learners: NodeId[] = []): HNode {
    const storage = new MemoryStorage();
    if (voters.length) storage.bootstrap(voters, learners);
    const core = new RaftCore({ id, storage, rand: seededRand((this.opts.seed ?? 1) * 1000 + id), ...this.opts });
    const n = { core, storage, applied: [] };
    this.nodes.set(id, n);
    return n;
  }

  node(id: NodeId): RaftCore {
    return this.nodes.get(id)!.core;
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}-${other}`);
      this.cut.add(`${other}-${id}`);
    }
  }
  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}-${b}`);
    this.cut.add(`${b}-${a}`);
  }
  heal(): void {
    this.cut.clear();
    this.dropTypes.clear();
  }

  /** Processes every node's Ready (persist, queue messages, apply) without delivering. */
  processReady(): boolean {
    let any = false;
    for (const [, n] of [...this.nodes].sort((a, b) => a[0] - b[0])) {
      if (!n.core.hasReady()) continue;
      any = true;
      const rd = n.core.ready();
      persistToMemory(n.storage, rd);
      this.queue.push(...rd.earlyMessages, ...rd.messages);
      for (const e of rd.committedEntries) {
        n.applied.push(e);
        if (e.type === 'confChange') n.core.applyConfChange(decodeConfChange(e.data));
      }
      n.core.advance();
    }
    return any;
  }

  /** Delivers queued messages and processes Readys until nothing moves. */
  stabilize(limit = 10_000): void {
    for (let i = 0; i < limit; i++) {
      const progressed = this.processReady();
      if (this.queue.length === 0 && !progressed) return;
      const q = this.queue;
      this.queue = [];
      for (const m of q) this.deliver(m);
    }
    throw new Error('network did not stabilize');
  }

  deliver(m: Message): void {
    if (this.cut.has(`${m.from}-${m.to}`) || this.dropTypes.has(m.type)) {
      this.trace.push(`${describeMessage(m)} DROPPED`);
      return;
    }
    const n = this.nodes.get(m.to);
    if (!n) return;
    this.trace.push(describeMessage(m));
    try {
      n.core.step(m);
    } catch (e) {
      this.trace.push(`  ${m.to}: ${(e as Error).message}`);
    }
  }

  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) this.node(id).tick();
  }

  /** Ticks every node once per round until one of them is leader (with stabilization). */
  electSomeone(maxRounds = 200): NodeId {
    for (let r = 0; r < maxRounds; r++) {
      for (const id of this.nodes.keys()) this.tick(id);
      this.stabilize();
      const l = this.leader();
      if (l) return l;
    }
    throw new Error('no leader elected');
  }

  leader(): NodeId | undefined {
    const ls = [...this.nodes.values()].filter((n) => n.core.role === 'leader');
    return ls.length ? ls.sort((a, b) => b.core.term - a.core.term)[0]!.core.id : undefined;
  }

  describe(id: NodeId): string {
    const s = this.node(id).status();
    return `${id}: ${s.role} term=${s.term} vote=${s.vote} lead=${s.lead} commit=${s.commit} applied=${s.applied} last=${s.lastIndex}`;
  }
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
