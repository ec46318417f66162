// Who may do what over gRPC: decided from the peer's verified certificate and the store,
// on every call (docs/identity.md).
//
//   manager  a manager certificate whose node id is a current member (cluster.managers):
//            Raft, forwarded API requests, member status, and everything a worker may do.
//   worker   a worker certificate whose node object exists and lists that certificate's
//            serial (NodeObj.certs): its own session, its own logs, renewing its certificate.
//   local    a call on the manager's unix socket (0600, its own user): the embedded agent.
//
// A certificate of another cluster, a removed node's (its node object or membership is gone)
// or an older one the node has replaced and that has expired is refused; calls that stay open
// (sessions, Raft streams, log streams) are checked again at every store change and when their
// certificate expires, and cut when they no longer pass: `node rm` takes effect at once.

import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { Logger } from 'pino';
import { peerIdentity, refusal, type PeerIdentity } from '../../proto/credentials.js';
import type { Store } from '../store/store.js';

export type Need = 'manager' | 'node';

export interface AuthorizedPeer extends PeerIdentity {
  /** Managers: their Raft id. */
  raftId?: number;
}

type AnyCall = { getAuthContext(): { sslPeerCertificate?: PeerCertificate }; getPeer(): string };
type Closable = AnyCall & { destroy?(e: Error): void; emit?(ev: string, e: unknown): boolean };

interface Tracked {
  peer: AuthorizedPeer;
  need: Need;
  cut: (e: grpc.ServiceError) => void;
  timer?: NodeJS.Timeout;
}

export class Authorizer {
  private readonly tracked = new Set<Tracked>();
  /** Managers a joiner was told of, trusted until its store holds the membership. */
  private joinedVia: { nodeId: string; raftId: number }[] = [];
  /** When each kind of refusal was last logged (one line per peer and reason per 30 s). */
  private readonly logged = new Map<string, number>();
  private unwatch?: () => void;
  private recheckScheduled = false;

  constructor(private readonly o: { store: Store; clusterId: () => string; log: Logger; now?: () => number }) {
    this.unwatch = o.store.watch(() => this.scheduleRecheck());
  }

  private get now(): number { return this.o.now?.() ?? Date.now(); }

  /**
   * The peer of `call` if it may do what `need` says; otherwise throws the gRPC error to
   * answer with (UNAUTHENTICATED: no valid certificate; PERMISSION_DENIED: a valid one that
   * may not). Refusals are logged.
   */
  check(call: AnyCall, need: Need, what: string): AuthorizedPeer {
    const id = peerIdentity(call);
    if (!id) {
      const e = refusal('unauthenticated', `${what} needs a certificate issued by this cluster's CA (none, or one that is expired, forged or of another CA, was presented)`);
      if (this.shouldLog(`${hostOf(call.getPeer())}/${what}/none`)) this.o.log.warn({ peer: call.getPeer(), what }, 'refused a call without a valid certificate');
      throw e;
    }
    const why = this.problem(id, need);
    if (why) {
      if (this.shouldLog(`${id.nodeId}/${what}/${why}`)) this.o.log.warn({ peer: call.getPeer(), node: id.nodeId, role: id.role, what, why }, 'refused a call');
      throw refusal('denied', `${what}: ${why}`);
    }
    return { ...id, raftId: id.role === 'manager' ? this.member(id.nodeId)?.raftId : undefined };
  }

  /** Why `id` may not do `need` now (undefined: it may). */
  problem(id: PeerIdentity, need: Need): string | undefined {
    if (id.clusterId !== this.o.clusterId()) return `the certificate is of another cluster (${id.clusterId})`;
    if (id.role === 'manager') {
      return this.member(id.nodeId) ? undefined : `${id.nodeId} is not a manager of this cluster (removed?)`;
    }
    if (need === 'manager') return `${id.role} ${id.nodeId} is not a manager`;
    if (id.role !== 'worker') return `a ${id.role} certificate cannot connect here`;
    const node = this.o.store.view((tx) => tx.get('node', id.nodeId));
    if (!node) return `node ${id.nodeId} is not part of this cluster (removed?)`;
    if (!node.certs?.some((c) => c.serial === id.serial)) return `this certificate of node ${id.nodeId} was revoked or replaced`;
    return undefined;
  }

  private member(nodeId: string): { nodeId: string; raftId: number } | undefined {
    const managers = this.o.store.view((tx) => tx.get('cluster', 'default'))?.managers;
    // A joiner's store is empty until the leader's first entries arrive: until then the
    // managers its join was answered with are the membership.
    return (managers ?? this.joinedVia).find((m: { nodeId: string }) => m.nodeId === nodeId);
  }

  /** The managers a join was answered with (trusted until the store holds the membership). */
  trustJoinedManagers(list: { nodeId: string; raftId: number }[]): void {
    this.joinedVia = list;
  }

  private shouldLog(key: string): boolean {
    const now = this.now;
    if ((this.logged.get(key) ?? -Infinity) > now - 30_000) return false;
    if (this.logged.size > 1000) this.logged.clear();
    this.logged.set(key, now);
    return true;
  }

  /**
   * Keeps checking an open call's peer: when it stops passing (removed node, replaced
   * certificate) or its certificate expires, `cut` is called once with the error. Returns the
   * stop function (call it when the call ends).
   */
  track(call: Closable, peer: AuthorizedPeer, need: Need, cut?: (e: grpc.ServiceError) => void): () => void {
    const t: Tracked = { peer, need, cut: cut ?? ((e) => (call.destroy ? call.destroy(e) : call.emit?.('error', e))) };
    const notAfter = Date.parse(call.getAuthContext().sslPeerCertificate?.valid_to ?? '');
    if (Number.isFinite(notAfter)) {
      // setTimeout holds at most ~24.8 days: a longer wait is re-armed by the recheck.
      const ms = Math.min(Math.max(0, notAfter - this.now), 2 ** 31 - 1);
      t.timer = setTimeout(() => this.cut(t, refusal('unauthenticated', 'the certificate expired')), ms);
      t.timer.unref?.();
    }
    this.tracked.add(t);
    return () => this.untrack(t);
  }

  private untrack(t: Tracked): void {
    if (t.timer) clearTimeout(t.timer);
    this.tracked.delete(t);
  }

  private cut(t: Tracked, e: grpc.ServiceError): void {
    if (!this.tracked.has(t)) return;
    this.untrack(t);
    this.o.log.warn({ node: t.peer.nodeId, role: t.peer.role, why: e.details }, 'cut a connection whose credentials no longer pass');
    try { t.cut(e); } catch { /* already closed */ }
  }

  private scheduleRecheck(): void {
    if (this.recheckScheduled || this.tracked.size === 0) return;
    this.recheckScheduled = true;
    setImmediate(() => {
      this.recheckScheduled = false;
      for (const t of [...this.tracked]) {
        const why = this.problem(t.peer, t.need);
        if (why) this.cut(t, refusal('denied', why));
      }
    });
  }

  close(): void {
    this.unwatch?.();
    for (const t of [...this.tracked]) this.untrack(t);
  }
}

/** The host of a gRPC peer string (`127.0.0.1:5678`, `[::1]:5678`). */
function hostOf(peer: string): string {
  return peer.slice(0, peer.lastIndexOf(':'));
}
