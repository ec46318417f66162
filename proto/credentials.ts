// Mutual TLS for every gRPC connection between tsswarm's processes (docs/identity.md).
//
// A node (manager or agent) holds one NodeCredentials: its private key, its certificate (with
// the cross-signed intermediate during a CA rotation) and the roots it trusts. Servers and
// channels made from it read them through grpc-js certificate providers, so a renewed
// certificate or a rotated CA takes effect for new connections without restarting anything.
//
// Who is on the other end is decided by the certificate, never by what a peer says:
// - a server asks every client for a certificate but does not require one at the TLS level
//   (a joiner has none yet and must reach Join); each RPC then reads the verified certificate
//   (`peerCertificate`) and the manager decides what that node may do;
// - a client accepts only a manager's certificate of its cluster, whatever the address it
//   dialled (managers are reached by IP, by name, through NAT): the name checked is the fixed
//   `tsswarm-manager`, which every manager certificate carries, and the role and cluster in the
//   subject are checked too.

import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { ErrorCodes, TsswarmError } from '../common/errors.js';

/** The name every manager certificate carries (SAN DNS) and clients verify. */
export const MANAGER_SERVERNAME = 'tsswarm-manager';

export type PeerRole = 'manager' | 'worker' | 'client';

export interface TlsMaterial {
  /** PKCS#8 PEM. */
  keyPem: string;
  /** The certificate, followed by any intermediate (PEM). */
  certPem: string;
  /** The roots trusted (PEM each): one, or two during a CA rotation. */
  caPems: string[];
}

/** Who a verified certificate names. */
export interface PeerIdentity {
  nodeId: string;
  role: PeerRole;
  clusterId: string;
  /** Lower-case hex, no leading zeros. */
  serial: string;
}

type CaListener = (u: { caCertificate: Buffer } | null) => void;
type IdListener = (u: { certificate: Buffer; privateKey: Buffer } | null) => void;

/**
 * A certificate provider holding material in memory (grpc-js reads it; set() pushes a change).
 * Until it has material, servers using it accept no TLS connection and channels wait.
 */
class MemoryProvider {
  private readonly ca = new Set<CaListener>();
  private readonly id = new Set<IdListener>();
  constructor(private m: TlsMaterial | undefined) {}
  set(m: TlsMaterial): void {
    this.m = m;
    for (const l of this.ca) l(this.caUpdate());
    for (const l of this.id) l(this.idUpdate());
  }
  private caUpdate() { return this.m ? { caCertificate: Buffer.from(this.m.caPems.join('\n')) } : null; }
  // The roots go out with the certificate: a joiner pins the root by its digest in what it is sent.
  private idUpdate() { return this.m ? { certificate: Buffer.from([this.m.certPem, ...this.m.caPems].map((c) => c.trimEnd()).join('\n') + '\n'), privateKey: Buffer.from(this.m.keyPem) } : null; }
  // A new listener hears the current material on the next microtask, not synchronously: grpc-js
  // server credentials register their own watcher only after adding these listeners, and an
  // update given before that would never reach the server (it would then refuse every handshake).
  addCaCertificateListener(l: CaListener): void { this.ca.add(l); queueMicrotask(() => { if (this.m && this.ca.has(l)) l(this.caUpdate()); }); }
  removeCaCertificateListener(l: CaListener): void { this.ca.delete(l); }
  addIdentityCertificateListener(l: IdListener): void { this.id.add(l); queueMicrotask(() => { if (this.m && this.id.has(l)) l(this.idUpdate()); }); }
  removeIdentityCertificateListener(l: IdListener): void { this.id.delete(l); }
}

/** Options every tsswarm channel to a manager carries: the fixed name manager certificates hold. */
export const MANAGER_CHANNEL_OPTIONS = { 'grpc.ssl_target_name_override': MANAGER_SERVERNAME } as const;

export class NodeCredentials {
  private readonly provider: MemoryProvider;
  private server?: grpc.ServerCredentials;
  private channel?: grpc.ChannelCredentials;
  private readonly listeners = new Set<(m: TlsMaterial) => void>();

