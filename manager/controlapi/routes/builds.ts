// Builds on a cluster node (`tsswarm deploy|build --builder-node NODE`, docs/images.md): the
// CLI begins one on a ready node with an agent session, sends the context in base64 chunks,
// then reads the engine's output as NDJSON and the image ID. All of it goes through the
// leader's dispatcher (its agents' sessions), so a follower forwards these requests. Over
// HTTPS only an admin client of the cluster gets here (the TLS hook, server.ts); the unix
// socket is the manager's own user's.

import { Type } from 'typebox';
import { BUILD_CHUNK_BYTES, checkBuildRequest, type BuildBegun, type BuildChunkResponse, type BuildStreamLine } from '../../../common/api/builds.js';
import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import type { BuildRelay } from '../../dispatcher/builds.js';
import type { RoutePlugin } from '../context.js';
import { findNode } from '../lookup.js';

const closed = { additionalProperties: false } as const;
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' }) }, closed);
const ChunkBody = Type.Object({ data: Type.String({ maxLength: Math.ceil(BUILD_CHUNK_BYTES / 3) * 4 }) }, closed);

export const buildRoutes: RoutePlugin = async (app, { ctx }) => {
  const relay = (): BuildRelay => {
    const r = ctx.dispatcher.builds;
    if (!r) throw new TsswarmError(ErrorCodes.UNAVAILABLE, 'this manager runs no builds on nodes');
    return r;
  };

  app.post('/v1/builds', async (req): Promise<BuildBegun> => {
    const { node: ref, ...options } = checkBuildRequest(req.body);
    const r = relay();
    const node = ctx.store.view((tx) => findNode(tx, ref));
    const name = node.description.hostname || node.id.slice(0, 12);
    const connected = new Set(ctx.dispatcher.connectedNodes?.() ?? []);
    if (node.status.state !== 'ready' || !connected.has(node.id)) {
      throw new TsswarmError(ErrorCodes.UNAVAILABLE, `node ${name} is ${node.status.state === 'ready' ? 'without an agent session' : node.status.state}: it cannot build service ${options.service}`);
    }
    if (node.status.engine === 'down') throw new TsswarmError(ErrorCodes.UNAVAILABLE, `node ${name}'s Docker engine does not answer: it cannot build service ${options.service}`);
    try {
      const id = await r.begin(node.id, options);
      return { id, node: node.id, hostname: name };
    } catch (err) {
      throw new TsswarmError(ErrorCodes.UNAVAILABLE, `building service ${options.service} on node ${name}: ${(err as Error).message}`);
    }
  });

  app.post('/v1/builds/:id/chunks', { schema: { params: IdParams, body: ChunkBody }, bodyLimit: Math.ceil(BUILD_CHUNK_BYTES / 3) * 4 + 4096 }, async (req): Promise<BuildChunkResponse> => {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(req.body.data)) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'body.data: base64', [{ field: 'body.data', message: 'not base64' }]);
    const r = relay();
    try {
      return { received: await r.chunk(req.params.id, Buffer.from(req.body.data, 'base64')) };
    } catch (err) {
      const msg = (err as Error).message;
      throw new TsswarmError(/^no build /.test(msg) ? ErrorCodes.NOT_FOUND : ErrorCodes.BUILD_FAILED, msg);
    }
  });

  app.post('/v1/builds/:id/done', { schema: { params: IdParams } }, async (req, reply) => {
    const r = relay();
    let stop: () => void = () => undefined;
    const write = (l: BuildStreamLine) => reply.raw.write(JSON.stringify(l) + '\n');
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson' });
    };
    try {
      stop = r.finish(req.params.id, {
        event: (e) => { start(); write({ event: e }); },
        end: (o) => { start(); write({ result: o }); reply.raw.end(); },
      });
    } catch (err) {
      throw new TsswarmError(ErrorCodes.NOT_FOUND, (err as Error).message);
    }
    start();
    reply.raw.on('close', () => stop());
  });
};
