// gRPC transport between managers: one long-lived client stream per peer carrying batches of
// messages (everything queued in one event-loop turn goes in one write), snapshots in chunks
// on their own call, reconnection with exponential backoff. Credentials are passed in (mutual
// TLS with the cluster's certificates: proto/credentials.ts), and so is `admit`, which decides
// from the caller's certificate whether it is a manager of the cluster and which Raft member:
// a message claiming to come from another member is dropped.
import * as grpc from '@grpc/grpc-js';
import { loadProto } from '../../proto/load.js';
import { MANAGER_CHANNEL_OPTIONS } from '../../proto/credentials.js';
import type { ProtoGrpcType } from '../../proto/gen/raft.js';
import type { Message as PbMessage, Message__Output as PbMessageOut } from '../../proto/gen/tsswarm/raft/v1/Message.js';
import type { MessageBatch, MessageBatch__Output } from '../../proto/gen/tsswarm/raft/v1/MessageBatch.js';
import type { SnapshotChunk, SnapshotChunk__Output } from '../../proto/gen/tsswarm/raft/v1/SnapshotChunk.js';
import type { RaftClient } from '../../proto/gen/tsswarm/raft/v1/Raft.js';
import type { ConfState, Entry, Message, NodeId, WireMessage } from './types.js';

export interface TransportOptions {
  id: NodeId;
  listen: string;
  peers: Map<NodeId, string>;
  onMessage: (m: Message) => void;
  onSnapshotStatus: (to: NodeId, ok: boolean) => void;
  onUnreachable: (to: NodeId) => void;
  serverCredentials?: grpc.ServerCredentials;
  channelCredentials?: grpc.ChannelCredentials;
  /**
   * Checks the peer of an incoming call before anything it sends is read: its Raft id, and a
   * function to call when the call ends; throws the gRPC error to refuse it with. It may cut
   * the call later (calling the `cut` given) when the peer stops being a member. Absent: any
   * peer is accepted (in-memory tests).
   */
  admit?: (call: grpc.ServerReadableStream<unknown, object>, cut: (e: grpc.ServiceError) => void) => { raftId: number; done: () => void };
  snapshotChunkBytes?: number;
  maxBackoffMs?: number;
  /**
   * A gRPC server the manager shares between Raft, the dispatcher and its own service: the
   * transport adds its service to it and neither binds nor shuts it down (`listen` unused).
   */
  server?: grpc.Server;
}

/** What the runner needs from a transport (GrpcTransport; tests plug in an in-memory one). */
export interface RaftTransport {
  start(): Promise<void>;
  /** Queues messages; everything queued in one event-loop turn leaves together, without waiting for a timer. */
  send(msgs: WireMessage[]): void;
  /** Where a member is reached (a member added by a membership change); no-op if known. */
  addPeer(id: NodeId, addr: string): void;
  /** Stops talking to a member (after its removal is applied). */
  removePeer(id: NodeId): void;
  /** When the connection to a member last failed (ms since the epoch; 0: never). */
  lastFailure?(id: NodeId): number;
  /** Closes every connection to members (new credentials): the next message dials anew. */
  resetConnections?(): void;
  close(): Promise<void>;
}

const raftProto = (): ProtoGrpcType => loadProto<ProtoGrpcType>('raft.proto');

export function toPb(m: WireMessage): PbMessage {
  const pb: PbMessage = { type: m.type, from: m.from, to: m.to, term: m.term };
  switch (m.type) {
    case 'app':
      pb.index = m.index;
      pb.log_term = m.logTerm;
      pb.commit = m.commit;
      pb.entries = m.entries.map((e) => ({ term: e.term, index: e.index, conf_change: e.type === 'confChange', data: e.data }));
      break;
    case 'appResp':
      pb.index = m.index;
      pb.reject = m.reject;
      pb.reject_hint = m.rejectHint;
      pb.log_term = m.logTerm;
      break;
    case 'vote':
    case 'preVote':
      pb.index = m.index;
      pb.log_term = m.logTerm;
      pb.transfer = m.transfer;
      break;
    case 'voteResp':
    case 'preVoteResp':
      pb.reject = m.reject;
      break;
    case 'heartbeat':
      pb.commit = m.commit;
      pb.context = m.context;
      break;
    case 'heartbeatResp':
    case 'readIndex':
      pb.context = m.context;
      break;
    case 'readIndexResp':
      pb.index = m.index;
      pb.context = m.context;
      break;
    case 'prop':
      pb.entries = m.entries.map((e) => ({ term: e.term, index: e.index, conf_change: e.type === 'confChange', data: e.data }));
      break;
    case 'transferLeader':
      pb.transferee = m.transferee;
      break;
    default:
      break;
  }
  return pb;
}

