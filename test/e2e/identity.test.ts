// Identity end to end, as an attacker tries it: a real manager process on 127.0.0.5, gRPC
// clients made here with no certificate, another CA's, a worker's, an expired one, a revoked
// one. Every refusal is checked for its gRPC status, and for what it must not have done.

import * as grpc from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certInfo } from '../../common/pki.js';
import { MANAGER_CHANNEL_OPTIONS, NodeCredentials, type TlsMaterial } from '../../proto/credentials.js';
import { joinCluster, renewCertificate } from '../../proto/identity-client.js';
import { dispatcherProto, loadProto } from '../../proto/load.js';
import type { ProtoGrpcType as RaftProto } from '../../proto/gen/raft.js';
import type { ProtoGrpcType as ManagerProto } from '../../proto/gen/manager.js';
import type { ManagerMessage__Output } from '../../proto/gen/tsswarm/dispatcher/v1/ManagerMessage.js';
import { waitFor } from './harness.js';
import { ManagerProc } from './managers.js';

const IP = '127.0.0.5';

interface Outcome { code: grpc.status | 'ok'; details: string; welcome?: ManagerMessage__Output['welcome']; messages: ManagerMessage__Output[] }

/** Opens a Session with `creds`, registers as `nodeId`, and reports how it ended (or the welcome). */
function session(addr: string, creds: grpc.ChannelCredentials, nodeId: string, opts: { keepOpen?: boolean } = {}): { done: Promise<Outcome>; messages: ManagerMessage__Output[]; close: () => void } {
  const client = new (dispatcherProto().tsswarm.dispatcher.v1.Dispatcher)(addr, creds, { ...MANAGER_CHANNEL_OPTIONS });
  const call = client.Session({ deadline: Date.now() + (opts.keepOpen ? 60_000 : 10_000) }) as unknown as grpc.ClientDuplexStream<unknown, ManagerMessage__Output>;
  const messages: ManagerMessage__Output[] = [];
  const done = new Promise<Outcome>((resolve) => {
    call.on('data', (m: ManagerMessage__Output) => {
      messages.push(m);
      if (m.welcome && !opts.keepOpen) { resolve({ code: 'ok', details: '', welcome: m.welcome, messages }); call.cancel(); client.close(); }
    });
    call.on('error', (e: grpc.ServiceError) => { resolve({ code: e.code, details: e.details, messages }); client.close(); });
    call.on('end', () => resolve({ code: 'ok', details: 'ended', messages }));
  });
  call.write({ register: { node_id: nodeId, description: { hostname: 'intruder', os: 'linux', arch: 'amd64' }, task_ids: [] } });
  // A node stays ready while it sends heartbeats.
  const beat = opts.keepOpen ? setInterval(() => call.write({ heartbeat: {} }), 200) : undefined;
  void done.then(() => clearInterval(beat));
  return { done, messages, close: () => { clearInterval(beat); call.cancel(); client.close(); } };
}

function raftStream(addr: string, creds: grpc.ChannelCredentials): Promise<{ code: grpc.status | 'ok'; details: string }> {
  const Raft = loadProto<RaftProto>('raft.proto').tsswarm.raft.v1.Raft;
  const client = new Raft(addr, creds, { ...MANAGER_CHANNEL_OPTIONS });
  return new Promise((resolve) => {
    const call = client.Stream({ deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null) => { client.close(); resolve(err ? { code: err.code, details: err.details } : { code: 'ok', details: '' }); });
    // A vote request in a far term: what a hostile member would send to disrupt the cluster.
    call.write({ messages: [{ type: 'vote', from: 1, to: 1, term: 1_000_000, index: 0, log_term: 0 }] });
    call.end();
  });
}

function forwardHttp(addr: string, creds: grpc.ChannelCredentials): Promise<{ code: grpc.status | 'ok'; details: string; body: string }> {
  const M = loadProto<ManagerProto>('manager.proto').tsswarm.manager.v1.Manager;
  const client = new M(addr, creds, { ...MANAGER_CHANNEL_OPTIONS });
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const call = client.ForwardHttp({ method: 'GET', url: '/v1/cluster/join-token/manager', headers: {}, body: Buffer.alloc(0) }, { deadline: Date.now() + 10_000 });
    call.on('data', (c: { data: Buffer }) => parts.push(Buffer.from(c.data ?? [])));
    call.on('error', (e: grpc.ServiceError) => { client.close(); resolve({ code: e.code, details: e.details, body: Buffer.concat(parts).toString() }); });
    call.on('end', () => { client.close(); resolve({ code: 'ok', details: '', body: Buffer.concat(parts).toString() }); });
  });
}

