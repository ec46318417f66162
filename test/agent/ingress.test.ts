// The ingress proxy on its own: TCP round robin, refusing backends skipped, no backends,
// port conflicts, UDP flows. Plain Node servers stand in for containers.

import dgram from 'node:dgram';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { IngressProxy, PortInUseError, type IngressKey } from '../../agent/ingress/proxy.js';
import { freePort, waitFor } from './helpers.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function tcpServer(name: string): Promise<number> {
  const srv = net.createServer((s) => { s.end(`${name}\n`); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  closers.push(() => new Promise<void>((r) => srv.close(() => r())));
  return (srv.address() as net.AddressInfo).port;
}

function tcpRead(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (out += d));
    s.on('close', () => resolve(out.trim()));
    s.on('error', reject);
    s.setTimeout(3_000, () => s.destroy(new Error('timeout')));
  });
}

async function udpEcho(name: string): Promise<number> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m, r) => sock.send(`${name}:${m.toString()}`, r.port, r.address));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  closers.push(() => new Promise<void>((r) => sock.close(() => r())));
  return sock.address().port;
}

async function udpClient(): Promise<{ ask: (port: number, msg: string) => Promise<string> }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  closers.push(() => new Promise<void>((r) => sock.close(() => r())));
  return {
    ask: (port, msg) => new Promise((resolve, reject) => {
      const t = setTimeout(() => { sock.off('message', on); reject(new Error('udp timeout')); }, 2_000);
      const on = (m: Buffer) => { clearTimeout(t); sock.off('message', on); resolve(m.toString()); };
      sock.on('message', on);
      sock.send(msg, port, '127.0.0.1');
    }),
  };
}

function newProxy(): IngressProxy {
  const p = new IngressProxy({ udpIdleMs: 500 });
  closers.push(() => p.close());
  return p;
}

