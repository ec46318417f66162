// Service keys the engine honours beyond capabilities and kernel settings: namespaces, terminal,
// domain name, OOM and CPU tuning, swap, device cgroup rules, storage options, block I/O,
// annotations, label files. Each form -> the normalised spec; each bad value -> an error naming
// the field at file:line:col; the keys a cluster still cannot honour -> a warning saying why.
import { describe, expect, it } from 'vitest';
import { parseStack, stackToYaml } from '../../../common/stack/index.js';
import { CWD, memReadFile, parse, parseErrors, svc } from './helpers.js';

const web = (yaml: string) => parse(yaml).stack.services.web;

describe('engine keys: forms -> the normalised spec', () => {
  it.each([
    ['ipc: shareable', { ipc: 'shareable' }],
    ['ipc: none', { ipc: 'none' }],
    ['uts: host', { uts: 'host' }],
    ['cgroup: private', { cgroup: 'private' }],
    ['tty: true', { tty: true }],
    ['stdin_open: yes', { stdin_open: true }],
    ['domainname: corp.example', { domainname: 'corp.example' }],
    ['oom_score_adj: -500', { oom_score_adj: -500 }],
    ['oom_kill_disable: false', { oom_kill_disable: false }],
    ['cpu_shares: 512', { cpu_shares: 512 }],
    ['cpu_period: 50ms', { cpu_period: 50_000 }],
    ['cpu_period: 100000', { cpu_period: 100_000 }],
    ['cpu_quota: "25000"', { cpu_quota: 25_000 }],
    ['cpuset: "0"', { cpuset: '0' }],
    ['cpuset: 0-1,3', { cpuset: '0-1,3' }],
    ['mem_swappiness: 0', { mem_swappiness: 0 }],
    ['device_cgroup_rules: ["c 1:3 mr", "a *:* r"]', { device_cgroup_rules: ['c 1:3 mr', 'a *:* r'] }],
    ['storage_opt: {size: 1G}', { storage_opt: { size: '1G' } }],
    ['annotations: {com.example.team: web}', { annotations: { 'com.example.team': 'web' } }],
    ['annotations: [com.example.a=1]', { annotations: { 'com.example.a': '1' } }],
    ['blkio_config: {weight: 300, weight_device: [{path: /dev/sda, weight: 400}], device_read_bps: [{path: /dev/sda, rate: 12mb}], device_write_iops: [{path: /dev/sda, rate: 30}]}', {
      blkio_config: { weight: 300, weight_device: [{ path: '/dev/sda', weight: 400 }], device_read_bps: [{ path: '/dev/sda', rate: 12 * 1024 * 1024 }], device_write_iops: [{ path: '/dev/sda', rate: 30 }] },
    }],
  ])('%s', (line, expected) => {
    const { stack, warnings } = parse(svc(line));
    expect(stack.services.web).toMatchObject(expected);
    expect(warnings).toEqual([]);
  });

  it('memswap_limit as a size or -1, with a memory limit', () => {
    expect(parse(svc('memswap_limit: 1g\ndeploy: {resources: {limits: {memory: 512m}}}')).stack.services.web.memswap_limit).toBe(1024 ** 3);
    expect(parse(svc('memswap_limit: -1\ndeploy: {resources: {limits: {memory: 512m}}}')).stack.services.web.memswap_limit).toBe(-1);
  });

  it.each([
    ['pid: host', 'services.web.pid', 'every process of its node'],
    ['ipc: host', 'services.web.ipc', "node's shared memory"],
    ['userns_mode: host', 'services.web.userns_mode', "the node's root"],
  ])('warns what %s grants', (line, field, message) => {
    expect(parse(svc(line)).warnings).toEqual([expect.objectContaining({ file: 'stack.yml', line: 4, field, message: expect.stringContaining(message) })]);
  });

  it('label_file: KEY=VALUE files relative to the project folder; labels win', () => {
    const files = { '/proj/app/web.labels': 'com.example.team=web\ncom.example.tier=front\n', '/proj/app/more.labels': 'com.example.more=1\n' };
    const s = parse(svc('label_file: [web.labels, ./more.labels]\nlabels: {com.example.tier: back}'), { files }).stack.services.web;
    expect(s.labels).toEqual({ 'com.example.team': 'web', 'com.example.tier': 'back', 'com.example.more': '1' });
    expect(parse(svc('label_file: web.labels'), { files }).stack.services.web.labels).toEqual({ 'com.example.team': 'web', 'com.example.tier': 'front' });
  });

  it('the output of config parses back to the same stack', () => {
    const yaml = svc(`
pid: host
ipc: private
cgroup: host
tty: true
stdin_open: true
domainname: corp.example
oom_score_adj: 100
oom_kill_disable: true
cpu_shares: 256
cpu_period: 100000
cpu_quota: 50000
cpuset: "0"
memswap_limit: 2g
mem_swappiness: 10
device_cgroup_rules: ["c 1:3 mr"]
storage_opt: {size: 2G}
annotations: {a.b: c}
blkio_config: {weight: 500, device_write_bps: [{path: /dev/sda, rate: 1048576}]}
deploy: {resources: {limits: {memory: 1g}}}
`);
    const first = parse(yaml).stack;
    const again = parseStack([{ path: 'out.yml', text: stackToYaml(first) }], { env: {}, readFile: memReadFile({}), cwd: CWD }).stack;
    expect(again).toEqual(first);
  });

  it('later files add device cgroup rules and merge annotations and storage options by key', () => {
    const s = parse([
      { path: 'stack.yml', text: svc('device_cgroup_rules: ["c 1:3 mr"]\nannotations: {a: "1"}\nstorage_opt: {size: 1G}') },
      { path: 'override.yml', text: 'services:\n  web:\n    device_cgroup_rules: ["c 1:5 r"]\n    annotations: [b=2]\n' },
    ]).stack.services.web;
    expect(s.device_cgroup_rules).toEqual(['c 1:3 mr', 'c 1:5 r']);
    expect(s.annotations).toEqual({ a: '1', b: '2' });
    expect(s.storage_opt).toEqual({ size: '1G' });
  });
});

