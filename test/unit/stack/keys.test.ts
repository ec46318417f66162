// Service keys that set up the container (capabilities, devices, kernel settings, DNS, hosts,
// logging, network mode) and profiles: each form -> the normalised spec, each bad value -> an
// error naming the field at file:line:col, and the warnings that say what a key grants.
import { describe, expect, it } from 'vitest';
import { parseStack, stackToYaml } from '../../../common/stack/index.js';
import { CWD, memReadFile, parse, parseErrors, svc } from './helpers.js';

const web = (yaml: string, o = {}) => parse(yaml, o).stack.services.web;

describe('container settings: forms -> the normalised spec', () => {
  it.each([
    ['cap_add: [NET_ADMIN, cap_sys_time]', { cap_add: ['NET_ADMIN', 'SYS_TIME'] }],
    ['cap_add: [CAP_NET_RAW, NET_RAW]', { cap_add: ['NET_RAW'] }],
    ['cap_drop: [ALL]', { cap_drop: ['ALL'] }],
    ['privileged: false', { privileged: false }],
    ['security_opt: ["no-new-privileges:true", "label=type:svirt_t"]', { security_opt: ['no-new-privileges:true', 'label=type:svirt_t'] }],
    ['devices: ["/dev/null:/dev/mynull:rw"]', { devices: [{ source: '/dev/null', target: '/dev/mynull', permissions: 'rw' }] }],
    ['devices: ["/dev/fuse"]', { devices: [{ source: '/dev/fuse', target: '/dev/fuse', permissions: 'rwm' }] }],
    ['devices: ["/dev/fuse:r"]', { devices: [{ source: '/dev/fuse', target: '/dev/fuse', permissions: 'r' }] }],
    ['devices: [{source: /dev/null, target: /dev/x}]', { devices: [{ source: '/dev/null', target: '/dev/x', permissions: 'rwm' }] }],
    ['group_add: [audio, 1001]', { group_add: ['audio', '1001'] }],
    ['sysctls: {net.core.somaxconn: 1024, net.ipv4.ip_forward: "1"}', { sysctls: { 'net.core.somaxconn': '1024', 'net.ipv4.ip_forward': '1' } }],
    ['sysctls: [net.core.somaxconn=1024]', { sysctls: { 'net.core.somaxconn': '1024' } }],
    ['ulimits: {nproc: 65535, nofile: {soft: 20000, hard: 40000}}', { ulimits: { nproc: { soft: 65535, hard: 65535 }, nofile: { soft: 20000, hard: 40000 } } }],
    ['ulimits: {memlock: -1}', { ulimits: { memlock: { soft: -1, hard: -1 } } }],
    ['pids_limit: 100', { pids_limit: 100 }],
    ['pids_limit: -1', { pids_limit: -1 }],
    ['shm_size: 64m', { shm_size: 64 * 1024 * 1024 }],
    ['shm_size: 1000000', { shm_size: 1_000_000 }],
    ['read_only: true', { read_only: true }],
    ['tmpfs: /run', { tmpfs: ['/run'] }],
    ['tmpfs: [/run, "/tmp:size=64m,mode=1777"]', { tmpfs: ['/run', '/tmp:size=64m,mode=1777'] }],
    ['extra_hosts: ["db:10.0.0.5", "gw=host-gateway", "v6:::1", "b6=[::2]"]', { extra_hosts: ['db:10.0.0.5', 'gw:host-gateway', 'v6:::1', 'b6:::2'] }],
    ['extra_hosts: {db: 10.0.0.5, gw: host-gateway}', { extra_hosts: ['db:10.0.0.5', 'gw:host-gateway'] }],
    ['dns: 1.1.1.1', { dns: ['1.1.1.1'] }],
    ['dns: [1.1.1.1, "2606:4700:4700::1111"]', { dns: ['1.1.1.1', '2606:4700:4700::1111'] }],
    ['dns_search: example.com', { dns_search: ['example.com'] }],
    ['dns_opt: [ndots:2, use-vc]', { dns_opt: ['ndots:2', 'use-vc'] }],
    ['logging: {driver: local, options: {max-size: 10m, max-file: 3}}', { logging: { driver: 'local', options: { 'max-size': '10m', 'max-file': '3' } } }],
    ['logging: {options: {max-size: 10m}}', { logging: { options: { 'max-size': '10m' } } }],
  ])('%s', (line, expected) => {
    const { stack, warnings } = parse(svc(line));
    expect(stack.services.web).toMatchObject(expected);
    // a device is warned about (below); nothing else is
    expect(warnings.filter((w) => !w.field?.startsWith('services.web.devices'))).toEqual([]);
  });

  it('network_mode: host joins no stack network, keeps host ports, warns that it grants the node', () => {
    const { stack, warnings } = parse(svc('network_mode: host\nports: [{target: 8096, published: 8096, mode: host}]'));
    expect(stack.services.web.network_mode).toBe('host');
    expect(stack.services.web.networks).toEqual({});
    expect(stack.networks).toEqual({});
    expect(stack.services.web.ports).toEqual([{ target: 8096, published: 8096, protocol: 'tcp', mode: 'host' }]);
    expect(warnings).toEqual([{ file: 'stack.yml', line: 4, col: 19, field: 'services.web.network_mode', message: expect.stringContaining("the node's network stack") }]);
  });

  it('network_mode: host: a host-mode port without published is published on the target', () => {
    expect(web(svc('network_mode: host\nports: [{target: 53, protocol: udp, mode: host}]')).ports).toEqual([{ target: 53, published: 53, protocol: 'udp', mode: 'host' }]);
  });

  it('network_mode: none', () => {
    expect(web(svc('network_mode: none'))).toMatchObject({ network_mode: 'none', networks: {} });
  });

  it('the output of config parses back to the same stack', () => {
    const yaml = svc(`
cap_add: [NET_ADMIN]
cap_drop: [MKNOD]
security_opt: [no-new-privileges]
devices: ["/dev/null:/dev/mynull"]
sysctls: [kernel.shmmni=4096]
ulimits: {nofile: 1024}
pids_limit: 50
shm_size: 1g
read_only: true
tmpfs: "/tmp:size=1m"
extra_hosts: {db: 10.0.0.5}
dns: 9.9.9.9
dns_search: [a.example]
dns_opt: [ndots:1]
logging: {driver: json-file, options: {max-size: 1m}}
network_mode: host
group_add: ["10"]
`);
    const first = parse(yaml).stack;
    const again = parseStack([{ path: 'out.yml', text: stackToYaml(first) }], { env: {}, readFile: memReadFile({}), cwd: CWD }).stack;
    expect(again).toEqual(first);
  });

  it('later files add to list keys and merge sysctls by key', () => {
    const s = parse([
      { path: 'stack.yml', text: svc('cap_add: [NET_ADMIN]\nsysctls: {net.core.somaxconn: 1}\ndns: [1.1.1.1]') },
      { path: 'override.yml', text: 'services:\n  web:\n    cap_add: [NET_ADMIN, NET_RAW]\n    sysctls: [net.ipv4.ip_forward=1]\n    dns: [8.8.8.8]\n' },
    ]).stack.services.web;
    expect(s.cap_add).toEqual(['NET_ADMIN', 'NET_RAW']);
    expect(s.sysctls).toEqual({ 'net.core.somaxconn': '1', 'net.ipv4.ip_forward': '1' });
    expect(s.dns).toEqual(['1.1.1.1', '8.8.8.8']);
  });
});

