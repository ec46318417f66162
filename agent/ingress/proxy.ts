// The agent's ingress proxy: the single-host half of Swarm's routing mesh.
//
// For every published ingress port it listens on <hostIp>:<published> and spreads
//  - TCP connections round robin over the backends, skipping backends that refuse;
//  - UDP datagrams per client address (a flow table with an idle timeout): each client
//    sticks to one backend for as long as its flow lives; replies go back from the listener.
// The backends are whatever `setBackends` last said: the worker feeds the local tasks that
// are running and healthy; a cross-host mesh can feed remote ones through the same call.
// A listener without backends accepts TCP connections and closes them (UDP: drops).

import net from 'node:net';
import dgram from 'node:dgram';
import type { Logger } from 'pino';
import { AgentErrorCodes, TaskError } from '../errors.js';

export interface IngressKey {
  port: number;
  protocol: 'tcp' | 'udp';
  hostIp: string;
}

export interface Backend {
  host: string;
  port: number;
}

export const ingressKeyString = (k: IngressKey): string => `${k.hostIp}:${k.port}/${k.protocol}`;

/** The published port is held by someone else on this node. */
export class PortInUseError extends TaskError {
  constructor(readonly key: IngressKey, cause?: unknown) {
    super(AgentErrorCodes.PORT_IN_USE, `port ${key.port}/${key.protocol} is already in use on this node`);
    this.name = 'PortInUseError';
    if (cause) (this as { cause?: unknown }).cause = cause;
  }
}

export interface IngressProxyOptions {
  log?: Logger;
  /** UDP flows idle this long are forgotten (default 60 s). */
  udpIdleMs?: number;
  /** TCP connect timeout to a backend before trying the next one (default 3 s). */
  connectTimeoutMs?: number;
}

interface UdpFlow {
  sock: dgram.Socket;
  timer: NodeJS.Timeout;
  backend: Backend;
}

interface Listener {
  key: IngressKey;
  backends: Backend[];
  next: number;
  tcp?: net.Server;
  udp?: dgram.Socket;
  flows?: Map<string, UdpFlow>;
  sockets?: Set<net.Socket>;
  bound?: Promise<void>;
}

export class IngressProxy {
  private readonly listeners = new Map<string, Listener>();
  /** TCP connections being made or proxied, per backend (host:port). */
  private readonly active = new Map<string, number>();
  private readonly udpIdleMs: number;
  private readonly connectTimeoutMs: number;

  constructor(private readonly opts: IngressProxyOptions = {}) {
    this.udpIdleMs = opts.udpIdleMs ?? 60_000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 3_000;
  }

  /** Keys currently listened on (or being bound). */
  keys(): IngressKey[] {
    return [...this.listeners.values()].map((l) => l.key);
  }

  has(key: IngressKey): boolean {
    return this.listeners.has(ingressKeyString(key));
  }

  /** Open the listener for `key` (idempotent). Rejects with PortInUseError when the port is taken. */
  bind(key: IngressKey): Promise<void> {
    const k = ingressKeyString(key);
    let l = this.listeners.get(k);
    if (!l) {
      l = { key, backends: [], next: 0 };
      this.listeners.set(k, l);
      const entry = l;
      l.bound = (key.protocol === 'tcp' ? this.bindTcp(entry) : this.bindUdp(entry)).catch((err) => {
        if (this.listeners.get(k) === entry) this.listeners.delete(k);
        throw err;
      });
    }
    return l.bound!;
  }

  /** Replace the backends of `key`. Does not open or close the listener. */
  setBackends(key: IngressKey, backends: Backend[]): void {
    const l = this.listeners.get(ingressKeyString(key));
    if (!l) return;
    const same = l.backends.length === backends.length && l.backends.every((b, i) => b.host === backends[i].host && b.port === backends[i].port);
    if (same) return;
    l.backends = backends.slice();
    this.opts.log?.debug({ key: ingressKeyString(key), backends }, 'ingress backends');
    if (l.flows) {
      // Drop UDP flows whose backend went away; new datagrams pick a live one.
      for (const [client, f] of l.flows) {
        if (!backends.some((b) => b.host === f.backend.host && b.port === f.backend.port)) this.dropFlow(l, client);
      }
    }
  }

  backends(key: IngressKey): Backend[] {
    return this.listeners.get(ingressKeyString(key))?.backends.slice() ?? [];
  }

  /** TCP connections to `backend` being made or proxied right now. */
  activeTo(backend: Backend): number {
    return this.active.get(`${backend.host}:${backend.port}`) ?? 0;
  }

