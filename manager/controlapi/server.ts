// The manager's HTTP API for the CLI (JSON over a 0600 unix socket locally). This file builds
// the app: limits, the body parser, the schema validator, the error mapping; the routes are
// plugins grouped by resource in routes/. docs/api.md describes the whole API.
//
// The API trusts no client: every params, query and body is declared by a schema (schemas.ts),
// bodies are bounded in size (LIMITS.requestBodyBytes) and nesting (LIMITS.depth) before they
// are parsed, stacks and specs are checked by the shared validator, and every refusal is a 4xx
// { code: TSW_ERR_…, message, details[] } that changed nothing.

import Fastify, { LogController, type FastifyInstance, type FastifyReply } from 'fastify';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { LIMITS } from '../../common/api/limits.js';
import type { ErrorBody } from '../../common/api/types.js';
import { ErrorCodes } from '../../common/errors.js';
import type { ApiContext } from './context.js';
import { errorResponse, notFound, parseJsonBody, typeboxValidatorCompiler } from './http.js';
import { clusterRoutes } from './routes/cluster.js';
import { infoRoutes } from './routes/info.js';
import { logRoutes } from './routes/logs.js';
import { nodeRoutes } from './routes/nodes.js';
import { serviceRoutes } from './routes/services.js';
import { stackRoutes } from './routes/stacks.js';
import { taskRoutes } from './routes/tasks.js';

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

  app.setValidatorCompiler(typeboxValidatorCompiler);
  app.setErrorHandler((err, _req, reply) => {
    const { status, body } = errorResponse(err);
    if (status >= 500) log.error({ err }, 'api error');
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler(notFound);

  const ctx: ApiContext = { ...opts, log };
  for (const routes of [infoRoutes, stackRoutes, serviceRoutes, taskRoutes, logRoutes, clusterRoutes, nodeRoutes]) {
    void app.register(routes, { ctx });
  }
  return app as unknown as FastifyInstance;
}

export async function listenUnix(app: FastifyInstance, path: string): Promise<void> {
  if (existsSync(path)) unlinkSync(path);
  await app.listen({ path });
  chmodSync(path, 0o600);
}
