// The CLI's HTTP transport: a JSON call, or a response stream, to the manager at an Endpoint
// (cli/args.ts reads --host / TSSWARM_HOST into one). cli/api.ts holds the routes.
//
// Two cluster matters live here, for every route at once: `--consistent` (every GET asks for
// a linearizable read through the leader: `consistent=true` in its query), and answers a
// manager computed while it knew no leader (header `x-tsswarm-stale`), which are reported once.

import { request, type IncomingHttpHeaders } from 'node:http';
import { ErrorCodes, TsswarmError, type ErrorDetail } from '../common/errors.js';
import type { Endpoint } from './args.js';
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
    return new Promise((resolve, reject) => {
      const req = request({
        socketPath: this.endpoint.socketPath, host: this.endpoint.host, port: this.endpoint.port,
        method, path: url,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
      }, (res) => {
        this.noteStale(res.headers);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, stream: res });
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (['ENOENT', 'ECONNREFUSED', 'EACCES'].includes(err.code ?? '')) {
          reject(new TsswarmError(ErrorCodes.UNAVAILABLE, `cannot reach a tsswarm manager at ${this.endpoint.display} (${err.code}). Is \`tsswarm manager\` running? Use --host or TSSWARM_HOST to point elsewhere.`, [], 503));
        } else reject(err);
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
