// The mapping from a task to the engine's create request, and engine errors to user messages;
// then the container settings of a spec applied by the real engine.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { classifyEngineError, createOptions, explainEngineError, shortServiceName } from '../../agent/exec/container.js';
import type { Worker } from '../../agent/worker/index.js';
import { Recorder, cleanup, docker, freePort, httpGet, makeTask, makeWorker, uniqueStack, update, waitFor } from './helpers.js';

describe('container mapping', () => {
  it('maps ports, mounts, healthcheck and limits', () => {
    const t = makeTask('shop', 'web', 2, 'n1', {
      command: ['httpd'], entrypoint: ['/bin/sh', '-c'], stop_signal: 'SIGQUIT', stop_grace_period: '500ms',
      ports: [
        { target: 80, published: 8080, protocol: 'tcp', mode: 'ingress' },
        { target: 53, published: 5353, protocol: 'udp', mode: 'host', host_ip: '127.0.0.1' },
        { target: 9000, protocol: 'tcp', mode: 'host' },
      ],
      healthcheck: { test: ['CMD', 'true'], interval: '1m30s', timeout: '500ms', retries: 3, start_period: '2s' },
    });
    const o = createOptions(t, {
      nodeId: 'n1',
      networks: [{ name: 'shop_front', aliases: ['web'] }, { name: 'shop_back', aliases: ['web'] }],
      mounts: [{ type: 'volume', source: 'shop_data', target: '/data', readOnly: true }],
    });
    expect(o.name).toBe(`shop_web.2.${t.id}`);
    expect(o.HostConfig?.PortBindings).toEqual({
      '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
      '9000/tcp': [{ HostIp: '', HostPort: '' }],
    });
    expect(o.HostConfig?.RestartPolicy).toEqual({ Name: 'no' });
    expect(o.HostConfig?.NetworkMode).toBe('shop_front');
    expect(o.NetworkingConfig?.EndpointsConfig).toEqual({ shop_front: { Aliases: ['web'] } });
    expect(o.HostConfig?.Mounts).toEqual([{ Type: 'volume', Source: 'shop_data', Target: '/data', ReadOnly: true }]);
    expect(o.Healthcheck).toEqual({ Test: ['CMD', 'true'], Interval: 90e9, Timeout: 500e6, Retries: 3, StartPeriod: 2e9 });
    expect(o.StopTimeout).toBe(1);
    expect(o.StopSignal).toBe('SIGQUIT');
    expect(o.Entrypoint).toEqual(['/bin/sh', '-c']);
    expect(o.Labels?.['tsswarm.slot']).toBe('2');
  });

  it('network_mode host: no stack network, no aliases, no port bindings', () => {
    const t = makeTask('s', 'media', 1, 'n', {
      network_mode: 'host', networks: {}, ports: [{ target: 8096, published: 8096, protocol: 'tcp', mode: 'host' }],
    });
    const o = createOptions(t, { nodeId: 'n', networks: [], mounts: [] });
    expect(o.HostConfig?.NetworkMode).toBe('host');
    expect(o.HostConfig?.PortBindings).toEqual({});
    expect(o.NetworkingConfig).toBeUndefined();
    expect(o.HostConfig).not.toHaveProperty('CapAdd');
  });

  it('names global tasks by node and strips the stack from the service name', () => {
    const t = makeTask('shop', 'agent', 1, 'node9', {}, { slot: undefined });
    expect(createOptions(t, { nodeId: 'node9', networks: [], mounts: [] }).name).toBe(`shop_agent.node9.${t.id}`);
    expect(shortServiceName(t)).toBe('agent');
  });

  it('explains port conflicts with the published port', () => {
    const t = makeTask('s', 'web', 1, 'n', { ports: [{ target: 80, published: 8080, protocol: 'tcp', mode: 'host' }] });
    const e = (message: string) => Object.assign(new Error(`(HTTP code 500) server error - ${message}`), { statusCode: 500, json: { message } });
    expect(explainEngineError(e('driver failed programming external connectivity on endpoint x (abc): Bind for 0.0.0.0:8080 failed: port is already allocated'), t))
      .toBe('port 8080/tcp is already in use on this node');
    expect(explainEngineError(e('driver failed programming external connectivity on endpoint x: Error starting userland proxy: listen tcp4 0.0.0.0:8080: bind: address already in use'), t))
      .toBe('port 8080/tcp is already in use on this node');
    expect(explainEngineError(e('No such image: foo:1'), t)).toBe(`image ${t.spec.image} not found`);
  });

  it('gives every engine error at create or start a TSW_ERR_ code', () => {
    const t = makeTask('s', 'web', 1, 'n', { ports: [{ target: 80, published: 8080, protocol: 'tcp', mode: 'host' }] });
    const e = (message: string) => Object.assign(new Error(message), { statusCode: 500, json: { message } });
    const code = (err: unknown) => classifyEngineError(err, t, 'TSW_ERR_CONTAINER_START_FAILED').errCode;
    expect(code(e('Bind for 0.0.0.0:8080 failed: port is already allocated'))).toBe('TSW_ERR_PORT_IN_USE');
    expect(code(e('No such image: foo:1'))).toBe('TSW_ERR_IMAGE_NOT_FOUND');
    expect(code(e('invalid mount config for type "bind": bind source path does not exist: /x'))).toBe('TSW_ERR_MOUNT_INVALID');
    expect(code(Object.assign(new Error('connect ECONNREFUSED /run/docker.sock'), { code: 'ECONNREFUSED' }))).toBe('TSW_ERR_ENGINE_UNAVAILABLE');
    expect(code(e('OCI runtime create failed: something else'))).toBe('TSW_ERR_CONTAINER_START_FAILED');
    expect(classifyEngineError(e('No such image: foo:1'), t, 'TSW_ERR_CONTAINER_CREATE_FAILED').err).toBe(explainEngineError(e('No such image: foo:1'), t));
  });
});

