// Pinning a deploy's images (cli/resolve.ts): a local-only image by its ID, any other name by
// its registry digest, what neither gives left as written with a warning; built, pinned and
// pull_policy always/never services untouched.

import { describe, expect, it } from 'vitest';
import { defaultDeploy, type ServiceSpec, type StackSpec } from '../../../common/spec.js';
import { applyResolutions, previousPin, resolveImages, resolveOne, withDigest, type ImageOracle } from '../../../cli/resolve.js';
import type { Io } from '../../../cli/io.js';

const ID = `sha256:${'a'.repeat(64)}`;
const OTHER_ID = `sha256:${'b'.repeat(64)}`;
const DIGEST = `sha256:${'c'.repeat(64)}`;

const svc = (image: string, extra: Partial<ServiceSpec> = {}): ServiceSpec => ({ image, deploy: defaultDeploy(), ...extra } as ServiceSpec);
const stackOf = (services: Record<string, ServiceSpec>): StackSpec => ({ name: 'st', services } as StackSpec);

/** An engine holding `local` and a registry serving `remote` (ref -> digest); every question is recorded. */
function oracle(local: Record<string, { id: string; repoDigests: string[] }>, remote: Record<string, string>): ImageOracle & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async local(ref) { asked.push(`local ${ref}`); return local[ref]; },
    async distribution(ref) {
      asked.push(`registry ${ref}`);
      if (remote[ref]) return remote[ref];
      throw new Error('Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host');
    },
  };
}

function io(): Io & { errs: string[] } {
  const errs: string[] = [];
  return { errs, out: () => undefined, err: (s: string) => { errs.push(s); }, tty: false } as unknown as Io & { errs: string[] };
}

describe('image references', () => {
  it('appends a digest, keeping the tag (replacing an older digest)', () => {
    expect(withDigest('nginx:1.25', DIGEST)).toBe(`nginx:1.25@${DIGEST}`);
    expect(withDigest(`nginx@sha256:${'d'.repeat(64)}`, DIGEST)).toBe(`nginx@${DIGEST}`);
  });
});

describe('resolveOne', () => {
  it('pins an image no registry gave (no RepoDigests) to its ID, without asking a registry', async () => {
    const o = oracle({ 'app:1': { id: ID, repoDigests: [] } }, {});
    expect(await resolveOne('app:1', o)).toEqual({ kind: 'id', id: ID });
    expect(o.asked).toEqual(['local app:1']);
  });

  it('asks the registry for an image that came from one, and for a name the engine lacks', async () => {
    const o = oracle({ 'nginx:1.25': { id: ID, repoDigests: [`nginx@${DIGEST}`] } }, { 'nginx:1.25': DIGEST, 'redis:7': DIGEST });
    expect(await resolveOne('nginx:1.25', o)).toEqual({ kind: 'digest', digest: DIGEST });
    expect(await resolveOne('redis:7', o)).toEqual({ kind: 'digest', digest: DIGEST });
  });

  it('leaves unresolved what no registry answers for, saying why', async () => {
    const r = await resolveOne('nginx:1.25', oracle({ 'nginx:1.25': { id: ID, repoDigests: [`nginx@${DIGEST}`] } }, {}));
    expect(r).toMatchObject({ kind: 'unresolved', why: expect.stringMatching(/no such host/) });
  });

  it('refuses a digest that is not one', async () => {
    expect(await resolveOne('x:1', oracle({}, { 'x:1': 'md5:zz' }))).toMatchObject({ kind: 'unresolved', why: expect.stringMatching(/no usable digest/) });
  });
});

describe('applyResolutions and resolveImages', () => {
  const stack = stackOf({
    web: svc('app:1'),
    proxy: svc('nginx:1.25'),
    cache: svc('redis:7'),
    built: svc('st-built', { image_id: OTHER_ID }),
    always: svc('app:1', { pull_policy: 'always' }),
    never: svc('app:1', { pull_policy: 'never' }),
    pinned: svc(`nginx:1.25@${DIGEST}`),
  });

  it('pins each service as its name resolved and leaves the others as written', async () => {
    const o = oracle({ 'app:1': { id: ID, repoDigests: [] }, 'nginx:1.25': { id: OTHER_ID, repoDigests: [`nginx@${DIGEST}`] } }, { 'nginx:1.25': DIGEST });
    const out = io();
    const got = await resolveImages(stack, out, { oracle: o });
    expect(got.services.web).toEqual({ ...stack.services.web, image_id: ID });
    expect(got.services.proxy!.image).toBe(`nginx:1.25@${DIGEST}`);
    expect(got.services.proxy!.image_id).toBeUndefined();
    expect(got.services.cache).toEqual(stack.services.cache);
    for (const n of ['built', 'always', 'never', 'pinned']) expect(got.services[n]).toEqual(stack.services[n]);
    // Each name asked once; the pinned, built and policy-bound services never.
    expect(o.asked.sort()).toEqual(['local app:1', 'local nginx:1.25', 'local redis:7', 'registry nginx:1.25', 'registry redis:7']);
    expect(out.errs).toHaveLength(1);
    expect(out.errs[0]).toMatch(/^warning: image redis:7 \(cache\) could not be accessed on a registry to record its digest \(.*no such host\); each node will resolve it on its own/);
    // The input is not changed.
    expect(stack.services.web!.image_id).toBeUndefined();
  });

  it('--resolve-image never: every name as written, nothing asked', async () => {
    const o = oracle({ 'app:1': { id: ID, repoDigests: [] } }, {});
    expect(await resolveImages(stack, io(), { mode: 'never', oracle: o })).toBe(stack);
    expect(o.asked).toEqual([]);
  });

  it('applyResolutions leaves a built or pinned service alone even when its name resolved', () => {
    const got = applyResolutions(stack, new Map([['st-built', { kind: 'id', id: ID }]]));
    expect(got.services.built!.image_id).toBe(OTHER_ID);
  });
});

