// build: end to end on the real engine: deploy builds a service's image from its Dockerfile (FROM
// the locally built test image), pins the service to the image's ID and runs exactly it; an
// unchanged redeploy replaces nothing; one changed line rolls the tasks to the new ID; a failing
// step fails the deploy naming the service and the step, and deploys nothing; `tsswarm build web`
// then `deploy --no-build`; .dockerignore keeps a file out of the image.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtLayers, Cluster, removeBuilt, waitFor } from './harness.js';

const STACK = 'e2ebuild';
const IMAGE = `${STACK}-web`;
const SVC = `${STACK}_web`;

const STACK_FILE = `
services:
  web:
    build: .
    init: true
    stop_grace_period: 1s
    deploy:
      replicas: 2
      update_config: { parallelism: 1, order: stop-first, monitor: 1s }
`;

const dockerfile = (last = 'CMD ["sh", "-c", "exec sleep 100000"]') => `FROM tsswarm/busybox:latest
COPY . /app
RUN cat /app/version.txt > /version
${last}
`;

interface Task { id: string; slot?: number; specVersion: number; desiredState: string; status: { state: string; containerId?: string } }
interface Svc { specVersion: number; spec: { image: string; image_id?: string; build?: unknown } }

describe('build: services on a real engine', () => {
  const c = new Cluster('build');
  let file = '';
  let dir = '';
  const pinned: string[] = [];
  const layers: string[] = [];
  const service = async () => (await c.json<Svc[]>('service', 'inspect', SVC))[0];
  const tasks = () => c.json<Task[]>('service', 'ps', SVC);
  const live = async () => (await tasks()).filter((t) => t.desiredState === 'running');
  const imageId = async (ref: string) => (await c.docker.getImage(ref).inspect()).Id;
  /** Every running task of the service runs `id`, in a container of that image; `n` of them. */
  const allRun = async (id: string, n = 2): Promise<boolean> => {
    const ts = (await live()).filter((t) => t.status.state === 'running');
    if (ts.length !== n) return false;
    for (const t of ts) {
      const info = await c.docker.getContainer(t.status.containerId!).inspect();
      if (info.Image !== id) return false;
    }
    return (await c.containers(STACK)).length === n;
  };
  const run = (image: string, ...cmd: string[]) => spawnSync('docker', ['run', '--rm', image, ...cmd], { encoding: 'utf8', timeout: 60_000 });

  beforeAll(async () => {
    await c.start();
    file = c.writeStack('stack.yml', STACK_FILE, {
      Dockerfile: dockerfile(), 'version.txt': 'one\n', 'secret.txt': 'do not ship\n', '.dockerignore': 'secret.txt\n*.tmp\n',
    });
    dir = dirname(file);
  }, 120_000);

  afterAll(async () => {
    await c.destroy([STACK]);
    await removeBuilt(c.docker, [IMAGE, ...pinned], layers);
  });

  it('deploy builds the image with live output, pins the service to its ID and runs exactly it', async () => {
    const r = await c.cli('deploy', '-c', file, STACK);
    expect(r.code, r.stderr).toBe(0);
    // 4 steps of the Dockerfile, then the LABEL steps of tsswarm's image labels (classic builder)
    expect(r.stderr).toMatch(/web \| Step 1\/\d+ : FROM tsswarm\/busybox:latest/);
    expect(r.stderr).toMatch(/Built web: e2ebuild-web [0-9a-f]{12}/);
    const id = await imageId(IMAGE);
    pinned.push(id);
    const s = await service();
    expect(s.spec.image).toBe(IMAGE);
    expect(s.spec.image_id).toBe(id);
    expect(s.spec).not.toHaveProperty('build');
    await waitFor('both tasks running the built image', () => allRun(id), 60_000);
    // docker ps shows the name, not an ID
    expect((await c.containers(STACK)).map((x) => x.Image)).toEqual([IMAGE, IMAGE]);
    expect(run(id, 'cat', '/version').stdout).toBe('one\n');
  });

  it('.dockerignore keeps a file out of the image; the rest of the context is there', () => {
    const ls = run(IMAGE, 'ls', '-a', '/app');
    expect(ls.status, ls.stderr).toBe(0);
    expect(ls.stdout.split('\n')).toEqual(expect.arrayContaining(['Dockerfile', 'version.txt', 'stack.yml', '.dockerignore']));
    expect(ls.stdout).not.toContain('secret.txt');
  });

  it('an unchanged redeploy builds from the cache, keeps the ID and replaces no task', async () => {
    const before = (await live()).map((t) => t.id).sort();
    const r = await c.cli('deploy', '-c', file, STACK);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Nothing to do');
    expect(r.stderr).toContain('Using cache');
    expect((await service()).spec.image_id).toBe(pinned[0]);
    expect((await live()).map((t) => t.id).sort()).toEqual(before);
  });

  it('one changed line: a new ID, and a rolling update to it', async () => {
    const v1 = (await service()).specVersion;
    writeFileSync(join(dir, 'version.txt'), 'two\n');
    const r = await c.cli('deploy', '-c', file, STACK);
    expect(r.code, r.stderr).toBe(0);
    const id = await imageId(IMAGE);
    pinned.push(id);
    expect(id).not.toBe(pinned[0]);
    const s = await service();
    expect(s.spec.image_id).toBe(id);
    expect(s.specVersion).toBe(v1 + 1);
    await waitFor('both tasks on the new image', () => allRun(id), 60_000);
    expect((await live()).every((t) => t.specVersion === v1 + 1)).toBe(true);
    expect(run(IMAGE, 'cat', '/version').stdout).toBe('two\n');
  });

  it('a failing step fails the deploy, naming the service and the step; nothing is deployed', async () => {
    const before = await service();
    writeFileSync(join(dir, 'version.txt'), 'three\n');
    writeFileSync(join(dir, 'Dockerfile'), dockerfile('RUN echo broken && exit 7'));
    const r = await c.cli('deploy', '-c', file, STACK);
    // the layers of the steps that succeeded stay on the engine, untagged: removed at the end
    layers.push(...builtLayers(r.stderr));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/build of service web failed at step 4\/\d+ \(RUN echo broken && exit 7\)/);
    expect(r.stderr).toContain('returned a non-zero code: 7');
    expect(r.stderr).toContain('TSW_ERR_BUILD_FAILED');
    const after = await service();
    expect(after.specVersion).toBe(before.specVersion);
    expect(after.spec.image_id).toBe(before.spec.image_id);
  });

  it('tsswarm build web builds alone; deploy --no-build deploys what was built last', async () => {
    writeFileSync(join(dir, 'Dockerfile'), dockerfile());
    const b = await c.cli('build', '-c', file, '--stack', STACK, 'web');
    expect(b.code, b.stderr).toBe(0);
    const id = await imageId(IMAGE);
    pinned.push(id);
    expect(b.stdout).toBe(`web\t${IMAGE}\t${id}\n`);
    expect((await service()).spec.image_id).toBe(pinned[1]); // built, not deployed
    const d = await c.cli('deploy', '-c', file, STACK, '--no-build');
    expect(d.code, d.stderr).toBe(0);
    expect(d.stderr).not.toContain('Step 1/');
    expect((await service()).spec.image_id).toBe(id);
    await waitFor('both tasks on the image built by tsswarm build', () => allRun(id), 60_000);
  });

  it('deploy --no-build without the image: a clear error, nothing deployed', async () => {
    const other = c.writeStack('missing.yml', STACK_FILE.replace('build: .', `build: .\n    image: ${STACK}-never-built:1`), { Dockerfile: dockerfile() });
    const before = await service();
    const r = await c.cli('deploy', '-c', other, STACK, '--no-build');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`image ${STACK}-never-built:1 of service web is not built on this engine`);
    expect(r.stderr).toContain('TSW_ERR_IMAGE_NOT_BUILT');
    expect((await service()).specVersion).toBe(before.specVersion);
  });
});
