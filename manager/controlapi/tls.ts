// The API over HTTPS, for remote CLIs: mutual TLS, where the client certificate is the only
// credential. The same fastify app as the unix socket answers; what differs is who may ask.
//
// The TLS layer asks for a certificate but accepts any (`rejectUnauthorized: false`): a client
// without valid credentials gets an HTTP answer saying why (TSW_ERR_UNAUTHENTICATED), not a
// handshake failure it would have to guess at. The decision is the `onRequest` hook's
// (`tlsAuthHook`, the app's first), before anything is read or changed:
//   no certificate, or one the cluster CA does not verify (expired, another CA)  -> 401
//   verified, but another cluster's, a worker's, or a client's no longer listed  -> 403
// A client certificate counts while its serial is in the cluster object's `clientCerts` (so
// revoking one takes effect on the next request, even on a kept-alive connection); a manager's
// while its CN is a current manager's node id. The unix socket is left as it is: its 0600
// mode is its access control.

import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ClusterObj } from '../../common/api/objects.js';
import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import type { Store } from '../store/store.js';

/** The manager's TLS material for the HTTPS API. */
export interface HttpsTls {
  /** The manager's certificate, then any intermediates (a cross-signed root during a CA rotation). */
  certPem: string;
  keyPem: string;
  /** The roots client certificates are verified against (more than one during a CA rotation). */
  caPems: string[];
  /** The cluster a client certificate must belong to (its subject's O). */
  clusterId: string;
}

export interface HttpsListener {
  /** The port bound (the one asked for, or the one the system chose for port 0). */
  port: number;
  /** New certificate, key, CAs: for connections made from now on (renewal, CA rotation). */
  update(tls: HttpsTls): void;
  /** Stops listening and ends every connection (streams included). */
  close(): Promise<void>;
}

/** What a connection's client certificate said, read once when the handshake finished. */
export interface PeerCert {
  /** A certificate was presented. */
  present: boolean;
  /** It chains to one of the CAs and is within its validity (OpenSSL's verdict). */
  verified: boolean;
  /** Why it was not verified (OpenSSL's code, e.g. CERT_HAS_EXPIRED). */
  verifyError?: string;
  /** Subject: O (cluster id), OU (role), CN (node id or client name); absent when not exactly one. */
  o?: string;
  ou?: string;
  cn?: string;
  /** Lower-case hex, without leading zeros. */
  serial?: string;
  /** End of validity, ms. */
  notAfter?: number;
}

export type PeerVerdict = { ok: true; who: string } | { ok: false; code: typeof ErrorCodes.UNAUTHENTICATED | typeof ErrorCodes.PERMISSION_DENIED; reason: string };

/** A serial as the API compares it: lower-case hex without leading zeros ("0" for zero). */
export const normaliseSerial = (s: string): string => s.replace(/:/g, '').toLowerCase().replace(/^0+(?=.)/, '');

/**
 * Whether a request over a connection with `peer` may use the API of cluster `clusterId`,
 * whose cluster object is `cluster`. Pure: the hook gives it the store's current view.
 */
export function judgePeer(peer: PeerCert, clusterId: string, cluster: Pick<ClusterObj, 'managers' | 'clientCerts'> | undefined, now: number): PeerVerdict {
  const unauth = (reason: string): PeerVerdict => ({ ok: false, code: ErrorCodes.UNAUTHENTICATED, reason });
  const denied = (reason: string): PeerVerdict => ({ ok: false, code: ErrorCodes.PERMISSION_DENIED, reason });
  if (!peer.present) return unauth('no client certificate: use the bundle `tsswarm cluster client-cert` wrote (--tlscacert, --tlscert, --tlskey, or --context)');
  if (!peer.verified) {
    const why = peer.verifyError === 'CERT_HAS_EXPIRED' ? 'it has expired' : `it is not signed by this cluster's CA (${peer.verifyError ?? 'not verified'})`;
    return unauth(`the client certificate was refused: ${why}`);
  }
  // A connection kept open past the certificate's end is refused from then on.
  if (peer.notAfter !== undefined && peer.notAfter <= now) return unauth('the client certificate was refused: it has expired');
  const who = `${peer.ou ?? '?'} ${JSON.stringify(peer.cn ?? '')}`;
  if (peer.o !== clusterId) return denied(`the certificate (${who}) belongs to another cluster (${JSON.stringify(peer.o ?? '')})`);
  switch (peer.ou) {
    case 'client': {
      const serial = peer.serial !== undefined ? normaliseSerial(peer.serial) : undefined;
      const listed = (cluster?.clientCerts ?? []).some((c) => c.name === peer.cn && normaliseSerial(c.serial) === serial);
      return listed ? { ok: true, who } : denied(`the client certificate ${JSON.stringify(peer.cn ?? '')} was revoked or replaced (serial ${serial ?? '?'} is not one this cluster lists)`);
    }
    case 'manager': {
      const current = (cluster?.managers ?? []).some((m) => m.nodeId === peer.cn);
      return current ? { ok: true, who } : denied(`the manager certificate ${JSON.stringify(peer.cn ?? '')} is not a current manager's`);
    }
    case 'worker': return denied(`a worker's certificate (${JSON.stringify(peer.cn ?? '')}) may not use the API`);
    default: return denied(`the certificate's role ${JSON.stringify(peer.ou ?? '')} may not use the API`);
  }
}

