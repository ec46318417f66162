// The engine keys of a spec in the container-create request (pure mapping; the real engine's
// view of them is test/e2e/keys.test.ts).
import { describe, expect, it } from 'vitest';
import { createOptions, engineMount } from '../../../agent/exec/container.js';
import type { TaskObj } from '../../../common/api/objects.js';
import { defaultDeploy, type ServiceSpec } from '../../../common/spec.js';

const task = (spec: Partial<ServiceSpec>): TaskObj => ({
  kind: 'task', id: 't1', meta: { version: 1, createdAt: 0, updatedAt: 0 }, serviceId: 's1', serviceName: 'app_web', stack: 'app', slot: 1, nodeId: 'n1', specVersion: 1,
  spec: { image: 'busybox', environment: {}, labels: {}, ports: [], volumes: [], networks: {}, depends_on: {}, deploy: defaultDeploy(), ...spec },
  desiredState: 'running', status: { state: 'new', message: '', timestamp: 0 },
} as unknown as TaskObj);

const create = (spec: Partial<ServiceSpec>) => createOptions(task(spec), { nodeId: 'n1', networks: [], mounts: [] });

describe('engine keys -> the create request', () => {
  it('namespaces, terminal, domain name, OOM, CPU, swap, cgroup rules, storage, block I/O, annotations', () => {
    const o = create({
      pid: 'host', ipc: 'shareable', uts: 'host', userns_mode: 'host', cgroup: 'private', tty: true, stdin_open: true, domainname: 'corp.example',
      oom_score_adj: 300, oom_kill_disable: true, cpu_shares: 512, cpu_period: 50000, cpu_quota: 25000, cpuset: '0', memswap_limit: -1, mem_swappiness: 0,
      device_cgroup_rules: ['c 1:3 mr'], storage_opt: { size: '1G' }, annotations: { 'a.b': 'c' },
      blkio_config: { weight: 300, weight_device: [{ path: '/dev/sda', weight: 400 }], device_read_bps: [{ path: '/dev/sda', rate: 1024 }], device_write_bps: [{ path: '/dev/sda', rate: 2048 }], device_read_iops: [{ path: '/dev/sda', rate: 10 }], device_write_iops: [{ path: '/dev/sda', rate: 20 }] },
    });
    expect(o).toMatchObject({ Tty: true, OpenStdin: true, Domainname: 'corp.example' });
    expect(create({ runtime: 'runsc' }).HostConfig?.Runtime).toBe('runsc');
    const reserved = defaultDeploy();
    reserved.resources.reservations.memory = 1 << 20;
    expect(create({ deploy: reserved }).HostConfig?.MemoryReservation).toBe(1 << 20);
    const deploy = defaultDeploy();
    deploy.resources.reservations.devices = [{ capabilities: ['gpu'], count: -1 }, { capabilities: ['gpu', 'utility'], driver: 'nvidia', device_ids: ['0', '1'], options: { a: 'b' } }];
    expect(create({ deploy }).HostConfig?.DeviceRequests).toEqual([
      { Driver: '', Count: -1, DeviceIDs: [], Capabilities: [['gpu']], Options: {} },
      { Driver: 'nvidia', Count: 0, DeviceIDs: ['0', '1'], Capabilities: [['gpu', 'utility']], Options: { a: 'b' } },
    ]);
    expect(o.HostConfig).toMatchObject({
      PidMode: 'host', IpcMode: 'shareable', UTSMode: 'host', UsernsMode: 'host', CgroupnsMode: 'private', OomScoreAdj: 300, OomKillDisable: true,
      CpuShares: 512, CpuPeriod: 50000, CpuQuota: 25000, CpusetCpus: '0', MemorySwap: -1, MemorySwappiness: 0, DeviceCgroupRules: ['c 1:3 mr'],
      StorageOpt: { size: '1G' }, Annotations: { 'a.b': 'c' }, BlkioWeight: 300, BlkioWeightDevice: [{ Path: '/dev/sda', Weight: 400 }],
      BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: 1024 }], BlkioDeviceWriteBps: [{ Path: '/dev/sda', Rate: 2048 }],
      BlkioDeviceReadIOps: [{ Path: '/dev/sda', Rate: 10 }], BlkioDeviceWriteIOps: [{ Path: '/dev/sda', Rate: 20 }],
    });
  });

  it('a spec without them leaves the engine its defaults', () => {
    const o = create({});
    for (const k of ['Tty', 'OpenStdin', 'Domainname']) expect(o).not.toHaveProperty(k);
    for (const k of ['PidMode', 'IpcMode', 'UTSMode', 'UsernsMode', 'CgroupnsMode', 'OomScoreAdj', 'CpuShares', 'CpusetCpus', 'MemorySwap', 'BlkioWeight', 'Annotations', 'Runtime']) {
      expect(o.HostConfig).not.toHaveProperty(k);
    }
  });
});

describe('mount options -> HostConfig.Mounts', () => {
  it.each([
    [{ type: 'volume', source: 'app_data', target: '/d', readOnly: false, noCopy: true }, { Type: 'volume', Source: 'app_data', Target: '/d', ReadOnly: false, VolumeOptions: { NoCopy: true } }],
    [{ type: 'bind', source: '/srv', target: '/srv', readOnly: true, propagation: 'rshared', createHostPath: true }, { Type: 'bind', Source: '/srv', Target: '/srv', ReadOnly: true, BindOptions: { Propagation: 'rshared' } }],
    [{ type: 'tmpfs', target: '/t', readOnly: false, tmpfsSize: 1024, tmpfsMode: 0o1777 }, { Type: 'tmpfs', Source: '', Target: '/t', ReadOnly: false, TmpfsOptions: { SizeBytes: 1024, Mode: 0o1777 } }],
    [{ type: 'tmpfs', target: '/t', readOnly: false, tmpfsMode: 0o700 }, { Type: 'tmpfs', Source: '', Target: '/t', ReadOnly: false, TmpfsOptions: { Mode: 0o700 } }],
    [{ type: 'volume', source: 'v', target: '/v', readOnly: false }, { Type: 'volume', Source: 'v', Target: '/v', ReadOnly: false }],
  ] as const)('%j', (m, want) => {
    expect(engineMount(m)).toEqual(want);
  });
});

