// The shared validator on raw JSON for the container settings (capabilities, devices, kernel
// settings, DNS, hosts, logging, network mode): what the API refuses, with the field named.
import { describe, expect, it } from 'vitest';
import { validateServiceSpec, validateStack } from '../../../common/api/validate.js';
import type { ServiceSpec } from '../../../common/spec.js';
import { service, stack as makeStack } from './fixtures.js';

const stack = () => makeStack();

type Json = Record<string, any>;

describe('container settings on raw JSON', () => {
  it('accepts every setting in its normalised form', () => {
    const s = stack();
    Object.assign(s.services.web, {
      cap_add: ['NET_ADMIN', 'cap_net_raw'], cap_drop: ['MKNOD'], privileged: false, security_opt: ['no-new-privileges=true', 'apparmor=docker-default'],
      group_add: ['audio', '1001'], sysctls: { 'net.core.somaxconn': '1024', 'kernel.shmmax': '68719476736', 'fs.mqueue.msg_max': '100' },
      ulimits: { nofile: { soft: 20000, hard: 40000 }, memlock: { soft: -1, hard: -1 } }, pids_limit: 100, shm_size: 67108864, read_only: true,
      tmpfs: ['/run', '/tmp:size=64m'], extra_hosts: ['db:10.0.0.5', 'gw:host-gateway', 'v6:::1'], dns: ['1.1.1.1', '::1'], dns_search: ['example.com', '.'],
      dns_opt: ['ndots:2', 'use-vc'], logging: { driver: 'json-file', options: { 'max-size': '10m' } },
    } satisfies Partial<ServiceSpec>);
    expect(validateStack(s)).toEqual({ value: s, errors: [], warnings: [] });
  });

  // [case, change to a valid stack, field, part of the message]
  const cases: [string, (s: Json) => void, string, string][] = [
    ['an unknown capability', (w) => (w.cap_add = ['NET_ADMINN']), 'services.web.cap_add[0]', 'unknown capability'],
    ['cap_drop that is not a list', (w) => (w.cap_drop = 'ALL'), 'services.web.cap_drop', 'must be a list'],
    ['too many capabilities', (w) => (w.cap_add = Array.from({ length: 65 }, () => 'CHOWN')), 'services.web.cap_add', 'at most 64 items'],
    ['privileged "yes"', (w) => (w.privileged = 'yes'), 'services.web.privileged', 'must be a boolean'],
    ['a security option of unknown kind', (w) => (w.security_opt = ['magic=1']), 'services.web.security_opt[0]', 'invalid security option'],
    ['a seccomp profile by path', (w) => (w.security_opt = ['seccomp=/etc/profile.json']), 'services.web.security_opt[0]', 'JSON text'],
    ['a device with a relative source', (w) => (w.devices = [{ source: 'dev/null', target: '/dev/x', permissions: 'rwm' }]), 'services.web.devices[0].source', 'absolute path'],
    ['a device with a relative target', (w) => (w.devices = [{ source: '/dev/null', target: 'x', permissions: 'rwm' }]), 'services.web.devices[0].target', 'absolute path'],
    ['a device with permissions rr', (w) => (w.devices = [{ source: '/dev/null', target: '/dev/x', permissions: 'rr' }]), 'services.web.devices[0].permissions', 'some of r, w and m'],
    ['a device without permissions', (w) => (w.devices = [{ source: '/dev/null', target: '/dev/x' }]), 'services.web.devices[0].permissions', 'is required'],
    ['a device with an unknown field', (w) => (w.devices = [{ source: '/dev/null', target: '/dev/x', permissions: 'r', mode: 1 }]), 'services.web.devices[0].mode', 'unknown field'],
    ['a group id out of range', (w) => (w.group_add = ['99999999999']), 'services.web.group_add[0]', 'invalid group'],
    ['a sysctl of the node', (w) => (w.sysctls = { 'vm.swappiness': '10' }), 'services.web.sysctls.vm.swappiness', 'not namespaced'],
    ['a sysctl value that is a number', (w) => (w.sysctls = { 'net.core.somaxconn': 1024 }), 'services.web.sysctls.net.core.somaxconn', 'must be a string'],
    ['an unknown ulimit', (w) => (w.ulimits = { files: { soft: 1, hard: 1 } }), 'services.web.ulimits.files', 'unknown ulimit'],
    ['a ulimit soft above hard', (w) => (w.ulimits = { nofile: { soft: 10, hard: 5 } }), 'services.web.ulimits.nofile', 'must not be above'],
    ['a ulimit soft unlimited, hard not', (w) => (w.ulimits = { nofile: { soft: -1, hard: 5 } }), 'services.web.ulimits.nofile', 'must not be above'],
    ['a ulimit as a number', (w) => (w.ulimits = { nofile: 10 }), 'services.web.ulimits.nofile', 'must be an object'],
    ['a ulimit below -1', (w) => (w.ulimits = { nofile: { soft: -2, hard: 1 } }), 'services.web.ulimits.nofile.soft', 'must be >= -1'],
    ['pids_limit 1.5', (w) => (w.pids_limit = 1.5), 'services.web.pids_limit', 'must be an integer'],
    ['pids_limit -2', (w) => (w.pids_limit = -2), 'services.web.pids_limit', 'must be >= -1'],
    ['shm_size "64m" (bytes only)', (w) => (w.shm_size = '64m'), 'services.web.shm_size', 'must be an integer'],
    ['shm_size past 1 PiB', (w) => (w.shm_size = 2 ** 51), 'services.web.shm_size', 'between 0 and'],
    ['read_only 1', (w) => (w.read_only = 1), 'services.web.read_only', 'must be a boolean'],
    ['a relative tmpfs path', (w) => (w.tmpfs = ['tmp:size=1m']), 'services.web.tmpfs[0]', 'absolute path'],
    ['an extra host without an address', (w) => (w.extra_hosts = ['db']), 'services.web.extra_hosts[0]', 'expected host:ip'],
    ['an extra host with host=ip (normalised is host:ip)', (w) => (w.extra_hosts = ['db=10.0.0.1']), 'services.web.extra_hosts[0]', 'expected host:ip'],
    ['a DNS server that is a name', (w) => (w.dns = ['dns.example.com']), 'services.web.dns[0]', 'not an IPv4 or IPv6 address'],
    ['a search domain with a space', (w) => (w.dns_search = ['a b']), 'services.web.dns_search[0]', 'invalid search domain'],
    ['a resolver option with a space', (w) => (w.dns_opt = ['ndots: 2']), 'services.web.dns_opt[0]', 'invalid resolver option'],
    ['a log driver with a space', (w) => (w.logging = { driver: 'json file', options: {} }), 'services.web.logging.driver', 'invalid log driver'],
    ['logging without options', (w) => (w.logging = { driver: 'local' }), 'services.web.logging.options', 'is required'],
    ['a log option that is a number', (w) => (w.logging = { driver: 'local', options: { 'max-file': 3 } }), 'services.web.logging.options.max-file', 'must be a string'],
    ['network_mode bridge', (w) => (w.network_mode = 'bridge'), 'services.web.network_mode', 'must be one of host, none'],
    ['network_mode host with networks', (w) => (w.network_mode = 'host'), 'services.web.networks', 'cannot join networks'],
    ['network_mode host with an ingress port', (w) => {
      w.network_mode = 'host';
      w.networks = {};
      w.ports = [{ target: 80, published: 80, protocol: 'tcp', mode: 'ingress' }];
    }, 'services.web.ports[0].mode', 'use mode: host'],
    ['network_mode host with published != target', (w) => {
      w.network_mode = 'host';
      w.networks = {};
      w.ports = [{ target: 80, published: 8080, protocol: 'tcp', mode: 'host' }];
    }, 'services.web.ports[0].published', 'must equal target'],
    ['network_mode host with a port not published', (w) => {
      w.network_mode = 'host';
      w.networks = {};
      w.ports = [{ target: 80, protocol: 'tcp', mode: 'host' }];
    }, 'services.web.ports[0]', 'give published (equal to target, 80)'],
    ['network_mode host with a net.* sysctl', (w) => {
      w.network_mode = 'host';
      w.networks = {};
      w.sysctls = { 'net.ipv4.ip_forward': '1' };
    }, 'services.web.sysctls.net.ipv4.ip_forward', 'network_mode: host'],
    ['network_mode none with a port', (w) => {
      w.network_mode = 'none';
      w.networks = {};
      w.ports = [{ target: 80, protocol: 'tcp', mode: 'host' }];
    }, 'services.web.ports[0]', 'cannot publish ports'],
  ];

  it.each(cases)('refuses %s', (_name, change, field, message) => {
    const s = stack() as Json;
    change(s.services.web);
    const r = validateStack(s);
    expect(r.value).toBeUndefined();
    expect(r.errors, JSON.stringify(r.errors).slice(0, 500)).toContainEqual({ field, message: expect.stringContaining(message) });
  });

  it.each([
    ['privileged', { privileged: true }, 'services.web.privileged'],
    ['cap_add ALL', { cap_add: ['ALL'] }, 'services.web.cap_add[0]'],
    ['cap_add cap_sys_admin', { cap_add: ['cap_sys_admin'] }, 'services.web.cap_add[0]'],
    ['a device', { devices: [{ source: '/dev/null', target: '/dev/x', permissions: 'rwm' }] }, 'services.web.devices[0]'],
    ['network_mode host', { network_mode: 'host', networks: {} }, 'services.web.network_mode'],
    ['apparmor=unconfined', { security_opt: ['apparmor=unconfined'] }, 'services.web.security_opt[0]'],
    ['a log driver service logs cannot read', { logging: { driver: 'fluentd', options: {} } }, 'services.web.logging.driver'],
  ] as [string, Partial<ServiceSpec>, string][])('warns, without refusing: %s', (_name, change, field) => {
    const s = stack();
    Object.assign(s.services.web, change);
    const r = validateStack(s);
    expect(r.errors).toEqual([]);
    expect(r.value).toBe(s);
    expect(r.warnings).toEqual([{ field, message: expect.any(String) }]);
  });

  it('deploy.x-node-down-grace is a bounded duration, named when it is not', () => {
    const ok = { ...service(), deploy: { ...service().deploy, 'x-node-down-grace': '2m' } };
    expect(validateServiceSpec(ok, 'spec').errors).toEqual([]);
    for (const bad of ['soon', '-1s', '9000h']) {
      const w = { ...service(), deploy: { ...service().deploy, 'x-node-down-grace': bad } };
      expect(validateServiceSpec(w, 'spec').errors).toEqual([{ field: 'spec.deploy.x-node-down-grace', message: expect.any(String) }]);
    }
  });

  it('a service spec alone (service update) gets the same rules', () => {
    const w = { ...service(), cap_add: ['BOGUS'], network_mode: 'host', ports: [{ target: 80, protocol: 'tcp', mode: 'ingress' }], networks: {} };
    expect(validateServiceSpec(w, 'spec').errors).toEqual([
      { field: 'spec.cap_add[0]', message: expect.stringContaining('unknown capability') },
      { field: 'spec.ports[0].mode', message: expect.stringContaining('use mode: host') },
    ]);
  });
});
