// Images shipped between nodes, no registry (lab: 1 manager + 2 workers). An image built on
// lab-w1's engine only runs on lab-w2 (fetched through the leader, without the base layer lab-w2
// already holds), then on lab-m1 when the service moves there, and a rebuild that changes one
// line ships only the changed layer. Then the CLI is the source: an image only the engine the CLI
// sees holds (the test's own engine, DOCKER_HOST) is uploaded by `deploy` to one node, and the
// node that runs it fetches it from there. Bytes are read from the receiving agents' log lines.
// Run under both locks: the lab's, and the shared engine's (the CLI's image is built there).

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as lab from '../../deploy/lab/lab.js';
import { BRIDGE_ADDR, planHost } from '../../deploy/lab/plan.js';
import { tarEnd, tarHeader, tarPadding } from '../../common/images/tar.js';
import { runCli, waitFor, type CliResult } from './harness.js';

const STACK = 'shipst';
/** Debian's docker-registry (scripts/engine.sh installs it as root). */
const REGISTRY = '/usr/bin/docker-registry';
const IMAGE_A = 2 << 20; // bytes of the first new layer
const IMAGE_B = 1 << 20; // of the second

interface Task { id: string; nodeId?: string; desiredState: string; status: { state: string; message?: string; err?: string } }
interface Fetched { image: string; from?: string; bytes: number; layersSent?: number; layersSkipped?: number; layerBytesSent?: number; layerBytesSkipped?: number }

const engineOf = (h: lab.LabHost): Docker => new Docker({ socketPath: h.dockerHost.replace(/^unix:\/\//, '') });

/** A build context: the Dockerfile and two files of random bytes (the same ones for every build). */
function context(dockerfile: string, files: Record<string, Buffer>): Readable {
  const parts: Buffer[] = [];
  for (const [name, data] of Object.entries({ Dockerfile: Buffer.from(dockerfile), ...files })) parts.push(tarHeader({ name, type: 'file', size: data.length }), data, tarPadding(data.length));
  parts.push(tarEnd());
  return Readable.from([Buffer.concat(parts)]);
}

async function build(docker: Docker, tag: string, version: string, files: Record<string, Buffer>): Promise<void> {
  const dockerfile = `FROM tsswarm/busybox:latest\nCOPY a.bin /a.bin\nCOPY b.bin /b.bin\nRUN echo ${version} > /version\n`;
  const stream = await docker.buildImage(context(dockerfile, files) as unknown as NodeJS.ReadableStream, { t: tag, rm: true });
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
    const failed = out?.find((o) => o.error);
    if (err || failed) reject(err ?? new Error(failed!.error)); else resolve();
  }));
}

/** The 'image fetched' lines of a host's tsswarm log, for `image`. */
function fetchedOn(host: string, image: string): Fetched[] {
  const log = readFileSync(planHost(host.startsWith('lab-m') ? 'manager' : 'worker', Number(host.slice(-1))).tsswarmLog, 'utf8');
  const out: Fetched[] = [];
  for (const line of log.split('\n')) {
    if (!line.includes('image fetched')) continue;
    try {
      const o = JSON.parse(line) as Fetched & { msg: string };
      if (o.msg === 'image fetched' && o.image === image) out.push(o);
    } catch { /* not JSON */ }
  }
  return out;
}