  /**
   * Resolves once no TCP connection to any of `backends` is in progress or open, or after
   * `timeoutMs`. Called with backends already removed by `setBackends`, it lets requests in
   * flight finish before their task is stopped.
   */
  async drain(backends: Backend[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (backends.some((b) => this.activeTo(b) > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stop listening on `key`; established TCP connections are left to finish. */
  async release(key: IngressKey): Promise<void> {
    const k = ingressKeyString(key);
    const l = this.listeners.get(k);
    if (!l) return;
    this.listeners.delete(k);
    await l.bound?.catch(() => undefined);
    await this.closeListener(l, false);
  }

  /** Close every listener and every proxied connection. */
  async close(): Promise<void> {
    const all = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(all.map(async (l) => {
      await l.bound?.catch(() => undefined);
      await this.closeListener(l, true);
    }));
  }

  private async closeListener(l: Listener, hard: boolean): Promise<void> {
    if (l.tcp) {
      const srv = l.tcp;
      await new Promise<void>((resolve) => srv.close(() => resolve()));
      if (hard) for (const s of l.sockets ?? []) s.destroy();
    }
    if (l.udp) {
      for (const client of [...(l.flows?.keys() ?? [])]) this.dropFlow(l, client);
      const sock = l.udp;
      await new Promise<void>((resolve) => { try { sock.close(() => resolve()); } catch { resolve(); } });
    }
  }

  private pick(l: Listener, skip: Set<string>): Backend | undefined {
    const n = l.backends.length;
    for (let i = 0; i < n; i++) {
      const b = l.backends[(l.next + i) % n];
      if (!skip.has(`${b.host}:${b.port}`)) {
        l.next = (l.next + i + 1) % n;
        return b;
      }
    }
    return undefined;
  }

  private bindTcp(l: Listener): Promise<void> {
    l.sockets = new Set();
    const srv = net.createServer({ pauseOnConnect: true }, (client) => this.onTcp(l, client));
    l.tcp = srv;
    return new Promise((resolve, reject) => {
      const onErr = (err: NodeJS.ErrnoException) => {
        reject(err.code === 'EADDRINUSE' || err.code === 'EACCES' ? new PortInUseError(l.key, err) : err);
      };
      srv.once('error', onErr);
      srv.listen({ host: l.key.hostIp, port: l.key.port, exclusive: true }, () => {
        srv.off('error', onErr);
        srv.on('error', (err) => this.opts.log?.warn({ err, key: ingressKeyString(l.key) }, 'ingress listener error'));
        resolve();
      });
    });
  }

  private onTcp(l: Listener, client: net.Socket): void {
    l.sockets!.add(client);
    client.on('close', () => l.sockets!.delete(client));
    client.on('error', () => undefined);
    const tried = new Set<string>();
    const attempt = (): void => {
      const b = this.pick(l, tried);
      if (!b) {
        client.destroy();
        return;
      }
      const bk = `${b.host}:${b.port}`;
      tried.add(bk);
      const upstream = net.connect({ host: b.host, port: b.port });
      this.active.set(bk, (this.active.get(bk) ?? 0) + 1);
      upstream.once('close', () => {
        const n = (this.active.get(bk) ?? 1) - 1;
        if (n > 0) this.active.set(bk, n); else this.active.delete(bk);
      });
      upstream.setTimeout(this.connectTimeoutMs);
      let connected = false;
      const fail = () => {
        upstream.destroy();
        if (!connected && !client.destroyed) attempt();
      };
      upstream.once('timeout', fail);
      upstream.once('error', (err: NodeJS.ErrnoException) => {
        if (connected) {
          client.destroy();
          return;
        }
        this.opts.log?.debug({ err: err.message, backend: b }, 'ingress backend refused; trying the next one');
        fail();
      });
      upstream.once('connect', () => {
        connected = true;
        upstream.setTimeout(0);
        upstream.setNoDelay(true);
        client.setNoDelay(true);
        client.pipe(upstream);
        upstream.pipe(client);
        upstream.on('close', () => client.destroy());
        client.on('close', () => upstream.destroy());
        client.resume();
      });
    };
    attempt();
  }

  private bindUdp(l: Listener): Promise<void> {
    l.flows = new Map();
    const family = net.isIPv6(l.key.hostIp) ? 'udp6' : 'udp4';
    const sock = dgram.createSocket({ type: family, reuseAddr: false });
    l.udp = sock;
    return new Promise((resolve, reject) => {
      const onErr = (err: NodeJS.ErrnoException) => {
        try { sock.close(); } catch { /* already closed */ }
        reject(err.code === 'EADDRINUSE' || err.code === 'EACCES' ? new PortInUseError(l.key, err) : err);
      };
      sock.once('error', onErr);
      sock.bind({ address: l.key.hostIp, port: l.key.port, exclusive: true }, () => {
        sock.off('error', onErr);
        sock.on('error', (err) => this.opts.log?.warn({ err, key: ingressKeyString(l.key) }, 'ingress udp error'));
        sock.on('message', (msg, rinfo) => this.onUdp(l, msg, rinfo));
        resolve();
      });
    });
  }

  private onUdp(l: Listener, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const client = `${rinfo.address}:${rinfo.port}`;
    let flow = l.flows!.get(client);
    if (!flow) {
      const b = this.pick(l, new Set());
      if (!b) return; // no backend: drop
      const type = net.isIPv6(b.host) ? 'udp6' : 'udp4';
      const up = dgram.createSocket(type);
      up.on('error', () => this.dropFlow(l, client));
      up.on('message', (reply) => {
        const f = l.flows!.get(client);
        if (f) f.timer.refresh();
        l.udp?.send(reply, rinfo.port, rinfo.address);
      });
      up.connect(b.port, b.host);
      flow = { sock: up, backend: b, timer: setTimeout(() => this.dropFlow(l, client), this.udpIdleMs) };
      flow.timer.unref();
      l.flows!.set(client, flow);
    } else {
      flow.timer.refresh();
    }
    const f = flow;
    const send = () => f.sock.send(msg, (err) => { if (err) this.dropFlow(l, client); });
    // connect() is asynchronous: queue the first datagram behind it.
    try { f.sock.remoteAddress(); send(); } catch { f.sock.once('connect', send); }
  }

  private dropFlow(l: Listener, client: string): void {
    const f = l.flows?.get(client);
    if (!f) return;
    l.flows!.delete(client);
    clearTimeout(f.timer);
    try { f.sock.close(); } catch { /* closed */ }
  }
}
