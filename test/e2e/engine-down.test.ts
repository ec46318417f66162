// A node whose Docker engine stops: on a private dockerd of its own (the shared engine is never
// stopped), a manager with its embedded agent runs a 2-replica service; the engine is stopped:
// `node ls` shows it within the grace, the task history does not churn, the node goes down
// after the grace; the engine is started again: the node is ready and the service converges,
// with no stale container left. (Tasks moving to other nodes is the lab's to test.)

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT, unmountAgentTmpfs, waitFor } from './harness.js';

interface Node { id: string; status: { state: string; message: string; engine?: string; lastHeartbeat: number } }
interface Task { id: string; desiredState: string; status: { state: string; message: string; err?: string; containerId?: string } }

const TAG = `tsswarm-e2e-engine-${process.pid}`;
const DATA = `/var/lib/${TAG}`;
const RUN = `/run/${TAG}`;
const SOCK = `unix://${RUN}/docker.sock`;
const STACK = 'e2eeng';
/** The private engine's own network namespace: its bridges and rules stay there. */
const NETNS = `tsw-e2e-eng-${process.pid}`;

/**
 * A dockerd of this test's own: its own socket, data, exec root, cgroup parent and network
 * namespace (a dockerd in the host's namespace would touch the shared engine's docker0: one
 * started with `--bridge none` deletes it). Its inherited descriptors beyond stdio are closed
 * first: a lock held by whoever runs the tests must not live on in it.
 */
class PrivateEngine {
  private proc?: ChildProcess;

  get running(): boolean { return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null; }

  async start(): Promise<void> {
    mkdirSync(join(DATA, 'data'), { recursive: true });
    mkdirSync(join(RUN, 'exec'), { recursive: true });
    rmSync(join(RUN, 'docker.sock'), { force: true });
    if (!existsSync(`/var/run/netns/${NETNS}`) && spawnSync('ip', ['netns', 'add', NETNS]).status !== 0) throw new Error(`cannot create the network namespace ${NETNS}`);
    const args = [
      `--net=/var/run/netns/${NETNS}`, 'dockerd',
      '--host', SOCK, '--data-root', join(DATA, 'data'), '--exec-root', join(RUN, 'exec'), '--pidfile', join(RUN, 'dockerd.pid'),
      '--iptables=false', '--ip-forward=false', '--ip-masq=false', '--cgroup-parent', TAG, '--shutdown-timeout', '2',
    ];
    // nsenter execs dockerd: the child's pid is the engine's.
    const script = 'for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-"; done; exec nsenter "$@"';
    this.proc = spawn('bash', ['-c', script, 'dockerd', ...args], { stdio: ['ignore', 'ignore', 'ignore'], detached: true });
    await waitFor('the private dockerd to answer', () => docker('version', '--format', '{{.Server.Version}}').status === 0, 60_000, 200);
  }

  /** SIGTERM, as `systemctl stop docker` does; resolves once it exited. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || !this.running) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(t);
  }
}

const docker = (...args: string[]) => spawnSync('docker', args, { env: { ...process.env, DOCKER_HOST: SOCK }, encoding: 'utf8', timeout: 60_000 });

/** Unmount whatever the engine left mounted under its dirs (deepest first), then remove them. */
function removeDirs(): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && (m.startsWith(DATA) || m.startsWith(RUN)));
  for (const m of mounts.sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', m]);
  rmSync(DATA, { recursive: true, force: true });
  rmSync(RUN, { recursive: true, force: true });
  if (existsSync(`/var/run/netns/${NETNS}`)) spawnSync('ip', ['netns', 'del', NETNS]);
}

const root = process.getuid?.() === 0 && spawnSync('dockerd', ['--version']).status === 0 && spawnSync('nsenter', ['--version']).status === 0;

