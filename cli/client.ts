// The CLI's HTTP transport: a JSON call, or a response stream, to the manager at an Endpoint
// (cli/args.ts reads --host / TSSWARM_HOST / a context into one). cli/api.ts holds the routes.
//
// An https:// manager is reached with mutual TLS: the client certificate the cluster issued
// (`cluster client-cert`), and the manager's certificate checked against the bundle's CA.
// Not against the host name: managers are reached by any address (as Swarm's
// `swarm-manager`), so what is checked is that the certificate is a manager's (OU=manager) of
// the cluster that issued the client's own (O), under the name `tsswarm-manager`.
//
// Two cluster matters live here, for every route at once: `--consistent` (every GET asks for
// a linearizable read through the leader: `consistent=true` in its query), and answers a
// manager computed while it knew no leader (header `x-tsswarm-stale`), which are reported once.

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { PeerCertificate } from 'node:tls';
import { ErrorCodes, TsswarmError, type ErrorDetail } from '../common/errors.js';
import type { Endpoint, TlsFiles } from './args.js';
import type { Io } from './io.js';
import { staleWarning } from './render.js';

/** Set on answers a manager computed from its own state while it knew no leader; the value says why. */
export const STALE_HEADER = 'x-tsswarm-stale';

export interface ClientOptions {
  /** Every GET is a consistent read (`consistent=true`): the leader answers, after a ReadIndex barrier. */
  consistent?: boolean;
  /** Called once, with the header's reason, on the first answer marked stale. */
  onStale?: (reason: string) => void;
}

/** An answer's status and headers, and its body as a stream. */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  stream: NodeJS.ReadableStream;
}

export class ApiClient {
  /** The reason given by the first answer marked stale (absent: none was). */
  stale?: string;

  private tls?: TlsOptions;

  constructor(readonly endpoint: Endpoint, readonly options: ClientOptions = {}) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.request<T>(method, path, body)).body;
  }

  /** A JSON call, with the answer's headers. */
  async request<T>(method: string, path: string, body?: unknown): Promise<{ body: T; headers: IncomingHttpHeaders }> {
    const res = await this.raw(method, path, body);
    const text = await readAll(res.stream);
    if (res.status >= 400) throw errorFrom(res.status, text);
    let parsed: T;
    try { parsed = (text ? JSON.parse(text) : undefined) as T; } catch { parsed = { message: text } as T; }
    return { body: parsed, headers: res.headers };
  }

  /** A streaming call: resolves with the response stream once headers arrived. */
  raw(method: string, path: string, body?: unknown): Promise<RawResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const url = method === 'GET' && this.options.consistent ? withQuery(path, 'consistent=true') : path;
    const tls = this.endpoint.tls && (this.tls ??= tlsOptions(this.endpoint.tls));
    return new Promise((resolve, reject) => {
      const opts = {
        socketPath: this.endpoint.socketPath, host: this.endpoint.host, port: this.endpoint.port,
        method, path: url,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
      };
      const onResponse = (res: IncomingMessage) => {
        this.noteStale(res.headers);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, stream: res });
      };
      const req: ClientRequest = tls ? httpsRequest({ ...opts, ...tls }, onResponse) : request(opts, onResponse);
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (['ENOENT', 'ECONNREFUSED', 'EACCES'].includes(err.code ?? '')) {
          reject(new TsswarmError(ErrorCodes.UNAVAILABLE, `cannot reach a tsswarm manager at ${this.endpoint.display} (${err.code}). Is \`tsswarm manager\` running? Use --host or TSSWARM_HOST to point elsewhere.`, [], 503));
        } else if (tls) reject(tlsError(err, this.endpoint));
        else reject(err);
      });
      if (payload) req.write(payload);
      req.end();
    });
  }

  private noteStale(headers: IncomingHttpHeaders): void {
    const v = headers[STALE_HEADER];
    if (v === undefined || this.stale !== undefined) return;
    this.stale = header(v).slice(0, 200) || 'no reason given';
    this.options.onStale?.(this.stale);
  }
}

/** What an https request adds: the files' contents, and the manager check. */
interface TlsOptions {
  ca: string;
  cert: string;
  key: string;
  servername: string;
  checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
  agent: false;
}

/** The name a manager's certificate carries (SAN DNS) whatever address it is reached at. */
export const MANAGER_SERVERNAME = 'tsswarm-manager';

