// The joining and renewing side of node identity, shared by agents and managers
// (docs/identity.md):
//
//   join   the token names the cluster CA by digest; the joiner fetches the manager's
//          certificate chain over a bare TLS handshake (nothing sent), keeps the root whose
//          digest matches the token and refuses anything else (no trust on first use), then,
//          over TLS verified against that root, sends the token with a CSR for a key it made
//          itself. The manager answers with the node's certificate (its id and role inside).
//   renew  a node authenticated by its current certificate sends a CSR for a fresh key and
//          gets a new certificate for the same identity; only the leader issues (it records
//          the serial), so a follower answers with the leader's address and the node asks there.

import * as grpc from '@grpc/grpc-js';
import { certInfo, createCsr, fetchPinnedCA, newKeyPem } from '../common/pki.js';
import { ErrorCodes, TsswarmError } from '../common/errors.js';
import { parseJoinToken } from '../common/token.js';
import { joinerChannelCredentials, MANAGER_CHANNEL_OPTIONS, type NodeCredentials, type TlsMaterial } from './credentials.js';
import { loadProto } from './load.js';
import type { ProtoGrpcType } from './gen/manager.js';
import type { ManagerClient } from './gen/tsswarm/manager/v1/Manager.js';
import type { JoinResponse__Output } from './gen/tsswarm/manager/v1/JoinResponse.js';

const managerProto = (): ProtoGrpcType => loadProto<ProtoGrpcType>('manager.proto');

/** Trailing metadata naming the leader, on an RPC only the leader answers. */
export const LEADER_ADDR_METADATA = 'tsswarm-leader';

export interface JoinRequestOptions {
  token: string;
  role: 'manager' | 'worker';
  /** The node id asked for (the manager may give another: use the answer's). */
  nodeId: string;
  hostname: string;
  /** Managers: their Raft id and the address other managers reach them at. */
  raftId?: number;
  addr?: string;
}

export interface Joined extends TlsMaterial {
  nodeId: string;
  clusterId: string;
  managers: { raftId: number; addr: string; nodeId: string }[];
  /** Managers only: the cluster's data key. */
  dataKey?: Buffer;
}

/** Joins the cluster of the manager at `addr` (host:port): see the top of this file. */
export async function joinCluster(addr: string, req: JoinRequestOptions, timeoutMs = 30_000): Promise<Joined> {
  const { caDigest } = parseJoinToken(req.token);
  const caPems = await fetchPinnedCA(addr, caDigest, Math.min(timeoutMs, 10_000));
  const keyPem = newKeyPem();
  const csr = await createCsr(keyPem, req.nodeId);
  const Ctor = managerProto().tsswarm.manager.v1.Manager;
  const client = new Ctor(addr, joinerChannelCredentials(caPems), { ...MANAGER_CHANNEL_OPTIONS });
  let r: JoinResponse__Output;
  try {
    r = await new Promise<JoinResponse__Output>((resolve, reject) => {
      client.Join({ token: req.token, role: req.role, node_id: req.nodeId, raft_id: req.raftId ?? 0, addr: req.addr ?? '', csr, hostname: req.hostname }, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(fromGrpc(err, addr)) : resolve(res!)));
    });
  } finally {
    client.close();
  }
  const info = certInfo(r.cert_pem);
  if (info.commonName !== r.node_id || info.role !== req.role) {
    throw new TsswarmError(ErrorCodes.INTERNAL, `the manager at ${addr} issued a certificate for ${info.role ?? '?'} ${info.commonName}, not for ${req.role} ${r.node_id}`);
  }
  return {
    keyPem, certPem: r.cert_pem, caPems: r.ca_pems.length ? r.ca_pems : caPems,
    nodeId: r.node_id, clusterId: r.cluster_id,
    managers: r.managers.map((m) => ({ raftId: Number(m.raft_id), addr: m.addr, nodeId: m.node_id })),
    dataKey: r.data_key?.length ? Buffer.from(r.data_key) : undefined,
  };
}

/**
 * A new certificate (for a fresh key) for the identity `creds` holds, from the leader: the
 * managers in `addrs` are asked in turn, and a follower's answer naming the leader is followed.
 */
export async function renewCertificate(creds: NodeCredentials, addrs: string[], timeoutMs = 10_000): Promise<TlsMaterial> {
  const keyPem = newKeyPem();
  const csr = await createCsr(keyPem, certInfo(creds.material.certPem).commonName);
  const tried = new Set<string>();
  const queue = [...addrs];
  let last: Error | undefined;
  while (queue.length) {
    const addr = queue.shift()!;
    if (tried.has(addr)) continue;
    tried.add(addr);
    const Ctor = managerProto().tsswarm.manager.v1.Manager;
    const client: ManagerClient = new Ctor(addr, creds.channelCredentials(), { ...MANAGER_CHANNEL_OPTIONS });
    try {
      const r = await new Promise<{ cert_pem: string; ca_pems: string[] }>((resolve, reject) => {
        client.Renew({ csr }, { deadline: Date.now() + timeoutMs }, (err, res) => {
          if (!err) return resolve(res!);
          const leader = err.metadata?.get(LEADER_ADDR_METADATA)?.[0];
          if (typeof leader === 'string' && leader && !tried.has(leader)) queue.unshift(leader);
          reject(fromGrpc(err, addr));
        });
      });
      return { keyPem, certPem: r.cert_pem, caPems: r.ca_pems.length ? r.ca_pems : creds.material.caPems };
    } catch (e) {
      last = e as Error;
    } finally {
      client.close();
    }
  }
  throw last ?? new TsswarmError(ErrorCodes.UNAVAILABLE, 'no manager to renew the certificate with');
}

/** A gRPC error as the TsswarmError it carried (code in metadata), or UNAVAILABLE naming the address. */
export function fromGrpc(e: grpc.ServiceError, addr: string): TsswarmError {
  const code = e.metadata?.get('tsswarm-code')?.[0];
  if (typeof code === 'string' && code.startsWith('TSW_ERR_')) return new TsswarmError(code as TsswarmError['code'], e.details);
  if (e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED) {
    return new TsswarmError(ErrorCodes.UNAVAILABLE, `cannot reach a manager at ${addr} (${e.details || e.message}); check the address and that its --listen-addr is reachable from here`);
  }
  return new TsswarmError(ErrorCodes.UNAVAILABLE, `${addr}: ${e.details || e.message}`);
}
