// Every service key the engine honours beyond capabilities and kernel settings, end to end:
// a stack written with extends, include and --env-file deploys through the CLI, and each key is
// checked in `docker inspect` of the task's container. Then the keys that place tasks
// (platform, runtime, gpus, pull_policy never) keep a task pending or rejected, with the reason.

import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, waitFor } from './harness.js';

const STACK = 'e2eengine';
const PLACED = 'e2eplace';
const MiB = 1024 * 1024;

/** A block device of this machine for the blkio limits (a virtual disk), or undefined. */
const blockDevice = (): string | undefined =>
  readdirSync('/sys/block').filter((d) => !/^(loop|ram|zram|dm-|md)/.test(d)).map((d) => `/dev/${d}`).find((p) => existsSync(p));

const stackFile = (dev: string | undefined) => `
include:
  - side/compose.yaml
services:
  base:
    image: tsswarm/busybox:\${TAG}
    command: ["sleep", "3600"]
    init: true
    profiles: [never]
  tuned:
    extends: base
    profiles: []
    pid: host
    ipc: shareable
    userns_mode: host
    cgroup: private
    tty: true
    stdin_open: true
    domainname: corp.example
    oom_score_adj: 500
    cpu_shares: 512
    cpu_period: 100000
    cpu_quota: 50000
    cpuset: "0"
    mem_limit: 64m
    mem_reservation: 32m
    memswap_limit: 128m
    mem_swappiness: 10
    device_cgroup_rules: ["c 1:3 mr"]
    runtime: runc
    platform: linux/amd64
    pull_policy: never
    label_file: tuned.labels
    deploy:
      resources:
        limits: {pids: 99}
${dev ? `    blkio_config:\n      device_read_bps: [{path: ${dev}, rate: 10mb}]\n      device_write_iops: [{path: ${dev}, rate: 100}]\n` : ''}    volumes:
      - {type: volume, source: data, target: /data, volume: {nocopy: true}}
      - {type: bind, source: ./made/here, target: /made, bind: {propagation: private, create_host_path: true}}
      - {type: tmpfs, target: /scratch, tmpfs: {size: 8m, mode: 1777}}
  nodeuts:
    extends: base
    profiles: []
    uts: host
volumes:
  data: {}
`;

const sideFile = `
services:
  side:
    image: tsswarm/busybox:latest
    command: ["sleep", "3600"]
    init: true
    cpus: 0.5
    env_file: side.env
`;

const placedFile = `
services:
  arm:
    image: tsswarm/busybox:latest
    command: ["sleep", "3600"]
    platform: linux/s390x
  sandboxed:
    image: tsswarm/busybox:latest
    command: ["sleep", "3600"]
    runtime: no-such-runtime
  gpu:
    image: tsswarm/busybox:latest
    command: ["sleep", "3600"]
    gpus: all
  absent:
    image: tsswarm/not-here:1
    command: ["sleep", "3600"]
    pull_policy: never
`;

interface Task { id: string; desiredState: string; status: { state: string; containerId?: string; err?: string } }

