// Images from the CLI (docs/images.md): which nodes hold an image, and an upload of one that
// lands on a node, from where the others fetch it. All of it goes through the leader's
// dispatcher (its agents' sessions), so a follower forwards these requests; bodies are JSON
// (the archive in base64 chunks of at most UPLOAD_CHUNK_BYTES), each under the API's body limit.
// Over HTTPS only a client certificate of the cluster gets here (the TLS hook, server.ts).

import { Type } from 'typebox';
import { validImageRef } from '../../../common/images/archive.js';
import { LOCATE_REFS_MAX, UPLOAD_CHUNK_BYTES, type ImageLocateResponse, type ImageUploadBegun, type ImageUploadChunkResponse, type ImageUploadDone } from '../../../common/api/images.js';
import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import type { ImageRelay } from '../../dispatcher/images.js';
import type { RoutePlugin } from '../context.js';
import { findNode } from '../lookup.js';

const closed = { additionalProperties: false } as const;
const RefStr = Type.String({ minLength: 1, maxLength: 512 });
const LocateBody = Type.Object({ refs: Type.Array(RefStr, { minItems: 1, maxItems: LOCATE_REFS_MAX }) }, closed);
const UploadBody = Type.Object({ ref: RefStr, node: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) }, closed);
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' }) }, closed);
const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const ChunkBody = Type.Object({
  data: Type.String({ maxLength: Math.ceil(UPLOAD_CHUNK_BYTES / 3) * 4 }),
  plan: Type.Optional(Type.Object({ layersSent: Count, layersSkipped: Count, layerBytesSent: Count, layerBytesSkipped: Count }, closed)),
}, closed);

const badRef = (field: string): TsswarmError => new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `${field}: an image name[:tag], name@digest or sha256:<id>`, [{ field, message: 'not an image reference' }]);

export const imageRoutes: RoutePlugin = async (app, { ctx }) => {
  const relay = (): ImageRelay => {
    const r = ctx.dispatcher.images;
    if (!r) throw new TsswarmError(ErrorCodes.UNAVAILABLE, 'this manager relays no images');
    return r;
  };
  const hostname = (id: string): string => ctx.store.view((tx) => tx.get('node', id))?.description.hostname ?? id;

  app.post('/v1/images/locate', { schema: { body: LocateBody } }, async (req): Promise<ImageLocateResponse> => {
    req.body.refs.forEach((r, i) => { if (!validImageRef(r)) throw badRef(`body.refs[${i}]`); });
    const images = await Promise.all([...new Set(req.body.refs)].map(async (ref) => {
      const answers = await relay().query(ref);
      return { ref, nodes: answers.filter((a) => a.has).map((a) => ({ id: a.nodeId, hostname: hostname(a.nodeId), ...(a.imageId ? { imageId: a.imageId } : {}) })) };
    }));
    return { images };
  });

  app.post('/v1/images/uploads', { schema: { body: UploadBody } }, async (req): Promise<ImageUploadBegun> => {
    const { ref } = req.body;
    if (!validImageRef(ref)) throw badRef('body.ref');
    const r = relay();
    const connected = new Set(ctx.dispatcher.connectedNodes?.() ?? []);
    let nodeId: string;
    if (req.body.node) {
      nodeId = ctx.store.view((tx) => findNode(tx, req.body.node!)).id;
      if (!connected.has(nodeId)) throw new TsswarmError(ErrorCodes.UNAVAILABLE, `node ${req.body.node} has no agent session: it cannot take the image`);
    } else {
      // A ready, active node with a session: the first by hostname (the others fetch from it).
      const nodes = ctx.store.view((tx) => tx.list('node')).filter((n) => connected.has(n.id) && n.status.state === 'ready' && n.spec.availability === 'active' && n.status.engine !== 'down');
      nodes.sort((a, b) => a.description.hostname.localeCompare(b.description.hostname) || a.id.localeCompare(b.id));
      if (!nodes.length) throw new TsswarmError(ErrorCodes.UNAVAILABLE, 'no ready node with an agent session can take the image');
      nodeId = nodes[0].id;
    }
    try {
      const { id, haveChains } = await r.beginUpload(ref, nodeId);
      return { id, node: nodeId, hostname: hostname(nodeId), haveChains };
    } catch (err) {
      throw new TsswarmError(ErrorCodes.UNAVAILABLE, `uploading image ${ref}: ${(err as Error).message}`);
    }
  });

  app.post('/v1/images/uploads/:id/chunks', { schema: { params: IdParams, body: ChunkBody }, bodyLimit: Math.ceil(UPLOAD_CHUNK_BYTES / 3) * 4 + 4096 }, async (req): Promise<ImageUploadChunkResponse> => {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(req.body.data)) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'body.data: base64', [{ field: 'body.data', message: 'not base64' }]);
    const data = Buffer.from(req.body.data, 'base64');
    const p = req.body.plan;
    try {
      const received = await relay().uploadChunk(req.params.id, data, p && { layers_sent: p.layersSent, layers_skipped: p.layersSkipped, layer_bytes_sent: p.layerBytesSent, layer_bytes_skipped: p.layerBytesSkipped });
      return { received };
    } catch (err) {
      throw new TsswarmError(ErrorCodes.NOT_FOUND, (err as Error).message);
    }
  });

  app.post('/v1/images/uploads/:id/done', { schema: { params: IdParams } }, async (req): Promise<ImageUploadDone> => {
    let r: Awaited<ReturnType<ImageRelay['finishUpload']>>;
    try {
      r = await relay().finishUpload(req.params.id);
    } catch (err) {
      throw new TsswarmError(ErrorCodes.NOT_FOUND, (err as Error).message);
    }
    if (r.error) throw new TsswarmError(ErrorCodes.UNAVAILABLE, `node ${hostname(r.nodeId)} could not load the image: ${r.error}`);
    return { node: r.nodeId, hostname: hostname(r.nodeId), bytes: r.bytes, ...(r.imageId ? { imageId: r.imageId } : {}) };
  });
};
