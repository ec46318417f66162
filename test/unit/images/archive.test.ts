import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chainIds, heldChains, isImageId, normalizeRef, planArchive, planShipment, validImageRef, writePlanned } from '../../../common/images/archive.js';
import { indexTar, type TarEntry } from '../../../common/images/tar.js';
import { archive, bufReader } from './fixtures.js';

const sha = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const D = [sha('layer one'), sha('layer two'), sha('layer three')];


/** A `docker save` of one 3-layer image, entries in the engine's (lexical) order. */
function saved(opts: { linkThird?: boolean } = {}): Buffer {
  const config = JSON.stringify({ rootfs: { type: 'layers', diff_ids: D } });
  return archive([
    { name: 'cfg.json', data: config },
    { name: 'aaa/', type: 'dir' }, { name: 'aaa/VERSION', data: '1.0' }, { name: 'aaa/json', data: '{}' }, { name: 'aaa/layer.tar', data: 'A'.repeat(1000) },
    { name: 'bbb/', type: 'dir' }, { name: 'bbb/VERSION', data: '1.0' }, { name: 'bbb/json', data: '{}' }, { name: 'bbb/layer.tar', data: 'B'.repeat(2000) },
    { name: 'ccc/', type: 'dir' }, { name: 'ccc/VERSION', data: '1.0' }, { name: 'ccc/json', data: '{}' },
    opts.linkThird ? { name: 'ccc/layer.tar', type: 'symlink', linkname: '../aaa/layer.tar' } : { name: 'ccc/layer.tar', data: 'C'.repeat(300) },
    // Layers listed in the manifest in their true order, which the archive's order does not follow.
    { name: 'manifest.json', data: JSON.stringify([{ Config: 'cfg.json', RepoTags: ['app:1'], Layers: ['bbb/layer.tar', 'aaa/layer.tar', 'ccc/layer.tar'] }]) },
    { name: 'repositories', data: '{"app":{"1":"ccc"}}' },
  ]);
}
// With Layers = [bbb, aaa, ccc], bbb holds D[0], aaa D[1], ccc D[2].

async function collect(g: AsyncGenerator<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of g) parts.push(b);
  return Buffer.concat(parts);
}

