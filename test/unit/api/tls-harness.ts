// A lone API on a real store, served over HTTPS by listenHttps with test certificates
// (helpers/tls-certs.ts), and a client for it: what the HTTPS and remote-CLI tests drive.

import { mkdtempSync, rmSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { ClusterApi } from '../../../manager/controlapi/context.js';
import { buildApi, listenHttps, type HttpsListener } from '../../../manager/controlapi/server.js';
import { loneBackend } from '../../../manager/store/raft-backend.js';
import { Store } from '../../../manager/store/store.js';
import { newClusterObj } from '../../../manager/store/types.js';
import { signCsr, testPki, type TestCert, type TestPki } from '../helpers/tls-certs.js';
import { TestSealer } from '../helpers/sealer.js';

export interface HttpsHarness {
  app: FastifyInstance;
  store: Store;
  pki: TestPki;
  listener: HttpsListener;
  port: number;
  /** What the API logged at warn and above (JSON objects). */
  warnings: Record<string, unknown>[];
  snapshot(): string;
  close(): Promise<void>;
}

export const MANAGER_ID = 'mgr1';

/** A one-manager cluster's API (it is the leader), with `pki.client` listed as "alice". */
export async function httpsHarness(): Promise<HttpsHarness> {
  const pki = testPki('cluster1', MANAGER_ID);
  const dir = mkdtempSync(join(tmpdir(), 'tsswarm-https-'));
  const store = new Store(loneBackend(dir));
  await store.open();
  const warnings: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { for (const l of String(chunk).split('\n')) if (l) warnings.push(JSON.parse(l)); done(); } });
  // The leader of a cluster of one, which signs with the test CA.
  const cluster = {
    isLeader: true,
    quorumActive: () => ({ ok: true, reachable: 1, voters: 1, quorum: 1 }),
    leaderAddr: () => '127.0.0.1:4242',
    managerAddrs: () => ['127.0.0.1:4242'],
    signClientCert: async (name: string, csrPem: string, validSeconds: number) => {
      const c = signCsr(pki.ca, csrPem, 'client', name, { seconds: validSeconds });
      return { certPem: c.certPem, caPems: [pki.ca.certPem], serial: c.serial, notAfter: c.notAfter };
    },
  } as unknown as ClusterApi;
  const app = buildApi({
    store, cluster, sealer: new TestSealer(),
    dispatcher: { logs: (_byNode, _req, _onLine, onEnd) => { setImmediate(onEnd); return () => undefined; } },
    log: pino({ level: 'warn' }, sink),
    info: () => ({ version: 'test', clusterId: pki.clusterId, nodeId: MANAGER_ID, dataDir: '/tmp/x', pid: 1 }),
  });
  await store.update((tx) => tx.create({
    ...newClusterObj(),
    managers: [{ raftId: 1, nodeId: MANAGER_ID, addr: '127.0.0.1:4242', desired: 'voter' }],
    clientCerts: [{ name: 'alice', serial: pki.client.serial, notAfter: pki.client.notAfter, createdAt: Date.now() }],
  }));
  const listener = await listenHttps(app, '127.0.0.1:0', { certPem: pki.manager.certPem, keyPem: pki.manager.keyPem, caPems: [pki.ca.certPem], clusterId: pki.clusterId });
  return {
    app, store, pki, listener, port: listener.port, warnings,
    snapshot: () => JSON.stringify({ index: store.index, state: store.state() }),
    async close() {
      await listener.close();
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
      pki.cleanup();
    },
  };
}

export interface Answer { status: number; body: any; text: string }

/**
 * One request over a new TLS connection: `cert` is the client's (none: no certificate), `ca`
 * what the server is checked against (the cluster CA by default).
 */
export function call(h: Pick<HttpsHarness, 'port' | 'pki'>, method: string, path: string, opts: { cert?: TestCert; ca?: string; body?: unknown; agent?: RequestOptions['agent'] } = {}): Promise<Answer> {
  const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: h.port, method, path,
      ca: opts.ca ?? h.pki.ca.certPem, cert: opts.cert?.certPem, key: opts.cert?.keyPem,
      servername: 'tsswarm-manager', agent: opts.agent ?? false,
      headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString();
        let body: unknown;
        try { body = JSON.parse(text); } catch { body = text; }
        resolve({ status: res.statusCode ?? 0, body, text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}
