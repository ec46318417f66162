// Several managers and agents as separate processes on 127.0.0.x addresses, for the
// replicated-manager end-to-end tests. Every wait has a deadline; waits poll the API (the
// event that proves the point is an answer of the cluster), never a fixed sleep.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { ClusterStatus } from '../../common/api/types.js';
import { ROOT, runCli, unmountAgentTmpfs, waitFor, type CliResult } from './harness.js';

const BIN = join(ROOT, 'bin', 'tsswarm.js');

/** Fast Raft timings for tests are not used: the defaults are what users get. */
export class Proc {
  proc?: ChildProcess;
  private logFd?: number;
  readonly dataDir: string;

  /** Where its output goes (by default in its data dir). */
  readonly logFile: string;

  constructor(readonly name: string, dataDir?: string, logFile?: string) {
    this.dataDir = dataDir ?? mkdtempSync(`/tmp/tsswarm-mgr-${name}-`);
    this.logFile = logFile ?? join(this.dataDir, 'process.log');
  }

  get running(): boolean { return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null; }

  /** A cgroup's `cgroup.procs`: the process joins it before it starts (so do all its sockets). */
  cgroupProcs?: string;

  spawn(args: string[]): void {
    this.logFd = openSync(this.logFile, 'a');
    const opts = { stdio: ['ignore', this.logFd, this.logFd] as ['ignore', number, number], env: { ...process.env } };
    this.proc = this.cgroupProcs
      ? spawn('sh', ['-c', `echo $$ > ${this.cgroupProcs} && exec "$0" "$@"`, process.execPath, BIN, ...args], opts)
      : spawn(process.execPath, [BIN, ...args], opts);
  }

  async kill9(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }

  logTail(lines = 30): string {
    if (!existsSync(this.logFile)) return '';
    return readFileSync(this.logFile, 'utf8').trim().split('\n').slice(-lines).join('\n');
  }

  remove(): void {
    // An agent's secrets tmpfs outlives a killed process: unmount it.
    unmountAgentTmpfs(this.dataDir);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** How a manager process runs. */
export interface ManagerOpts {
  /** With its embedded agent (a real task on the real engine; the node id is the manager's); default `--no-agent`. */
  agent?: boolean;
}

export class ManagerProc extends Proc {
  /** Whether it runs its embedded agent (kept for restarts). */
  private agent = false;

  private get agentFlags(): string[] { return this.agent ? [] : ['--no-agent']; }

  get socket(): string { return join(this.dataDir, 'tsswarm.sock'); }

  /** The gRPC address it advertises (from its data dir). */
  get addr(): string {
    return (JSON.parse(readFileSync(join(this.dataDir, 'cluster.json'), 'utf8')) as { advertiseAddr: string }).advertiseAddr;
  }

  /** Its node id (from its data dir): the embedded agent's too. */
  get nodeId(): string {
    return (JSON.parse(readFileSync(join(this.dataDir, 'cluster.json'), 'utf8')) as { nodeId: string }).nodeId;
  }

  async init(ip: string, extra: string[] = [], opts: ManagerOpts = {}): Promise<void> {
    this.agent = !!opts.agent;
    this.spawn(['manager', '--init', ...this.agentFlags, '--listen-addr', `${ip}:0`, '--data-dir', this.dataDir, '--log-level', 'debug', '--heartbeat-period', '500ms', ...extra]);
    await this.answering();
  }

  async join(via: string, token: string, ip: string): Promise<void> {
    this.spawn(['manager', '--join', via, '--token', token, '--no-agent', '--listen-addr', `${ip}:0`, '--data-dir', this.dataDir, '--log-level', 'debug', '--heartbeat-period', '500ms']);
    await this.answering();
  }

  /** Starts it again on its data dir (no flags: it knows its cluster and address). */
  async restart(extra: string[] = []): Promise<void> {
    this.spawn(['manager', ...this.agentFlags, '--data-dir', this.dataDir, '--log-level', 'debug', '--heartbeat-period', '500ms', ...extra]);
  }

  async answering(timeoutMs = 60_000): Promise<void> {
    let exited = false;
    try {
      await waitFor(`manager ${this.name} to answer`, async () => {
        if (this.proc && !this.running) { exited = true; return true; }
        try { return (await this.api('GET', '/v1/info')).status === 200; } catch { return false; }
      }, timeoutMs, 100);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nlog tail:\n${this.logTail()}`);
    }
    if (exited) throw new Error(`manager ${this.name} exited:\n${this.logTail()}`);
  }

  cli(...args: string[]): Promise<CliResult> {
    return runCli(args, { TSSWARM_HOST: `unix://${this.socket}` });
  }

  async cliOk(...args: string[]): Promise<string> {
    const r = await this.cli(...args);
    if (r.code !== 0) throw new Error(`[${this.name}] tsswarm ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\nlog tail:\n${this.logTail()}`);
    return r.stdout;
  }

  /** A raw API call on its socket: status, headers and parsed body. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: T }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socket, method, path, headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}, timeout: 30_000 }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let parsed: unknown = text;
          try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed as T });
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(payload);
    });
  }

  async status(): Promise<ClusterStatus> {
    const r = await this.api<ClusterStatus>('GET', '/v1/cluster/status');
    if (r.status !== 200) throw new Error(`cluster status on ${this.name}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async token(role: 'worker' | 'manager'): Promise<string> {
    const r = await this.api<{ token: string }>('GET', `/v1/cluster/join-token/${role}`);
    if (r.status !== 200) throw new Error(`join-token on ${this.name}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.token;
  }
}

export class AgentProc extends Proc {
  join(via: string, token: string): void {
    this.spawn(['agent', '--join', via, '--token', token, '--data-dir', this.dataDir, '--log-level', 'debug']);
  }
}

/** Waits until some manager reports a status where `pred` holds; returns it. */
export async function waitStatus(ms: ManagerProc[], what: string, pred: (s: ClusterStatus) => boolean, timeoutMs = 30_000): Promise<ClusterStatus> {
  return waitFor(what, async () => {
    for (const m of ms) {
      if (!m.running) continue;
      try {
        const s = await m.status();
        if (!s.stale && pred(s)) return s;
      } catch { /* not answering yet */ }
    }
    return undefined;
  }, timeoutMs, 100);
}

/** The manager process that leads, per the cluster's status. */
export async function leaderOf(ms: ManagerProc[]): Promise<ManagerProc> {
  const s = await waitStatus(ms, 'a leader', (st) => !!st.leader);
  const lead = s.managers.find((m) => m.role === 'leader')!;
  const p = ms.find((m) => m.running && m.addr === lead.addr);
  if (!p) throw new Error(`leader ${lead.addr} is none of the processes`);
  return p;
}
