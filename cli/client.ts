// The CLI's HTTP client. Finds the manager as the docker CLI finds its engine:
// --host, then TSSWARM_HOST, then the socket in the default data dir.

import { request } from 'node:http';
import { ErrorCodes, TsswarmError, type ErrorDetail } from '../common/errors.js';
import { apiSocketPath, defaultDataDir } from '../common/api/datadir.js';

export interface Endpoint { socketPath?: string; host?: string; port?: number; display: string }

export function resolveHost(flag?: string, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const h = flag ?? env.TSSWARM_HOST;
  if (!h) {
    const socketPath = apiSocketPath(defaultDataDir());
    return { socketPath, display: `unix://${socketPath}` };
  }
  if (h.startsWith('unix://')) return { socketPath: h.slice(7), display: h };
  if (h.startsWith('/')) return { socketPath: h, display: `unix://${h}` };
  if (/^https?:\/\//.test(h)) {
    const u = new URL(h);
    if (u.protocol === 'https:') throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `${h}: https endpoints need the cluster's TLS material, which this version does not have yet; use unix://`);
    return { host: u.hostname, port: Number(u.port || 80), display: h };
  }
  throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `invalid --host/TSSWARM_HOST ${JSON.stringify(h)}: use unix:///path/to/tsswarm.sock`);
}

export class ApiClient {
  constructor(readonly endpoint: Endpoint) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.raw(method, path, body);
    const text = await readAll(res.stream);
    let json: any;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = { message: text }; }
    if (res.status >= 400) {
      throw new TsswarmError(json?.code ?? ErrorCodes.INTERNAL, json?.message ?? `HTTP ${res.status}`, (json?.details ?? []) as ErrorDetail[], res.status);
    }
    return json as T;
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