describe('engine keys: bad values name the field at file:line:col', () => {
  it.each([
    ['pid: "service:db"', 4, 10, 'services.web.pid', "pid service:db (sharing another container's namespace) is not supported: the tasks of two services may run on different nodes"],
    ['pid: "container:abc"', 4, 10, 'services.web.pid', 'is not supported'],
    ['pid: private', 4, 10, 'services.web.pid', 'pid must be host, got "private"'],
    ['ipc: "service:db"', 4, 10, 'services.web.ipc', 'may run on different nodes'],
    ['ipc: shared', 4, 10, 'services.web.ipc', 'ipc must be one of host, private, shareable, none'],
    ['uts: private', 4, 10, 'services.web.uts', 'uts must be host'],
    ['userns_mode: "ns:x"', 4, 18, 'services.web.userns_mode', 'userns_mode must be host'],
    ['cgroup: shared', 4, 13, 'services.web.cgroup', 'cgroup must be one of host, private'],
    ['tty: 2', 4, 10, 'services.web.tty', 'must be a boolean'],
    ['domainname: "-bad-"', 4, 17, 'services.web.domainname', 'invalid domain name'],
    ['oom_score_adj: 1001', 4, 20, 'services.web.oom_score_adj', 'must be between -1000 and 1000, got 1001'],
    ['oom_score_adj: -1001', 4, 20, 'services.web.oom_score_adj', 'must be >= -1000, got -1001'],
    ['oom_score_adj: high', 4, 20, 'services.web.oom_score_adj', 'must be an integer'],
    ['cpu_shares: 1', 4, 17, 'services.web.cpu_shares', 'must be >= 2, got 1'],
    ['cpu_shares: 99999999999999999999', 4, 17, 'services.web.cpu_shares', 'must be between 2 and 262144'],
    ['cpu_period: 10', 4, 17, 'services.web.cpu_period', 'must be >= 1000, got 10'],
    ['cpu_period: soon', 4, 17, 'services.web.cpu_period', 'duration'],
    ['cpu_quota: 10', 4, 16, 'services.web.cpu_quota', 'at least 1000 microseconds'],
    ['cpuset: "0-x"', 4, 13, 'services.web.cpuset', 'invalid cpuset'],
    ['cpuset: "3-1"', 4, 13, 'services.web.cpuset', 'ends before it starts'],
    ['memswap_limit: 1g', 4, 20, 'services.web.memswap_limit', 'needs a memory limit'],
    ['memswap_limit: lots', 4, 20, 'services.web.memswap_limit', 'must be a size'],
    ['mem_swappiness: 101', 4, 21, 'services.web.mem_swappiness', 'must be between 0 and 100'],
    ['device_cgroup_rules: ["c 1:3 rwx"]', 4, 27, 'services.web.device_cgroup_rules[0]', 'invalid device cgroup rule'],
    ['device_cgroup_rules: "c 1:3 r"', 4, 26, 'services.web.device_cgroup_rules', 'must be a list of strings'],
    ['storage_opt: [size=1G]', 4, 18, 'services.web.storage_opt', 'must be a mapping'],
    ['storage_opt: {"bad key": 1}', 4, 30, 'services.web.storage_opt.bad key', 'invalid storage option'],
    ['blkio_config: {weight: 5}', 4, 28, 'services.web.blkio_config.weight', 'must be >= 10, got 5'],
    ['blkio_config: {weight_device: [{path: /dev/sda}]}', 4, 36, 'services.web.blkio_config.weight_device[0].weight', 'needs a weight'],
    ['blkio_config: {device_read_bps: [{path: dev/sda, rate: 1}]}', 4, 45, 'services.web.blkio_config.device_read_bps[0].path', 'absolute path of a block device'],
    ['blkio_config: {device_read_iops: [{path: /dev/sda, rate: 1k}]}', 4, 62, 'services.web.blkio_config.device_read_iops[0].rate', 'must be an integer'],
    ['blkio_config: {device_read_iops: [{rate: 1}]}', 4, 39, 'services.web.blkio_config.device_read_iops[0].path', 'needs a path'],
    ['blkio_config: {throttle: 1}', 4, 20, 'services.web.blkio_config.throttle', 'unknown key throttle'],
  ])('%s', (line, ln, col, field, message) => {
    const res = (() => {
      try {
        return { errors: parseErrors(svc(line)), warnings: [] };
      } catch {
        return { errors: [], warnings: parse(svc(line)).warnings };
      }
    })();
    expect([...res.errors, ...res.warnings]).toContainEqual({ file: 'stack.yml', line: ln, col, field, message: expect.stringContaining(message) });
  });

  it('memswap_limit below the memory limit', () => {
    expect(parseErrors(svc('memswap_limit: 100m\ndeploy: {resources: {limits: {memory: 512m}}}'))).toEqual([
      { file: 'stack.yml', line: 4, col: 20, field: 'services.web.memswap_limit', message: expect.stringContaining('at least the memory limit (536870912 bytes)') },
    ]);
  });

  it('a missing label_file is an error naming it', () => {
    expect(parseErrors(svc('label_file: ./nope.labels'))).toEqual([
      { file: 'stack.yml', line: 4, col: 17, field: 'services.web.label_file', message: 'label_file nope.labels not found' },
    ]);
  });
});