/** A CA and a leaf of our own (openssl): what a forger holds. */
function foreignMaterial(dir: string, subject: string): TlsMaterial {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key');
  run('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/O=forged/CN=tsswarm-ca', '-days', '2', '-out', 'ca.crt');
  run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'leaf.key');
  run('req', '-new', '-key', 'leaf.key', '-subj', subject, '-out', 'leaf.csr');
  writeFileSync(join(dir, 'ext'), 'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:tsswarm-manager\n');
  run('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'ext', '-out', 'leaf.crt');
  const read = (f: string) => execFileSync('cat', [join(dir, f)]).toString();
  return { keyPem: read('leaf.key'), certPem: read('leaf.crt'), caPems: [read('ca.crt')] };
}

describe('identity: every gRPC connection is mutual TLS, checked per call', () => {
  const m = new ManagerProc('id1');
  const tmp = mkdtempSync('/tmp/tsswarm-id-test-');
  let addr: string;
  let clusterId: string;
  let workerToken: string;
  let managerCa: string[];

  beforeAll(async () => {
    await m.init(IP);
    addr = m.addr;
    clusterId = (await m.api<{ clusterId: string }>('GET', '/v1/info')).body.clusterId;
    workerToken = await m.token('worker');
  }, 90_000);

  afterAll(async () => {
    await m.stop();
    m.remove();
    rmSync(tmp, { recursive: true, force: true });
  });

  const joinWorker = async (nodeId = 'n' + Math.random().toString(36).slice(2, 10)) => {
    const r = await joinCluster(addr, { token: workerToken, role: 'worker', nodeId, hostname: 'test-worker' });
    managerCa = r.caPems;
    return { joined: r, creds: new NodeCredentials(r, r.clusterId) };
  };

  it('refuses a session, a Raft stream and a forwarded request without a certificate', async () => {
    const { joined } = await joinWorker();
    // TLS that trusts the cluster CA (the server is genuine) but presents no certificate.
    const anon = grpc.credentials.createSsl(Buffer.from(joined.caPems.join('\n')), null, null, { checkServerIdentity: () => undefined });
    const s = await session(addr, anon, '').done;
    expect(s.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(s.messages).toEqual([]);
    expect((await raftStream(addr, anon)).code).toBe(grpc.status.UNAUTHENTICATED);
    const f = await forwardHttp(addr, anon);
    expect(f.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(f.body).not.toContain('TSWTKN');
    // Plain text is not even spoken.
    const plain = await session(addr, grpc.credentials.createInsecure(), '').done;
    expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(plain.code);
    expect(plain.messages).toEqual([]);
  });

  it('refuses a certificate of another CA, even one naming a real manager', async () => {
    const managerNode = (await m.api<{ nodeId: string }>('GET', '/v1/info')).body.nodeId;
    const dir = mkdtempSync(join(tmp, 'forged-'));
    const forged = foreignMaterial(dir, `/O=${clusterId}/OU=manager/CN=${managerNode}`);
    // The forger trusts the real CA to reach the server; its own certificate is the forgery.
    const creds = grpc.credentials.createSsl(Buffer.from(managerCa.join('\n')), Buffer.from(forged.keyPem), Buffer.from(forged.certPem), { checkServerIdentity: () => undefined });
    expect((await session(addr, creds, managerNode).done).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await raftStream(addr, creds)).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await forwardHttp(addr, creds)).code).toBe(grpc.status.UNAUTHENTICATED);
    // And a client checks the server: a manager certificate of another CA is not trusted.
    const nodes = await m.api<unknown[]>('GET', '/v1/nodes');
    expect(JSON.stringify(nodes.body)).not.toContain('intruder');
  });

  it('a worker certificate registers only as its own node, never speaks Raft nor replays API requests', async () => {
    const { joined, creds } = await joinWorker();
    const managerNode = (await m.api<{ nodeId: string }>('GET', '/v1/info')).body.nodeId;
    const asOther = await session(addr, creds.channelCredentials(), managerNode).done;
    expect(asOther.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(asOther.details).toContain(`node ${joined.nodeId}'s`);
    const raft = await raftStream(addr, creds.channelCredentials());
    expect(raft.code).toBe(grpc.status.PERMISSION_DENIED);
    const f = await forwardHttp(addr, creds.channelCredentials());
    expect(f.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(f.body).not.toContain('TSWTKN');
    // As itself it is welcome, with its own id.
    const own = await session(addr, creds.channelCredentials(), joined.nodeId).done;
    expect(own.code).toBe('ok');
    expect(own.welcome?.node_id).toBe(joined.nodeId);
    // An empty id is its certificate's.
    const empty = await session(addr, creds.channelCredentials(), '').done;
    expect(empty.welcome?.node_id).toBe(joined.nodeId);
  });

  it('a worker token does not make a manager; a rotated token is refused; joined nodes keep working', async () => {
    await expect(joinCluster(addr, { token: workerToken, role: 'manager', nodeId: 'mgrwannabe', hostname: 'x', raftId: 77, addr: '127.0.0.9:1' })).rejects.toThrow(/for workers/);
    const { creds, joined } = await joinWorker();
    const rotated = await m.api<{ token: string }>('POST', '/v1/cluster/join-token/worker/rotate');
    expect(rotated.status).toBe(200);
    await expect(joinCluster(addr, { token: workerToken, role: 'worker', nodeId: 'late', hostname: 'x' })).rejects.toThrow(/not a current one/);
    workerToken = rotated.body.token;
    expect((await session(addr, creds.channelCredentials(), joined.nodeId).done).code).toBe('ok');
    // A token for another CA is refused before anything is sent: the digest does not match.
    const other = workerToken.replace(/^(TSWTKN-1-)(.)/, (_s, p: string, c: string) => p + (c === '0' ? '1' : '0'));
    await expect(joinCluster(addr, { token: other, role: 'worker', nodeId: 'x1', hostname: 'x' })).rejects.toThrow(/does not match the join token/);
  });

  it('node rm revokes the node: its open session is cut and it cannot come back', async () => {
    const { creds, joined } = await joinWorker();
    const s = session(addr, creds.channelCredentials(), joined.nodeId, { keepOpen: true });
    await waitFor('the welcome', () => s.messages.some((x) => x.welcome), 10_000);
    const rm = await m.api('DELETE', `/v1/nodes/${joined.nodeId}?force=true`);
    expect(rm.status).toBe(200);
    const out = await s.done;
    expect(out.messages.some((x) => x.welcome)).toBe(true);
    expect(out.code).toBe(grpc.status.PERMISSION_DENIED);
    const again = await session(addr, creds.channelCredentials(), joined.nodeId).done;
    expect(again.code).toBe(grpc.status.PERMISSION_DENIED);
    await expect(renewCertificate(creds, [addr])).rejects.toThrow(/removed|not part/);
  });

  it("a node never receives a secret of a task that is not its own", async () => {
    const a = await joinWorker();
    const b = await joinWorker();
    const sa = session(addr, a.creds.channelCredentials(), a.joined.nodeId, { keepOpen: true });
    const sb = session(addr, b.creds.channelCredentials(), b.joined.nodeId, { keepOpen: true });
    try {
      await waitFor('both sessions welcomed', () => sa.messages.some((x) => x.welcome) && sb.messages.some((x) => x.welcome), 10_000);
      const dir = mkdtempSync(join(tmp, 'stack-'));
      const value = `only-for-b-${Math.random().toString(36).slice(2)}`;
      writeFileSync(join(dir, 'pw.txt'), value);
      writeFileSync(join(dir, 'stack.yml'), `
services:
  db:
    image: tsswarm/busybox:latest
    command: ["sleep", "100000"]
    secrets: [pw]
    deploy:
      placement:
        constraints: ["node.id == ${b.joined.nodeId}"]
secrets:
  pw:
    file: ./pw.txt
`);
      await m.cliOk('deploy', '--detach', '-c', join(dir, 'stack.yml'), 'idsec');
      const kinds = (s: { messages: ManagerMessage__Output[] }) => s.messages.flatMap((x) => x.assignments?.changes ?? []).map((c) => `${c.kind}:${c.action}`);
      const b64 = Buffer.from(value).toString('base64');
      await waitFor('B to receive the secret and its task', () => kinds(sb).includes('SECRET:UPDATE') && kinds(sb).includes('TASK:UPDATE'), 20_000);
      expect(JSON.stringify(sb.messages)).toContain(b64);
      // A holds a valid worker certificate of the same cluster: it gets neither.
      expect(kinds(sa).filter((k) => k.startsWith('SECRET') || k.startsWith('TASK'))).toEqual([]);
      expect(JSON.stringify(sa.messages)).not.toContain(b64);
      expect(JSON.stringify(sa.messages)).not.toContain(value);
      await m.cliOk('stack', 'rm', '--detach', 'idsec');
    } finally {
      sa.close();
      sb.close();
    }
  }, 60_000);

  it('certificates expire (refused after), and a node renews before they do', async () => {
    expect((await m.api('POST', '/v1/cluster/update', { spec: { certExpiryMs: 12_000 } })).status).toBe(200);
    const { creds, joined } = await joinWorker();
    const first = certInfo(joined.certPem);
    expect(first.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(12_000);
    // Renewed: a new certificate (new key, new serial) for the same node, and it works.
    const renewed = await renewCertificate(creds, [addr]);
    const second = certInfo(renewed.certPem);
    expect(second.commonName).toBe(joined.nodeId);
    expect(second.serial).not.toBe(first.serial);
    const next = new NodeCredentials(renewed, clusterId);
    expect((await session(addr, next.channelCredentials(), joined.nodeId).done).code).toBe('ok');
    // The first one, once expired, is refused.
    await waitFor('the first certificate to expire', () => Date.now() > first.notAfter.getTime() + 500, 20_000, 200);
    expect((await session(addr, creds.channelCredentials(), joined.nodeId).done).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await m.api('POST', '/v1/cluster/update', { spec: { certExpiryMs: 30 * 24 * 3600 * 1000 } })).status).toBe(200);
  }, 60_000);
});
