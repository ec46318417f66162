// The CLI as a source of images (docs/images.md): before a deploy, an image the stack runs that
// no node of the cluster holds, but the engine this CLI sees (DOCKER_HOST) does (a laptop that
// built it), is uploaded through the API. It lands on one node, from where the others fetch it.
// Only the layers that node's engine lacks are sent (it says which chains it holds).

import { mkdtemp, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
// dockerode (and the gRPC stack it loads) only when a deploy uses it: every CLI command loads this file.
import type Docker from 'dockerode';
import { normalizeRef, shipFromFile, validImageRef } from '../common/images/archive.js';
import { LOCATE_REFS_MAX, UPLOAD_CHUNK_BYTES, type ImageLocateResponse, type ImageUploadBegun, type ImageUploadChunk, type ImageUploadChunkResponse, type ImageUploadDone } from '../common/api/images.js';
import { ErrorCodes, TsswarmError } from '../common/errors.js';
import type { StackSpec } from '../common/spec.js';
import type { ApiClient } from './client.js';
import type { Io } from './io.js';
import { dockerConnection } from '../common/docker-host.js';
import { engineAnswers } from './resolve.js';

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

/**
 * Upload the stack's images that only the local engine holds (no node of the cluster holds that
 * ref). Says what it sends; throws when an upload fails (the deploy could not run).
 */
export async function shipLocalImages(client: ApiClient, stack: StackSpec, io: Io, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  // A service pinned to an image ID runs exactly that: it is what must be on a node.
  // Said to people as the name they wrote (and the ID's first 12 digits, when pinned).
  const shown = new Map<string, string>();
  for (const s of Object.values(stack.services)) {
    if (s.pull_policy === 'never') continue;
    const id = (s as { image_id?: unknown }).image_id;
    if (typeof id === 'string' && id) shown.set(id, `${s.image} (${id.replace(/^sha256:/, '').slice(0, 12)})`);
    else shown.set(s.image, s.image);
  }
  const refs = [...shown.keys()].filter(validImageRef);
  if (refs.length === 0) return;
  const { default: Dockerode } = await import('dockerode');
  const docker = new Dockerode(dockerConnection(env));
  if (!(await engineAnswers(docker))) return;
  const local = new Set<string>();
  for (const ref of refs) {
    try {
      await docker.getImage(normalizeRef(ref)).inspect();
      local.add(ref);
    } catch { /* not here: the cluster pulls it or has it */ }
  }
  if (local.size === 0) return;
  const located: ImageLocateResponse['images'] = [];
  const asked = [...local];
  try {
    for (let i = 0; i < asked.length; i += LOCATE_REFS_MAX) {
      located.push(...(await client.call<ImageLocateResponse>('POST', '/v1/images/locate', { refs: asked.slice(i, i + LOCATE_REFS_MAX) })).images);
    }
  } catch (err) {
    // A manager that cannot tell (an older one, no leader): the deploy goes on as before.
    io.err(`Warning: cannot tell which nodes hold the stack's images (${(err as Error).message}); none is sent from this machine\n`);
    return;
  }
  for (const { ref, nodes } of located) if (nodes.length === 0) await upload(client, docker, ref, shown.get(ref) ?? ref, io);
}

async function upload(client: ApiClient, docker: Docker, ref: string, name: string, io: Io): Promise<void> {
  let begun: ImageUploadBegun;
  try {
    begun = await client.call<ImageUploadBegun>('POST', '/v1/images/uploads', { ref });
  } catch (err) {
    // No node can take it now: the deploy goes on, and its tasks say what they lack.
    io.err(`Warning: image ${name} is on no node of the cluster and none can take it from this machine now (${(err as Error).message})\n`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'tsswarm-upload-'));
  try {
    const path = join(dir, 'image.tar');
    await pipeline((await docker.getImage(normalizeRef(ref)).get()) as unknown as Readable, createWriteStream(path));
    let plan: ImageUploadChunk['plan'];
    let pending: Buffer[] = [];
    let size = 0;
    let sent = 0;
    const flush = async (): Promise<void> => {
      if (size === 0 && !plan) return;
      const body: ImageUploadChunk = { data: Buffer.concat(pending).toString('base64') };
      if (plan) { body.plan = plan; plan = undefined; }
      await client.call<ImageUploadChunkResponse>('POST', `/v1/images/uploads/${begun.id}/chunks`, body);
      sent += size;
      pending = [];
      size = 0;
    };
    for await (const b of shipFromFile(path, new Set(begun.haveChains), (p) => {
      plan = { layersSent: p.layersSent.length, layersSkipped: p.layersSkipped.length, layerBytesSent: p.layerBytesSent, layerBytesSkipped: p.layerBytesSkipped };
      const of = p.layersSent.length + p.layersSkipped.length;
      io.out(`Image ${name} is on no node of the cluster: sending it to node ${begun.hostname} (${p.layersSent.length} of ${of} layers, ${mb(p.layerBytesSent)}; the node holds the others)\n`);
    }, 1 << 20)) {
      if (size + b.length > UPLOAD_CHUNK_BYTES) await flush();
      pending.push(b);
      size += b.length;
    }
    await flush();
    const done = await client.call<ImageUploadDone>('POST', `/v1/images/uploads/${begun.id}/done`, {});
    io.out(`Image ${name} sent to node ${done.hostname} (${mb(sent)})\n`);
  } catch (err) {
    if (err instanceof TsswarmError) throw new TsswarmError(err.code, `sending image ${ref} to the cluster: ${err.message}`, err.details, err.httpStatus);
    throw new TsswarmError(ErrorCodes.UNAVAILABLE, `sending image ${ref} to the cluster: ${(err as Error).message}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