describe('keys a cluster cannot honour: a warning that says why and what to use instead', () => {
  it.each([
    ['container_name: web1', 'tasks are named'],
    ['links: [db]', 'reach each other by service name'],
    ['external_links: [db]', 'reach each other by service name'],
    ['cgroup_parent: /custom', 'dockerd --cgroup-parent'],
    ['mac_address: "02:42:ac:11:00:02"', 'would share one MAC address'],
    ['init_path: /usr/bin/tini', 'dockerd --init-path'],
    ['volumes_from: [db]', 'mount a common named volume'],
    ['isolation: hyperv', 'Windows'],
  ])('%s', (line, why) => {
    const key = line.split(':')[0];
    expect(parse(svc(line)).warnings).toEqual([{ file: 'stack.yml', line: 4, col: 5, field: `services.web.${key}`, message: expect.stringContaining(why) }]);
  });
});

describe('mem_limit, mem_reservation, cpus, pids_limit: the limits of deploy.resources', () => {
  it('map to deploy.resources (pids: the service pids_limit)', () => {
    const s = web(svc('mem_limit: 512m\nmem_reservation: 128m\ncpus: 0.5\npids_limit: 100'));
    expect(s.deploy.resources).toEqual({ limits: { memory: 512 * 1024 ** 2, cpus: 0.5 }, reservations: { memory: 128 * 1024 ** 2 } });
    expect(s.pids_limit).toBe(100);
    expect(web(svc('deploy: {resources: {limits: {pids: 50}}}')).pids_limit).toBe(50);
  });

  it('the same value in both places is accepted', () => {
    const s = web(svc('mem_limit: 1g\ncpus: "2"\npids_limit: 10\ndeploy: {resources: {limits: {memory: 1024m, cpus: 2, pids: 10}}}'));
    expect(s.deploy.resources.limits).toEqual({ memory: 1024 ** 3, cpus: 2 });
    expect(s.pids_limit).toBe(10);
  });

  it('different values in both places: an error naming both', () => {
    expect(parseErrors(svc('mem_limit: 1g\ncpus: 1\npids_limit: 5\nmem_reservation: 1m\ndeploy: {resources: {limits: {memory: 2g, cpus: 2, pids: 6}, reservations: {memory: 2m}}}'))).toEqual([
      { file: 'stack.yml', line: 4, col: 16, field: 'services.web.mem_limit', message: 'mem_limit (1073741824) and deploy.resources.limits.memory (2147483648) are both set and differ: keep one' },
      { file: 'stack.yml', line: 5, col: 11, field: 'services.web.cpus', message: 'cpus (1) and deploy.resources.limits.cpus (2) are both set and differ: keep one' },
      { file: 'stack.yml', line: 6, col: 17, field: 'services.web.pids_limit', message: 'pids_limit (5) and deploy.resources.limits.pids (6) are both set and differ: keep one' },
      { file: 'stack.yml', line: 7, col: 22, field: 'services.web.mem_reservation', message: 'mem_reservation (1048576) and deploy.resources.reservations.memory (2097152) are both set and differ: keep one' },
    ]);
  });

  it('a reservation above the limit points at mem_reservation', () => {
    expect(parseErrors(svc('mem_limit: 64m\nmem_reservation: 128m'))).toEqual([
      { file: 'stack.yml', line: 5, col: 22, field: 'services.web.deploy.resources.reservations.memory', message: expect.stringContaining('above the memory limit') },
    ]);
  });

  it('bad values point at the key that was written', () => {
    expect(parseErrors(svc('cpus: 5000'))).toEqual([{ file: 'stack.yml', line: 4, col: 11, field: 'services.web.deploy.resources.limits.cpus', message: expect.stringContaining('4096') }]);
    expect(parseErrors(svc('mem_limit: lots'))).toEqual([{ file: 'stack.yml', line: 4, col: 16, field: 'services.web.mem_limit', message: expect.stringContaining('must be a size') }]);
    expect(parseErrors(svc('deploy: {resources: {limits: {pids: -7}}}'))).toEqual([{ file: 'stack.yml', line: 4, col: 41, field: 'services.web.pids_limit', message: 'must be >= -1, got -7' }]);
  });

  it('pids as a reservation is warned about', () => {
    expect(parse(svc('deploy: {resources: {reservations: {pids: 5}}}')).warnings).toEqual([expect.objectContaining({ field: 'services.web.deploy.resources.reservations.pids', message: expect.stringContaining('a limit only') })]);
  });
});

