// Corpus stacks deployed unchanged on the test engine: public Compose files of test/corpus/
// whose images are all from a registry, which is out of reach here. A small override file,
// given as a second `-c`, replaces each service's image by the local test image (with a command
// that keeps it running); the corpus file itself is not edited. Everything else the file says
// (networks, named volumes, bind sources, environment, restart policies, replicas, placement
// constraints, depends_on) is deployed as written, and each service converges with its replicas
// running, its container holding the file's environment, then `stack rm` removes it all.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Docker from 'dockerode';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerFromEnv } from '../../agent/docker.js';
import { loadStackFiles } from '../../common/stack/index.js';
import { ROOT, waitFor } from './harness.js';
import { ManagerProc } from './managers.js';

const CORPUS = resolve(ROOT, 'test', 'corpus');
const IMAGE = 'tsswarm/busybox:latest';
const docker: Docker = dockerFromEnv();

/** The corpus entries deployed here: image-only stacks that bind-mount nothing of the host
 *  (the others bind /var/run/docker.sock, which the test engine does not listen on, or folders
 *  the corpus does not carry). Their published ports are the file's; they run one at a time. */
const DEPLOYED = ['gitea-postgres', 'nextcloud-postgres', 'nextcloud-redis-mariadb', 'postgresql-pgadmin', 'wordpress-mysql'];

interface Entry { name: string; file: string }
const entries = (JSON.parse(readFileSync(join(CORPUS, 'corpus.json'), 'utf8')) as Entry[]).filter((e) => DEPLOYED.includes(e.name));

/** The override: every service on the local test image, kept running, stopped at once. */
function override(e: Entry): string {
  const doc = parse(readFileSync(join(CORPUS, e.name, e.file), 'utf8')) as { services: Record<string, unknown> };
  const services = Object.fromEntries(Object.keys(doc.services).map((s) => [s, {
    image: IMAGE, entrypoint: ['sleep'], command: ['100000'], init: true, stop_grace_period: '1s',
  }]));
  return JSON.stringify({ services }, null, 2);
}

interface Service { name: string; spec: { deploy: { replicas?: number; mode: string } } }
interface Task { desiredState: string; status: { state: string; containerId?: string } }

describe('corpus stacks deploy on the test engine', () => {
  const m = new ManagerProc('corpus');
  const work = mkdtempSync('/tmp/tsswarm-corpus-');

  beforeAll(async () => {
    await m.init('127.0.0.9', [], { agent: true });
    await waitFor('the embedded agent\'s node ready', async () =>
      (JSON.parse(await m.cliOk('node', 'ls', '--format', 'json')) as { status: { state: string } }[]).some((n) => n.status.state === 'ready'), 60_000);
  }, 120_000);

  afterAll(async () => {
    await m.stop();
    m.remove();
    rmSync(work, { recursive: true, force: true });
    for (const e of entries) {
      const ns = stackName(e);
      for (const c of await docker.listContainers({ all: true, filters: { label: [`tsswarm.stack.namespace=${ns}`] } })) {
        await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      }
      for (const n of await docker.listNetworks()) if (n.Name.startsWith(`${ns}_`)) await docker.getNetwork(n.Id).remove().catch(() => undefined);
      for (const v of (await docker.listVolumes()).Volumes ?? []) if (v.Name.startsWith(`${ns}_`)) await docker.getVolume(v.Name).remove().catch(() => undefined);
    }
  });

  const stackName = (e: Entry) => `corpus-${e.name}`.replace(/[^a-z0-9_-]/g, '');

  it.each(entries.map((e) => [e.name, e] as const))('%s converges and is removed', async (_n, e) => {
    const stack = stackName(e);
    const dir = join(work, e.name);
    mkdirSync(dir, { recursive: true });
    const over = join(dir, 'override.yml');
    writeFileSync(over, override(e));
    const out = await m.cliOk('deploy', '-c', join(CORPUS, e.name, e.file), '-c', over, '--timeout', '3m', stack);
    expect(out).toContain(`Stack ${stack} converged.`);

    const services = JSON.parse(await m.cliOk('service', 'ls', '--format', 'json')) as Service[];
    const mine = services.filter((s) => s.name.startsWith(`${stack}_`));
    // what the file says, interpolated (with its .env): the unit corpus test compares this with Docker's reading
    const doc = loadStackFiles([e.file], { cwd: join(CORPUS, e.name), env: { HOME: process.env.HOME } }).stack;
    expect(mine.map((s) => s.name).sort()).toEqual(Object.keys(doc.services).map((s) => `${stack}_${s}`).sort());
    for (const [name, svc] of Object.entries(doc.services)) {
      const tasks = JSON.parse(await m.cliOk('service', 'ps', `${stack}_${name}`, '--format', 'json')) as Task[];
      const running = tasks.filter((t) => t.desiredState === 'running' && t.status.state === 'running');
      expect(running.length, `${stack}_${name}`).toBe(svc.deploy.replicas ?? 1);
      // the file's environment reaches the container as written
      const info = await docker.getContainer(running[0].status.containerId!).inspect();
      expect(info.Config.Image).toBe(IMAGE);
      for (const [k, v] of Object.entries(svc.environment)) expect(info.Config.Env).toContain(`${k}=${v}`);
    }

    await m.cliOk('stack', 'rm', stack);
    expect(await docker.listContainers({ filters: { label: [`tsswarm.stack.namespace=${stack}`] } })).toEqual([]);
  }, 240_000);
});