export function fromPb(pb: PbMessageOut): Message {
  const base = { from: pb.from, to: pb.to, term: pb.term };
  const ents = (): Entry[] => pb.entries.map((e) => ({ term: e.term, index: e.index, type: e.conf_change ? 'confChange' : 'normal', data: new Uint8Array(e.data) }));
  switch (pb.type) {
    case 'app':
      return { ...base, type: 'app', index: pb.index, logTerm: pb.log_term, commit: pb.commit, entries: ents() };
    case 'appResp':
      return { ...base, type: 'appResp', index: pb.index, reject: pb.reject, rejectHint: pb.reject_hint, logTerm: pb.log_term };
    case 'vote':
    case 'preVote':
      return { ...base, type: pb.type, index: pb.index, logTerm: pb.log_term, transfer: pb.transfer };
    case 'voteResp':
    case 'preVoteResp':
      return { ...base, type: pb.type, reject: pb.reject };
    case 'heartbeat':
      return { ...base, type: 'heartbeat', commit: pb.commit, context: pb.context };
    case 'heartbeatResp':
      return { ...base, type: 'heartbeatResp', context: pb.context };
    case 'readIndex':
      return { ...base, type: 'readIndex', context: pb.context };
    case 'readIndexResp':
      return { ...base, type: 'readIndexResp', index: pb.index, context: pb.context };
    case 'prop':
      return { ...base, type: 'prop', entries: ents() };
    case 'transferLeader':
      return { ...base, type: 'transferLeader', transferee: pb.transferee };
    case 'timeoutNow':
      return { ...base, type: 'timeoutNow' };
    default:
      throw new Error(`unknown raft message type ${pb.type}`);
  }
}

interface Peer {
  id: NodeId;
  addr: string;
  client?: RaftClient;
  stream?: grpc.ClientWritableStream<MessageBatch>;
  queue: PbMessage[];
  backoffMs: number;
  retryAt: number;
  snapshotting: boolean;
}

export class GrpcTransport implements RaftTransport {
  private server?: grpc.Server;
  private peers = new Map<NodeId, Peer>();
  private flushScheduled = false;
  private closed = false;
  port = 0;

  constructor(private o: TransportOptions) {
    for (const [id, addr] of o.peers) if (id !== o.id) this.addPeer(id, addr);
  }

  private readonly failures = new Map<NodeId, number>();

  lastFailure(id: NodeId): number {
    return this.failures.get(id) ?? 0;
  }

  addPeer(id: NodeId, addr: string): void {
    if (id === this.o.id || this.peers.has(id)) return;
    this.peers.set(id, { id, addr, queue: [], backoffMs: 50, retryAt: 0, snapshotting: false });
  }
  resetConnections(): void {
    for (const p of this.peers.values()) {
      p.stream?.end();
      p.client?.close();
      p.stream = undefined;
      p.client = undefined;
    }
  }

  removePeer(id: NodeId): void {
    const p = this.peers.get(id);
    if (!p) return;
    p.stream?.end();
    p.client?.close();
    this.peers.delete(id);
  }