describe('mount options: volume.nocopy, bind.propagation and create_host_path, tmpfs size and mode', () => {
  const vols = 'volumes:\n  data: {}\n';
  it('long syntax', () => {
    const s = web(svc(`volumes:
  - {type: volume, source: data, target: /data, volume: {nocopy: true}}
  - {type: bind, source: ./cache, target: /cache, bind: {propagation: rshared, create_host_path: true}}
  - {type: tmpfs, target: /scratch, tmpfs: {size: 64m, mode: 1777}}
  - {type: tmpfs, target: /small, tmpfs: {size: 1048576, mode: "0700"}}`, vols));
    expect(s.volumes).toEqual([
      { type: 'volume', source: 'data', target: '/data', read_only: false, volume: { nocopy: true } },
      { type: 'bind', source: '/proj/app/cache', target: '/cache', read_only: false, bind: { propagation: 'rshared', create_host_path: true } },
      { type: 'tmpfs', target: '/scratch', read_only: false, tmpfs: { size: 64 * 1024 * 1024, mode: 0o1777 } },
      { type: 'tmpfs', target: '/small', read_only: false, tmpfs: { size: 1048576, mode: 0o700 } },
    ]);
  });

  it('short syntax: nocopy on a named volume, propagation on a bind', () => {
    expect(web(svc('volumes: ["data:/data:ro,nocopy", "./x:/x:rslave"]', vols)).volumes).toEqual([
      { type: 'volume', source: 'data', target: '/data', read_only: true, volume: { nocopy: true } },
      { type: 'bind', source: '/proj/app/x', target: '/x', read_only: false, bind: { propagation: 'rslave' } },
    ]);
  });

  it('config prints them and parses back to the same stack', () => {
    const first = parse(svc('volumes:\n  - {type: tmpfs, target: /t, tmpfs: {size: 1m, mode: 755}}\n  - {type: bind, source: /srv, target: /srv, bind: {propagation: shared}}\n  - "data:/d:nocopy"', vols)).stack;
    const again = parseStack([{ path: 'out.yml', text: stackToYaml(first) }], { env: {}, readFile: memReadFile({}), cwd: CWD }).stack;
    expect(again).toEqual(first);
  });

  it.each([
    ['{type: bind, source: /a, target: /a, volume: {nocopy: true}}', 5, 46, 'services.web.volumes[0].volume', 'volume options apply to a mount of type volume, not bind'],
    ['{type: tmpfs, target: /a, bind: {propagation: shared}}', 5, 35, 'services.web.volumes[0].bind', 'apply to a mount of type bind, not tmpfs'],
    ['{type: bind, source: /a, target: /a, bind: {propagation: sideways}}', 5, 66, 'services.web.volumes[0].bind.propagation', 'must be one of private, rprivate, shared, rshared, slave, rslave'],
    ['{type: tmpfs, target: /a, tmpfs: {size: huge}}', 5, 49, 'services.web.volumes[0].tmpfs.size', 'must be a size'],
    ['{type: tmpfs, target: /a, tmpfs: {mode: 9999}}', 5, 49, 'services.web.volumes[0].tmpfs.mode', 'must be a file mode'],
    ['{type: tmpfs, target: /a, tmpfs: {size: 2p}}', 5, 49, 'services.web.volumes[0].tmpfs.size', 'must be between 0 and'],
    ['"./a:/a:nocopy"', 5, 9, 'services.web.volumes[0]', 'nocopy applies to a named volume'],
    ['"data:/a:rshared"', 5, 9, 'services.web.volumes[0]', 'rshared applies to a bind mount'],
  ])('%s', (item, ln, col, field, message) => {
    expect(parseErrors(svc(`volumes:\n  - ${item}`, vols))).toContainEqual({ file: 'stack.yml', line: ln, col, field, message: expect.stringContaining(message) });
  });

  it('an unknown option warns', () => {
    expect(parse(svc('volumes:\n  - {type: volume, source: data, target: /d, volume: {subpath: x}}', vols)).warnings).toEqual([
      expect.objectContaining({ field: 'services.web.volumes[0].volume.subpath', message: 'volume.subpath is not supported yet and is ignored' }),
    ]);
  });
});