describe('container settings on the real engine', () => {
  const PREFIX = 'agtk';
  const workers: Worker[] = [];
  beforeAll(async () => {
    await docker.ping();
    await cleanup(PREFIX);
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });
  afterAll(async () => {
    await cleanup(PREFIX);
  });

  function setup(): { w: Worker; rec: Recorder; stack: string; nodeId: string } {
    const rec = new Recorder();
    const nodeId = `node-${uniqueStack('n')}`;
    const w = makeWorker(nodeId, rec);
    workers.push(w);
    return { w, rec, stack: uniqueStack(PREFIX), nodeId };
  }

  /** The container's output so far (stdout and stderr, frame headers dropped). */
  async function output(id: string): Promise<string> {
    const buf = (await docker.getContainer(id).logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    let out = '';
    for (let i = 0; i + 8 <= buf.length;) {
      const len = buf.readUInt32BE(i + 4);
      out += buf.subarray(i + 8, i + 8 + len).toString('utf8');
      i += 8 + len;
    }
    return out;
  }

  it('capabilities, devices, sysctls, limits, read-only rootfs, tmpfs, hosts, DNS and logging reach the container', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const script = [
      'cat /etc/hosts', 'cat /etc/resolv.conf', 'echo somaxconn=$(cat /proc/sys/net/core/somaxconn)', 'echo nofile=$(ulimit -n)',
      'if touch /rootfs-write 2>/dev/null; then echo ROOTFS-WRITABLE; else echo ROOTFS-READONLY; fi',
      'echo x > /scratch/t && echo TMPFS-WRITABLE', 'ls -l /dev/mynull', 'id', 'echo DONE', 'exec sleep 3600',
    ].join('; ');
    const t = makeTask(stack, 'vpn', 1, nodeId, {
      command: ['sh', '-c', script],
      cap_add: ['NET_ADMIN'], cap_drop: ['MKNOD'], privileged: false, security_opt: ['no-new-privileges:true'],
      devices: [{ source: '/dev/null', target: '/dev/mynull', permissions: 'rw' }], group_add: ['4321'],
      sysctls: { 'net.core.somaxconn': '1234' }, ulimits: { nofile: { soft: 1500, hard: 3000 } }, pids_limit: 100,
      shm_size: 32 * 1024 * 1024, read_only: true, tmpfs: ['/scratch:size=1m', '/run'],
      extra_hosts: ['db.example:10.1.2.3', 'gw.example:host-gateway'], dns: ['9.9.9.9'], dns_search: ['corp.example'], dns_opt: ['ndots:3'],
      logging: { driver: 'json-file', options: { 'max-size': '1m', 'max-file': '2' } },
    });
    w.assign(true, [update(t)]);
    const running = await rec.waitState(t.id, (s) => s.state === 'running');
    const info = await docker.getContainer(running.containerId!).inspect();
    const hc = info.HostConfig as Record<string, unknown>;
    expect(hc.CapAdd).toEqual(['NET_ADMIN']);
    expect(hc.CapDrop).toEqual(['MKNOD']);
    expect(hc.Privileged).toBe(false);
    expect(hc.SecurityOpt).toEqual(['no-new-privileges:true']);
    expect(hc.Devices).toEqual([{ PathOnHost: '/dev/null', PathInContainer: '/dev/mynull', CgroupPermissions: 'rw' }]);
    expect(hc.GroupAdd).toEqual(['4321']);
    expect(hc.Sysctls).toEqual({ 'net.core.somaxconn': '1234' });
    expect(hc.Ulimits).toEqual([{ Name: 'nofile', Soft: 1500, Hard: 3000 }]);
    expect(hc.PidsLimit).toBe(100);
    expect(hc.ShmSize).toBe(32 * 1024 * 1024);
    expect(hc.ReadonlyRootfs).toBe(true);
    expect(hc.Tmpfs).toEqual({ '/scratch': 'size=1m', '/run': '' });
    expect(hc.ExtraHosts).toEqual(['db.example:10.1.2.3', 'gw.example:host-gateway']);
    expect(hc.Dns).toEqual(['9.9.9.9']);
    expect(hc.DnsSearch).toEqual(['corp.example']);
    expect(hc.DnsOptions).toEqual(['ndots:3']);
    expect(hc.LogConfig).toEqual({ Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } });

    // and from inside the container
    const out = await waitFor('the container\'s report', async () => {
      const o = await output(running.containerId!);
      return o.includes('DONE') ? o : undefined;
    });
    expect(out).toMatch(/^10\.1\.2\.3\s+db\.example$/m);
    expect(out).toMatch(/^\d+\.\d+\.\d+\.\d+\s+gw\.example$/m);
    expect(out).toMatch(/^nameserver 9\.9\.9\.9$/m);
    expect(out).toMatch(/^search corp\.example$/m);
    expect(out).toMatch(/^options ndots:3$/m);
    expect(out).toContain('somaxconn=1234');
    expect(out).toContain('nofile=1500');
    expect(out).toContain('ROOTFS-READONLY');
    expect(out).toContain('TMPFS-WRITABLE');
    expect(out).toMatch(/^crw.*\/dev\/mynull$/m);
    expect(out).toMatch(/groups=.*4321/);
  });

  it('network_mode host: the container joins the node\'s network, no stack network, host ports reported as the node\'s', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const port = await freePort();
    const t = makeTask(stack, 'media', 1, nodeId, {
      command: ['sh', '-c', `echo up > /tmp/index.html && exec httpd -f -p ${port} -h /tmp`],
      network_mode: 'host', networks: {},
      ports: [{ target: port, published: port, protocol: 'tcp', mode: 'host' }],
    });
    w.assign(true, [update(t)]);
    const running = await rec.waitState(t.id, (s) => s.state === 'running');
    expect(running.portBindings).toEqual([{ target: port, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: port }]);
    const info = await docker.getContainer(running.containerId!).inspect();
    expect(info.HostConfig.NetworkMode).toBe('host');
    expect(Object.keys(info.NetworkSettings.Networks)).toEqual(['host']);
    expect(info.HostConfig.PortBindings ?? {}).toEqual({});
    // the engine's host is this test's host only when the engine runs here: then the port answers directly
    const local = !process.env.DOCKER_HOST || process.env.DOCKER_HOST.startsWith('unix://');
    if (local) {
      const res = await waitFor('httpd on the host network', () => httpGet(port).catch(() => undefined));
      expect(res.body).toContain('up');
    }
  });

  it('network_mode none: the container has no network but loopback', async () => {
    const { w, rec, stack, nodeId } = setup();
    await w.start();
    const t = makeTask(stack, 'batch', 1, nodeId, { command: ['sleep', '3600'], network_mode: 'none', networks: {} });
    w.assign(true, [update(t)]);
    const running = await rec.waitState(t.id, (s) => s.state === 'running');
    const info = await docker.getContainer(running.containerId!).inspect();
    expect(info.HostConfig.NetworkMode).toBe('none');
    expect(Object.keys(info.NetworkSettings.Networks)).toEqual(['none']);
  });
});
