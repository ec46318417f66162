// Helpers to run proc-node.ts as real processes: compile the Raft files (tsc, into
// node_modules/.cache so packages resolve), spawn members on 127.0.0.x, talk HTTP to them.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

/** Compiles proc-node.ts and what it imports; returns the entry point. */
export function buildProcNode(): string {
  const out = join(root, 'node_modules', '.cache', 'raft-proc');
  execFileSync(
    join(root, 'node_modules', '.bin', 'tsc'),
    ['--outDir', out, '--rootDir', root, '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022', '--strict', '--skipLibCheck', '--esModuleInterop', '--types', 'node', join(root, 'test/raft/proc-node.ts')],
    { cwd: root, stdio: 'pipe', timeout: 120_000 },
  );
  return join(out, 'test', 'raft', 'proc-node.js');
}

export interface Member {
  id: number;
  raft: string;
  http: string;
  dir: string;
  proc?: ChildProcess;
}

export class ProcCluster {
  members: Member[];
  readonly base: string;
  agent = new Agent({ keepAlive: true, maxSockets: 512 });
  constructor(
    readonly entry: string,
    n: number,
    portBase: number,
    readonly tickMs?: number,
    /** More proc-node arguments. */
    readonly nodeArgs: { snapshotEntries?: number; segmentBytes?: number; snapshotChunkBytes?: number } = {},
  ) {
    this.base = mkdtempSync(join(tmpdir(), 'raft-procs-'));
    this.members = Array.from({ length: n }, (_, i) => ({ id: i + 1, raft: `127.0.0.${i + 1}:${portBase + i}`, http: `127.0.0.${i + 1}:${portBase + 100 + i}`, dir: join(this.base, `n${i + 1}`) }));
  }

  /** Members that are not in the initial configuration: they start empty and join by a membership change, and the others do not know their address. */
  joiners = new Set<number>();

  async start(m: Member): Promise<void> {
    const initial = this.members.filter((x) => !this.joiners.has(x.id));
    const args = {
      id: m.id,
      dir: m.dir,
      peers: (this.joiners.has(m.id) ? this.members : initial).map((x) => [x.id, x.raft]),
      http: m.http,
      bootstrap: this.joiners.has(m.id) ? undefined : initial.map((x) => x.id),
      tickMs: this.tickMs,
      ...this.nodeArgs,
    };
    const proc = spawn(process.execPath, [this.entry, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    m.proc = proc;
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`member ${m.id} did not start: ${err}`)), 20_000);
      proc.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) {
          clearTimeout(t);
          resolve();
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`member ${m.id} exited ${code}: ${err}`));
      });
    });
    proc.removeAllListeners('exit');
  }

  async startAll(): Promise<void> {
    await Promise.all(this.members.map((m) => this.start(m)));
  }

  kill9(m: Member): void {
    m.proc?.kill('SIGKILL');
    m.proc = undefined;
  }

  http(m: Member, method: string, path: string, body?: string, timeoutMs = 5000): Promise<{ status: number; body: any }> {
    const [host, port] = m.http.split(':');
    return new Promise((resolve) => {
      const req = request({ host, port: Number(port), method, path, agent: this.agent, timeout: timeoutMs }, (res) => {
        let data = '';
        res.on('data', (c: Buffer) => (data += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data ? JSON.parse(data) : undefined }));
      });
      req.on('error', () => resolve({ status: 0, body: undefined }));
      req.on('timeout', () => {
        req.destroy();
        resolve({ status: 0, body: undefined });
      });
      req.end(body);
    });
  }

  /** Polls until some live member reports being leader (with a deadline). */
  async waitLeader(deadlineMs = 15_000): Promise<Member> {
    const end = Date.now() + deadlineMs;
    while (Date.now() < end) {
      for (const m of this.members) {
        if (!m.proc) continue;
        const r = await this.http(m, 'GET', '/status', undefined, 500);
        if (r.status === 200 && r.body.role === 'leader') return m;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('no leader within deadline');
  }

  async stopAll(): Promise<void> {
    // Wait for the processes to be gone (bounded) before removing their directories.
    const exits = this.members.flatMap((m) => (m.proc && m.proc.exitCode === null && m.proc.signalCode === null ? [new Promise((r) => m.proc!.once('exit', r))] : []));
    for (const m of this.members) this.kill9(m);
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 5000).unref())]);
    this.agent.destroy();
    if (existsSync(this.base)) rmSync(this.base, { recursive: true, force: true });
  }
}