describe.skipIf(!root)('a node whose Docker engine is down (a private dockerd)', () => {
  const engine = new PrivateEngine();
  let c: Cluster;

  beforeAll(async () => {
    removeDirs();
    await engine.start();
    // The test image, built in this engine as every engine gets it (scripts/engine.sh).
    const img = spawnSync('bash', ['-c', 'source scripts/engine.sh && images_ensure'], { cwd: ROOT, env: { ...process.env, DOCKER_HOST: SOCK }, encoding: 'utf8', timeout: 120_000 });
    if (img.status !== 0) throw new Error(`building the test image failed: ${img.stderr}`);
    process.env.DOCKER_HOST = SOCK;
    c = new Cluster('engine');
    // A longer heartbeat period than the harness's: the grace (3 periods) is long enough to
    // see the node `Ready (engine down)` by polling.
    await c.start(true, ['--heartbeat-period', '2s', '--task-history-limit', '100']);
  });

  afterAll(async () => {
    // The stack's containers and networks are removed through the engine, so it runs for that.
    if (!engine.running) await engine.start().catch(() => undefined);
    if (c) await c.destroy([STACK]).catch(() => undefined);
    await engine.stop();
    if (c) unmountAgentTmpfs(c.dataDir);
    removeDirs();
  });

  const node = async (): Promise<Node> => (await c.json<Node[]>('node', 'ls'))[0];
  const tasks = () => c.json<Task[]>('service', 'ps', `${STACK}_web`);
  const running = async () => (await tasks()).filter((t) => t.desiredState === 'running' && t.status.state === 'running');

  it('shows the engine down, churns nothing, goes down after the grace, converges when the engine is back', async () => {
    const f = c.writeStack('stack.yml', `
services:
  web:
    image: tsswarm/busybox:latest
    command: ["sleep", "3600"]
    init: true
    deploy:
      replicas: 2
      restart_policy: { condition: any, delay: 0s }
`);
    await c.cliOk('deploy', '-c', f, STACK);
    await waitFor('2 running tasks', async () => (await running()).length === 2, 60_000);
    expect((await node()).status).toMatchObject({ state: 'ready', message: '' });

    await engine.stop();

    // Within the grace: `node ls` shows it at once, the node is still ready.
    const table = await waitFor('node ls to show the engine down', async () => {
      const out = await c.cliOk('node', 'ls');
      return /Ready \(engine down\)/.test(out) && out;
    }, 30_000, 100);
    expect(table).toMatch(/Ready \(engine down\)/);
    expect((await node()).status.engine).toBe('down');

    // After the grace: down, saying why; its tasks were orphaned (with one node, they wait pending).
    const down = await waitFor('the node to be marked down', async () => { const n = await node(); return n.status.state === 'down' && n; }, 60_000, 200);
    expect(down.status.message).toMatch(/^Docker engine not answering: /);
    await waitFor('no task left on the node', async () => (await tasks()).every((t) => t.desiredState !== 'running' || t.status.state === 'pending'), 30_000);

    // No churn: the task objects stay the same over 3 heartbeats (the node's last heartbeat advancing).
    const before = (await tasks()).map((t) => t.id).sort();
    let beats = 0;
    let last = (await node()).status.lastHeartbeat;
    await waitFor('3 heartbeats', async () => {
      const hb = (await node()).status.lastHeartbeat;
      if (hb > last) { beats++; last = hb; }
      return beats >= 3;
    }, 60_000, 200);
    const after = await tasks();
    expect(after.map((t) => t.id).sort()).toEqual(before);
    const history = `the task history: ${JSON.stringify(after.map((t) => ({ id: t.id.slice(0, 8), desired: t.desiredState, ...t.status })))}`;
    // Nothing was rejected or failed because the engine was away: not even the first tasks, whose
    // containers the engine stopped as it shut down (it still answered the agent's open
    // connections then; a new one told that it was going).
    expect(after.filter((t) => t.status.state === 'rejected' || t.status.state === 'failed' || /ENOENT|docker\.sock/.test(t.status.err ?? '')), history).toEqual([]);
    // Bounded: the 2 first tasks, orphaned with their node, and their replacements waiting for a node.
    expect(after.length, history).toBe(4);
    expect((await node()).status).toMatchObject({ state: 'down', engine: 'down' });

    // The engine is back: ready again, 2 running, no stale container.
    await engine.start();
    await waitFor('the node to be ready again', async () => { const n = await node(); return n.status.state === 'ready' && n.status.engine === undefined; }, 60_000, 200);
    const live = await waitFor('2 running tasks again', async () => { const r = await running(); return r.length === 2 && r; }, 60_000);
    const wanted = new Set(live.map((t) => t.id));
    await waitFor('only the running tasks\' containers on the engine', async () => {
      const all = await c.containers(STACK, true);
      return all.length === 2 && all.every((x) => x.State === 'running' && wanted.has(x.Labels['tsswarm.task.id'] ?? ''));
    }, 60_000, 200);
    expect(await c.cliOk('node', 'ls')).toMatch(/ Ready /);
  });
});
