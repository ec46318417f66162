// Pinning a deploy's images on the real engine (cli/resolve.ts, docs/images.md#pinning): an image
// built by hand (`docker build -t`, no registry gave it) is pinned to its ID; rebuilding the same
// tag and deploying again rolls the service to the new image (Swarm, keyed on the name, would
// not); `--resolve-image never` deploys the name as written; a name no engine holds and no
// registry serves is deployed as written with Swarm's warning.

import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, waitFor } from './harness.js';

const STACK = 'e2epin';
const SVC = `${STACK}_web`;
const IMAGE = `${STACK}-byhand:1`;

interface Service { spec: { image: string; image_id?: string } }

/** `docker build -t IMAGE` of a one-line change on the test image; returns the image's ID. */
function buildByHand(version: string): string {
  const dockerfile = `FROM tsswarm/busybox:latest\nRUN echo ${version} > /version\nCMD ["sleep", "100000"]\n`;
  const r = spawnSync('docker', ['build', '-q', '-t', IMAGE, '-'], { input: dockerfile, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`docker build failed: ${r.stderr}`);
  return r.stdout.trim();
}

describe('a deploy pins its images', () => {
  const c = new Cluster('pin');
  const ids: string[] = [];
  const service = async () => (await c.json<Service[]>('service', 'inspect', SVC))[0];
  const runs = (id: string): Promise<boolean> => c.runsImage(SVC, id);
  let file = '';

  beforeAll(async () => {
    await c.start(true, ['--task-history-limit', '2']);
    file = c.writeStack('stack.yml', `
services:
  web:
    image: ${IMAGE}
    init: true
    stop_grace_period: 1s
    deploy:
      update_config: { order: stop-first, monitor: 1s }
`);
  }, 60_000);

  afterAll(async () => {
    await c.destroy([STACK]);
    for (const id of ids) await c.docker.getImage(id).remove({ force: true }).catch(() => undefined);
  });

  it('pins an image built by hand to its ID, and rolls the service when the tag is rebuilt', async () => {
    ids.push(buildByHand('v1'));
    const first = await c.cli('deploy', '-c', file, STACK);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).not.toMatch(/could not be accessed on a registry/);
    expect(await service()).toMatchObject({ spec: { image: IMAGE, image_id: ids[0] } });
    expect(await runs(ids[0]!)).toBe(true);

    // Same file, same tag, new bits: the deploy sees the change and rolls the task.
    ids.push(buildByHand('v2'));
    expect(ids[1]).not.toBe(ids[0]);
    const plan = await c.cliOk('deploy', '--dry-run', '-c', file, STACK);
    expect(plan).toMatch(/update/);
    expect(plan).toContain(ids[1]!.replace(/^sha256:/, '').slice(0, 12));
    await c.cliOk('deploy', '-c', file, STACK);
    expect((await service()).spec.image_id).toBe(ids[1]);
    await waitFor('the task to run the rebuilt image', () => runs(ids[1]!), 60_000);

    // The same file deployed again changes nothing.
    expect(await c.cliOk('deploy', '-c', file, STACK)).toMatch(/Nothing to do/);
  });

  it('service update --image pins the new name too; --no-resolve-image sends it as written', async () => {
    const r = spawnSync('docker', ['build', '-q', '-t', `${STACK}-byhand:3`, '-'], { input: 'FROM tsswarm/busybox:latest\nRUN echo v3 > /version\nCMD ["sleep", "100000"]\n', encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const v3 = r.stdout.trim();
    ids.push(v3);
    await c.cliOk('service', 'update', '--image', `${STACK}-byhand:3`, SVC);
    expect(await service()).toMatchObject({ spec: { image: `${STACK}-byhand:3`, image_id: v3 } });
    await waitFor('the task to run v3', () => runs(v3), 60_000);
    await c.cliOk('service', 'update', '--detach', '--no-resolve-image', '--image', IMAGE, SVC);
    expect((await service()).spec).toMatchObject({ image: IMAGE });
    expect((await service()).spec.image_id).toBeUndefined();
  });

  it('--resolve-image never deploys the name as written', async () => {
    await c.cliOk('deploy', '--resolve-image', 'never', '-c', file, STACK);
    const s = await service();
    expect(s.spec.image).toBe(IMAGE);
    expect(s.spec.image_id).toBeUndefined();
  });

  it('a name no engine holds and no registry serves goes as written, with a warning', async () => {
    const missing = c.writeStack('missing.yml', `services:\n  web:\n    image: ${STACK}-nowhere:1\n`);
    const r = await c.cli('deploy', '--dry-run', '-c', missing, STACK);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`warning: image ${STACK}-nowhere:1 \\(web\\) could not be accessed on a registry to record its digest \\(.+\\); each node will resolve it on its own`));
    expect(r.stdout).toContain(`${STACK}-nowhere:1`);
  });
});
