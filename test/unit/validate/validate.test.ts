// The shared validator on raw JSON (what the HTTP API receives): each refused value names its field.
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../../common/api/limits.js';
import { checkImageRef, checkName, validateServiceSpec, validateStack } from '../../../common/api/validate.js';
import { service, stack as makeStack, volume } from './fixtures.js';

const stack = () => makeStack({ data: volume() });

type Json = Record<string, any>;

describe('validateStack', () => {
  it('accepts a complete stack and returns it', () => {
    const s = stack();
    expect(validateStack(s)).toEqual({ value: s, errors: [], warnings: [] });
  });

  // [case, change to a valid stack, field, part of the message]
  const cases: [string, (s: Json) => void, string, string][] = [
    ['image with a shell substitution', (s) => (s.services.web.image = 'Busy Box;$(id)'), 'services.web.image', 'invalid image reference'],
    ['image that is a number', (s) => (s.services.web.image = 123), 'services.web.image', 'must be a string'],
    ['image with a bad digest', (s) => (s.services.web.image = 'nginx@sha256:xyz'), 'services.web.image', 'digest'],
    ['host IP 999.1.1.1', (s) => (s.services.web.ports = [{ target: 80, protocol: 'tcp', mode: 'ingress', host_ip: '999.1.1.1' }]), 'services.web.ports[0].host_ip', 'not an IPv4 or IPv6'],
    ['port 0', (s) => (s.services.web.ports = [{ target: 0, protocol: 'tcp', mode: 'ingress' }]), 'services.web.ports[0].target', 'must be >= 1'],
    ['protocol sctp', (s) => (s.services.web.ports = [{ target: 80, protocol: 'sctp', mode: 'ingress' }]), 'services.web.ports[0].protocol', 'must be one of tcp, udp'],
    ['more ports than LIMITS.portsPerService', (s) => (s.services.web.ports = Array.from({ length: LIMITS.portsPerService + 1 }, (_, i) => ({ target: 1 + i, protocol: 'tcp', mode: 'ingress' }))), 'services.web.ports', `at most ${LIMITS.portsPerService}`],
    ['environment key A=B', (s) => (s.services.web.environment = { 'A=B': 'x' }), 'services.web.environment.A=B', 'must not contain "="'],
    ['empty environment key', (s) => (s.services.web.environment = { '': 'x' }), 'services.web.environment', 'must not be empty'],
    ['environment value that is a number', (s) => (s.services.web.environment = { A: 1 }), 'services.web.environment.A', 'must be a string'],
    ['stop_grace_period 1e20h', (s) => (s.services.web.stop_grace_period = '1e20h'), 'services.web.stop_grace_period', 'invalid duration'],
    ['stop_grace_period 8761h', (s) => (s.services.web.stop_grace_period = '8761h'), 'services.web.stop_grace_period', 'at most 8760h'],
    ['restart delay 99999999999h', (s) => (s.services.web.deploy.restart_policy.delay = '99999999999h'), 'services.web.deploy.restart_policy.delay', 'too long'],
    ['stop_signal SIGFOO', (s) => (s.services.web.stop_signal = 'SIGFOO'), 'services.web.stop_signal', 'unknown signal'],
    ['user root:root:root', (s) => (s.services.web.user = 'root:root:root'), 'services.web.user', 'user[:group]'],
    ['memory 1e30', (s) => (s.services.web.deploy.resources.limits.memory = 1e30), 'services.web.deploy.resources.limits.memory', 'between 0 and'],
    ['memory 1.5 bytes', (s) => (s.services.web.deploy.resources.limits.memory = 1.5), 'services.web.deploy.resources.limits.memory', 'must be an integer'],
    ['replicas -1', (s) => (s.services.web.deploy.replicas = -1), 'services.web.deploy.replicas', 'must be >= 0, got -1'],
    ['replicas 1e12', (s) => (s.services.web.deploy.replicas = 1e12), 'services.web.deploy.replicas', `between 0 and ${LIMITS.replicas}`],
    ['replicas 2.5', (s) => (s.services.web.deploy.replicas = 2.5), 'services.web.deploy.replicas', 'must be an integer'],
    ['replicas "3"', (s) => (s.services.web.deploy.replicas = '3'), 'services.web.deploy.replicas', 'must be an integer'],
    ['an unknown field', (s) => ((s.services.web as Record<string, unknown>).mac_address = 'x'), 'services.web.mac_address', 'unknown field'],
    ['a missing field', (s) => delete s.services.web.deploy, 'services.web.deploy', 'is required'],
    ['more services than LIMITS.servicesPerStack', (s) => {
      for (let i = 0; i < LIMITS.servicesPerStack; i++) s.services[`s${i}`] = service();
    }, 'services', `at most ${LIMITS.servicesPerStack} entries`],
    ['a service name of 64 characters', (s) => (s.services['a'.repeat(64)] = service()), `services.${'a'.repeat(64)}`, `at most ${LIMITS.nameLength}`],
    ['a service name with /', (s) => (s.services['a/b'] = service()), 'services.a/b', 'invalid service name'],
    ['a full service name over 63 characters', (s) => (s.services['b'.repeat(60)] = service()), `services.${'b'.repeat(60)}`, 'full service name'],
    ['a stack name with uppercase', (s) => (s.name = 'App'), 'name', 'not a valid stack name'],
    ['a network named host', (s) => (s.networks.default.name = 'host'), 'networks.default.name', 'reserved engine network'],
    ['an external network named bridge', (s) => (s.networks.bridge = { driver: 'overlay', external: true, labels: {}, driver_opts: {} }), 'networks.bridge', 'reserved engine network'],
    ['a volume named ../../etc', (s) => (s.volumes.data.name = '../../etc'), 'volumes.data.name', 'invalid volume name'],
    ['a volume named ..', (s) => (s.volumes.data.name = '..'), 'volumes.data.name', 'invalid volume name'],
    ['a string over LIMITS.stringLength', (s) => (s.services.web.labels = { a: 'x'.repeat(LIMITS.stringLength + 1) }), 'services.web.labels.a', `at most ${LIMITS.stringLength} characters`],
    ['a relative bind source', (s) => (s.services.web.volumes = [{ type: 'bind', source: 'etc', target: '/x', read_only: false }]), 'services.web.volumes[0].source', 'absolute path'],
    ['an undeclared volume', (s) => (s.services.web.volumes = [{ type: 'volume', source: 'nope', target: '/x', read_only: false }]), 'services.web.volumes[0].source', 'not declared'],
    ['an undeclared network', (s) => (s.services.web.networks = { nope: { aliases: [] } }), 'services.web.networks.nope', 'not declared'],
    ['two mounts on one target', (s) => (s.services.web.volumes = [{ type: 'tmpfs', target: '/x', read_only: false }, { type: 'tmpfs', target: '/x', read_only: false }]), 'services.web.volumes[1].target', 'duplicate mount target'],
    ['a dependency on an unknown service', (s) => (s.services.web.depends_on = { db: { condition: 'service_started', required: true } }), 'services.web.depends_on.db', 'undefined service'],
    ['a dependency cycle', (s) => {
      s.services.db = service();
      s.services.db.depends_on = { web: { condition: 'service_started', required: true } };
      s.services.web.depends_on = { db: { condition: 'service_started', required: true } };
    }, 'services.db.depends_on.web', 'dependency cycle: web -> db -> web'],
    ['extensions nested too deep', (s) => {
      let v: unknown = 1;
      for (let i = 0; i < 100; i++) v = [v];
      s.extensions = { 'x-deep': v };
    }, 'extensions.x-deep', `nested deeper than ${LIMITS.depth} levels`],
    ['an extension not named x-*', (s) => (s.extensions = { foo: 1 }), 'extensions.foo', 'x-*'],
  ];

  it.each(cases)('%s', (_name, change, field, message) => {
    const s = stack() as Json;
    change(s);
    const r = validateStack(s);
    expect(r.value).toBeUndefined();
    expect(r.errors, JSON.stringify(r.errors).slice(0, 500)).toContainEqual({ field: expect.stringMatching(`^${field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), message: expect.stringContaining(message) });
  });

  it('is not fooled by input that is not an object', () => {
    for (const x of [null, 1, 'x', [], undefined]) {
      const r = validateStack(x);
      expect(r.value).toBeUndefined();
      expect(r.errors.length).toBeGreaterThan(0);
    }
  });

  it.each(['/', '/etc', '/var/run/docker.sock', '/run/docker.sock', '/proc', '/sys', '/boot', '/dev', '/root'])('a bind mount of %s warns', (src) => {
    const s = stack();
    s.services.web.volumes = [{ type: 'bind', source: src, target: '/host', read_only: true }];
    const r = validateStack(s);
    expect(r.errors).toEqual([]);
    expect(r.value).toBe(s);
    expect(r.warnings).toEqual([{ field: 'services.web.volumes[0].source', message: expect.stringContaining('bind-mounting') }]);
  });
});

describe('validateServiceSpec', () => {
  it('accepts a service and prefixes error fields', () => {
    expect(validateServiceSpec(service()).errors).toEqual([]);
    const s = service() as Json;
    s.deploy.replicas = -1;
    s.image = 'UPPER';
    const r = validateServiceSpec(s, 'spec');
    expect(r.value).toBeUndefined();
    expect(r.errors).toEqual([
      { field: 'spec.deploy.replicas', message: 'must be >= 0, got -1' },
      { field: 'spec.image', message: expect.stringContaining('lowercase') },
    ]);
  });

  it('checks a mount source by its name (no stack to look it up in)', () => {
    const s = service();
    s.volumes = [{ type: 'volume', source: '../../etc', target: '/x', read_only: false }];
    expect(validateServiceSpec(s).errors).toEqual([{ field: 'volumes[0].source', message: expect.stringContaining('invalid volume name') }]);
  });
});

describe('checkName and the image grammar', () => {
  it.each([
    ['stack', 'app', true], ['stack', 'App', false], ['stack', 'a'.repeat(63), true], ['stack', 'a'.repeat(64), false],
    ['service', 'web.v2', true], ['service', '.', false], ['service', '..', false], ['volume', 'a..b', false], ['volume', 'a/b', false],
    ['network', '', false], ['network', 'front_end-1', true],
  ] as const)('%s %s', (kind, name, ok) => {
    expect(checkName(kind, name) === undefined).toBe(ok);
  });

  it.each([
    ['nginx', true], ['nginx:1.27-alpine', true], ['library/nginx', true], ['registry.example.com:5000/team/app:v1', true],
    ['localhost/app', true], ['ghcr.io/o/r@sha256:' + 'a'.repeat(64), true], ['a__b', true], ['[::1]:5000/app', true],
    ['Busy Box;$(id)', false], ['Nginx', false], ['nginx:' + 'a'.repeat(129), false], ['nginx:-x', false], ['a//b', false], ['', false], ['-x', false],
  ])('%s', (ref, ok) => {
    expect(checkImageRef(ref) === undefined).toBe(ok);
  });
});