describe('ingress proxy', () => {
  it('balances TCP connections round robin over its backends', async () => {
    const a = await tcpServer('a');
    const b = await tcpServer('b');
    const c = await tcpServer('c');
    const proxy = newProxy();
    const key: IngressKey = { port: await freePort(), protocol: 'tcp', hostIp: '127.0.0.1' };
    await proxy.bind(key);
    proxy.setBackends(key, [{ host: '127.0.0.1', port: a }, { host: '127.0.0.1', port: b }, { host: '127.0.0.1', port: c }]);
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(await tcpRead(key.port));
    expect(seen.slice(0, 3).sort()).toEqual(['a', 'b', 'c']);
    expect(seen.slice(3).sort()).toEqual(['a', 'b', 'c']);
  });

  it('drain waits for connections to a backend taken out of the balancer, within a bound', async () => {
    // A backend that answers only when told to: a request in flight, held open.
    let answer: (() => void) | undefined;
    const srv = net.createServer((sock) => { answer = () => sock.end('late\n'); });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    closers.push(() => new Promise<void>((r) => { srv.close(() => r()); }));
    const backend = { host: '127.0.0.1', port: (srv.address() as net.AddressInfo).port };
    const proxy = newProxy();
    const key: IngressKey = { port: await freePort(), protocol: 'tcp', hostIp: '127.0.0.1' };
    await proxy.bind(key);
    proxy.setBackends(key, [backend]);
    const reply = tcpRead(key.port);
    await waitFor('a proxied connection', () => proxy.activeTo(backend) === 1 && answer !== undefined);
    proxy.setBackends(key, []);
    // The drain ends only once the request in flight was answered and its connection closed:
    // when it resolves, no connection to the backend is left.
    const d = proxy.drain([backend], 10_000).then(() => proxy.activeTo(backend));
    answer!();
    expect(await reply).toBe('late');
    expect(await d).toBe(0);
    // A connection that never ends holds the drain only up to its bound.
    proxy.setBackends(key, [backend]);
    answer = undefined;
    const stuck = net.connect(key.port, '127.0.0.1');
    stuck.on('error', () => undefined);
    closers.push(() => { stuck.destroy(); });
    await waitFor('a proxied connection', () => proxy.activeTo(backend) === 1 && answer !== undefined);
    proxy.setBackends(key, []);
    await proxy.drain([backend], 50);
    expect(proxy.activeTo(backend)).toBe(1);
  });

  it('skips backends that refuse connections', async () => {
    const a = await tcpServer('a');
    const dead = await freePort();
    const proxy = newProxy();
    const key: IngressKey = { port: await freePort(), protocol: 'tcp', hostIp: '127.0.0.1' };
    await proxy.bind(key);
    proxy.setBackends(key, [{ host: '127.0.0.1', port: dead }, { host: '127.0.0.1', port: a }]);
    for (let i = 0; i < 4; i++) expect(await tcpRead(key.port)).toBe('a');
  });

  it('accepts then closes connections while a port has no backends', async () => {
    const proxy = newProxy();
    const key: IngressKey = { port: await freePort(), protocol: 'tcp', hostIp: '127.0.0.1' };
    await proxy.bind(key);
    expect(await tcpRead(key.port)).toBe('');
    const a = await tcpServer('a');
    proxy.setBackends(key, [{ host: '127.0.0.1', port: a }]);
    expect(await tcpRead(key.port)).toBe('a');
  });

  it('reports a published port held by another process', async () => {
    const holder = net.createServer();
    const port = await freePort();
    await new Promise<void>((r) => holder.listen(port, '127.0.0.1', () => r()));
    closers.push(() => new Promise<void>((r) => holder.close(() => r())));
    const proxy = newProxy();
    const key: IngressKey = { port, protocol: 'tcp', hostIp: '127.0.0.1' };
    const err = await proxy.bind(key).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortInUseError);
    expect((err as Error).message).toBe(`port ${port}/tcp is already in use on this node`);
    expect(proxy.has(key)).toBe(false);
  });

  it('releases a port so it can be bound again', async () => {
    const proxy = newProxy();
    const key: IngressKey = { port: await freePort(), protocol: 'tcp', hostIp: '127.0.0.1' };
    await proxy.bind(key);
    await proxy.release(key);
    expect(proxy.has(key)).toBe(false);
    const again = newProxy();
    await again.bind(key);
    expect(again.has(key)).toBe(true);
  });

  it('forwards UDP datagrams with one flow per client, spread over backends', async () => {
    const a = await udpEcho('a');
    const b = await udpEcho('b');
    const proxy = newProxy();
    const key: IngressKey = { port: await freePort(), protocol: 'udp', hostIp: '127.0.0.1' };
    await proxy.bind(key);
    proxy.setBackends(key, [{ host: '127.0.0.1', port: a }, { host: '127.0.0.1', port: b }]);
    const c1 = await udpClient();
    const c2 = await udpClient();
    const r1 = await c1.ask(key.port, 'x');
    const r1b = await c1.ask(key.port, 'y');
    const r2 = await c2.ask(key.port, 'z');
    expect(r1.split(':')[0]).toBe(r1b.split(':')[0]); // sticky flow
    expect(r1b.endsWith(':y')).toBe(true);
    expect(new Set([r1.split(':')[0], r2.split(':')[0]])).toEqual(new Set(['a', 'b']));
    // A flow whose backend goes away moves to a live one.
    const survivor = r2.split(':')[0] === 'a' ? a : b;
    proxy.setBackends(key, [{ host: '127.0.0.1', port: survivor }]);
    const moved = await c1.ask(key.port, 'w');
    expect(moved).toBe(`${r2.split(':')[0]}:w`);
  });

  it('drops idle UDP flows', async () => {
    const a = await udpEcho('a');
    const b = await udpEcho('b');
    const proxy = newProxy();
    const key: IngressKey = { port: await freePort(), protocol: 'udp', hostIp: '127.0.0.1' };
    await proxy.bind(key);
    proxy.setBackends(key, [{ host: '127.0.0.1', port: a }, { host: '127.0.0.1', port: b }]);
    const c1 = await udpClient();
    const first = (await c1.ask(key.port, 'x')).split(':')[0];
    // After the idle timeout (500 ms) the flow is gone: the next datagram starts a new flow on the next backend.
    const next = await waitFor('a new flow on the other backend', async () => {
      await new Promise((r) => setTimeout(r, 600));
      const to = (await c1.ask(key.port, 'y')).split(':')[0];
      return to !== first ? to : undefined;
    }, 10_000, 0);
    expect(new Set([first, next])).toEqual(new Set(['a', 'b']));
  });
});