describe('a name that does not resolve now keeps the pin it was deployed with', () => {
  const stack = stackOf({ proxy: svc('nginx:1.25'), app: svc('app:1'), fresh: svc('nginx:1.25') });
  const deployed = {
    proxy: svc(`nginx:1.25@${DIGEST}`),
    app: svc('app:1', { image_id: ID }),
    // Deployed with another name: nothing to keep.
    fresh: svc(`nginx:1.24@${DIGEST}`),
  };

  it('previousPin: the same name pinned by ID or digest, nothing else', () => {
    expect(previousPin('nginx:1.25', deployed.proxy)).toEqual({ kind: 'digest', digest: DIGEST });
    expect(previousPin('app:1', deployed.app)).toEqual({ kind: 'id', id: ID });
    expect(previousPin('nginx:1.25', deployed.fresh)).toBeUndefined();
    expect(previousPin('nginx:1.25', svc('nginx:1.25'))).toBeUndefined();
    expect(previousPin('nginx:1.25', undefined)).toBeUndefined();
  });

  it('resolveImages asks for the deployed services only then, and says what it kept', async () => {
    let asked = 0;
    const out = io();
    const got = await resolveImages(stack, out, { oracle: oracle({}, {}), deployed: async () => { asked++; return deployed; } });
    expect(asked).toBe(1);
    expect(got.services.proxy!.image).toBe(`nginx:1.25@${DIGEST}`);
    expect(got.services.app).toEqual({ ...stack.services.app, image_id: ID });
    expect(got.services.fresh).toEqual(stack.services.fresh);
    expect(out.errs.join('')).toMatch(/image nginx:1\.25 \(proxy\) could not be resolved \(.*\); it keeps the digest sha256:c+ it was deployed with/);
    expect(out.errs.join('')).toMatch(/image app:1 \(app\) could not be resolved \(.*\); it keeps the image ID a{12} it was deployed with/);
    expect(out.errs.join('')).toMatch(/image nginx:1\.25 \(fresh\) could not be accessed on a registry/);

    // Everything resolved: the deployed services are not asked for.
    await resolveImages(stackOf({ app: svc('app:1') }), io(), { oracle: oracle({ 'app:1': { id: ID, repoDigests: [] } }, {}), deployed: async () => { asked++; return deployed; } });
    expect(asked).toBe(1);
  });
});

describe('only well-formed names reach the engine', () => {
  it.each(['../../containers/json?all=1', 'Upper', 'a b', 'x:tag with space'])('%s is left as written, nothing asked', async (image) => {
    const o = oracle({}, {});
    const st = stackOf({ web: svc(image) });
    expect(await resolveImages(st, io(), { oracle: o })).toBe(st);
    expect(o.asked).toEqual([]);
  });
});

describe('no Docker engine answers (a machine without Docker)', () => {
  it('names go as written, but what was deployed pinned stays pinned: redeploying from here changes nothing', async () => {
    const out = io();
    const st = stackOf({ app: svc('app:1'), proxy: svc('nginx:1.25'), fresh: svc('redis:7') });
    const deployed = { app: svc('app:1', { image_id: ID }), proxy: svc(`nginx:1.25@${DIGEST}`) };
    const got = await resolveImages(st, out, { env: { DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, deployed: async () => deployed });
    expect(got.services.app).toEqual({ ...st.services.app, image_id: ID });
    expect(got.services.proxy!.image).toBe(`nginx:1.25@${DIGEST}`);
    expect(got.services.fresh).toEqual(st.services.fresh);
    expect(out.errs).toEqual([
      'warning: no Docker engine answers at unix:///nonexistent/docker.sock: images are not pinned (app, proxy keep the images they were deployed with); each node resolves the others on its own\n',
    ]);
  });
});