describe('container settings: warnings that name what a key grants', () => {
  it.each([
    ['privileged: true', 'services.web.privileged', 'controls the node'],
    ['cap_add: [ALL]', 'services.web.cap_add[0]', 'control of its node'],
    ['cap_add: [CAP_SYS_ADMIN]', 'services.web.cap_add[0]', 'control of its node'],
    ['devices: ["/dev/null:/dev/mynull"]', 'services.web.devices[0]', "node's hardware"],
    ['security_opt: [seccomp=unconfined]', 'services.web.security_opt[0]', 'lifts a protection'],
    ['logging: {driver: syslog}', 'services.web.logging.driver', 'service logs shows nothing'],
    ['logging: {driver: none}', 'services.web.logging.driver', 'service logs shows nothing'],
  ])('%s', (line, field, message) => {
    const { warnings } = parse(svc(line));
    expect(warnings).toEqual([expect.objectContaining({ file: 'stack.yml', line: 4, field, message: expect.stringContaining(message) })]);
  });
});

describe('container settings: bad values name the field at file:line:col', () => {
  it.each([
    ['cap_add: [NET_ADMINN]', 4, 15, 'services.web.cap_add[0]', 'unknown capability "NET_ADMINN"'],
    ['cap_add: NET_ADMIN', 4, 14, 'services.web.cap_add', 'must be a list of strings'],
    ['cap_drop: [{a: 1}]', 4, 16, 'services.web.cap_drop[0]', 'must be a string'],
    ['privileged: maybe', 4, 17, 'services.web.privileged', 'must be a boolean'],
    ['security_opt: [bogus]', 4, 20, 'services.web.security_opt[0]', 'invalid security option'],
    ['security_opt: ["seccomp=./profile.json"]', 4, 20, 'services.web.security_opt[0]', 'as its JSON text'],
    ['devices: ["dev/null"]', 4, 15, 'services.web.devices[0].source', 'absolute path on the node'],
    ['devices: ["/dev/null:/dev/x:rwx"]', 4, 15, 'services.web.devices[0].permissions', 'some of r, w and m'],
    ['devices: ["/a:/b:r:w"]', 4, 15, 'services.web.devices[0]', 'host_path[:container_path[:permissions]]'],
    ['devices: [{target: /dev/x}]', 4, 15, 'services.web.devices[0].source', 'needs a source'],
    ['group_add: ["bad group"]', 4, 17, 'services.web.group_add[0]', 'invalid group'],
    ['sysctls: {kernel.hostname: x}', 4, 32, 'services.web.sysctls.kernel.hostname', 'not namespaced'],
    ['sysctls: {bad name: 1}', 4, 25, 'services.web.sysctls.bad name', 'invalid sysctl name'],
    ['sysctls: [novalue]', 4, 15, 'services.web.sysctls.novalue', 'invalid sysctl name'],
    ['ulimits: {nofiles: 10}', 4, 24, 'services.web.ulimits.nofiles', 'unknown ulimit'],
    ['ulimits: {nofile: {soft: 20, hard: 10}}', 4, 15, 'services.web.ulimits.nofile', 'soft limit (20) must not be above the hard limit (10)'],
    ['ulimits: {nofile: {soft: 20}}', 4, 23, 'services.web.ulimits.nofile', 'needs soft and hard'],
    ['ulimits: {nofile: lots}', 4, 23, 'services.web.ulimits.nofile', 'must be an integer'],
    ['ulimits: {nofile: -2}', 4, 23, 'services.web.ulimits.nofile.soft', 'must be >= -1, got -2'],
    ['pids_limit: -5', 4, 17, 'services.web.pids_limit', 'must be >= -1, got -5'],
    ['pids_limit: 5000000', 4, 17, 'services.web.pids_limit', 'must be between -1 and 4194304'],
    ['pids_limit: many', 4, 17, 'services.web.pids_limit', 'must be an integer'],
    ['shm_size: big', 4, 15, 'services.web.shm_size', 'must be a size'],
    ['shm_size: 2p', 4, 15, 'services.web.shm_size', 'must be between 0 and'],
    ['read_only: 2', 4, 16, 'services.web.read_only', 'must be a boolean'],
    ['tmpfs: [tmp]', 4, 13, 'services.web.tmpfs[0]', 'must be an absolute path'],
    ['tmpfs: ["/"]', 4, 13, 'services.web.tmpfs[0]', 'cannot mount over /'],
    ['extra_hosts: ["db"]', 4, 19, 'services.web.extra_hosts[0]', 'expected host:ip or host=ip'],
    ['extra_hosts: ["db:10.0.0.500"]', 4, 19, 'services.web.extra_hosts[0]', 'invalid extra host "db:10.0.0.500"'],
    ['extra_hosts: {"bad_host": 10.0.0.1}', 4, 31, 'services.web.extra_hosts[0]', 'invalid extra host'],
    ['dns: [1.1.1.x]', 4, 11, 'services.web.dns[0]', 'not an IPv4 or IPv6 address'],
    ['dns_search: ["-bad-"]', 4, 18, 'services.web.dns_search[0]', 'invalid search domain'],
    ['dns_opt: ["nd ots"]', 4, 15, 'services.web.dns_opt[0]', 'invalid resolver option'],
    ['logging: {driver: "bad driver"}', 4, 23, 'services.web.logging.driver', 'invalid log driver'],
    ['logging: {driver: local, options: [a=b]}', 4, 39, 'services.web.logging.options', 'must be a mapping'],
    ['network_mode: bridge', 4, 19, 'services.web.network_mode', 'network_mode bridge is not supported'],
    ['network_mode: "service:db"', 4, 19, 'services.web.network_mode', 'sharing another container\'s network'],
    ['network_mode: "container:abc"', 4, 19, 'services.web.network_mode', 'is not supported'],
    ['network_mode: nat', 4, 19, 'services.web.network_mode', 'must be host or none'],
  ])('%s', (line, ln, col, field, message) => {
    const errors = parseErrors(svc(line));
    expect(errors).toContainEqual({ file: 'stack.yml', line: ln, col, field, message: expect.stringContaining(message) });
  });

  it('network_mode: host refuses ingress ports, other published ports, a networks section and net.* sysctls', () => {
    const errors = parseErrors(svc(`
network_mode: host
networks: [default]
ports:
  - "8080:8080"
  - {target: 80, published: 9090, mode: host}
sysctls: {net.core.somaxconn: 1024}
`));
    expect(errors).toEqual([
      { file: 'stack.yml', line: 5, col: 5, field: 'services.web.networks', message: 'a service with network_mode: host cannot join networks; drop its networks section' },
      { file: 'stack.yml', line: 7, col: 9, field: 'services.web.ports[0].mode', message: expect.stringContaining('use mode: host (published equal to target) or drop the port') },
      { file: 'stack.yml', line: 8, col: 33, field: 'services.web.ports[1].published', message: 'on the host network a task listens on the node\'s own ports: published (9090) must equal target (80)' },
      { file: 'stack.yml', line: 9, col: 35, field: 'services.web.sysctls.net.core.somaxconn', message: expect.stringContaining('not allowed with network_mode: host') },
    ]);
  });

  it('network_mode: none refuses ports', () => {
    expect(parseErrors(svc('network_mode: none\nports: ["80"]'))).toEqual([
      { file: 'stack.yml', line: 5, col: 13, field: 'services.web.ports[0]', message: 'a service with network_mode: none has no network: it cannot publish ports' },
    ]);
  });

  it('a tmpfs path that is also a volume target is refused', () => {
    expect(parseErrors(svc('tmpfs: [/data]\nvolumes: ["/data"]'))).toEqual([
      { file: 'stack.yml', line: 4, col: 13, field: 'services.web.tmpfs[0]', message: '/data is also the target of a volume' },
    ]);
  });
});

