// Pruning built images on the real engine: a build: service deployed 5 times, one changed line
// each time, leaves at most N (--image-keep 3) images of that service on the node, the running
// one and the previous one among them; `service rollback` then runs the previous image at once
// (it is on the node: nothing fetched); an image tsswarm did not build is never touched.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, waitFor } from './harness.js';

const STACK = 'e2eprune';
const IMAGE = `${STACK}-web`;
const SVC = `${STACK}_web`;
const OTHER = `${STACK}-unrelated:old`;
const KEEP = 3;

const STACK_FILE = `
services:
  web:
    build: .
    init: true
    stop_grace_period: 1s
    deploy:
      replicas: 1
      update_config: { order: stop-first, monitor: 1s }
      rollback_config: { order: stop-first, monitor: 1s }
`;

const DOCKERFILE = `FROM tsswarm/busybox:latest
COPY version.txt /version
CMD ["sh", "-c", "exec sleep 100000"]
`;


describe('built images are pruned per node, with a bound', () => {
  const c = new Cluster('prune');
  let dir = '';
  let file = '';
  const pinned: string[] = [];
  const builtOf = async (): Promise<string[]> =>
    (await c.docker.listImages({ filters: { label: [`tsswarm.service.name=${SVC}`] } })).map((i) => i.Id);
  const runs = (id: string): Promise<boolean> => c.runsImage(SVC, id);

  beforeAll(async () => {
    await c.start(true, ['--task-history-limit', '1', '--image-keep', String(KEEP)]);
    file = c.writeStack('stack.yml', STACK_FILE, { Dockerfile: DOCKERFILE, 'version.txt': 'v1\n' });
    dir = dirname(file);
    await c.docker.getImage('tsswarm/busybox:latest').tag({ repo: `${STACK}-unrelated`, tag: 'old' });
  }, 60_000);

  afterAll(async () => {
    await c.destroy([STACK]);
    for (const id of [...new Set([...pinned, ...(await builtOf().catch(() => []))])]) await c.docker.getImage(id).remove({ force: true }).catch(() => undefined);
    await c.docker.getImage(OTHER).remove().catch(() => undefined);
  });

  it(`five deploys with one changed line leave at most ${KEEP} images of the service: the running one and the previous one among them`, async () => {
    for (let v = 1; v <= 5; v++) {
      writeFileSync(join(dir, 'version.txt'), `v${v}\n`);
      const r = await c.cli('deploy', '-c', file, STACK, '--detach');
      expect(r.code, r.stderr).toBe(0);
      const id = (await c.docker.getImage(IMAGE).inspect()).Id;
      expect(pinned).not.toContain(id);
      pinned.push(id);
      await waitFor(`the task running build ${v}`, () => runs(id), 30_000);
    }
    await waitFor(`at most ${KEEP} images of ${SVC} left`, async () => (await builtOf()).length <= KEEP, 30_000);
    const left = await builtOf();
    expect(left).toContain(pinned[4]);
    expect(left).toContain(pinned[3]);
    expect(left).not.toContain(pinned[0]);
    expect(left).not.toContain(pinned[1]);
    expect(readFileSync(c.logFile, 'utf8')).toMatch(/"service":"e2eprune_web".*"msg":"image removed"|"msg":"image removed".*"service":"e2eprune_web"/);
    // not built by tsswarm: untouched (still there, still the busybox image it was tagged from)
    const other = await c.docker.getImage(OTHER).inspect().catch(() => undefined);
    expect(other?.Id).toBe((await c.docker.getImage('tsswarm/busybox:latest').inspect()).Id);
  }, 55_000);

  it('service rollback runs the previous image at once: it is on the node, nothing is fetched', async () => {
    const logBefore = readFileSync(c.logFile, 'utf8').length;
    const r = await c.cli('service', 'rollback', '--detach', SVC);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('the task running the previous build', () => runs(pinned[3]), 20_000);
    const since = readFileSync(c.logFile, 'utf8').slice(logBefore);
    expect(since).not.toContain('image fetched');
    expect(since).not.toContain('TSW_ERR');
  }, 30_000);
});
