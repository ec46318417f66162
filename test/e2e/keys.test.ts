// Compose keys that set up a task's container, end to end: deploy through the CLI with a
// profile, check the containers the engine made, change one key and see the task replaced.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, waitFor } from './harness.js';

const STACK = 'e2ekeys';

const stackFile = (cap: string) => `
services:
  vpn:
    image: tsswarm/busybox:latest
    command: ["sh", "-c", "cat /etc/hosts; echo nofile=$$(ulimit -n); exec sleep 3600"]
    init: true
    cap_add: [${cap}]
    cap_drop: [MKNOD]
    sysctls:
      - net.ipv4.ip_forward=1
    ulimits:
      nofile: {soft: 2048, hard: 4096}
    extra_hosts:
      - "vpn-gw.example=10.9.8.7"
    read_only: true
    tmpfs: /run
    dns: 9.9.9.9
    logging:
      driver: local
      options: {max-size: 1m}
  media:
    image: tsswarm/busybox:latest
    command: ["sleep", "3600"]
    init: true
    network_mode: host
  debug:
    image: tsswarm/busybox:latest
    command: ["sleep", "3600"]
    init: true
    profiles: [debug]
    depends_on: [vpn]
`;

interface Task { id: string; desiredState: string; status: { state: string; containerId?: string } }

describe('container settings through the CLI', () => {
  const c = new Cluster('keys');
  let file: string;

  beforeAll(async () => {
    await c.start();
    file = c.writeStack('stack.yml', stackFile('NET_ADMIN'));
  });
  afterAll(async () => {
    await c.destroy([STACK]);
  });

  const live = async (svc: string) => (await c.json<Task[]>('service', 'ps', `${STACK}_${svc}`)).filter((t) => t.desiredState === 'running' && t.status.state === 'running');
  const services = async () => (await c.json<{ name: string }[]>('service', 'ls')).map((s) => s.name).filter((n) => n.startsWith(`${STACK}_`)).sort();

  it('deploys the services without profiles, honouring their keys, and warns about what they grant', async () => {
    const r = await c.cli('deploy', '-c', file, STACK);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Stack ${STACK} converged`);
    expect(r.stderr).toMatch(/warning: .*stack\.yml:\d+:\d+: services\.media\.network_mode: network_mode: host gives the task the node's network stack/);
    expect(await services()).toEqual([`${STACK}_media`, `${STACK}_vpn`]);

    const [vpn] = await live('vpn');
    const info = await c.docker.getContainer(vpn.status.containerId!).inspect();
    const hc = info.HostConfig as Record<string, unknown>;
    expect(hc).toMatchObject({
      CapAdd: ['NET_ADMIN'], CapDrop: ['MKNOD'], Sysctls: { 'net.ipv4.ip_forward': '1' }, Ulimits: [{ Name: 'nofile', Soft: 2048, Hard: 4096 }],
      ExtraHosts: ['vpn-gw.example:10.9.8.7'], ReadonlyRootfs: true, Tmpfs: { '/run': '' }, Dns: ['9.9.9.9'],
      LogConfig: { Type: 'local', Config: { 'max-size': '1m' } },
    });
    // the local driver keeps logs the engine reads back: service logs shows them
    const logs = await waitFor('the vpn task\'s output in service logs', async () => {
      const out = await c.cliOk('service', 'logs', `${STACK}_vpn`);
      return out.includes('nofile=') ? out : undefined;
    });
    expect(logs).toMatch(/10\.9\.8\.7\s+vpn-gw\.example/);
    expect(logs).toContain('nofile=2048');

    const [media] = await live('media');
    const m = await c.docker.getContainer(media.status.containerId!).inspect();
    expect(m.HostConfig.NetworkMode).toBe('host');
    expect(Object.keys(m.NetworkSettings.Networks)).toEqual(['host']);
  });

  it('config --profile shows the service of the profile; deploy --profile adds it; a changed key replaces the task', async () => {
    expect(await c.cliOk('config', '-c', file, '--profile', 'debug')).toMatch(/^ {2}debug:$/m);
    expect(await c.cliOk('config', '-c', file)).not.toMatch(/^ {2}debug:$/m);

    const [before] = await live('vpn');
    const [mediaBefore] = await live('media');
    c.writeStack('stack.yml', stackFile('NET_ADMIN, NET_RAW'));
    const out = await c.cliOk('deploy', '-c', file, '--profile', 'debug', STACK);
    expect(out).toContain(`create   ${STACK}_debug`);
    expect(out).toMatch(new RegExp(`update\\s+${STACK}_vpn`));
    expect(out).toContain(`Stack ${STACK} converged`);
    expect(await services()).toEqual([`${STACK}_debug`, `${STACK}_media`, `${STACK}_vpn`]);

    const [after] = await live('vpn');
    expect(after.id).not.toBe(before.id);
    expect(after.status.containerId).not.toBe(before.status.containerId);
    const info = await c.docker.getContainer(after.status.containerId!).inspect();
    expect(info.HostConfig.CapAdd).toEqual(['NET_ADMIN', 'NET_RAW']);
    // the service whose keys did not change keeps its task
    expect((await live('media'))[0].id).toBe(mediaBefore.id);
  });
});