describe('pull_policy', () => {
  it.each([
    ['always', 'always'], ['missing', 'missing'], ['never', 'never'], ['build', 'build'], ['if_not_present', 'missing'],
  ])('%s', (v, want) => {
    const { stack, warnings } = parse(svc(`pull_policy: ${v}`));
    expect(stack.services.web.pull_policy).toBe(want);
    expect(warnings).toEqual([]);
  });

  it('daily, weekly, every_<duration> are read as missing, with a warning', () => {
    const { stack, warnings } = parse(svc('pull_policy: every_12h'));
    expect(stack.services.web.pull_policy).toBe('missing');
    expect(warnings).toEqual([{ file: 'stack.yml', line: 4, col: 18, field: 'services.web.pull_policy', message: expect.stringContaining('read as missing') }]);
  });

  it('an unknown policy is an error', () => {
    expect(parseErrors(svc('pull_policy: sometimes'))).toEqual([{ file: 'stack.yml', line: 4, col: 18, field: 'services.web.pull_policy', message: expect.stringContaining('must be one of always, missing, never, build') }]);
  });
});

describe('platform and runtime', () => {
  it('are kept as written (the scheduler places by them)', () => {
    const { stack, warnings } = parse(svc('platform: linux/arm64\nruntime: runsc'));
    expect(stack.services.web).toMatchObject({ platform: 'linux/arm64', runtime: 'runsc' });
    expect(warnings).toEqual([]);
  });

  it.each([
    ['platform: linux/arm64/v8/x', 4, 15, 'services.web.platform', 'invalid platform'],
    ['platform: "linux/amd 64"', 4, 15, 'services.web.platform', 'invalid platform'],
    ['runtime: "run c"', 4, 14, 'services.web.runtime', 'invalid runtime'],
    ['runtime: [runc]', 4, 14, 'services.web.runtime', 'must be a string'],
  ])('%s', (line, ln, col, field, message) => {
    expect(parseErrors(svc(line))).toContainEqual({ file: 'stack.yml', line: ln, col, field, message: expect.stringContaining(message) });
  });
});

