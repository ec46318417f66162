// The manager's HTTP API for the CLI (JSON over a 0600 unix socket locally; over HTTPS with
// client certificates for remote CLIs: tls.ts). This file builds the app: limits, the body
// parser, the schema validator, the error mapping; the routes are plugins grouped by resource
// in routes/. docs/api.md describes the whole API.
//
// The API trusts no client: every params, query and body is declared by a schema (schemas.ts),
// bodies are bounded in size (LIMITS.requestBodyBytes) and nesting (LIMITS.depth) before they
// are parsed, stacks and specs are checked by the shared validator, and every refusal is a 4xx
// { code: TSW_ERR_…, message, details[] } that changed nothing.

import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { LIMITS } from '../../common/api/limits.js';
import type { ErrorBody } from '../../common/api/types.js';
import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import { FORWARDED_HEADER, noQuorumError, STALE_HEADER } from '../cluster/control.js';
import type { ApiContext } from './context.js';
import { errorResponse, notFound, parseJsonBody, typeboxValidatorCompiler } from './http.js';
import { clusterRoutes } from './routes/cluster.js';
import { identityRoutes } from './routes/identity.js';
import { configRoutes } from './routes/configs.js';
import { secretRoutes } from './routes/secrets.js';
import { infoRoutes } from './routes/info.js';
import { logRoutes } from './routes/logs.js';
import { nodeRoutes } from './routes/nodes.js';
import { serviceRoutes } from './routes/services.js';
import { stackRoutes } from './routes/stacks.js';
import { taskRoutes } from './routes/tasks.js';
import { buildRoutes } from './routes/builds.js';
import { imageRoutes } from './routes/images.js';
import { tlsAuthHook } from './tls.js';

/** What the API is built from: what its routes are given (the log becomes the API's own child). */
export type ApiOptions = ApiContext;

