// The CLI's HTTP transport: a JSON call, or a response stream, to the manager at an Endpoint
// (cli/args.ts reads --host / TSSWARM_HOST into one). cli/api.ts holds the routes.

import { request } from 'node:http';
import { ErrorCodes, TsswarmError, type ErrorDetail } from '../common/errors.js';
import type { Endpoint } from './args.js';

export class ApiClient {
  constructor(readonly endpoint: Endpoint) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.raw(method, path, body);
    const text = await readAll(res.stream);
    if (res.status >= 400) throw errorFrom(res.status, text);
    try { return (text ? JSON.parse(text) : undefined) as T; } catch { return { message: text } as T; }
  }

  /** A streaming GET: resolves with the response stream once headers arrived. */
  raw(method: string, path: string, body?: unknown): Promise<{ status: number; stream: NodeJS.ReadableStream }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request({
        socketPath: this.endpoint.socketPath, host: this.endpoint.host, port: this.endpoint.port,
        method, path,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
      }, (res) => resolve({ status: res.statusCode ?? 0, stream: res }));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (['ENOENT', 'ECONNREFUSED', 'EACCES'].includes(err.code ?? '')) {
          reject(new TsswarmError(ErrorCodes.UNAVAILABLE, `cannot reach a tsswarm manager at ${this.endpoint.display} (${err.code}). Is \`tsswarm manager\` running? Use --host or TSSWARM_HOST to point elsewhere.`, [], 503));
        } else reject(err);
      });
      if (payload) req.write(payload);
      req.end();
    });
  }
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