describe('engine keys through the CLI', () => {
  const c = new Cluster('engine-keys');
  const dev = blockDevice();
  let file: string;

  beforeAll(async () => {
    await c.start();
    file = c.writeStack('stack.yml', stackFile(dev), { 'keys.env': 'TAG=latest\n', 'tuned.labels': 'com.example.team=core\n' });
    // the included application lives in a folder of its own, beside the stack
    const dir = join(file, '..');
    mkdirSync(join(dir, 'side'), { recursive: true });
    writeFileSync(join(dir, 'side', 'compose.yaml'), sideFile);
    writeFileSync(join(dir, 'side', 'side.env'), 'SIDE=from-its-own-folder\n');
  });
  afterAll(async () => {
    await c.destroy([STACK, PLACED]);
  });

  const live = async (stack: string, svc: string) =>
    (await c.json<Task[]>('service', 'ps', `${stack}_${svc}`)).filter((t) => t.desiredState === 'running' && t.status.state === 'running');

  it('config prints the stack with extends, include and --env-file resolved', async () => {
    const out = await c.cliOk('config', '-c', file, '--env-file', join(file, '..', 'keys.env'));
    expect(out).toMatch(/^ {2}tuned:$/m);
    expect(out).toMatch(/^ {2}side:$/m);
    expect(out).toContain('image: tsswarm/busybox:latest');
    expect(out).toContain('pid: host');
    expect(out).toContain('pull_policy: never');
  });

  it('deploys, and docker inspect of each task container shows every key', async () => {
    const r = await c.cli('deploy', '-c', file, '--env-file', join(file, '..', 'keys.env'), STACK);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Stack ${STACK} converged`);
    expect(r.stderr).toMatch(/services\.tuned\.pid: pid: host lets the task see and signal every process of its node/);

    const [tuned] = await live(STACK, 'tuned');
    const info = await c.docker.getContainer(tuned.status.containerId!).inspect();
    const hc = info.HostConfig as Record<string, unknown>;
    expect(info.Config).toMatchObject({ Tty: true, OpenStdin: true, Domainname: 'corp.example', Image: 'tsswarm/busybox:latest' });
    expect(info.Config.Labels).toMatchObject({ 'com.example.team': 'core' });
    expect(hc).toMatchObject({
      PidMode: 'host', IpcMode: 'shareable', UsernsMode: 'host', CgroupnsMode: 'private', OomScoreAdj: 500,
      CpuShares: 512, CpuPeriod: 100000, CpuQuota: 50000, CpusetCpus: '0', Memory: 64 * MiB, MemoryReservation: 32 * MiB,
      MemorySwappiness: 10, DeviceCgroupRules: ['c 1:3 mr'], Runtime: 'runc', PidsLimit: 99,
    });
    // swap accounting may be off in the kernel: the engine then keeps no swap limit
    expect([128 * MiB, -1, 0]).toContain(hc.MemorySwap);
    if (dev) {
      expect(hc.BlkioDeviceReadBps).toEqual([{ Path: dev, Rate: 10 * MiB }]);
      expect(hc.BlkioDeviceWriteIOps).toEqual([{ Path: dev, Rate: 100 }]);
    }
    const mounts = hc.Mounts as Record<string, unknown>[];
    expect(mounts).toContainEqual(expect.objectContaining({ Type: 'volume', Source: `${STACK}_data`, Target: '/data', VolumeOptions: expect.objectContaining({ NoCopy: true }) }));
    expect(mounts).toContainEqual(expect.objectContaining({ Type: 'bind', Source: join(file, '..', 'made', 'here'), Target: '/made', BindOptions: expect.objectContaining({ Propagation: 'private' }) }));
    expect(mounts).toContainEqual(expect.objectContaining({ Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 8 * MiB, Mode: 0o1777 } }));
    // create_host_path: the agent made the missing folder on the node
    expect(existsSync(join(file, '..', 'made', 'here'))).toBe(true);

    const [nodeuts] = await live(STACK, 'nodeuts');
    expect((await c.docker.getContainer(nodeuts.status.containerId!).inspect()).HostConfig.UTSMode).toBe('host');

    // the included service: its env_file read from its own folder; cpus is its CPU limit
    const [side] = await live(STACK, 'side');
    const s = await c.docker.getContainer(side.status.containerId!).inspect();
    expect(s.Config.Env).toContain('SIDE=from-its-own-folder');
    expect(s.HostConfig.NanoCpus).toBe(5e8);

    // the node reports its engine's runtimes
    const [node] = await c.json<{ description: { engine: { runtimes?: string[] } } }[]>('node', 'inspect', 'self');
    expect(node.description.engine.runtimes).toContain('runc');
  });

  it('platform, runtime, gpus and pull_policy never: a task that cannot run says why', async () => {
    const placed = c.writeStack('placed.yml', placedFile);
    const r = await c.cli('deploy', '-c', placed, '--detach', PLACED);
    expect(r.code, r.stderr).toBe(0);
    const reason = (svc: string, re: RegExp) => waitFor(`the reason of ${svc}`, async () => {
      const tasks = await c.json<Task[]>('service', 'ps', `${PLACED}_${svc}`);
      return tasks.find((t) => re.test(t.status.err ?? ''));
    });
    await reason('arm', /no suitable node \(platform linux\/s390x not on 1 node\)/);
    await reason('sandboxed', /no suitable node \(runtime no-such-runtime not on 1 node\)/);
    await reason('gpu', /no suitable node \(devices gpu not on 1 node/);
    await reason('absent', /image tsswarm\/not-here:1 is not on this node and its pull_policy is never/);
  });
});