export function buildApi(opts: ApiOptions): FastifyInstance {
  const log = opts.log.child({ component: 'api' });
  const app = Fastify({
    loggerInstance: log as never,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: LIMITS.requestBodyBytes,
    // Longer than any schema allows: an over-long param is refused by its schema, naming it.
    routerOptions: { maxParamLength: 512 },
    // `?consistent=true` on any read: taken off before routing (the routes' query schemas do
    // not know it) and honoured by the leader hook: a ReadIndex barrier on the leader.
    rewriteUrl: (req) => stripConsistent(req),
    // A malformed URL (bad percent-encoding) is answered like any other refusal.
    frameworkErrors: (err, _req, reply) => {
      const { status, body } = errorResponse(err);
      void (reply as unknown as FastifyReply).status(status).send(body);
    },
    // So is a request Node's HTTP parser cannot read (before fastify sees it).
    clientErrorHandler: (err, socket) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ECONNRESET' || !socket.writable) { socket.destroy(err); return; }
      const [status, reason] = code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout'] : [400, 'Bad Request'];
      const body = JSON.stringify({ code: ErrorCodes.INVALID_ARGUMENT, message: `malformed HTTP request (${code ?? 'client error'})`, details: [] } satisfies ErrorBody);
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
  });

  // Only JSON bodies; the nesting is bounded before JSON.parse recurses.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: LIMITS.requestBodyBytes }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string, LIMITS.depth));
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  // Requests over HTTPS (tls.ts) pass only with a client certificate the cluster accepts: the
  // first hook, so nothing is read, forwarded or changed for one that does not.
  app.addHook('onRequest', tlsAuthHook(opts.store, log));

  // A follower sends writes, consistent reads, logs and status to the leader (cluster/control.ts).
  if (opts.cluster) app.addHook('onRequest', leaderHook(opts));

  app.setValidatorCompiler(typeboxValidatorCompiler);
  app.setErrorHandler((err, _req, reply) => {
    const { status, body } = errorResponse(err);
    if (status >= 500) log.error({ err }, 'api error');
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler(notFound);

  const ctx: ApiContext = { ...opts, log };
  for (const routes of [infoRoutes, stackRoutes, serviceRoutes, taskRoutes, logRoutes, clusterRoutes, identityRoutes, nodeRoutes, secretRoutes, configRoutes]) {
    void app.register(routes, { ctx });
  }
  void app.register(imageRoutes, { ctx });
  void app.register(buildRoutes, { ctx });
  return app as unknown as FastifyInstance;
}

export { listenHttps, type HttpsListener, type HttpsTls } from './tls.js';

export async function listenUnix(app: FastifyInstance, path: string): Promise<void> {
  if (existsSync(path)) unlinkSync(path);
  await app.listen({ path });
  chmodSync(path, 0o600);
}

const CONSISTENT = /([?&])consistent=(true|1|false|0)(&|$)/;

function stripConsistent(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const m = CONSISTENT.exec(url);
  if (!m) return url;
  (req as IncomingMessage & { tsswarmConsistent?: boolean }).tsswarmConsistent = m[2] === 'true' || m[2] === '1';
  const out = url.slice(0, m.index) + (m[3] === '&' ? m[1] : '') + url.slice(m.index + m[0].length);
  return out.endsWith('?') ? out.slice(0, -1) : out;
}

/** Does this request need the leader (a write, a consistent read, logs from the leader's sessions, status)? */
function needsLeader(method: string, url: string, consistent: boolean): boolean {
  // Each manager answers for itself whether it is locked.
  if (url.split('?')[0] === '/v1/unlock') return false;
  if (method !== 'GET' && method !== 'HEAD') return true;
  if (consistent) return true;
  const path = url.split('?')[0]!;
  return path.endsWith('/logs') || path === '/v1/cluster/status' || path === '/v1/cluster/backup';
}

function leaderHook(opts: ApiOptions) {
  const c = opts.cluster!;
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const consistent = !!(req.raw as IncomingMessage & { tsswarmConsistent?: boolean }).tsswarmConsistent;
    const leaderOnly = needsLeader(req.method, req.url, consistent);
    if (c.isLeader) {
      const write = req.method !== 'GET' && req.method !== 'HEAD' && leaderOnly;
      if (write || consistent) {
        const q = c.quorumActive();
        if (!q.ok) throw noQuorumError(q.reachable, q.voters);
      }
      if (consistent) await opts.store.barrier();
      return;
    }
    const leader = c.leaderAddr();
    if (!leaderOnly) {
      if (!leader) void reply.header(STALE_HEADER, 'no leader: answered from this manager\'s applied state');
      return;
    }
    if (req.headers[FORWARDED_HEADER] !== undefined) {
      throw new TsswarmError(ErrorCodes.NO_QUORUM, 'leadership moved while the request was forwarded; nothing was changed: retry');
    }
    if (!leader) {
      // Status is this manager's own view when no leader is known (cluster recover reads it).
      if (req.url.split('?')[0] === '/v1/cluster/status') return;
      // No quorum: refuse at once. A quorum but no leader yet (an election): wait for it.
      const { reachable, voters } = await c.reachableVoters();
      if (reachable < Math.floor(voters / 2) + 1) throw noQuorumError(reachable, voters);
    }
    const body = await readBody(req.raw, LIMITS.requestBodyBytes);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    const url = consistent ? `${req.url}${req.url.includes('?') ? '&' : '?'}consistent=true` : req.url;
    void reply.hijack();
    const raw = reply.raw;
    await new Promise<void>((resolve) => {
      c.forward({ method: req.method, url, headers, body }, {
        head: (status, h) => raw.writeHead(status, h),
        data: (d) => raw.write(d),
        end: () => { raw.end(); resolve(); },
        error: (e) => {
          const { status, body: b } = errorResponse(e);
          if (!raw.headersSent) raw.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
          raw.end(JSON.stringify(b));
          resolve();
        },
        onClose: (fn) => raw.on('close', fn),
      });
    });
  };
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (d: Buffer) => {
      n += d.length;
      if (n > limit) {
        req.destroy();
        reject(new TsswarmError(ErrorCodes.REQUEST_TOO_LARGE, `request body over ${limit} bytes`));
        return;
      }
      parts.push(d);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}