describe('chain IDs', () => {
  it('follow chain(1)=diff(1), chain(n)=sha256(chain(n-1)+" "+diff(n))', () => {
    const c = chainIds(D);
    expect(c[0]).toBe(D[0]);
    expect(c[1]).toBe(sha(`${D[0]} ${D[1]}`));
    expect(c[2]).toBe(sha(`${c[1]} ${D[2]}`));
    expect(chainIds([])).toEqual([]);
  });

  it('an engine holds every prefix of every image', () => {
    const held = heldChains([D.slice(0, 2), [D[2]]]);
    expect([...held].sort()).toEqual([D[0], chainIds(D)[1], D[2]].sort());
    // The same diff on another base is another chain: not held.
    expect(held.has(chainIds(D)[2])).toBe(false);
  });

  it('the matches docker computes (a real image: busybox imported, then one layer on top)', () => {
    // docker image inspect … RootFS.Layers and the chain IDs of /var/lib/docker/image/overlay2/layerdb/sha256/
    const diffs = ['sha256:43ec3a5ca081e0037ccc817c84b6763a663cff7269f04b5e7d8b30a0c4be76cf', 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef'];
    expect(chainIds(diffs)[1]).toBe(sha(`${diffs[0]} ${diffs[1]}`));
  });
});

describe('planning a shipment', () => {
  it('an engine with nothing gets everything', async () => {
    const b = saved();
    const p = await planArchive(bufReader(b), b.length, new Set());
    expect(p.layersSent).toEqual(D);
    expect(p.layersSkipped).toEqual([]);
    expect(p.layerBytesSent).toBe(3300);
    expect(p.entries.map((e) => e.name)).toEqual(['cfg.json', 'aaa/', 'aaa/VERSION', 'aaa/json', 'aaa/layer.tar', 'bbb/', 'bbb/VERSION', 'bbb/json', 'bbb/layer.tar', 'ccc/', 'ccc/VERSION', 'ccc/json', 'ccc/layer.tar', 'manifest.json', 'repositories']);
  });

  it('leaves out the layers whose chain the engine holds, and their directories; manifest and config always go', async () => {
    const b = saved();
    const c = chainIds(D);
    const p = await planArchive(bufReader(b), b.length, new Set([c[0], c[1]]));
    expect(p.layersSent).toEqual([D[2]]);
    expect(p.layersSkipped.sort()).toEqual([D[0], D[1]].sort());
    expect(p.layerBytesSent).toBe(300);
    expect(p.layerBytesSkipped).toBe(3000);
    expect(p.entries.map((e) => e.name)).toEqual(['cfg.json', 'ccc/', 'ccc/VERSION', 'ccc/json', 'ccc/layer.tar', 'manifest.json', 'repositories']);
    const out = await collect(writePlanned(p, bufReader(b), 100));
    const es = await indexTar(bufReader(out), out.length);
    expect(es.map((e) => e.name)).toEqual(p.entries.map((e) => e.name));
    const layer = es.find((e) => e.name === 'ccc/layer.tar')!;
    expect(out.toString('utf8', layer.offset, layer.offset + layer.size)).toBe('C'.repeat(300));
    expect(out.length).toBeLessThan(300 + 8 * 1024);
  });

  it('holding a diff on another base is not holding its chain: the layer goes', async () => {
    const b = saved();
    const p = await planArchive(bufReader(b), b.length, new Set([D[1], D[2]]));
    expect(p.layersSent).toEqual(D);
  });

  it('a layer file linking to a left-out file is sent as a copy of its content', async () => {
    const b = saved({ linkThird: true });
    const c = chainIds(D);
    const p = await planArchive(bufReader(b), b.length, new Set([c[0], c[1]]));
    const third = p.entries.find((e) => e.name === 'ccc/layer.tar')!;
    expect(third.from.type).toBe('file');
    expect(third.from.size).toBe(2000 / 2); // aaa/layer.tar, 1000 bytes
    const out = await collect(writePlanned(p, bufReader(b)));
    const es = await indexTar(bufReader(out), out.length);
    const e = es.find((x) => x.name === 'ccc/layer.tar')!;
    expect(e.type).toBe('file');
    expect(out.toString('utf8', e.offset, e.offset + e.size)).toBe('A'.repeat(1000));
  });

  it('a link to a file that is sent stays a link', async () => {
    const b = saved({ linkThird: true });
    const p = await planArchive(bufReader(b), b.length, new Set());
    expect(p.entries.find((e) => e.name === 'ccc/layer.tar')!.from.type).toBe('symlink');
  });

  it('a layer two images share is sent when one of them lacks it', () => {
    const e = (name: string, size = 10): TarEntry => ({ name, type: 'file', size, mode: 0o644, mtime: 0, linkname: '', offset: 0 });
    const entries = [e('x/layer.tar'), e('y/layer.tar'), e('c1.json'), e('c2.json'), e('manifest.json')];
    const manifest = [{ Config: 'c1.json', Layers: ['x/layer.tar'] }, { Config: 'c2.json', Layers: ['y/layer.tar', 'x/layer.tar'] }];
    const diffs: Record<string, string[]> = { 'c1.json': [D[1]], 'c2.json': [D[0], D[1]] };
    const p = planShipment(entries, manifest, (c) => diffs[c], new Set([D[1], D[0]]));
    // c1 holds chain D[1] (alone); c2's second layer sits on D[0]: chain(D0,D1) is not held.
    expect(p.entries.map((x) => x.name)).toEqual(['x/layer.tar', 'c1.json', 'c2.json', 'manifest.json']);
  });

  it('refuses archives whose manifest and configs do not agree', async () => {
    const bad = archive([{ name: 'cfg.json', data: JSON.stringify({ rootfs: { diff_ids: [D[0]] } }) }, { name: 'manifest.json', data: JSON.stringify([{ Config: 'cfg.json', Layers: ['a/layer.tar', 'b/layer.tar'] }]) }]);
    await expect(planArchive(bufReader(bad), bad.length, new Set())).rejects.toThrow(/lists 1 layers/);
    const missing = archive([{ name: 'cfg.json', data: JSON.stringify({ rootfs: { diff_ids: [D[0]] } }) }, { name: 'manifest.json', data: JSON.stringify([{ Config: 'cfg.json', Layers: ['a/layer.tar'] }]) }]);
    await expect(planArchive(bufReader(missing), missing.length, new Set())).rejects.toThrow(/not in the archive/);
    const none = archive([{ name: 'x', data: '1' }]);
    await expect(planArchive(bufReader(none), none.length, new Set())).rejects.toThrow(/no manifest.json/);
  });
});

describe('refs', () => {
  it('IDs, names, tags', () => {
    expect(isImageId(`sha256:${'a'.repeat(64)}`)).toBe(true);
    expect(isImageId('app:1')).toBe(false);
    expect(normalizeRef('app')).toBe('app:latest');
    expect(normalizeRef('reg:5000/app')).toBe('reg:5000/app:latest');
    expect(normalizeRef('reg:5000/app:2')).toBe('reg:5000/app:2');
    expect(normalizeRef(`app@sha256:${'b'.repeat(64)}`)).toBe(`app@sha256:${'b'.repeat(64)}`);
    expect(validImageRef('tsswarm/busybox:latest')).toBe(true);
    expect(validImageRef('-rf')).toBe(false);
    expect(validImageRef('a b')).toBe(false);
    expect(validImageRef('')).toBe(false);
  });
});