describe('profiles', () => {
  const yaml = `services:
  web:
    image: nginx
    depends_on: [db]
  db:
    image: postgres
  debug:
    image: busybox
    profiles: [debug, tools]
    depends_on: [web]
  admin:
    image: adminer
    profiles: [admin]
    depends_on:
      db: {condition: service_started}
      debug: {condition: service_started, required: false}
`;
  const names = (o: { env?: Record<string, string>; profiles?: string[]; files?: Record<string, string> } = {}) =>
    Object.keys(parseStack([{ path: 'stack.yml', text: yaml }], { env: o.env ?? {}, readFile: memReadFile(o.files ?? {}), cwd: CWD, profiles: o.profiles }).stack.services);

  it.each([
    ['no profile active: only services without profiles', {}, ['web', 'db']],
    ['--profile debug', { profiles: ['debug'] }, ['web', 'db', 'debug']],
    ['--profile tools (any of a service\'s profiles)', { profiles: ['tools'] }, ['web', 'db', 'debug']],
    ['--profile admin --profile debug', { profiles: ['admin', 'debug'] }, ['web', 'db', 'debug', 'admin']],
    ['COMPOSE_PROFILES=debug,admin', { env: { COMPOSE_PROFILES: 'debug, admin' } }, ['web', 'db', 'debug', 'admin']],
    ['COMPOSE_PROFILES from .env', { files: { '/proj/app/.env': 'COMPOSE_PROFILES=admin\n' } }, ['web', 'db', 'admin']],
    ['--profile wins over COMPOSE_PROFILES', { env: { COMPOSE_PROFILES: 'admin' }, profiles: ['debug'] }, ['web', 'db', 'debug']],
    ['--profile "*": every profile', { profiles: ['*'] }, ['web', 'db', 'debug', 'admin']],
  ])('%s', (_what, o, want) => {
    expect(names(o)).toEqual(want);
  });

  it('an optional dependency on a service that is not deployed is dropped; profiles are not in the output', () => {
    const s = parseStack([{ path: 'stack.yml', text: yaml }], { env: {}, readFile: memReadFile({}), cwd: CWD, profiles: ['admin'] }).stack;
    expect(s.services.admin.depends_on).toEqual({ db: { condition: 'service_started', required: true } });
    expect(s.services.admin).not.toHaveProperty('profiles');
  });

  it('a dependency of a deployed service on one that is not is an error naming both', () => {
    const text = 'services:\n  web:\n    image: nginx\n    depends_on: [cache]\n  cache:\n    image: redis\n    profiles: [perf]\n';
    expect(parseErrors([{ path: 'stack.yml', text }])).toEqual([
      { file: 'stack.yml', line: 4, col: 18, field: 'services.web.depends_on.cache', message: expect.stringMatching(/^service web depends on service cache, which is not deployed: its profiles \(perf\) are not active/) },
    ]);
  });

  it('bad profile names and forms are errors', () => {
    expect(parseErrors(svc('profiles: ["-x"]'))).toEqual([
      { file: 'stack.yml', line: 4, col: 16, field: 'services.web.profiles[0]', message: expect.stringContaining('invalid profile name "-x"') },
    ]);
    expect(parseErrors(svc('profiles: debug'))).toEqual([
      { file: 'stack.yml', line: 4, col: 15, field: 'services.web.profiles', message: 'must be a list of strings, got "debug"' },
    ]);
  });

  it('errors in a service that is not deployed are still reported', () => {
    expect(parseErrors(svc('', '  tool:\n    image: busybox\n    profiles: [x]\n    cap_add: [NOPE]\n'))).toEqual([
      expect.objectContaining({ field: 'services.tool.cap_add[0]' }),
    ]);
  });
});
