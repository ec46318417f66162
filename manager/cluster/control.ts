// Managers as a cluster: the gRPC service managers and joiners talk to (join, forwarded API
// requests, each member's view of itself), and what the leader does for the membership
// (promote caught-up learners, refuse changes that would lose quorum, report status).
//
// Who decides: the leader. A follower forwards API writes (and consistent reads, logs, status)
// to the leader over `ForwardHttp`, which replays them on the leader's own API socket, so every
// write runs the leader's checks on the leader's state, serialised by its store. With no
// leader, reads are answered from this manager's applied state, marked stale, and writes fail
// at once with TSW_ERR_NO_QUORUM saying how many managers answer.
//
// Every call but Join needs a certificate of this cluster (manager/auth): Join is how a node
// without one gets one, with a join token; Renew takes any current node's; the rest, a
// manager's. Calls between managers present this manager's own certificate.

import * as grpc from '@grpc/grpc-js';
import { request } from 'node:http';
import type { Logger } from 'pino';
import type { ClusterMember, ClusterStatus } from '../../common/api/types.js';
import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import { hashJoinSecret, parseJoinToken, requireRole, type JoinRole } from '../../common/token.js';
import { loadProto } from '../../proto/load.js';
import type { ProtoGrpcType } from '../../proto/gen/manager.js';
import type { ManagerClient } from '../../proto/gen/tsswarm/manager/v1/Manager.js';
import type { HttpChunk } from '../../proto/gen/tsswarm/manager/v1/HttpChunk.js';
import type { HttpRequest__Output } from '../../proto/gen/tsswarm/manager/v1/HttpRequest.js';
import type { JoinRequest__Output } from '../../proto/gen/tsswarm/manager/v1/JoinRequest.js';
import type { JoinResponse } from '../../proto/gen/tsswarm/manager/v1/JoinResponse.js';
import type { MemberInfo, MemberInfo__Output } from '../../proto/gen/tsswarm/manager/v1/MemberInfo.js';
import { removeNode } from '../objects/task.js';
import { MANAGER_CHANNEL_OPTIONS, type NodeCredentials } from '../../proto/credentials.js';
import { LEADER_ADDR_METADATA } from '../../proto/identity-client.js';
import type { RenewRequest__Output } from '../../proto/gen/tsswarm/manager/v1/RenewRequest.js';
import type { RenewResponse } from '../../proto/gen/tsswarm/manager/v1/RenewResponse.js';
import type { Authorizer } from '../auth/authz.js';
import type { Issuer } from '../auth/issuer.js';
import { ClusterKeys } from '../auth/cluster-keys.js';
import { newId } from '../../common/ids.js';
import type { IssuedCert, NodeObj } from '../store/types.js';
import type { RaftNode } from '../raft/node.js';
import type { Store } from '../store/store.js';
import type { ClusterObj, ManagerMember } from '../store/types.js';

export const managerProto = (): ProtoGrpcType => loadProto<ProtoGrpcType>('manager.proto');

/** Marks a request a follower forwarded: the leader never forwards it again. */
export const FORWARDED_HEADER = 'x-tsswarm-forwarded';
/** Set on answers computed from a manager's local state while it knows no leader. */
export const STALE_HEADER = 'x-tsswarm-stale';

export interface ClusterControlOptions {
  clusterId: string;
  nodeId: string;
  raftId: number;
  /** This manager's advertised gRPC address. */
  addr: string;
  /** The HTTP API's unix socket: forwarded requests are replayed on it. */
  apiSocket: string;
  store: Store;
  raft: () => RaftNode;
  log: Logger;
  /** This manager's certificate and the roots it trusts: calls to other managers present them. */
  credentials: NodeCredentials;
  /** Checks callers' certificates (absent: every caller is trusted; unit tests). */
  authorizer?: Authorizer;
  /** Signs joiners' and renewing nodes' certificates (the leader's). */
  issuer: Issuer;
  /** The cluster's data key, handed to joining managers. */
  dataKey: () => Buffer;
  /** How often the leader looks for learners to promote (ms). */
  promoteEveryMs?: number;
}

/** How far behind (entries) a learner may be and still be promoted. */
const PROMOTE_LAG = 64;
const RPC_DEADLINE_MS = 1500;
/** A voter the leader has not heard from for this long does not count towards a quorum for new writes. */
const QUORUM_SILENCE_MS = 1000;
/** How long a membership change waits for voters' answers before it counts them unreachable. */
const QUORUM_PATIENCE_MS = 1500;
/** How long a follower waits for a leader to forward a request to. */
const FORWARD_PATIENCE_MS = 5000;
/** How long one forwarding attempt waits for the leader's connection before it looks again. */
const FORWARD_CONNECT_WAIT_MS = 150;

