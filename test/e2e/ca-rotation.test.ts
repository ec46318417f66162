// Root CA rotation on a running cluster: two manager processes and an agent joined with a
// worker token on the real engine, a service running. `cluster ca --rotate` must end with every
// node on a certificate of the new root, the old root no longer trusted, join tokens carrying
// the new digest, and no connection lost on the way: no task restarted, the node never down.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerFromEnv } from '../../agent/docker.js';
import type { CaStatusResponse } from '../../common/api/types.js';
import { caDigest, certInfo, pemBlocks, verifyIssued } from '../../common/pki.js';
import { joinCluster } from '../../proto/identity-client.js';
import { waitFor } from './harness.js';
import { AgentProc, ManagerProc, waitStatus } from './managers.js';

const STACK = 'e2eca';
const docker: Docker = dockerFromEnv();
const STACK_FILE = `
services:
  app:
    image: tsswarm/busybox:latest
    command: ["sh", "-c", "exec sleep 100000"]
    init: true
    stop_grace_period: 1s
    deploy:
      replicas: 2
`;

const containers = async () => docker.listContainers({ filters: { label: [`tsswarm.stack.namespace=${STACK}`] } });
const started = async (): Promise<Map<string, string>> => {
  const out = new Map<string, string>();
  for (const c of await containers()) out.set(c.Id, (await docker.getContainer(c.Id).inspect()).State.StartedAt);
  return out;
};

describe('root CA rotation with services running', () => {
  const ms = [new ManagerProc('ca1'), new ManagerProc('ca2')];
  const agent = new AgentProc('caagent');

  beforeAll(async () => {
    await ms[0]!.init('127.0.0.8');
    await ms[1]!.join(ms[0]!.addr, await ms[0]!.token('manager'), '127.0.0.9');
    await waitStatus(ms, 'two voters', (st) => st.voters === 2 && st.managers.every((m) => m.reachable && m.voter));
    // Certificates of 30 s: the agent must renew its own, unattended, while everything runs.
    await ms[0]!.cliOk('cluster', 'update', '--cert-expiry', '30s');
    agent.join(ms[0]!.addr, await ms[0]!.token('worker'));
    await waitFor('the agent node ready', async () => (JSON.parse(await ms[0]!.cliOk('node', 'ls', '--format', 'json')) as { status: { state: string } }[]).some((n) => n.status.state === 'ready'), 60_000);
    const file = join(ms[0]!.dataDir, 'stack.yml');
    writeFileSync(file, STACK_FILE);
    await ms[0]!.cliOk('deploy', '-c', file, STACK);
    await waitFor('2 containers', async () => (await containers()).length === 2, 60_000);
  }, 180_000);

  afterAll(async () => {
    await agent.kill9();
    for (const m of ms) await m.kill9();
    for (const c of await docker.listContainers({ all: true, filters: { label: [`tsswarm.stack.namespace=${STACK}`] } })) {
      await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
    for (const n of await docker.listNetworks()) if (n.Name.startsWith(`${STACK}_`)) await docker.getNetwork(n.Id).remove().catch(() => undefined);
    for (const m of [...ms, agent]) m.remove();
  });

  it('the agent renews its certificate before it expires and stays connected', async () => {
    const certFile = join(agent.dataDir, 'agent', 'certs', 'node.crt');
    const first = certInfo(readFileSync(certFile, 'utf8'));
    expect(first.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(30_000);
    const before = await started();
    await waitFor('the first certificate to have expired', () => Date.now() > first.notAfter.getTime() + 1000, 40_000, 250);
    const now = certInfo(readFileSync(certFile, 'utf8'));
    expect(now.serial).not.toBe(first.serial);
    expect(now.notAfter.getTime()).toBeGreaterThan(Date.now());
    const nodes = JSON.parse(await ms[0]!.cliOk('node', 'ls', '--format', 'json')) as { id: string; status: { state: string } }[];
    expect(nodes.every((n) => n.status.state === 'ready')).toBe(true);
    expect(await started()).toEqual(before);
    await ms[0]!.cliOk('cluster', 'update', '--cert-expiry', '30d');
  }, 60_000);

  it('every node moves to the new root; no task restarts; old tokens stop working', async () => {
    const before = await started();
    const oldToken = await ms[0]!.token('worker');
    const oldStatus = JSON.parse(await ms[1]!.cliOk('cluster', 'ca', '--format', 'json')) as CaStatusResponse;
    const rotate = JSON.parse(await ms[1]!.cliOk('cluster', 'ca', '--rotate', '--format', 'json')) as CaStatusResponse;
    expect(rotate.digest).toBe(oldStatus.digest);
    const next = rotate.next!.digest;
    expect(next).not.toBe(oldStatus.digest);

    const done = await waitFor('the rotation to complete', async () => {
      const st = JSON.parse(await ms[0]!.cliOk('cluster', 'ca', '--format', 'json')) as CaStatusResponse;
      return !st.next && st.digest === next ? st : undefined;
    }, 90_000, 250);
    expect(done.digest).toBe(next);

    // The agent holds a certificate of the new root and trusts only it.
    const certs = join(agent.dataDir, 'agent', 'certs');
    await waitFor('the agent to trust only the new root', () => {
      const roots = pemBlocks(readFileSync(join(certs, 'ca.crt'), 'utf8'));
      return roots.length === 1 && caDigest(roots[0]!) === next;
    }, 30_000, 200);
    const root = pemBlocks(readFileSync(join(certs, 'ca.crt'), 'utf8'))[0]!;
    expect(verifyIssued(pemBlocks(readFileSync(join(certs, 'node.crt'), 'utf8'))[0]!, root)).toBe(true);

    // Nothing restarted, the node stayed up, the managers still form a cluster.
    expect(await started()).toEqual(before);
    await waitStatus(ms, 'both managers reachable', (st) => st.managers.every((m) => m.reachable));
    const nodes = JSON.parse(await ms[0]!.cliOk('node', 'ls', '--format', 'json')) as { status: { state: string } }[];
    expect(nodes.every((n) => n.status.state === 'ready')).toBe(true);

    // Tokens carry the new digest; one of the old root is refused before anything is sent.
    const newToken = await ms[0]!.token('worker');
    expect(newToken).toContain(next);
    await expect(joinCluster(ms[0]!.addr, { token: oldToken, role: 'worker', nodeId: 'late1', hostname: 'x' })).rejects.toThrow(/does not match the join token/);
    const joined = await joinCluster(ms[1]!.addr, { token: newToken, role: 'worker', nodeId: 'late2', hostname: 'x' });
    expect(verifyIssued(pemBlocks(joined.certPem)[0]!, root)).toBe(true);

    // The agent still takes work over the rotated connections.
    await ms[0]!.cliOk('service', 'scale', `${STACK}_app=3`);
    await waitFor('3 containers', async () => (await containers()).length === 3, 60_000);
  }, 200_000);
});
