// Images from a registry are pinned by digest (cli/resolve.ts, docs/images.md#pinning), as
// `docker stack deploy` does: a private registry on the loopback (Debian's docker-registry, the
// CNCF distribution server) serves a tag; the deploy runs `name:tag@sha256:…` and the node pulls
// exactly that; the tag pushed again with new bits, a deploy rolls the service to them; with the
// registry down, a deploy keeps the digest it was deployed with (and changes nothing).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, httpGet, waitFor } from './harness.js';

const REGISTRY = '/usr/bin/docker-registry';
const STACK = 'e2ereg';
const SVC = `${STACK}_web`;

interface Service { spec: { image: string; image_id?: string } }

const freePort = (): Promise<number> => new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
});

const docker = (...args: string[]) => {
  const r = spawnSync('docker', args, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
};

const root = process.getuid?.() === 0 && existsSync(REGISTRY);

describe.skipIf(!root)('images from a registry are pinned by digest (a registry on the loopback)', () => {
  const c = new Cluster('registry');
  const dir = mkdtempSync('/tmp/tsswarm-e2e-registry-');
  let registry: ChildProcess | undefined;
  let port = 0;
  let ref = '';
  const ids: string[] = [];
  const service = async () => (await c.json<Service[]>('service', 'inspect', SVC))[0];
  const runs = (id: string): Promise<boolean> => c.runsImage(SVC, id);

  /** Build a one-line change of the test image, push it as `ref`, drop it locally; its ID and registry digest. */
  function publish(version: string): { id: string; digest: string } {
    const r = spawnSync('docker', ['build', '-q', '-t', ref, '-'], { input: `FROM tsswarm/busybox:latest\nRUN echo ${version} > /version\nCMD ["sleep", "100000"]\n`, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`docker build failed: ${r.stderr}`);
    const id = r.stdout.trim();
    ids.push(id);
    docker('push', '-q', ref);
    const repoDigest = docker('image', 'inspect', '--format', '{{index .RepoDigests 0}}', id);
    // The node must pull it: the engine keeps nothing of it (the test image's layer stays).
    docker('image', 'rm', '-f', id);
    return { id, digest: repoDigest.slice(repoDigest.indexOf('@') + 1) };
  }

  async function startRegistry(): Promise<void> {
    registry = spawn(REGISTRY, ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
    await waitFor('the registry to answer', async () => (await httpGet(port, '/v2/').catch(() => ({ status: 0 }))).status === 200, 30_000, 100);
  }

  async function stopRegistry(): Promise<void> {
    const p = registry;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  beforeAll(async () => {
    port = await freePort();
    ref = `127.0.0.1:${port}/${STACK}/app:1`;
    writeFileSync(join(dir, 'config.yml'), `version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }
http: { addr: "127.0.0.1:${port}" }
`);
    await startRegistry();
    await c.start(true, ['--task-history-limit', '2']);
  }, 60_000);

  afterAll(async () => {
    await stopRegistry();
    await c.destroy([STACK]);
    for (const id of ids) await c.docker.getImage(id).remove({ force: true }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the digest the registry gave at deploy, rolls to a re-pushed tag, keeps its digest while the registry is down', async () => {
    const file = c.writeStack('stack.yml', `
services:
  web:
    image: ${ref}
    init: true
    stop_grace_period: 1s
    deploy:
      update_config: { order: stop-first, monitor: 1s }
`);
    const v1 = publish('v1');
    const first = await c.cli('deploy', '-c', file, STACK);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).not.toMatch(/warning/i);
    expect(await service()).toMatchObject({ spec: { image: `${ref}@${v1.digest}` } });
    expect((await service()).spec.image_id).toBeUndefined();
    expect(await runs(v1.id)).toBe(true);
    // The engine knows the pulled image by the pinned reference (tag and digest): what the agent
    // checks before pulling, and what a node asked for it by the cluster looks up.
    expect(docker('image', 'inspect', '--format', '{{.Id}}', `${ref}@${v1.digest}`)).toBe(v1.id);

    // The tag pushed again with new bits: the same file deployed rolls the service to them.
    const v2 = publish('v2');
    expect(v2.digest).not.toBe(v1.digest);
    await c.cliOk('deploy', '-c', file, STACK);
    expect((await service()).spec.image).toBe(`${ref}@${v2.digest}`);
    await waitFor('the task to run the re-pushed image', () => runs(v2.id), 60_000);

    // The registry is down: the deploy keeps the digest deployed, says so, and changes nothing.
    await stopRegistry();
    const down = await c.cli('deploy', '-c', file, STACK);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toMatch(new RegExp(`warning: image ${ref.replace(/[.]/g, '\\.')} \\(web\\) could not be resolved \\(.+\\); it keeps the digest ${v2.digest} it was deployed with`));
    expect(down.stdout).toMatch(/Nothing to do/);
    expect(await runs(v2.id)).toBe(true);
  });
});