export class ClusterControl {
  private readonly clients = new Map<string, ManagerClient>();
  private promoteTimer?: NodeJS.Timeout;
  private promoting = false;
  private closed = false;

  constructor(private readonly o: ClusterControlOptions) {}

  /** A joiner learns its cluster's id from the join's answer. */
  setClusterId(id: string): void { this.o.clusterId = id; }

  // ------------------------------------------------------------------ who is who

  get isLeader(): boolean { return this.o.raft().role === 'leader'; }

  members(): ManagerMember[] {
    return this.o.store.view((tx) => tx.get('cluster', 'default'))?.managers ?? [];
  }

  /** The leader's advertised address, if a leader is known. */
  leaderAddr(): string | undefined {
    const lead = this.o.raft().leader;
    if (!lead) return undefined;
    if (lead === this.o.raftId) return this.o.addr;
    return this.members().find((m) => m.raftId === lead)?.addr;
  }

  /** Every manager's address (agents fall back to these). */
  managerAddrs(): string[] {
    const addrs = this.members().map((m) => m.addr);
    return addrs.length ? addrs : [this.o.addr];
  }

  /** Where peers are reached, for members Raft learned of from a snapshot (no conf change replayed). */
  connectPeers(): void {
    for (const m of this.members()) if (m.raftId !== this.o.raftId) this.o.raft().addPeer(m.raftId, m.addr);
  }

  // ------------------------------------------------------------------ the gRPC service

  register(server: grpc.Server): void {
    server.addService(managerProto().tsswarm.manager.v1.Manager.service, {
      // Anyone may ask to join: the token decides.
      Join: (call: grpc.ServerUnaryCall<JoinRequest__Output, JoinResponse>, cb: grpc.sendUnaryData<JoinResponse>) => {
        // A follower relays a join to the leader: the leader keeps the joiner's request as is.
        this.join(call.request).then((r) => cb(null, r), (e: Error) => cb(grpcError(e)));
      },
      ForwardHttp: (call: grpc.ServerWritableStream<HttpRequest__Output, HttpChunk>) => {
        try {
          this.o.authorizer?.check(call, 'manager', 'a forwarded API request');
        } catch (e) {
          // grpc-js ends a server stream with the status of an 'error' it is given.
          call.emit('error', e);
          return;
        }
        this.serveForwarded(call);
      },
      Member: (call: grpc.ServerUnaryCall<unknown, MemberInfo>, cb: grpc.sendUnaryData<MemberInfo>) => {
        try {
          this.o.authorizer?.check(call, 'manager', 'member status');
        } catch (e) {
          cb(e as grpc.ServiceError);
          return;
        }
        cb(null, this.self());
      },
      Renew: (call: grpc.ServerUnaryCall<RenewRequest__Output, RenewResponse>, cb: grpc.sendUnaryData<RenewResponse>) => {
        let peer;
        try {
          if (!this.o.authorizer) throw grpcError(new TsswarmError(ErrorCodes.UNAVAILABLE, 'certificates are not renewed here'));
          peer = this.o.authorizer.check(call, 'node', 'renewing a certificate');
        } catch (e) {
          cb(e as grpc.ServiceError);
          return;
        }
        this.renew(peer.nodeId, peer.role as 'manager' | 'worker', call.request.csr).then((r) => cb(null, r), (e: Error) => cb(grpcError(e, this.leaderAddr())));
      },
    });
  }

  private self(): MemberInfo {
    const r = this.o.raft();
    const learner = r.membership.learners.includes(this.o.raftId);
    return {
      raft_id: this.o.raftId, node_id: this.o.nodeId, addr: this.o.addr,
      role: learner ? 'learner' : r.role, term: r.core.term, applied: r.appliedIndex, commit: r.commitIndex, leader: r.leader,
      cert_root: this.certRoot(),
    };
  }

  private certRoot(): string {
    const c = this.o.store.view((tx) => tx.get('cluster', 'default'));
    return c && this.o.credentials.ready ? ClusterKeys.rootOf(this.o.credentials.material.certPem, c) ?? '' : '';
  }

  /** Each manager that answers, and the root its certificate is of (CA rotation). */
  async memberRoots(): Promise<{ nodeId: string; root?: string }[]> {
    const out = await Promise.all(this.members().map(async (m): Promise<{ nodeId: string; root?: string } | undefined> => {
      if (m.raftId === this.o.raftId) return { nodeId: m.nodeId, root: this.certRoot() };
      const info = await this.ask(m.addr);
      return info ? { nodeId: m.nodeId, root: info.cert_root || undefined } : undefined;
    }));
    return out.filter((x): x is { nodeId: string; root?: string } => !!x);
  }