describe('images shipped between nodes without a registry (lab: 1 manager + 2 workers)', () => {
  let hosts: lab.LabHost[] = [];
  let dir = '';
  let file = '';
  const files = { 'a.bin': randomBytes(IMAGE_A), 'b.bin': randomBytes(IMAGE_B) };
  const byName = (n: string): lab.LabHost => hosts.find((h) => h.name === n)!;

  const cli = (...args: string[]): Promise<CliResult> => runCli(args, { TSSWARM_HOST: byName('lab-m1').apiHost! });
  async function cliOk(...args: string[]): Promise<string> {
    const r = await cli(...args);
    if (r.code !== 0) throw new Error(`tsswarm ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }
  const stack = (image: string, host: string) => `
services:
  app:
    image: ${image}
    command: ["sleep", "100000"]
    init: true
    deploy:
      placement: { constraints: ["node.hostname == ${host}"] }
      update_config: { order: stop-first }
`;
  /** The app's one running container is on `host`, and runs `image` (its /version says `version`). */
  async function runsOn(host: string, image: string): Promise<boolean> {
    const tasks = JSON.parse(await cliOk('service', 'ps', `${STACK}_app`, '--format', 'json')) as Task[];
    const failed = tasks.find((t) => t.desiredState === 'running' && (t.status.state === 'rejected' || t.status.state === 'failed'));
    if (failed) throw new Error(`the task failed: ${failed.status.err ?? failed.status.message}`);
    const cs = await engineOf(byName(host)).listContainers({ filters: { label: [`tsswarm.stack.namespace=${STACK}`] } });
    return cs.length === 1 && cs[0].Image === image && tasks.some((t) => t.desiredState === 'running' && t.status.state === 'running');
  }

  beforeAll(async () => {
    hosts = await lab.up({ managers: 1, workers: 2 });
    dir = mkdtempSync('/tmp/tsswarm-e2e-ship-');
    file = join(dir, 'stack.yml');
  }, 240_000);

  afterAll(async () => {
    await lab.down();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('runs an image that only lab-w1 holds on lab-w2, sending no layer lab-w2 already has', async () => {
    const w1 = engineOf(byName('lab-w1'));
    await build(w1, 'shipapp:1', 'v1', files);
    const img = await w1.getImage('shipapp:1').inspect();
    expect(img.RootFS.Layers).toHaveLength(4); // the base, then 3 new layers
    await expect(engineOf(byName('lab-w2')).getImage('shipapp:1').inspect()).rejects.toThrow();

    writeFileSync(file, stack('shipapp:1', 'lab-w2'));
    await cliOk('deploy', '-c', file, STACK);
    await waitFor('the app running on lab-w2', () => runsOn('lab-w2', 'shipapp:1'), 60_000, 250);

    const got = await waitFor('the fetch logged on lab-w2', () => fetchedOn('lab-w2', 'shipapp:1')[0], 10_000);
    console.info('first ship to lab-w2:', JSON.stringify(got));
    expect(got.from).toBe('lab-w1');
    expect(got.layersSent).toBe(3);
    expect(got.layersSkipped).toBe(1);
    // The base layer (busybox, ~2 MB) did not cross: what crossed is the new layers' content
    // plus tar headers and the small files (config, manifest).
    const newLayers = IMAGE_A + IMAGE_B;
    expect(got.layerBytesSkipped).toBeGreaterThan(1 << 20);
    expect(got.bytes).toBeGreaterThan(newLayers);
    expect(got.bytes).toBeLessThan(newLayers + 64 * 1024);
  });

  it('still runs when the service moves to a node that lacks the image (the manager\'s own agent)', async () => {
    writeFileSync(file, stack('shipapp:1', 'lab-m1'));
    await cliOk('deploy', '-c', file, STACK);
    await waitFor('the app running on lab-m1', () => runsOn('lab-m1', 'shipapp:1'), 60_000, 250);
    const got = fetchedOn('lab-m1', 'shipapp:1')[0];
    console.info('ship to lab-m1:', JSON.stringify(got));
    expect(got.layersSent).toBe(3);
    expect(got.bytes).toBeLessThan(IMAGE_A + IMAGE_B + 64 * 1024);
  });

  it('a rebuild that changes one line ships only the changed layer', async () => {
    const w1 = engineOf(byName('lab-w1'));
    await build(w1, 'shipapp:2', 'v2', files);
    const [v1, v2] = await Promise.all([w1.getImage('shipapp:1').inspect(), w1.getImage('shipapp:2').inspect()]);
    expect(v2.RootFS.Layers?.slice(0, 3)).toEqual(v1.RootFS.Layers?.slice(0, 3));
    writeFileSync(file, stack('shipapp:2', 'lab-m1'));
    await cliOk('deploy', '-c', file, STACK);
    await waitFor('the app updated on lab-m1', () => runsOn('lab-m1', 'shipapp:2'), 60_000, 250);
    const got = fetchedOn('lab-m1', 'shipapp:2')[0];
    console.info('changed-layer ship to lab-m1:', JSON.stringify(got));
    expect(got.from).toBe('lab-w1');
    expect(got.layersSent).toBe(1);
    expect(got.layersSkipped).toBe(3);
    expect(got.layerBytesSkipped).toBeGreaterThan(IMAGE_A + IMAGE_B);
    // One small layer (a 3-byte file), the config and the manifest: far below one changed MB.
    expect(got.bytes).toBeLessThan(32 * 1024);
  });

  it('deploy uploads an image that only the CLI\'s engine holds; the node that runs it fetches it from where it landed', async () => {
    const local = new Docker(process.env.DOCKER_HOST?.startsWith('unix://') ? { socketPath: process.env.DOCKER_HOST.slice(7) } : undefined);
    await build(local, 'cliapp:1', 'from-the-cli', files);
    // The deploy pins it to its ID (no registry gave it): that is what is sent and fetched.
    const id = (await local.getImage('cliapp:1').inspect()).Id;
    try {
      writeFileSync(file, stack('cliapp:1', 'lab-w2'));
      const r = await cli('deploy', '-c', file, STACK);
      expect(r.code, r.stderr).toBe(0);
      // It lands on the first ready node by hostname (lab-m1), then lab-w2 fetches it from there.
      expect(r.stdout).toMatch(/Image cliapp:1 \([0-9a-f]{12}\) is on no node of the cluster: sending it to node lab-m1 \(\d of 4 layers/);
      expect(r.stdout).toContain(`Image cliapp:1 (${id.slice(7, 19)}) sent to node lab-m1`);
      await waitFor('the app running on lab-w2', () => runsOn('lab-w2', 'cliapp:1'), 60_000, 250);
      const got = fetchedOn('lab-w2', id)[0];
      console.info('CLI upload, then lab-m1 to lab-w2:', JSON.stringify(got));
      expect(got.from).toBe('lab-m1');
      expect(got.bytes).toBeGreaterThan(IMAGE_A + IMAGE_B);
      // A second deploy sends nothing: a node holds it now.
      const again = await cli('deploy', '-c', file, STACK);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).not.toMatch(/sending it to node/);
    } finally {
      await local.getImage('cliapp:1').remove({ force: true }).catch(() => undefined);
    }
  });

  it('a build: service built on lab-w1 runs, pinned, on lab-w2 that never saw it, moves when lab-w2 dies, and a one-line change ships one layer', async () => {
    const w1 = byName('lab-w1');
    const app = join(dir, 'built');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'a.bin'), files['a.bin']);
    writeFileSync(join(app, 'b.bin'), files['b.bin']);
    const dockerfile = (v: string) => `FROM tsswarm/busybox:latest\nCOPY a.bin /a.bin\nCOPY b.bin /b.bin\nRUN echo ${v} > /version\n`;
    writeFileSync(join(app, 'Dockerfile'), dockerfile('b1'));
    const f = join(app, 'stack.yml');
    writeFileSync(f, `
services:
  web:
    build: .
    command: ["sleep", "100000"]
    init: true
    deploy:
      placement: { constraints: ["node.hostname != lab-w1"] }
      update_config: { order: stop-first }
`);
    // The CLI builds on the engine it sees (lab-w1's), as docker compose does; lab-m1 paused
    // first, so the one task goes to lab-w2.
    const cliW1 = (...args: string[]) => runCli(args, { TSSWARM_HOST: byName('lab-m1').apiHost!, DOCKER_HOST: w1.dockerHost });
    await cliOk('node', 'update', '--availability', 'pause', 'lab-m1');
    const r = await cliW1('deploy', '-c', f, 'shipb');
    expect(r.code, r.stderr).toBe(0);
    const pinned = (JSON.parse(await cliOk('service', 'inspect', 'shipb_web')) as { spec: { image: string; image_id?: string } }[])[0].spec;
    expect(pinned.image).toBe('shipb-web');
    expect(pinned.image_id).toMatch(/^sha256:[0-9a-f]{64}$/);
    const on = async (host: string, id: string): Promise<boolean> => {
      const cs = await engineOf(byName(host)).listContainers({ filters: { label: ['tsswarm.stack.namespace=shipb'] } }).catch(() => []);
      return cs.length === 1 && cs[0].ImageID === id;
    };
    await waitFor('the built image running on lab-w2', () => on('lab-w2', pinned.image_id!), 60_000, 250);
    expect(fetchedOn('lab-w2', pinned.image_id!)[0]?.from).toBe('lab-w1');

    // lab-w2's host dies: the task moves to lab-m1, which fetches the pinned image too.
    await cliOk('node', 'update', '--availability', 'active', 'lab-m1');
    await lab.kill('lab-w2');
    await waitFor('the built image running on lab-m1', () => on('lab-m1', pinned.image_id!), 60_000, 250);
    // From lab-w1 (lab-w2 is dead); lab-m1 already holds the base and the two file layers (the
    // same files crossed in the tests above), so only the last layer crosses.
    const moved = fetchedOn('lab-m1', pinned.image_id!)[0];
    expect(moved.from).toBe('lab-w1');
    expect(moved.layersSent).toBe(1);
    expect(moved.layersSkipped).toBe(3);

    // One changed line: a new image ID, and only its one new layer crosses to lab-m1.
    writeFileSync(join(app, 'Dockerfile'), dockerfile('b2'));
    const again = await cliW1('deploy', '-c', f, 'shipb');
    expect(again.code, again.stderr).toBe(0);
    const next = (JSON.parse(await cliOk('service', 'inspect', 'shipb_web')) as { spec: { image_id?: string } }[])[0].spec.image_id!;
    expect(next).not.toBe(pinned.image_id);
    await waitFor('the new build running on lab-m1', () => on('lab-m1', next), 60_000, 250);
    const changed = fetchedOn('lab-m1', next)[0];
    console.info('build: one-line change shipped to lab-m1:', JSON.stringify(changed));
    expect(changed.layersSent).toBe(1);
    expect(changed.layersSkipped).toBe(3);
    expect(changed.bytes).toBeLessThan(32 * 1024);
  });

  it.skipIf(!existsSync(REGISTRY))('an image a registry serves is pinned by digest, pulled from the registry, and fetched from the cluster while the registry is down', async () => {
    // lab-w2 died in the test before: back first.
    await lab.start('lab-w2');
    await lab.waitReady(['lab-w2']);
    // A registry on the lab's bridge address (the lab engines take plain HTTP from the lab network).
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, BRIDGE_ADDR, () => { const p = (srv.address() as { port: number }).port; srv.close(() => resolve(p)); });
    });
    const regDir = join(dir, 'registry');
    mkdirSync(regDir, { recursive: true });
    writeFileSync(join(regDir, 'config.yml'), `version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: ${join(regDir, 'data')} } }\nhttp: { addr: "${BRIDGE_ADDR}:${port}" }\n`);
    const registry = spawn(REGISTRY, ['serve', join(regDir, 'config.yml')], { stdio: 'ignore' });
    const stopRegistry = async () => {
      if (registry.exitCode !== null || registry.signalCode !== null) return;
      const exited = new Promise((r) => registry.once('exit', r));
      registry.kill('SIGKILL');
      await exited;
    };
    try {
      await waitFor('the registry to answer', async () => (await fetch(`http://${BRIDGE_ADDR}:${port}/v2/`).then((r) => r.status, () => 0)) === 200, 30_000, 100);
      const ref = `${BRIDGE_ADDR}:${port}/shipreg:1`;
      const w1 = engineOf(byName('lab-w1'));
      await build(w1, ref, 'from-a-registry', files);
      const pushed = await w1.getImage(ref).push({ authconfig: { serveraddress: `${BRIDGE_ADDR}:${port}` } } as Parameters<Docker.Image['push']>[0]);
      await new Promise<void>((resolve, reject) => w1.modem.followProgress(pushed, (err: Error | null, out: { error?: string }[]) => {
        const f = out?.find((o) => o.error);
        if (err || f) reject(err ?? new Error(f!.error)); else resolve();
      }));
      const info = await w1.getImage(ref).inspect();
      const digest = info.RepoDigests.find((d) => d.startsWith(`${BRIDGE_ADDR}:${port}/shipreg@`))!.split('@')[1]!;
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      /** The app's one running container is on `host`, from the pushed image. */
      const runsPushedOn = async (host: string): Promise<boolean> => {
        const cs = await engineOf(byName(host)).listContainers({ filters: { label: [`tsswarm.stack.namespace=${STACK}`] } });
        return cs.length === 1 && cs[0]!.ImageID === info.Id;
      };
      // The CLI on lab-w1 (its engine asks the registry for the digest).
      const fromW1 = (...args: string[]) => runCli(args, { TSSWARM_HOST: byName('lab-m1').apiHost!, DOCKER_HOST: byName('lab-w1').dockerHost });

      writeFileSync(file, stack(ref, 'lab-w2'));
      const r = await fromW1('deploy', '-c', file, STACK);
      expect(r.code, r.stderr).toBe(0);
      const svc = JSON.parse(await cliOk('service', 'inspect', `${STACK}_app`, '--format', 'json')) as { spec: { image: string } }[];
      expect(svc[0]!.spec.image).toBe(`${ref}@${digest}`);
      await waitFor('the app running on lab-w2', () => runsPushedOn('lab-w2'), 60_000, 250);
      // lab-w2 pulled it from the registry: nothing came through the cluster.
      expect(fetchedOn('lab-w2', `${ref}@${digest}`)).toEqual([]);

      // The registry goes away; the service moves to lab-m1, which lacks the image.
      await stopRegistry();
      writeFileSync(file, stack(ref, 'lab-m1'));
      const moved = await fromW1('deploy', '-c', file, STACK);
      expect(moved.code, moved.stderr).toBe(0);
      expect(moved.stderr).toContain(`it keeps the digest ${digest} it was deployed with`);
      await waitFor('the app running on lab-m1', () => runsPushedOn('lab-m1'), 90_000, 250);
      const got = fetchedOn('lab-m1', `${ref}@${digest}`)[0];
      console.info('registry down, from the cluster to lab-m1:', JSON.stringify(got));
      expect(['lab-w1', 'lab-w2']).toContain(got?.from);
    } finally {
      await stopRegistry();
    }
  });
});
