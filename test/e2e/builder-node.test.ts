// --builder-node end to end on the real engine (one host: the manager's own agent is the
// builder node). The CLI sees no Docker engine at all (DOCKER_HOST names a socket that does
// not exist, as on a laptop without Docker): deploy --builder-node builds on the node, shows
// the engine's output live, pins the service to the built image's ID and runs it;
// .dockerignore keeps a file out; a failing step fails naming the service and the step and
// deploys nothing; an unknown node is a clear error.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtLayers, Cluster, removeBuilt, runCli, waitFor } from './harness.js';

const STACK = 'e2ebnode';
const IMAGE = `${STACK}-web`;
const SVC = `${STACK}_web`;

const STACK_FILE = `
services:
  web:
    build: .
    init: true
    stop_grace_period: 1s
`;

const dockerfile = (last = 'CMD ["sh", "-c", "exec sleep 100000"]') => `FROM tsswarm/busybox:latest
COPY . /app
RUN cat /app/version.txt > /version
${last}
`;

interface Svc { specVersion: number; spec: { image: string; image_id?: string } }

describe('--builder-node: a build on a cluster node, the CLI without Docker', () => {
  const c = new Cluster('bnode');
  let file = '';
  let node = '';
  const pinned: string[] = [];
  const layers: string[] = [];
  const cli = (...args: string[]) => runCli(args, { TSSWARM_HOST: `unix://${c.socket}`, DOCKER_HOST: `unix://${c.dataDir}/no-docker-here.sock` });
  const service = async () => (await c.json<Svc[]>('service', 'inspect', SVC))[0];
  const run = (image: string, ...cmd: string[]) => spawnSync('docker', ['run', '--rm', image, ...cmd], { encoding: 'utf8', timeout: 60_000 });

  beforeAll(async () => {
    await c.start();
    file = c.writeStack('stack.yml', STACK_FILE, {
      Dockerfile: dockerfile(), 'version.txt': 'one\n', 'secret.txt': 'do not ship\n', '.dockerignore': 'secret.txt\n',
    });
    node = (await c.json<{ description: { hostname: string } }[]>('node', 'ls'))[0].description.hostname;
  }, 120_000);

  afterAll(async () => {
    await c.destroy([STACK]);
    await removeBuilt(c.docker, [IMAGE, ...pinned], layers);
  });

  it('without --builder-node the CLI needs a Docker engine', async () => {
    const r = await cli('deploy', '-c', file, STACK);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('cannot be reached');
  });

  it('deploy --builder-node builds on the node with live output, pins the ID and runs it', async () => {
    const r = await cli('deploy', '-c', file, STACK, '--builder-node', node);
    expect(r.code, r.stderr + c.logTail()).toBe(0);
    expect(r.stderr).toContain(`on node ${node}`);
    // 4 steps of the Dockerfile, then the LABEL steps of tsswarm's image labels (classic builder)
    expect(r.stderr).toMatch(/web \| Step 1\/\d+ : FROM tsswarm\/busybox:latest/);
    expect(r.stderr).toMatch(/Built web: e2ebnode-web [0-9a-f]{12} on node /);
    const id = (await c.docker.getImage(IMAGE).inspect()).Id;
    pinned.push(id);
    const s = await service();
    expect(s.spec.image_id).toBe(id);
    await waitFor('the task running the built image', () => c.runsImage(SVC, id), 60_000);
    expect(run(id, 'cat', '/version').stdout).toBe('one\n');
    const ls = run(id, 'ls', '-a', '/app');
    expect(ls.stdout.split('\n')).toEqual(expect.arrayContaining(['Dockerfile', 'version.txt', '.dockerignore']));
    expect(ls.stdout).not.toContain('secret.txt');
  });

  it('a failing step fails naming the service and the step; nothing is deployed', async () => {
    const before = await service();
    writeFileSync(join(dirname(file), 'version.txt'), 'two\n');
    writeFileSync(join(dirname(file), 'Dockerfile'), dockerfile('RUN echo broken && exit 7'));
    const r = await cli('deploy', '-c', file, STACK, '--builder-node', node);
    layers.push(...builtLayers(r.stderr));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/build of service web failed at step 4\/\d+ \(RUN echo broken && exit 7\)/);
    expect(r.stderr).toContain('returned a non-zero code: 7');
    expect(r.stderr).toContain('TSW_ERR_BUILD_FAILED');
    const after = await service();
    expect(after.specVersion).toBe(before.specVersion);
    expect(after.spec.image_id).toBe(before.spec.image_id);
  });

  it('an unknown node is a clear error, nothing deployed', async () => {
    writeFileSync(join(dirname(file), 'Dockerfile'), dockerfile());
    const before = await service();
    const r = await cli('build', '-c', file, '--stack', STACK, '--builder-node', 'no-such-node');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('node no-such-node not found');
    expect((await service()).specVersion).toBe(before.specVersion);
  });
});