  private client(addr: string): ManagerClient {
    let c = this.clients.get(addr);
    if (!c) {
      const Ctor = managerProto().tsswarm.manager.v1.Manager;
      c = new Ctor(addr, this.o.credentials.channelCredentials(), {
        ...MANAGER_CHANNEL_OPTIONS,
        'grpc.use_local_subchannel_pool': 1,
        'grpc.max_receive_message_length': 64 << 20,
        'grpc.keepalive_time_ms': 2000,
        'grpc.keepalive_timeout_ms': 2000,
        'grpc.keepalive_permit_without_calls': 1,
      });
      this.clients.set(addr, c);
    }
    return c;
  }

  // ------------------------------------------------------------------ join

  /** Admits a manager (as a learner; promoted once caught up) or checks a worker's token. */
  async join(req: JoinRequest__Output): Promise<JoinResponse> {
    const role = req.role as JoinRole;
    if (role !== 'manager' && role !== 'worker') throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `role must be manager or worker, got ${JSON.stringify(String(req.role).slice(0, 20))}`);
    if (!this.isLeader) {
      const leader = this.leaderAddr();
      if (!leader) { const { reachable, voters } = await this.reachableVoters(); throw noQuorumError(reachable, voters); }
      return new Promise((resolve, reject) => this.client(leader).Join(req, { deadline: Date.now() + 30_000 }, (err, r) => (err ? reject(fromGrpc(err)) : resolve(r!))));
    }
    await this.o.store.barrier();
    const cluster = this.o.store.view((tx) => tx.get('cluster', 'default'));
    const tokens = cluster?.joinTokens;
    if (!cluster || !tokens || !cluster.caDigest) throw new TsswarmError(ErrorCodes.INTERNAL, 'this cluster has no join tokens yet');
    requireRole(req.token, role, {
      caDigest: cluster.caDigest,
      workerHash: hashJoinSecret(parseJoinToken(tokens.worker).secret),
      managerHash: hashJoinSecret(parseJoinToken(tokens.manager).secret),
    });
    if (typeof req.csr !== 'string' || !req.csr || req.csr.length > 16_384) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'a join request must carry a CSR (PEM, at most 16 KiB) for the key the node will use');
    const hostname = typeof req.hostname === 'string' ? req.hostname.replace(/[^\x20-\x7e]/g, '').slice(0, 253) : '';
    const answer = (nodeId: string, cert: { certPem: string; caPems: string[] }): JoinResponse => ({
      cluster_id: this.o.clusterId, managers: this.members().map((m) => ({ raft_id: m.raftId, addr: m.addr, node_id: m.nodeId })),
      ca_cert_pem: cert.caPems[0], node_id: nodeId, cert_pem: cert.certPem, ca_pems: cert.caPems,
      data_key: role === 'manager' ? this.o.dataKey() : Buffer.alloc(0),
    });
    if (role === 'worker') {
      // The node id asked for, unless a node has it already: a token never yields another node's identity.
      const asked = typeof req.node_id === 'string' && /^[a-z0-9]{1,64}$/.test(req.node_id) ? req.node_id : '';
      const nodeId = asked && !this.o.store.view((tx) => tx.get('node', asked)) ? asked : newId();
      const cert = await this.o.issuer.sign(req.csr, nodeId, 'worker');
      await this.o.store.update((tx) => {
        if (tx.get('node', nodeId)) throw new TsswarmError(ErrorCodes.CONFLICT, `node ${nodeId} appeared meanwhile: join again`);
        tx.create({
          kind: 'node', id: nodeId, meta: { version: 0, createdAt: 0, updatedAt: 0 },
          spec: { role: 'worker', availability: 'active', labels: {} },
          description: { hostname, platform: { os: 'linux', arch: '' }, resources: { nanoCpus: 0, memoryBytes: 0 }, engine: { version: '', labels: {} } },
          status: { state: 'unknown', addr: '', message: 'joined; waiting for its agent to connect', lastHeartbeat: 0 },
          certs: [{ serial: cert.serial, notAfter: cert.notAfter, root: cert.root }],
        } satisfies NodeObj);
      });
      this.o.log.info({ node: nodeId, hostname }, 'a worker joined');
      return answer(nodeId, cert);
    }

    const raftId = Number(req.raft_id);
    if (!Number.isSafeInteger(raftId) || raftId <= 0) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'a joining manager must name its Raft id');
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(req.addr)) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `a joining manager must give its address as HOST:PORT, got ${JSON.stringify(req.addr.slice(0, 80))}`);
    if (!/^[a-z0-9]{1,64}$/.test(req.node_id)) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'a joining manager must give its node id');
    const raft = this.o.raft();
    const known = this.members().find((m) => m.raftId === raftId);
    const inConf = raft.membership.voters.includes(raftId) || raft.membership.learners.includes(raftId);
    if (known && known.nodeId !== req.node_id) throw new TsswarmError(ErrorCodes.CONFLICT, `Raft id ${raftId} belongs to manager ${known.nodeId} already`);
    if (!known && this.members().some((m) => m.nodeId === req.node_id)) throw new TsswarmError(ErrorCodes.CONFLICT, `node id ${req.node_id} is another manager's already`);
    if (known && inConf && known.addr !== req.addr) throw new TsswarmError(ErrorCodes.CONFLICT, `manager ${raftId} is a member already, at ${known.addr}`);
    const cert = await this.o.issuer.sign(req.csr, req.node_id, 'manager');
    if (known && inConf) return answer(req.node_id, cert); // a retried join
    this.o.log.info({ raftId, addr: req.addr, node: req.node_id }, 'admitting a manager (as a learner until it has caught up)');
    await this.recordMember({ raftId, nodeId: req.node_id, addr: req.addr, desired: 'voter' });
    if (!inConf) await this.changeConf({ type: 'addLearner', nodeId: raftId }, req.addr);
    return answer(req.node_id, cert);
  }

  /**
   * A new certificate for a node that holds a current one (the leader signs and, for a
   * worker, records the serial: the older certificate stays valid until it expires).
   */
  async renew(nodeId: string, role: 'manager' | 'worker', csr: string): Promise<RenewResponse> {
    if (!this.isLeader) throw new TsswarmError(ErrorCodes.UNAVAILABLE, this.leaderAddr() ? `not the leader; the leader is at ${this.leaderAddr()}` : 'no leader elected yet: retry');
    if (typeof csr !== 'string' || !csr || csr.length > 16_384) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'a renewal must carry a CSR (PEM, at most 16 KiB)');
    const cert = await this.o.issuer.sign(csr, nodeId, role);
    if (role === 'worker') {
      await this.o.store.update((tx) => {
        const n = tx.get('node', nodeId);
        if (!n) throw new TsswarmError(ErrorCodes.PERMISSION_DENIED, `node ${nodeId} was removed`);
        tx.update({ ...n, certs: keepCerts(n.certs, { serial: cert.serial, notAfter: cert.notAfter, root: cert.root }, Date.now()) });
      });
    }
    this.o.log.info({ node: nodeId, role, notAfter: new Date(cert.notAfter).toISOString() }, 'certificate renewed');
    return { cert_pem: cert.certPem, ca_pems: cert.caPems };
  }

  private async recordMember(m: ManagerMember): Promise<void> {
    await this.o.store.update((tx) => {
      const c = tx.get('cluster', 'default')!;
      const managers = (c.managers ?? []).filter((x) => x.raftId !== m.raftId);
      tx.update({ ...c, managers: [...managers, m].sort((a, b) => a.raftId - b.raftId) });
    });
  }

  /** Proposes one membership change and waits until it is applied here. */
  private async changeConf(change: { type: 'addNode' | 'addLearner' | 'removeNode'; nodeId: number }, addr?: string): Promise<void> {
    const raft = this.o.raft();
    let r: { index: number };
    try {
      r = await raft.proposeConfChange({ changes: [change], context: addr });
    } catch (e) {
      throw new TsswarmError(ErrorCodes.QUORUM_AT_RISK, `membership change refused: ${(e as Error).message}`);
    }
    await raft.waitApplied(r.index);
  }

  // ------------------------------------------------------------------ the leader's duties

  /** On election: promote learners that should vote once they have caught up. */
  startLeading(): void {
    if (this.promoteTimer || this.closed) return;
    this.promoteTimer = setInterval(() => void this.promoteCaughtUp(), this.o.promoteEveryMs ?? 250);
  }

  stopLeading(): void {
    if (this.promoteTimer) clearInterval(this.promoteTimer);
    this.promoteTimer = undefined;
  }

  private async promoteCaughtUp(): Promise<void> {
    if (this.promoting || !this.isLeader) return;
    this.promoting = true;
    try {
      const raft = this.o.raft();
      const st = raft.core.status();
      const last = st.commit;
      for (const m of this.members()) {
        if (m.desired !== 'voter' || !raft.membership.learners.includes(m.raftId)) continue;
        const pr = st.progress.get(m.raftId);
        if (!pr || pr.state !== 'replicate' || pr.match + PROMOTE_LAG < last) continue;
        this.o.log.info({ raftId: m.raftId, addr: m.addr, match: pr.match }, 'learner caught up: promoting it to a voter');
        await this.changeConf({ type: 'addNode', nodeId: m.raftId });
        break; // one change at a time
      }
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message }, 'could not promote a learner; will retry');
    } finally {
      this.promoting = false;
    }
  }

  // ------------------------------------------------------------------ promote, demote, remove

  /** Makes a manager a voter again (it must be a learner of this cluster). */
  async promote(raftId: number): Promise<string> {
    const m = this.member(raftId);
    const raft = this.o.raft();
    if (raft.membership.voters.includes(raftId)) return `${m.nodeId} is already a voting manager`;
    await this.recordMember({ ...m, desired: 'voter' });
    return `${m.nodeId} will vote once it has caught up (it is a learner now)`;
  }

  /** A voter stops voting (it keeps a replica as a learner): refused if that would lose quorum. */
  async demote(raftId: number): Promise<string> {
    const m = this.member(raftId);
    const raft = this.o.raft();
    if (!raft.membership.voters.includes(raftId)) {
      await this.recordMember({ ...m, desired: 'learner' });
      return `${m.nodeId} does not vote already`;
    }
    await this.checkQuorumAfter(raft.membership.voters.filter((v) => v !== raftId), 'demoting');
    // The leader demoted: it hands leadership over first, and the new leader demotes it.
    if (raftId === this.o.raftId) return this.handOver('POST', `/v1/nodes/${m.nodeId}/demote`);
    await this.recordMember({ ...m, desired: 'learner' });
    await this.changeConf({ type: 'addLearner', nodeId: raftId });
    return `${m.nodeId} demoted: it no longer votes`;
  }

  /** Takes a manager out of the cluster: it must not vote (demote it first) unless `force`. */
  async remove(raftId: number, force: boolean): Promise<string> {
    const m = this.member(raftId);
    const raft = this.o.raft();
    const voting = raft.membership.voters.includes(raftId);
    if (voting && !force) throw new TsswarmError(ErrorCodes.QUORUM_AT_RISK, `${m.nodeId} is a voting manager: demote it first (\`tsswarm node demote ${m.nodeId}\`), or use --force`);
    if (voting) await this.checkQuorumAfter(raft.membership.voters.filter((v) => v !== raftId), 'removing');
    if (raftId === this.o.raftId) {
      if (!voting) throw new TsswarmError(ErrorCodes.QUORUM_AT_RISK, 'this manager leads and is not a voter: wait for a voter to lead, then remove it from there');
      return this.handOver('DELETE', `/v1/nodes/${m.nodeId}?force=true`);
    }
    if (voting || raft.membership.learners.includes(raftId)) await this.changeConf({ type: 'removeNode', nodeId: raftId });
    await this.o.store.update((tx) => {
      const c = tx.get('cluster', 'default')!;
      tx.update({ ...c, managers: (c.managers ?? []).filter((x) => x.raftId !== raftId) });
      // Its host's node goes too (its tasks are rescheduled), as `docker node rm` does.
      if (tx.get('node', m.nodeId)) removeNode(tx, m.nodeId);
    });
    return `${m.nodeId} removed from the managers`;
  }

  /**
   * Leadership goes to the most up-to-date other voter that answers; then the request is
   * replayed on the new leader (which changes this manager's membership) and its answer returned.
   */
  private async handOver(method: string, url: string): Promise<string> {
    const raft = this.o.raft();
    const st = raft.core.status();
    const to = raft.membership.voters
      .filter((v) => v !== this.o.raftId && st.progress.get(v)?.recentActive)
      .sort((a, b) => (st.progress.get(b)?.match ?? 0) - (st.progress.get(a)?.match ?? 0))[0];
    if (to === undefined) throw new TsswarmError(ErrorCodes.QUORUM_AT_RISK, 'no other voting manager answers to hand leadership to');
    this.o.log.info({ to }, 'handing leadership over before changing this manager\'s membership');
    raft.transferLeadership(to);
    const until = Date.now() + 5000;
    while (this.isLeader || !this.leaderAddr()) {
      if (Date.now() > until) throw new TsswarmError(ErrorCodes.UNAVAILABLE, 'leadership was not handed over within 5 s; nothing was changed: retry');
      await new Promise((r) => setTimeout(r, 20));
    }
    const parts: Buffer[] = [];
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      let code = 0;
      this.forward({ method, url, headers: {}, body: Buffer.alloc(0) }, {
        head: (s) => { code = s; },
        data: (d) => parts.push(d),
        end: () => resolve({ status: code, body: Buffer.concat(parts).toString('utf8') }),
        error: reject,
        onClose: () => undefined,
      });
    });
    let parsed: { message?: string; code?: string } = {};
    try { parsed = JSON.parse(body) as typeof parsed; } catch { /* not JSON */ }
    if (status >= 400) throw new TsswarmError((parsed.code as TsswarmError['code']) ?? ErrorCodes.INTERNAL, parsed.message ?? body);
    return parsed.message ?? body;
  }

  /**
   * Refuses a change after which the reachable voters would not make a quorum. A leader
   * elected a moment ago (a hand-over) may not have heard every voter yet: it is given one
   * election timeout or so (QUORUM_PATIENCE_MS) for their answers before it refuses.
   */
  private async checkQuorumAfter(voters: number[], what: string): Promise<void> {
    const until = Date.now() + QUORUM_PATIENCE_MS;
    for (;;) {
      const raft = this.o.raft();
      // Heard within the last second, its connection not failed since (as quorumActive counts).
      const reachable = voters.filter((v) => v === this.o.raftId || raft.heardWithin(v, QUORUM_SILENCE_MS)).length;
      const quorum = Math.floor(voters.length / 2) + 1;
      if (voters.length > 0 && reachable >= quorum) return;
      if (voters.length === 0 || Date.now() >= until) {
        throw new TsswarmError(ErrorCodes.QUORUM_AT_RISK, `${what} it would leave ${voters.length} voting manager(s), of which ${reachable} answer: a quorum needs ${quorum}. Bring managers back first.`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }


  member(raftId: number): ManagerMember {
    const m = this.members().find((x) => x.raftId === raftId);
    if (!m) throw new TsswarmError(ErrorCodes.NODE_NOT_FOUND, `no manager with Raft id ${raftId}`);
    return m;
  }

  /** The manager whose node id is `nodeId` (or starts with it). */
  memberByNode(ref: string): ManagerMember | undefined {
    const ms = this.members();
    return ms.find((m) => m.nodeId === ref) ?? (ref.length >= 4 ? ms.filter((m) => m.nodeId.startsWith(ref)).at(0) : undefined);
  }

  // ------------------------------------------------------------------ status

  /** Every manager, its role, reachability and lag, as this manager sees them (the leader's view is authoritative). */
  async status(): Promise<ClusterStatus> {
    const raft = this.o.raft();
    const conf = raft.membership;
    const members = this.members();
    const ids = new Set<number>([...conf.voters, ...conf.learners, ...members.map((m) => m.raftId)]);
    const infos = await Promise.all([...ids].map(async (id): Promise<[number, MemberInfo__Output | undefined]> => {
      if (id === this.o.raftId) return [id, this.self() as MemberInfo__Output];
      const addr = members.find((m) => m.raftId === id)?.addr;
      return [id, addr ? await this.ask(addr) : undefined];
    }));
    const commit = Math.max(raft.commitIndex, ...infos.map(([, i]) => Number(i?.commit ?? 0)));
    const list: ClusterMember[] = infos.map(([id, info]) => {
      const m = members.find((x) => x.raftId === id);
      const voter = conf.voters.includes(id);
      const role = !info ? 'unreachable' : conf.learners.includes(id) ? 'learner'
        : ['leader', 'candidate', 'preCandidate'].includes(info.role) ? info.role : voter ? 'follower' : 'learner';
      return {
        nodeId: m?.nodeId ?? info?.node_id ?? '', raftId: id, addr: m?.addr ?? info?.addr ?? '',
        role: role as ClusterMember['role'], voter, reachable: !!info,
        applied: info ? Number(info.applied) : undefined, lag: info ? Math.max(0, commit - Number(info.applied)) : undefined,
      };
    }).sort((a, b) => (a.role === 'leader' ? -1 : b.role === 'leader' ? 1 : a.addr.localeCompare(b.addr)));
    const voters = conf.voters.length;
    const quorum = Math.floor(voters / 2) + 1;
    const reachableVoters = list.filter((m) => m.voter && m.reachable).length;
    const warnings: string[] = [];
    if (voters > 0 && voters % 2 === 0) warnings.push(`${voters} voting managers tolerate as many failures as ${voters - 1} would (${voters - quorum}): use an odd number`);
    if (reachableVoters < quorum) warnings.push(`no quorum: ${reachableVoters} of ${voters} voting managers answer, ${quorum} are needed`);
    const leader = list.find((m) => m.role === 'leader');
    return { clusterId: this.o.clusterId, answeredBy: this.o.nodeId, leader: leader?.nodeId, quorum, voters, tolerates: Math.max(0, voters - quorum), commitIndex: commit, managers: list, warnings };
  }

  private ask(addr: string): Promise<MemberInfo__Output | undefined> {
    return new Promise((resolve) => this.client(addr).Member({}, { deadline: Date.now() + RPC_DEADLINE_MS }, (err, r) => resolve(err ? undefined : r)));
  }

  /**
   * Leader: the voters it heard from within an election timeout or two make a quorum. Writes
   * are refused at once when they do not (a leader that lost its quorum steps down only after
   * an election timeout; until then its proposals would only hang).
   */
  quorumActive(): { ok: boolean; reachable: number; voters: number; quorum: number } {
    const raft = this.o.raft();
    const voters = raft.membership.voters;
    const reachable = voters.filter((v) => v === this.o.raftId || raft.heardWithin(v, QUORUM_SILENCE_MS)).length;
    const quorum = Math.floor(voters.length / 2) + 1;
    return { ok: reachable >= quorum, reachable, voters: voters.length, quorum };
  }

  /** How many voting managers answer (for the no-quorum message). */
  /**
   * How many voters answer (this manager counts itself). It settles as soon as a quorum has
   * answered, so a dead voter, whose call may hang until its deadline, delays only the
   * no-quorum answer: `reachable` is then at least a quorum, and exact when below one.
   */
  reachableVoters(): Promise<{ reachable: number; voters: number }> {
    const conf = this.o.raft().membership;
    const members = this.members();
    const voters = conf.voters.length;
    const quorum = Math.floor(voters / 2) + 1;
    return new Promise((resolve) => {
      let reachable = 0;
      let pending = voters;
      let done = false;
      const settle = (ok: boolean): void => {
        if (done) return;
        pending--;
        if (ok) reachable++;
        if (reachable >= quorum || pending === 0) {
          done = true;
          resolve({ reachable, voters });
        }
      };
      if (voters === 0) resolve({ reachable: 0, voters: 0 });
      for (const id of conf.voters) {
        if (id === this.o.raftId) settle(true);
        else void this.ask(members.find((m) => m.raftId === id)?.addr ?? '').then((r) => settle(!!r));
      }
    });
  }

  // ------------------------------------------------------------------ forwarding

  /**
   * Sends an API request to the leader; the answer streams into `sink`. While no leader is
   * known, or the one known cannot be reached (nothing was sent), it waits for the next leader
   * and tries again, for up to FORWARD_PATIENCE_MS: a request made during a failover completes
   * on the new leader.
   */
  forward(req: { method: string; url: string; headers: Record<string, string>; body: Buffer }, sink: ForwardSink): void {
    const until = Date.now() + FORWARD_PATIENCE_MS;
    let cancelled = false;
    let cancel = (): void => { cancelled = true; };
    sink.onClose(() => cancel());
    const attempt = (): void => {
      if (cancelled || this.closed) return;
      // Elected meanwhile: this manager answers it itself.
      if (this.isLeader) { this.replay(req, sink); return; }
      const leader = this.leaderAddr();
      // No leader to send it to (none known, or the one known does not answer): refused at once
      // without a quorum, else the next leader is waited for.
      const noLeader = (): void => {
        void this.reachableVoters().then(({ reachable, voters }) => {
          const quorum = Math.floor(voters / 2) + 1;
          if (reachable >= quorum && Date.now() < until) { setTimeout(attempt, 20); return; }
          sink.error(reachable < quorum ? noQuorumError(reachable, voters)
            : new TsswarmError(ErrorCodes.NO_QUORUM, `no leader elected within ${FORWARD_PATIENCE_MS / 1000}s (${reachable} of ${voters} voting managers reachable); nothing was changed: retry`));
        });
      };
      if (!leader || leader === this.o.addr) { noLeader(); return; }
      // Only a request that reached the leader can have been applied: connect first.
      // A short wait, then look again: the leader known may have died, and the next one is
      // elected meanwhile (a dead leader's channel would otherwise hold the request for long).
      const client = this.client(leader);
      client.waitForReady(Math.min(until, Date.now() + FORWARD_CONNECT_WAIT_MS), (err) => {
        if (cancelled) return;
        if (err) { noLeader(); return; }
        send(client, leader);
      });
    };
    const send = (client: ManagerClient, leader: string): void => {
      const call = client.ForwardHttp({ method: req.method, url: req.url, headers: { ...req.headers, [FORWARDED_HEADER]: this.o.addr }, body: req.body });
      cancel = () => { cancelled = true; call.cancel(); };
      let started = false;
      let finished = false;
      // gRPC may report both an error and the end of the stream: the sink hears one of them.
      const finish = (err?: Error): void => {
        if (finished) return;
        finished = true;
        if (started) sink.end();
        else sink.error(err ?? new TsswarmError(ErrorCodes.UNAVAILABLE, `the leader at ${leader} ended the request without an answer`));
      };
      call.on('data', (c: HttpChunk & { status: number; headers: Record<string, string>; data: Buffer }) => {
        if (finished) return;
        if (!started) {
          started = true;
          sink.head(c.status, c.headers);
        }
        if (c.data?.length) sink.data(c.data);
      });
      call.on('end', () => finish());
      call.on('error', (e: grpc.ServiceError) => {
        if (finished || cancelled) return;
        const notSent = !started && e.code === grpc.status.UNAVAILABLE && /No connection established|ECONNREFUSED|connect/i.test(e.details ?? '');
        const read = req.method === 'GET' || req.method === 'HEAD';
        // Not sent, or a read (harmless to repeat) that got no answer: try the next leader.
        if ((notSent || (read && !started)) && Date.now() < until) {
          finished = true;
          setTimeout(attempt, 50);
          return;
        }
        finish(new TsswarmError(notSent || read ? ErrorCodes.UNAVAILABLE : ErrorCodes.OUTCOME_UNKNOWN, notSent || read
          ? `cannot reach the leader at ${leader} (${e.details || e.message}); nothing was changed: retry`
          : `the leader at ${leader} failed while handling the request (${e.details || e.message}): the change may or may not have been applied; check before retrying`));
      });
    };
    attempt();
  }

  /** The leader's end: replay the request on its own API socket and stream the answer back. */
  private serveForwarded(call: grpc.ServerWritableStream<HttpRequest__Output, HttpChunk>): void {
    const r = call.request;
    this.replay({ method: r.method, url: r.url, headers: r.headers ?? {}, body: r.body ?? Buffer.alloc(0) }, {
      head: (status, headers) => call.write({ status, headers, data: Buffer.alloc(0) }),
      data: (d) => call.write({ status: 0, headers: {}, data: d }),
      end: () => call.end(),
      error: (e) => call.destroy(e),
      onClose: (fn) => call.on('cancelled', fn),
    });
  }

  /** Runs an API request on this manager's own socket, the answer into `sink`. */
  private replay(r: { method: string; url: string; headers: Record<string, string>; body: Buffer }, sink: ForwardSink): void {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers)) if (!['host', 'connection', 'transfer-encoding'].includes(k.toLowerCase())) headers[k] = v;
    headers['content-length'] = String(r.body.length);
    const req = request({ socketPath: this.o.apiSocket, method: r.method, path: r.url, headers }, (res) => {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string' && k !== 'connection' && k !== 'transfer-encoding') out[k] = v;
      sink.head(res.statusCode ?? 500, out);
      res.on('data', (d: Buffer) => sink.data(d));
      res.on('end', () => sink.end());
      res.on('error', () => sink.end());
    });
    req.on('error', (e) => sink.error(e));
    sink.onClose(() => req.destroy());
    req.end(r.body);
  }

  /** New credentials: connections to other managers are made again with them. */
  resetClients(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  close(): void {
    this.closed = true;
    this.stopLeading();
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

export interface ForwardSink {
  head(status: number, headers: Record<string, string>): void;
  data(d: Buffer): void;
  end(): void;
  error(e: Error): void;
  onClose(fn: () => void): void;
}

/** The answer to a change (or a consistent read) while too few voting managers answer. */
export function noQuorumError(reachable: number, voters: number): TsswarmError {
  const quorum = Math.floor(voters / 2) + 1;
  return new TsswarmError(ErrorCodes.NO_QUORUM, `no quorum: ${reachable} of ${voters} voting managers reachable, ${quorum} needed; nothing was changed. See \`tsswarm cluster status\``);
}

/** The certificates of a node to keep: the new one, and older ones until they expire (at most 3). */
export function keepCerts(cur: IssuedCert[] | undefined, added: IssuedCert, now: number): IssuedCert[] {
  return [added, ...(cur ?? []).filter((c) => c.notAfter > now && c.serial !== added.serial)].slice(0, 3);
}

function grpcError(e: Error, leader?: string): Partial<grpc.StatusObject> {
  if ('code' in e && typeof (e as grpc.ServiceError).code === 'number' && (e as grpc.ServiceError).metadata) return e as grpc.ServiceError;
  const code = e instanceof TsswarmError ? e.code : ErrorCodes.INTERNAL;
  const md = new grpc.Metadata();
  md.set('tsswarm-code', code);
  if (leader) md.set(LEADER_ADDR_METADATA, leader);
  const status = code === ErrorCodes.TOKEN_INVALID || code === ErrorCodes.PERMISSION_DENIED ? grpc.status.PERMISSION_DENIED
    : code === ErrorCodes.UNAUTHENTICATED ? grpc.status.UNAUTHENTICATED
      : code === ErrorCodes.NO_QUORUM || code === ErrorCodes.UNAVAILABLE ? grpc.status.UNAVAILABLE : grpc.status.FAILED_PRECONDITION;
  // Internal errors are logged by the caller, never sent (they may hold anything).
  return { code: status, details: code === ErrorCodes.INTERNAL ? 'internal error' : e.message, metadata: md };
}

/** A gRPC error from another manager as the TsswarmError it carried. */
export function fromGrpc(e: grpc.ServiceError): Error {
  const code = e.metadata?.get('tsswarm-code')?.[0];
  if (typeof code === 'string' && code.startsWith('TSW_ERR_')) return new TsswarmError(code as TsswarmError['code'], e.details);
  return new TsswarmError(ErrorCodes.UNAVAILABLE, e.details || e.message);
}

export type { ClusterObj };