  /**
   * `clusterId`: the cluster whose managers this node talks to. Material may come later (a
   * joining manager binds its port first): update() gives it.
   */
  constructor(private m: TlsMaterial | undefined, public clusterId: string) {
    this.provider = new MemoryProvider(m);
  }

  get material(): TlsMaterial {
    if (!this.m) throw new TsswarmError(ErrorCodes.UNAVAILABLE, 'this node has no certificate yet');
    return this.m;
  }

  get ready(): boolean { return this.m !== undefined; }

  /** New material (a renewed certificate, a rotated CA): used by every new connection. */
  update(m: TlsMaterial, clusterId?: string): void {
    if (clusterId) this.clusterId = clusterId;
    this.m = m;
    this.provider.set(m);
    for (const l of this.listeners) l(m);
  }

  onUpdate(fn: (m: TlsMaterial) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** For a manager's gRPC server: TLS with its certificate, asking (not requiring) a client certificate. */
  serverCredentials(): grpc.ServerCredentials {
    this.server ??= grpc.experimental.createCertificateProviderServerCredentials(this.provider, this.provider, false);
    return this.server;
  }

  /** For a channel to a manager: presents this node's certificate, accepts only a manager of this cluster. */
  channelCredentials(): grpc.ChannelCredentials {
    this.channel ??= grpc.experimental.createCertificateProviderChannelCredentials(this.provider, this.provider, {
      checkServerIdentity: (_host, cert) => checkManager(cert, this.clusterId),
    });
    return this.channel;
  }
}

/**
 * A channel for a joiner: no certificate of its own yet, trusting only the roots it pinned by
 * the join token's digest; the server must still be a manager (its cluster is not known yet).
 */
export function joinerChannelCredentials(caPems: string[]): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(Buffer.from(caPems.join('\n')), null, null, {
    checkServerIdentity: (_host, cert) => checkManager(cert, undefined),
  });
}

function checkManager(cert: PeerCertificate, clusterId: string | undefined): Error | undefined {
  const id = identityOf(cert);
  if (!id || id.role !== 'manager') return new Error(`the server's certificate is not a tsswarm manager's (subject ${subjectText(cert)})`);
  if (clusterId && id.clusterId !== clusterId) return new Error(`the server is a manager of another cluster (${id.clusterId}, not ${clusterId})`);
  return undefined;
}

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v);

/** The identity a verified certificate names, if it has the shape tsswarm issues. */
export function identityOf(cert: PeerCertificate | undefined): PeerIdentity | undefined {
  if (!cert?.subject) return undefined;
  const cn = one(cert.subject.CN);
  const ou = one(cert.subject.OU);
  const o = one(cert.subject.O);
  if (!cn || !o || (ou !== 'manager' && ou !== 'worker' && ou !== 'client')) return undefined;
  return { nodeId: cn, role: ou, clusterId: o, serial: normalSerial(cert.serialNumber ?? '') };
}

/** Serial numbers compared as lower-case hex without leading zeros. */
export const normalSerial = (hex: string): string => hex.toLowerCase().replace(/^0+(?=.)/, '');

function subjectText(cert: PeerCertificate): string {
  return JSON.stringify(cert.subject ?? {}).slice(0, 200);
}

/**
 * The verified certificate of the peer of a server call, if it presented one the server's
 * roots vouch for (grpc-js gives it only when the TLS handshake verified it).
 */
export function peerIdentity(call: { getAuthContext(): { sslPeerCertificate?: PeerCertificate } }): PeerIdentity | undefined {
  return identityOf(call.getAuthContext().sslPeerCertificate);
}

/** The gRPC error a refused peer gets. */
export function refusal(code: 'unauthenticated' | 'denied', message: string): grpc.ServiceError {
  const md = new grpc.Metadata();
  md.set('tsswarm-code', code === 'unauthenticated' ? ErrorCodes.UNAUTHENTICATED : ErrorCodes.PERMISSION_DENIED);
  return Object.assign(new Error(message), {
    code: code === 'unauthenticated' ? grpc.status.UNAUTHENTICATED : grpc.status.PERMISSION_DENIED,
    details: message, metadata: md,
  });
}

