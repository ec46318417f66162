// End-to-end harness: real `tsswarm` processes (the compiled CLI in dist/, built by `npm test`)
// against the real Docker engine named by DOCKER_HOST. Every wait has a deadline.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import Docker from 'dockerode';
import { dockerFromEnv } from '../../agent/docker.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'tsswarm.js');

export interface CliResult { code: number; stdout: string; stderr: string }

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) { last = err; }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

export class Cluster {
  readonly dataDir: string;
  readonly docker: Docker = dockerFromEnv();
  private proc?: ChildProcess;
  private logFd?: number;

  constructor(readonly name: string) {
    this.dataDir = mkdtempSync(`/tmp/tsswarm-e2e-${name}-`);
  }

  get socket(): string { return join(this.dataDir, 'tsswarm.sock'); }
  get logFile(): string { return join(this.dataDir, 'manager.log'); }
  get pid(): number | undefined { return this.proc?.pid; }

  async start(init = true, extra: string[] = []): Promise<void> {
    this.logFd = openSync(this.logFile, 'a');
    const args = ['manager', '--data-dir', this.dataDir, '--log-level', 'debug', '--heartbeat-period', '500ms', ...extra];
    if (init) args.splice(1, 0, '--init', '--listen-addr', '127.0.0.1:0');
    this.proc = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', this.logFd, this.logFd], env: { ...process.env } });
    await waitFor(`manager ${this.name} to answer`, async () => (await this.cli('node', 'ls')).code === 0 && (await this.nodeReady()), 30_000, 100);
  }

  private async nodeReady(): Promise<boolean> {
    const r = await this.cli('node', 'ls', '--format', 'json');
    return r.code === 0 && (JSON.parse(r.stdout) as { status: { state: string } }[]).some((n) => n.status.state === 'ready');
  }

  async kill9(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }

  /** Runs the CLI against this cluster. */
  cli(...args: string[]): Promise<CliResult> {
    return runCli(args, { TSSWARM_HOST: `unix://${this.socket}` });
  }

  async cliOk(...args: string[]): Promise<string> {
    const r = await this.cli(...args);
    if (r.code !== 0) throw new Error(`tsswarm ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\nmanager log tail:\n${this.logTail()}`);
    return r.stdout;
  }

  async json<T>(...args: string[]): Promise<T> {
    return JSON.parse(await this.cliOk(...args, '--format', 'json')) as T;
  }

  logTail(lines = 40): string {
    if (!existsSync(this.logFile)) return '';
    return readFileSync(this.logFile, 'utf8').trim().split('\n').slice(-lines).join('\n');
  }

  /** The service has exactly one running task, and its container runs image `id`. */
  async runsImage(service: string, id: string): Promise<boolean> {
    const ts = (await this.json<{ desiredState: string; status: { state: string; containerId?: string } }[]>('service', 'ps', service))
      .filter((t) => t.desiredState === 'running' && t.status.state === 'running');
    if (ts.length !== 1) return false;
    return (await this.docker.getContainer(ts[0].status.containerId!).inspect()).Image === id;
  }

  /** Containers of a stack, as the engine sees them. */
  async containers(stack: string, all = false): Promise<Docker.ContainerInfo[]> {
    return this.docker.listContainers({ all, filters: { label: [`tsswarm.stack.namespace=${stack}`] } });
  }

  /** Stops the manager and removes everything the stack(s) left on the engine. */
  async destroy(stacks: string[]): Promise<void> {
    await this.kill9();
    for (const stack of stacks) {
      for (const c of await this.containers(stack, true)) await this.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      for (const n of await this.docker.listNetworks()) if (n.Name.startsWith(`${stack}_`)) await this.docker.getNetwork(n.Id).remove().catch(() => undefined);
      const vols = (await this.docker.listVolumes()).Volumes ?? [];
      for (const v of vols) if (v.Name.startsWith(`${stack}_`)) await this.docker.getVolume(v.Name).remove().catch(() => undefined);
    }
    // The embedded agent's secrets tmpfs outlives a killed manager: unmount it.
    unmountAgentTmpfs(this.dataDir);
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Writes a stack file into a fresh folder of the data dir; returns its path. */
  writeStack(file: string, text: string, extra: Record<string, string> = {}): string {
    const dir = join(this.dataDir, 'stacks', file.replace(/\W/g, '_'));
    mkdirSync(dir, { recursive: true });
    for (const [name, content] of Object.entries(extra)) writeFileSync(join(dir, name), content);
    const p = join(dir, file);
    writeFileSync(p, text);
    return p;
  }
}

export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => p.kill('SIGKILL'), 300_000);
    p.on('close', (code) => { clearTimeout(t); resolvePromise({ code: code ?? -1, stdout, stderr }); });
  });
}

export function runCliSync(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** GET http://127.0.0.1:port/path; resolves with status and body, rejects on connection errors. */
export function httpGet(port: number, path = '/', timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Unmounts the secrets tmpfs (/run/tsswarm/<node id>) of the node whose data dir is `dataDir`, if mounted. */
export function unmountAgentTmpfs(dataDir: string): void {
  let nodeId: string | undefined;
  try { nodeId = (JSON.parse(readFileSync(join(dataDir, 'cluster.json'), 'utf8')) as { nodeId?: string }).nodeId; } catch { /* none */ }
  try { nodeId ??= (JSON.parse(readFileSync(join(dataDir, 'agent', 'identity.json'), 'utf8')) as { nodeId?: string }).nodeId; } catch { /* none */ }
  if (!nodeId || !/^[a-z0-9]+$/.test(nodeId)) return;
  const path = `/run/tsswarm/${nodeId}`;
  if (!readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === path)) return;
  spawnSync('umount', [path]);
  rmSync(path, { recursive: true, force: true });
}

/** Every regular file under `dir`, recursively (sockets and fifos hold nothing to search). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) out.push(...filesUnder(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

/**
 * What a build test leaves on the engine: its tagged and pinned images (forced), and the
 * untagged layers of steps that succeeded before a failed one (`layerIds`, in build order;
 * never forced, so an image still in use, the base one included, stays).
 */
export async function removeBuilt(docker: Docker, refs: string[], layerIds: string[]): Promise<void> {
  for (const ref of refs) await docker.getImage(ref).remove({ force: true }).catch(() => undefined);
  for (const id of [...layerIds].reverse()) {
    const info = await docker.getImage(id).inspect().catch(() => undefined);
    if (info && (info.RepoTags ?? []).length === 0) await docker.getImage(id).remove().catch(() => undefined);
  }
}

/** The layer IDs a classic build printed (` ---> 0123456789ab`), in build order. */
export const builtLayers = (output: string): string[] => [...output.matchAll(/ ---> ([0-9a-f]{12})$/gm)].map((m) => m[1]);
