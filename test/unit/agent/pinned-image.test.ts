// A pinned image (ServiceSpec.image_id) on the agent: created by its name when the name is that
// image, by the ID when the name points elsewhere, tagged when the node has the ID but not the
// name, and a clear failure when the node lacks the ID. A fake engine of names -> IDs.
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type Dockerode from 'dockerode';
import { Resources } from '../../../agent/exec/resources.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;

function fakeEngine(refs: Record<string, string>) {
  const calls = { tags: [] as string[], pulls: 0 };
  const notFound = Object.assign(new Error('No such image'), { statusCode: 404 });
  const ids = () => new Set(Object.values(refs));
  const docker = {
    getImage: (ref: string) => ({
      inspect: async () => {
        const id = refs[ref] ?? (ids().has(ref) ? ref : undefined);
        return id ? { Id: id } : Promise.reject(notFound);
      },
      tag: async (o: { repo: string; tag: string }) => {
        calls.tags.push(`${o.repo}:${o.tag}`);
        refs[`${o.repo}:${o.tag}`] = ref;
        if (o.tag === 'latest') refs[o.repo] = ref;
      },
    }),
    pull: async () => { calls.pulls++; return {}; },
    modem: { followProgress: (_s: unknown, done: (err: Error | null, out: unknown[]) => void) => done(null, []) },
  } as unknown as Dockerode;
  return { docker, calls, refs };
}

const log = pino({ level: 'silent' });

describe('pinned images', () => {
  it('the name is the pinned image: created by name (docker ps shows it), never pulled', async () => {
    const { docker, calls } = fakeEngine({ 'shop-web': A });
    expect(await new Resources(docker, log).ensureImage('shop-web', 'always', A)).toBe('shop-web');
    expect(calls.pulls).toBe(0);
  });

  it('the name points at another build: created from the pinned ID, the name left alone', async () => {
    const { docker, calls } = fakeEngine({ 'shop-web': B, other: A });
    expect(await new Resources(docker, log).ensureImage('shop-web', 'missing', A)).toBe(A);
    expect(calls.tags).toEqual([]);
  });

  it('the ID without the name: the name is given to it, and used', async () => {
    const { docker, calls } = fakeEngine({ 'some-other-name:1': A });
    expect(await new Resources(docker, log).ensureImage('registry.local:5000/shop/web:2', 'missing', A)).toBe('registry.local:5000/shop/web:2');
    expect(calls.tags).toEqual(['registry.local:5000/shop/web:2']);
  });

  it('never cached: a name that moves is seen at the next task', async () => {
    const { docker, refs } = fakeEngine({ 'shop-web': A, keep: A });
    const r = new Resources(docker, log);
    expect(await r.ensureImage('shop-web', 'missing', A)).toBe('shop-web');
    refs['shop-web'] = B;
    expect(await r.ensureImage('shop-web', 'missing', A)).toBe(A);
  });

  it('the ID is not on the node: the task fails saying which image', async () => {
    const { docker } = fakeEngine({ 'shop-web': B });
    await expect(new Resources(docker, log).ensureImage('shop-web', 'missing', A)).rejects.toThrow(`image shop-web (${'a'.repeat(12)}) is not on this node`);
  });

  it('the ID is not on the node but the cluster has it: one fetch for every task waiting, then the name is given to it', async () => {
    const { docker, calls, refs } = fakeEngine({});
    const fetched: string[] = [];
    const watched: string[] = [];
    const cluster = {
      fetch: async (ref: string) => { fetched.push(ref); await Promise.resolve(); refs['loaded-by-id'] = A; return ref; },
      watch: (ref: string) => { watched.push(ref); return () => undefined; },
    };
    const r = new Resources(docker, log, 1000, cluster);
    const got = await Promise.all([r.ensureImage('shop-web', 'missing', A, () => undefined), r.ensureImage('shop-web', 'missing', A)]);
    expect(got).toEqual(['shop-web', 'shop-web']);
    expect(fetched).toEqual([A]);
    expect(watched).toEqual([A]);
    expect(calls.tags).toContain('shop-web:latest');
  });
});