  async start(): Promise<void> {
    const server = this.o.server ?? new grpc.Server({ 'grpc.max_receive_message_length': 64 << 20 });
    const svc = raftProto().tsswarm.raft.v1.Raft.service;
    server.addService(svc, {
      Stream: (call: grpc.ServerReadableStream<MessageBatch__Output, object>, cb: grpc.sendUnaryData<object>) => {
        const who = this.admit(call, cb);
        if (!who) return;
        call.on('data', (b: MessageBatch__Output) => {
          if (who.cutOff) return;
          for (const pb of b.messages) {
            try {
              const m = fromPb(pb);
              if (who.raftId !== undefined && m.from !== who.raftId) continue; // a member speaks only for itself
              this.o.onMessage(m);
            } catch {
              // a malformed message from a peer is dropped; Raft tolerates loss
            }
          }
        });
        call.on('end', () => { who.done(); if (!who.cutOff) cb(null, {}); });
        call.on('error', () => who.done());
      },
      Snapshot: (call: grpc.ServerReadableStream<SnapshotChunk__Output, object>, cb: grpc.sendUnaryData<object>) => {
        const who = this.admit(call, cb);
        if (!who) return;
        let header: PbMessageOut | undefined;
        let meta = { index: 0, term: 0, cs: '' };
        const parts: Uint8Array[] = [];
        call.on('data', (c: SnapshotChunk__Output) => {
          if (c.header) {
            header = c.header;
            meta = { index: c.snap_index, term: c.snap_term, cs: c.conf_state_json };
          }
          if (who.cutOff) return;
          if (who.raftId !== undefined && header && header.from !== who.raftId) return;
          parts.push(new Uint8Array(c.data));
          if (c.last && header) {
            const data = concat(parts);
            this.o.onMessage({ type: 'snap', from: header.from, to: header.to, term: header.term, snapshot: { meta: { index: meta.index, term: meta.term, confState: JSON.parse(meta.cs) as ConfState }, data } });
          }
        });
        call.on('end', () => { who.done(); if (!who.cutOff) cb(null, { ok: !!header }); });
        call.on('error', () => who.done());
      },
    });
    if (this.o.server) return;
    this.server = server;
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(this.o.listen, this.o.serverCredentials ?? grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
  }

  /** The caller of an incoming call, per `admit` (refused: answered with the error, undefined). */
  private admit(call: grpc.ServerReadableStream<unknown, object>, cb: grpc.sendUnaryData<object>): { raftId?: number; done: () => void; cutOff: boolean } | undefined {
    if (!this.o.admit) return { done: () => undefined, cutOff: false };
    const who: { raftId?: number; done: () => void; cutOff: boolean } = { done: () => undefined, cutOff: false };
    try {
      const r = this.o.admit(call, (e) => { who.cutOff = true; cb(e); });
      who.raftId = r.raftId;
      who.done = r.done;
      return who;
    } catch (e) {
      cb(e as grpc.ServiceError);
      return undefined;
    }
  }

  send(msgs: WireMessage[]): void {
    for (const m of msgs) {
      const p = this.peers.get(m.to);
      if (!p) continue;
      if (m.type === 'snap') {
        this.sendSnapshot(p, m);
        continue;
      }
      p.queue.push(toPb(m));
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const now = Date.now();
    for (const p of this.peers.values()) {
      if (!p.queue.length) continue;
      const stream = this.streamFor(p, now);
      if (!stream) {
        // Disconnected: drop (Raft retransmits) and tell the core to stop pipelining.
        p.queue = [];
        this.o.onUnreachable(p.id);
        continue;
      }
      const messages = p.queue;
      p.queue = [];
      stream.write({ messages });
    }
  }

  private clientFor(p: Peer): RaftClient {
    p.client ??= new (raftProto().tsswarm.raft.v1.Raft)(p.addr, this.o.channelCredentials ?? grpc.credentials.createInsecure(), {
      ...MANAGER_CHANNEL_OPTIONS,
      // A connection of its own (closed with the client): new credentials take a new handshake.
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_send_message_length': 64 << 20,
      'grpc.initial_reconnect_backoff_ms': 50,
      'grpc.max_reconnect_backoff_ms': this.o.maxBackoffMs ?? 1000,
      // A connection that silently stopped carrying packets (a partition, a dead host) is
      // found within ~4 s and redialled, instead of waiting out TCP's retransmissions.
      'grpc.keepalive_time_ms': 2000,
      'grpc.keepalive_timeout_ms': 2000,
      'grpc.keepalive_permit_without_calls': 1,
    });
    return p.client;
  }

  private streamFor(p: Peer, now: number): grpc.ClientWritableStream<MessageBatch> | undefined {
    if (p.stream) return p.stream;
    if (now < p.retryAt || this.closed) return undefined;
    const client = this.clientFor(p);
    const stream = client.Stream((err) => {
      if (p.stream === stream) p.stream = undefined;
      if (err && !this.closed) {
        this.failures.set(p.id, Date.now());
        p.retryAt = Date.now() + p.backoffMs;
        p.backoffMs = Math.min(p.backoffMs * 2, this.o.maxBackoffMs ?? 1000);
      }
    });
    stream.on('error', () => {
      if (p.stream === stream) p.stream = undefined;
      if (!this.closed) this.failures.set(p.id, Date.now());
    });
    // A stream that carries data successfully resets the backoff.
    p.backoffMs = 50;
    p.stream = stream;
    return stream;
  }

  private sendSnapshot(p: Peer, m: Extract<WireMessage, { type: 'snap' }>): void {
    if (p.snapshotting) return;
    p.snapshotting = true;
    const chunk = this.o.snapshotChunkBytes ?? 1 << 20;
    const data = m.snapshot.data;
    const call = this.clientFor(p).Snapshot((err, ack) => {
      p.snapshotting = false;
      this.o.onSnapshotStatus(p.id, !err && !!ack?.ok);
    });
    const header = toPb({ type: 'heartbeat', from: m.from, to: m.to, term: m.term, commit: 0, context: '' });
    header.type = 'snap';
    let off = 0;
    let first = true;
    do {
      const part = data.subarray(off, off + chunk);
      off += chunk;
      const c: SnapshotChunk = { data: part, last: off >= data.length };
      if (first) {
        c.header = header;
        c.snap_index = m.snapshot.meta.index;
        c.snap_term = m.snapshot.meta.term;
        c.conf_state_json = JSON.stringify(m.snapshot.meta.confState);
        first = false;
      }
      call.write(c);
    } while (off < data.length);
    call.end();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.peers.values()) {
      p.stream?.end();
      p.client?.close();
    }
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.tryShutdown(() => resolve());
      setTimeout(() => {
        this.server?.forceShutdown();
        resolve();
      }, 500).unref();
    });
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
