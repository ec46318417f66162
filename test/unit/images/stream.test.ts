// Shipping a `docker save` while it is still being written (common/images/stream.ts).
import { createHash } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chainIds } from '../../../common/images/archive.js';
import { GrowingArchive, shipGrowing, type StreamPlan } from '../../../common/images/stream.js';
import { indexTar, TarError, type ReadAt } from '../../../common/images/tar.js';
import { archive as tar } from './fixtures.js';

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const A = Buffer.from('A'.repeat(1000));
const B = Buffer.from('B'.repeat(70_000));
const C = Buffer.from('C'.repeat(300));
// The image's layer list, bottom first: B, A, C.
const DIFFS = [sha(B), sha(A), sha(C)];
const CONFIG = JSON.stringify({ rootfs: { type: 'layers', diff_ids: DIFFS } });
const IMAGE_ID = sha(CONFIG);

/** A save as the classic store writes it: layer directories, the config, manifest.json last. */
function saved(opts: { linkThird?: boolean; config?: string } = {}): Buffer {
  return tar([
    { name: 'aaa/', type: 'dir' }, { name: 'aaa/VERSION', data: '1.0' }, { name: 'aaa/json', data: '{}' }, { name: 'aaa/layer.tar', data: A },
    { name: 'bbb/', type: 'dir' }, { name: 'bbb/VERSION', data: '1.0' }, { name: 'bbb/json', data: '{}' }, { name: 'bbb/layer.tar', data: B },
    { name: 'ccc/', type: 'dir' }, { name: 'ccc/VERSION', data: '1.0' }, { name: 'ccc/json', data: '{}' },
    opts.linkThird ? { name: 'ccc/layer.tar', type: 'symlink', linkname: '../aaa/layer.tar' } : { name: 'ccc/layer.tar', data: C },
    { name: opts.config ?? `${IMAGE_ID.slice(7)}.json`, data: CONFIG },
    { name: 'manifest.json', data: JSON.stringify([{ Config: `${IMAGE_ID.slice(7)}.json`, RepoTags: ['app:1'], Layers: ['bbb/layer.tar', 'aaa/layer.tar', 'ccc/layer.tar'] }]) },
    { name: 'repositories', data: '{"app":{"1":"ccc"}}' },
  ]);
}

/** The archive in small pieces, each after a turn of the event loop (a save still coming). */
async function* trickle(b: Buffer, piece = 777): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += piece) {
    await new Promise((r) => setImmediate(r));
    yield b.subarray(i, i + piece);
  }
}

const reader = (b: Buffer): ReadAt => async (pos, len) => {
  if (pos + len > b.length) throw new TarError('short');
  return b.subarray(pos, pos + len);
};

async function collect(g: AsyncGenerator<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of g) parts.push(b);
  return Buffer.concat(parts);
}

describe('shipping a growing save', () => {
  let dir = '';
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'tsswarm-stream-test-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  const grow = async (b: Buffer, piece?: number): Promise<GrowingArchive> => new GrowingArchive(await open(join(dir, `s${Math.random()}`), 'w+'), trickle(b, piece));

  it('sends everything to an engine holding nothing, with each layer\'s content', async () => {
    const g = await grow(saved());
    let plan: StreamPlan | undefined;
    const out = await collect(shipGrowing(g, IMAGE_ID, DIFFS, new Set(), (p) => { plan = p; }, 4096));
    const es = await indexTar(reader(out), out.length);
    expect(es.map((e) => e.name)).toEqual(['aaa/', 'aaa/VERSION', 'aaa/json', 'aaa/layer.tar', 'bbb/', 'bbb/VERSION', 'bbb/json', 'bbb/layer.tar', 'ccc/', 'ccc/VERSION', 'ccc/json', 'ccc/layer.tar', `${IMAGE_ID.slice(7)}.json`, 'manifest.json', 'repositories']);
    const b = es.find((e) => e.name === 'bbb/layer.tar')!;
    expect(sha(out.subarray(b.offset, b.offset + b.size))).toBe(DIFFS[0]);
    expect(plan).toEqual({ layersSent: [DIFFS[1], DIFFS[0], DIFFS[2]], layersSkipped: [], layerBytesSent: 71_300, layerBytesSkipped: 0 });
    await g.done;
  });

  it('leaves out the files of the layers whose chain the engine holds, by their content', async () => {
    const g = await grow(saved());
    const c = chainIds(DIFFS);
    let plan: StreamPlan | undefined;
    const out = await collect(shipGrowing(g, IMAGE_ID, DIFFS, new Set([c[0], c[1]]), (p) => { plan = p; }));
    const names = (await indexTar(reader(out), out.length)).map((e) => e.name);
    expect(names).not.toContain('aaa/layer.tar');
    expect(names).not.toContain('bbb/layer.tar');
    expect(names).toContain('ccc/layer.tar');
    expect(names).toContain('manifest.json');
    expect(plan).toMatchObject({ layersSent: [DIFFS[2]], layerBytesSent: 300, layerBytesSkipped: 71_000 });
    expect(plan!.layersSkipped.sort()).toEqual([DIFFS[0], DIFFS[1]].sort());
  });

  it('a diff held on another base is not held: sent', async () => {
    const g = await grow(saved());
    // DIFFS[1] alone as a bottom layer is another chain than chain(2) of this image.
    const out = await collect(shipGrowing(g, IMAGE_ID, DIFFS, new Set([DIFFS[1]])));
    expect((await indexTar(reader(out), out.length)).map((e) => e.name)).toContain('aaa/layer.tar');
  });

  it('links go last; a link to a file left out is left out too', async () => {
    const linked = saved({ linkThird: true });
    const diffs = [DIFFS[0], DIFFS[1], DIFFS[1]];
    const c = chainIds(diffs);
    const all = await collect(shipGrowing(await grow(linked), IMAGE_ID, diffs, new Set()));
    const es = await indexTar(reader(all), all.length);
    expect(es[es.length - 1]).toMatchObject({ name: 'ccc/layer.tar', type: 'symlink', linkname: '../aaa/layer.tar' });
    const some = await collect(shipGrowing(await grow(linked), IMAGE_ID, diffs, new Set([c[0], c[1], c[2]])));
    const names = (await indexTar(reader(some), some.length)).map((e) => e.name);
    expect(names).not.toContain('ccc/layer.tar');
    expect(names).not.toContain('aaa/layer.tar');
  });

  it('concurrent sends share one growing archive', async () => {
    const g = await grow(saved(), 100);
    const c = chainIds(DIFFS);
    const [x, y] = await Promise.all([collect(shipGrowing(g, IMAGE_ID, DIFFS, new Set())), collect(shipGrowing(g, IMAGE_ID, DIFFS, new Set([c[0]])))]);
    expect(x.length - y.length).toBe(512 + B.length + (512 - (B.length % 512)) % 512);
  });

  it('an archive without the image\'s config, or cut short, fails the send', async () => {
    await expect(collect(shipGrowing(await grow(saved({ config: 'other.json' })), IMAGE_ID, DIFFS, new Set()))).rejects.toThrow(/does not hold image/);
    const whole = saved();
    const cut = await grow(whole.subarray(0, 3000));
    await expect(collect(shipGrowing(cut, IMAGE_ID, DIFFS, new Set()))).rejects.toThrow(/bytes short/);
    await expect(cut.done).rejects.toThrow(/bytes short/);
  });
});
