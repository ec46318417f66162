// The shared validator on raw JSON for the engine keys beyond capabilities (namespaces, terminal,
// OOM and CPU tuning, swap, device cgroup rules, storage options, block I/O, annotations):
// hostile values (huge, negative, wrong types) are refused with the field named.
import { describe, expect, it } from 'vitest';
import { validateServiceSpec, validateStack } from '../../../common/api/validate.js';
import type { ServiceSpec } from '../../../common/spec.js';
import { service, stack } from './fixtures.js';

type Json = Record<string, any>;

describe('engine keys on raw JSON', () => {
  it('accepts every key in its normalised form', () => {
    const s = stack();
    Object.assign(s.services.web, {
      pid: 'host', ipc: 'shareable', userns_mode: 'host', cgroup: 'private', tty: true, stdin_open: false, domainname: 'corp.example',
      oom_score_adj: -1000, oom_kill_disable: true, cpu_shares: 2, cpu_period: 100000, cpu_quota: -1, cpuset: '0-3,5', memswap_limit: -1,
      mem_swappiness: 100, device_cgroup_rules: ['c 1:3 mr', 'b *:* rwm'], storage_opt: { size: '1G' }, annotations: { 'a.b': 'c' },
      blkio_config: { weight: 10, weight_device: [{ path: '/dev/sda', weight: 1000 }], device_read_bps: [{ path: '/dev/sda', rate: 0 }], device_write_iops: [{ path: '/dev/sdb', rate: 100 }] },
    } satisfies Partial<ServiceSpec>);
    s.services.web.deploy.resources.limits.memory = 1 << 30;
    const r = validateStack(s);
    expect(r.errors).toEqual([]);
    // what gives a task its node is said, not refused
    expect(r.warnings.map((w) => w.field)).toEqual(['services.web.pid', 'services.web.userns_mode']);
  });

  const cases: [string, (w: Json) => void, string, string][] = [
    ['pid container:x', (w) => (w.pid = 'container:x'), 'services.web.pid', 'must be one of host'],
    ['ipc as a number', (w) => (w.ipc = 1), 'services.web.ipc', 'must be one of host, private, shareable, none'],
    ['uts private', (w) => (w.uts = 'private'), 'services.web.uts', 'must be one of host'],
    ['tty "true"', (w) => (w.tty = 'true'), 'services.web.tty', 'must be a boolean'],
    ['stdin_open 1', (w) => (w.stdin_open = 1), 'services.web.stdin_open', 'must be a boolean'],
    ['a domain name with a space', (w) => (w.domainname = 'a b'), 'services.web.domainname', 'invalid domain name'],
    ['an empty domain name', (w) => (w.domainname = ''), 'services.web.domainname', 'must not be empty'],
    ['oom_score_adj huge', (w) => (w.oom_score_adj = 1e300), 'services.web.oom_score_adj', 'between -1000 and 1000'],
    ['oom_score_adj fractional', (w) => (w.oom_score_adj = 1.5), 'services.web.oom_score_adj', 'must be an integer'],
    ['cpu_shares negative', (w) => (w.cpu_shares = -1), 'services.web.cpu_shares', 'must be >= 2'],
    ['cpu_shares as a string', (w) => (w.cpu_shares = '512'), 'services.web.cpu_shares', 'must be an integer'],
    ['cpu_period above a second', (w) => (w.cpu_period = 2_000_000), 'services.web.cpu_period', 'between 1000 and 1000000'],
    ['cpu_quota below -1', (w) => (w.cpu_quota = -2), 'services.web.cpu_quota', 'must be >= -1'],
    ['cpu_quota 0', (w) => (w.cpu_quota = 0), 'services.web.cpu_quota', 'at least 1000 microseconds'],
    ['cpu_quota past the bound', (w) => (w.cpu_quota = Number.MAX_SAFE_INTEGER), 'services.web.cpu_quota', 'between -1 and'],
    ['cpu_quota with a CPU limit', (w) => { w.cpu_quota = 50000; w.deploy.resources.limits.cpus = 1; }, 'services.web.cpu_quota', 'cannot both be set'],
    ['uts host with a hostname', (w) => { w.uts = 'host'; w.hostname = 'web'; }, 'services.web.hostname', "the task has its node's host name"],
    ['uts host with a domain name', (w) => { w.uts = 'host'; w.domainname = 'corp.example'; }, 'services.web.domainname', "the task has its node's domain name"],
    ['a memory reservation above the limit', (w) => { w.deploy.resources.limits.memory = 1 << 20; w.deploy.resources.reservations.memory = 2 << 20; }, 'services.web.deploy.resources.reservations.memory', 'above the memory limit'],
    ['a cpuset of names', (w) => (w.cpuset = 'all'), 'services.web.cpuset', 'invalid cpuset'],
    ['a cpuset past 256 characters', (w) => (w.cpuset = '1,'.repeat(200) + '1'), 'services.web.cpuset', 'at most 256 characters'],
    ['memswap_limit without a memory limit', (w) => (w.memswap_limit = 1 << 30), 'services.web.memswap_limit', 'needs a memory limit'],
    ['memswap_limit past 1 PiB', (w) => (w.memswap_limit = 2 ** 60), 'services.web.memswap_limit', 'between -1 and'],
    ['mem_swappiness -1', (w) => (w.mem_swappiness = -1), 'services.web.mem_swappiness', 'must be >= 0'],
    ['a device cgroup rule of type x', (w) => (w.device_cgroup_rules = ['x 1:3 r']), 'services.web.device_cgroup_rules[0]', 'invalid device cgroup rule'],
    ['device cgroup rules as a string', (w) => (w.device_cgroup_rules = 'c 1:3 r'), 'services.web.device_cgroup_rules', 'must be a list'],
    ['too many device cgroup rules', (w) => (w.device_cgroup_rules = Array.from({ length: 65 }, () => 'c 1:3 r')), 'services.web.device_cgroup_rules', 'at most 64 items'],
    ['a storage option that is a number', (w) => (w.storage_opt = { size: 1 }), 'services.web.storage_opt.size', 'must be a string'],
    ['a storage option named with a NUL', (w) => (w.storage_opt = { 'a\0': '1' }), 'services.web.storage_opt', 'NUL'],
    ['blkio weight 5000', (w) => (w.blkio_config = { weight: 5000 }), 'services.web.blkio_config.weight', 'between 10 and 1000'],
    ['blkio device with a relative path', (w) => (w.blkio_config = { device_read_bps: [{ path: 'sda', rate: 1 }] }), 'services.web.blkio_config.device_read_bps[0].path', 'absolute path'],
    ['blkio rate negative', (w) => (w.blkio_config = { device_write_bps: [{ path: '/dev/sda', rate: -1 }] }), 'services.web.blkio_config.device_write_bps[0].rate', 'must be >= 0'],
    ['blkio rate with an unknown field', (w) => (w.blkio_config = { device_write_bps: [{ path: '/dev/sda', rate: 1, burst: 2 }] }), 'services.web.blkio_config.device_write_bps[0].burst', 'unknown field'],
    ['blkio with an unknown key', (w) => (w.blkio_config = { throttle: 1 }), 'services.web.blkio_config.throttle', 'unknown field'],
    ['volume options on a bind mount', (w) => (w.volumes = [{ type: 'bind', source: '/srv', target: '/srv', read_only: false, volume: { nocopy: true } }]), 'services.web.volumes[0].volume', 'apply to a mount of type volume, not bind'],
    ['an unknown propagation', (w) => (w.volumes = [{ type: 'bind', source: '/srv', target: '/srv', read_only: false, bind: { propagation: 'up' } }]), 'services.web.volumes[0].bind.propagation', 'must be one of private'],
    ['create_host_path "yes"', (w) => (w.volumes = [{ type: 'bind', source: '/srv', target: '/srv', read_only: false, bind: { create_host_path: 'yes' } }]), 'services.web.volumes[0].bind.create_host_path', 'must be a boolean'],
    ['a tmpfs mode past 07777', (w) => (w.volumes = [{ type: 'tmpfs', target: '/t', read_only: false, tmpfs: { mode: 0o10000 } }]), 'services.web.volumes[0].tmpfs.mode', 'between 0 and 4095'],
    ['a negative tmpfs size', (w) => (w.volumes = [{ type: 'tmpfs', target: '/t', read_only: false, tmpfs: { size: -1 } }]), 'services.web.volumes[0].tmpfs.size', 'must be >= 0'],
    ['a tmpfs option that is unknown', (w) => (w.volumes = [{ type: 'tmpfs', target: '/t', read_only: false, tmpfs: { uid: 1 } }]), 'services.web.volumes[0].tmpfs.uid', 'unknown field'],
    ['a platform with spaces', (w) => (w.platform = 'linux amd64'), 'services.web.platform', 'invalid platform'],
    ['a platform that is a list', (w) => (w.platform = ['linux/amd64']), 'services.web.platform', 'must be a string'],
    ['a runtime with a slash', (w) => (w.runtime = '/usr/bin/runc'), 'services.web.runtime', 'invalid runtime'],
    ['a runtime of 65 characters', (w) => (w.runtime = 'r'.repeat(65)), 'services.web.runtime', 'at most 64 characters'],
    ['a pull policy of daily (normalised is missing)', (w) => (w.pull_policy = 'daily'), 'services.web.pull_policy', 'must be one of always, missing, never, build'],
    ['a device reservation without capabilities', (w) => (w.deploy.resources.reservations.devices = [{ count: 1 }]), 'services.web.deploy.resources.reservations.devices[0].capabilities', 'is required'],
    ['a device reservation with empty capabilities', (w) => (w.deploy.resources.reservations.devices = [{ capabilities: [] }]), 'services.web.deploy.resources.reservations.devices[0].capabilities', 'at least 1 item'],
    ['a device count of a million', (w) => (w.deploy.resources.reservations.devices = [{ capabilities: ['gpu'], count: 1e6 }]), 'services.web.deploy.resources.reservations.devices[0].count', 'between -1 and 1024'],
    ['devices as a limit', (w) => (w.deploy.resources.limits.devices = [{ capabilities: ['gpu'] }]), 'services.web.deploy.resources.limits.devices', 'unknown field'],
    ['annotations with a number', (w) => (w.annotations = { a: 1 }), 'services.web.annotations.a', 'must be a string'],
  ];

  it.each(cases)('refuses %s', (_name, change, field, message) => {
    const s = stack() as Json;
    change(s.services.web);
    const r = validateStack(s);
    expect(r.value).toBeUndefined();
    expect(r.errors, JSON.stringify(r.errors).slice(0, 500)).toContainEqual({ field, message: expect.stringContaining(message) });
  });

  it('a service spec alone (service update) gets the same rules', () => {
    const w = { ...service(), cpuset: 'x', pid: 'service:db' };
    expect(validateServiceSpec(w, 'spec').errors).toEqual([
      { field: 'spec.pid', message: expect.stringContaining('must be one of host') },
      { field: 'spec.cpuset', message: expect.stringContaining('invalid cpuset') },
    ]);
  });
});