/** One subject attribute, when there is exactly one. */
const attr = (subject: unknown, k: string): string | undefined => {
  const v = (subject as Record<string, unknown> | undefined)?.[k];
  return typeof v === 'string' ? v : undefined;
};

/**
 * Whether `cert` is a tsswarm manager's of cluster `clusterId` (when known): the server check
 * that stands in for the host name's. Returns the error to refuse the connection with.
 */
export function checkManagerCert(cert: PeerCertificate, clusterId: string | undefined): Error | undefined {
  const ou = attr(cert.subject, 'OU');
  const o = attr(cert.subject, 'O');
  if (ou !== 'manager') return Object.assign(new Error(`the server's certificate is not a tsswarm manager's (OU=${ou ?? 'none'})`), { code: 'TSW_NOT_A_MANAGER' });
  if (clusterId !== undefined && o !== clusterId) return Object.assign(new Error(`the manager's certificate is of another cluster (${o ?? 'none'}; the client certificate is of ${clusterId})`), { code: 'TSW_NOT_A_MANAGER' });
  return undefined;
}

function readTlsFile(path: string, what: string): string {
  try { return readFileSync(path, 'utf8'); } catch (e) {
    throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The files' contents and the manager check; the cluster is the one that issued the client certificate (its O). */
export function tlsOptions(files: TlsFiles): TlsOptions {
  const ca = readTlsFile(files.ca, 'CA certificate (--tlscacert, ca.pem)');
  const cert = readTlsFile(files.cert, 'client certificate (--tlscert, cert.pem)');
  const key = readTlsFile(files.key, 'client key (--tlskey, key.pem)');
  let clusterId: string | undefined;
  try {
    clusterId = attr(Object.fromEntries(new X509Certificate(cert).subject.split('\n').map((l) => { const i = l.indexOf('='); return [l.slice(0, i), l.slice(i + 1)]; })), 'O');
  } catch {
    throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `${files.cert} is not a PEM certificate`);
  }
  return { ca, cert, key, servername: MANAGER_SERVERNAME, checkServerIdentity: (_host, c) => checkManagerCert(c, clusterId), agent: false };
}

/** A TLS failure as what it means to the user. */
function tlsError(err: NodeJS.ErrnoException, ep: Endpoint): Error {
  const code = err.code ?? '';
  if (code === 'TSW_NOT_A_MANAGER') return new TsswarmError(ErrorCodes.UNAUTHENTICATED, `refusing the server at ${ep.display}: ${err.message}`);
  if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code)) {
    return new TsswarmError(ErrorCodes.UNAUTHENTICATED, `refusing the server at ${ep.display}: its certificate is not one the CA in ${ep.tls?.ca} verifies (${code})`);
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code === 'EPROTO') {
    return new TsswarmError(ErrorCodes.UNAVAILABLE, `TLS with ${ep.display} failed: ${err.message}`);
  }
  return err;
}

/** The client a command uses: stale answers are reported once on stderr; `consistent` as `--consistent` asked. */
export const clientFor = (endpoint: Endpoint, io: Io, opts: { consistent?: boolean } = {}): ApiClient =>
  new ApiClient(endpoint, { consistent: !!opts.consistent, onStale: (reason) => io.err(staleWarning(reason)) });

/** A header's value as one string (repeated headers joined). */
export const header = (v: string | string[] | undefined): string => (Array.isArray(v) ? v.join(', ') : v ?? '');

/** `path` with `param` (already encoded) added to its query. */
export function withQuery(path: string, param: string): string {
  if (!path.includes('?')) return `${path}?${param}`;
  return path.endsWith('?') || path.endsWith('&') ? `${path}${param}` : `${path}&${param}`;
}

async function readAll(s: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** An error answer of the API (`{ code, message, details }`, or whatever text came) as the error it stands for. */
export function errorFrom(status: number, text: string): TsswarmError {
  let e: { code?: TsswarmError['code']; message?: string; details?: ErrorDetail[] } = {};
  try { e = text ? JSON.parse(text) : {}; } catch { e = { message: text }; }
  return new TsswarmError(e?.code ?? ErrorCodes.INTERNAL, e?.message || `HTTP ${status}`, e?.details ?? [], status);
}

/** An error answer read from its stream. */
export async function errorOf(res: RawResponse): Promise<TsswarmError> {
  return errorFrom(res.status, await readAll(res.stream));
}
