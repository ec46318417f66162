// TLS on 127.0.0.1 for the certificate tests: a server presenting a chain, and one handshake.

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';

export interface Side { authorized: boolean; error?: string; peer?: tls.PeerCertificate }

/** A TLS server on an ephemeral port presenting `cert` (a PEM chain, leaf first). */
export async function tlsServer(opts: tls.TlsOptions): Promise<{ addr: string; port: number; server: tls.Server; close: () => Promise<void> }> {
  const server = tls.createServer(opts, (s) => {
    s.on('error', () => {});
    s.on('data', (d) => s.end(`echo:${d}`));
  });
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { addr: `127.0.0.1:${port}`, port, server, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * One TLS connection: the server asks for a client certificate; `strict` says whether it
 * refuses one that does not verify. The client says `hi` and waits for the echo.
 */
export async function handshake(
  server: { cert: string; key: string; ca: string | string[]; strict: boolean },
  client: { cert?: string; key?: string; ca: string | string[]; servername?: string },
): Promise<{ server?: Side; client?: Side; clientError?: NodeJS.ErrnoException; serverError?: NodeJS.ErrnoException; echoed?: string }> {
  const srv = tls.createServer({ cert: server.cert, key: server.key, ca: server.ca, requestCert: true, rejectUnauthorized: server.strict });
  const serverSide = new Promise<Side>((resolve) => {
    srv.on('secureConnection', (s) => {
      resolve({ authorized: s.authorized, error: s.authorizationError ? String(s.authorizationError) : undefined, peer: s.getPeerCertificate() });
      s.on('data', (d) => s.end(`echo:${d}`));
      s.on('error', () => {});
    });
  });
  const serverError = new Promise<NodeJS.ErrnoException>((resolve) => srv.on('tlsClientError', resolve));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as AddressInfo;
  const sock = tls.connect({ host: '127.0.0.1', port, cert: client.cert, key: client.key, ca: client.ca, servername: client.servername });
  try {
    const outcome = await new Promise<{ client?: Side; clientError?: NodeJS.ErrnoException; echoed?: string }>((resolve) => {
      let data = '';
      sock.on('error', (err) => resolve({ clientError: err }));
      sock.on('secureConnect', () => {
        sock.write('hi');
        sock.on('data', (d) => (data += d));
        sock.on('end', () => resolve({ client: { authorized: sock.authorized }, echoed: data }));
      });
      sock.on('close', () => resolve({ clientError: Object.assign(new Error('closed'), { code: 'CLOSED' }) }));
    });
    const first = await Promise.race([serverSide.then((s) => ({ s })), serverError.then((e) => ({ e }))]);
    return { ...outcome, server: 's' in first ? first.s : undefined, serverError: 'e' in first ? first.e : undefined };
  } finally {
    sock.destroy();
    await new Promise((r) => srv.close(r));
  }
}