/** One subject attribute, when there is exactly one. */
const one = (v: string | string[] | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

/** What a connection's client certificate says (after the handshake). */
export function peerOf(socket: TLSSocket): PeerCert {
  const c = socket.getPeerCertificate() as PeerCertificate | Record<string, never>;
  if (!c || !('raw' in c) || !c.raw) return { present: false, verified: false };
  const subject = (c.subject ?? {}) as unknown as Record<string, string | string[] | undefined>;
  const notAfter = Date.parse(c.valid_to);
  return {
    present: true,
    verified: socket.authorized,
    verifyError: socket.authorizationError ? String((socket.authorizationError as Error & { code?: string }).code ?? socket.authorizationError) : undefined,
    o: one(subject.O), ou: one(subject.OU), cn: one(subject.CN),
    serial: c.serialNumber ? normaliseSerial(c.serialNumber) : undefined,
    notAfter: Number.isFinite(notAfter) ? notAfter : undefined,
  };
}

/** What listenHttps leaves on each TLS socket for the hook. */
interface ConnAuth {
  peer: PeerCert;
  /** The cluster id the listener had when the connection was made. */
  clusterId: string;
  /** A refusal on this connection was logged (once per connection). */
  logged: boolean;
}
const CONN = Symbol('tsswarm.httpsAuth');
type AuthSocket = TLSSocket & { [CONN]?: ConnAuth };

/**
 * The app's first `onRequest` hook (server.ts): requests over TLS pass only with a client
 * certificate judgePeer accepts; others (the unix socket) are not its business.
 */
export function tlsAuthHook(store: Store, log: Logger) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const socket = req.raw.socket as AuthSocket;
    if (!(socket as Partial<TLSSocket>).encrypted) return;
    const conn = socket[CONN];
    const verdict: PeerVerdict = conn
      ? judgePeer(conn.peer, conn.clusterId, store.view((tx) => tx.get('cluster', 'default')), Date.now())
      : { ok: false, code: ErrorCodes.UNAUTHENTICATED, reason: 'a TLS connection the HTTPS listener did not accept' };
    if (verdict.ok) return;
    if (!conn?.logged) {
      if (conn) conn.logged = true;
      log.warn({ peer: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, reason: verdict.reason }, 'refused an HTTPS API request');
    }
    throw new TsswarmError(verdict.code, verdict.reason);
  };
}

/** "host:port" (IPv6 in brackets) as the parts `listen` takes. */
export function parseListenAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `invalid HTTPS API address ${JSON.stringify(addr)}: use HOST:PORT (IPv6 as [ADDR]:PORT)`);
  return { host: m[1] ?? m[2]!, port };
}

const contextOptions = (tls: HttpsTls) => ({ cert: tls.certPem, key: tls.keyPem, ca: tls.caPems, minVersion: 'TLSv1.2' as const });

/**
 * Serves `app` over HTTPS at `addr` (host:port; port 0: any), requiring client certificates
 * (see the top of this file). The app is made ready first; its unix socket, if any, is
 * unaffected. Closing the app does not close this listener: close it too.
 */
export async function listenHttps(app: FastifyInstance, addr: string, tls: HttpsTls): Promise<HttpsListener> {
  const { host, port } = parseListenAddr(addr);
  if (tls.caPems.length === 0) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'the HTTPS API needs at least one CA certificate to verify clients with');
  await app.ready();
  let clusterId = tls.clusterId;
  const server: Server = createServer({ ...contextOptions(tls), requestCert: true, rejectUnauthorized: false }, (req: IncomingMessage, res: ServerResponse) => app.routing(req, res));
  server.on('secureConnection', (socket: AuthSocket) => {
    socket[CONN] = { peer: peerOf(socket), clusterId, logged: false };
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (e: Error) => reject(new TsswarmError(ErrorCodes.UNAVAILABLE, `cannot listen for HTTPS on ${addr}: ${e.message}`));
    server.once('error', failed);
    server.listen(port, host, () => { server.off('error', failed); resolve(); });
  });
  const bound = server.address();
  return {
    port: typeof bound === 'object' && bound ? bound.port : port,
    update(next: HttpsTls) {
      if (next.caPems.length === 0) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'the HTTPS API needs at least one CA certificate to verify clients with');
      // Throws (and changes nothing) on a key that does not match its certificate.
      server.setSecureContext(contextOptions(next));
      clusterId = next.clusterId;
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