describe('gpus and deploy.resources.reservations.devices', () => {
  it('gpus: all, and a list (capabilities default to gpu)', () => {
    expect(web(svc('gpus: all')).deploy.resources.reservations.devices).toEqual([{ capabilities: ['gpu'], count: -1 }]);
    expect(web(svc('gpus: [{driver: nvidia, count: 2}]')).deploy.resources.reservations.devices).toEqual([{ capabilities: ['gpu'], driver: 'nvidia', count: 2 }]);
  });

  it('reservations.devices, added after gpus', () => {
    const s = web(svc('gpus: [{device_ids: ["0"]}]\ndeploy:\n  resources:\n    reservations:\n      devices: [{capabilities: [gpu, utility], driver: nvidia, count: all, options: {x: y}}]'));
    expect(s.deploy.resources.reservations.devices).toEqual([
      { capabilities: ['gpu'], device_ids: ['0'] },
      { capabilities: ['gpu', 'utility'], driver: 'nvidia', count: -1, options: { x: 'y' } },
    ]);
  });

  it('config prints them and parses back to the same stack', () => {
    const first = parse(svc('gpus: all\ndeploy: {resources: {reservations: {devices: [{capabilities: [tpu], count: 1}]}}}')).stack;
    const again = parseStack([{ path: 'out.yml', text: stackToYaml(first) }], { env: {}, readFile: memReadFile({}), cwd: CWD }).stack;
    expect(again).toEqual(first);
  });

  it.each([
    ['gpus: some', 4, 11, 'services.web.gpus', 'must be all or a list of device requests'],
    ['gpus: [{count: 1, device_ids: ["0"]}]', 4, 12, 'services.web.gpus[0]', 'count and device_ids cannot both be set'],
    ['gpus: [{count: many}]', 4, 20, 'services.web.gpus[0].count', 'must be an integer'],
    ['gpus: [{count: 5000}]', 4, 20, 'services.web.deploy.resources.reservations.devices[0].count', 'must be between -1 and 1024'],
    ['deploy: {resources: {reservations: {devices: [{count: 1}]}}}', 4, 51, 'services.web.deploy.resources.reservations.devices[0].capabilities', 'needs capabilities'],
  ])('%s', (line, ln, col, field, message) => {
    expect(parseErrors(svc(line))).toContainEqual({ file: 'stack.yml', line: ln, col, field, message: expect.stringContaining(message) });
  });

  it('devices as a limit is warned about', () => {
    expect(parse(svc('deploy: {resources: {limits: {devices: [{capabilities: [gpu]}]}}}')).warnings).toEqual([expect.objectContaining({ field: 'services.web.deploy.resources.limits.devices', message: expect.stringContaining('a reservation') })]);
  });
});
