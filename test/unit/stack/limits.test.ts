// Values a stack file must not slip past the parser: each is refused with its field and its
// file:line:col, and nothing is returned (parseErrors throws unless the parse fails).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../../common/api/limits.js';
import { ErrorCodes, TsswarmError, type ErrorDetail } from '../../../common/errors.js';
import { loadStackFiles } from '../../../common/stack/index.js';
import { parse, parseErrors, svc } from './helpers.js';

const long = (n: number, c = 'a') => c.repeat(n);

describe('refused values name the field and file:line:col', () => {
  // [case, stack file, field, line, col, part of the message]
  const cases: [string, string, string, number, number, string][] = [
    ['image with spaces and a shell substitution', svc('').replace('image: nginx', 'image: "Busy Box;$(id)"'), 'services.web.image', 3, 12, 'invalid image reference'],
    ['image that is a number', svc('').replace('image: nginx', 'image: 123'), 'services.web.image', 3, 12, 'got number 123'],
    ['image with an uppercase repository', svc('').replace('image: nginx', 'image: Nginx'), 'services.web.image', 3, 12, 'lowercase'],
    ['image with a tag of 129 characters', svc('').replace('image: nginx', `image: nginx:${long(129)}`), 'services.web.image', 3, 12, 'tag'],
    ['host IP 999.1.1.1 (short form)', svc('ports: ["999.1.1.1:8080:80"]'), 'services.web.ports[0]', 4, 13, 'not an IP address'],
    ['host IP 999.1.1.1 (long form)', svc('ports: [{target: 80, host_ip: 999.1.1.1}]'), 'services.web.ports[0].host_ip', 4, 35, 'not an IPv4 or IPv6 address'],
    ['environment key A=B', svc('environment:\n  "A=B": x'), 'services.web.environment.A=B', 5, 14, 'must not contain "="'],
    ['empty environment key', svc('environment:\n  "": x'), 'services.web.environment', 4, 5, 'must not be empty'],
    ['stop_grace_period 1e20h', svc('stop_grace_period: 1e20h'), 'services.web.stop_grace_period', 4, 24, 'invalid duration'],
    ['stop_grace_period 100000h', svc('stop_grace_period: 100000h'), 'services.web.stop_grace_period', 4, 24, 'at most 8760h'],
    ['stop_grace_period 1e20 (seconds)', svc('stop_grace_period: 1e20'), 'services.web.stop_grace_period', 4, 24, 'too long'],
    ['healthcheck interval 8761h', svc('healthcheck:\n  test: ["CMD", "true"]\n  interval: 8761h'), 'services.web.healthcheck.interval', 6, 17, 'at most 8760h'],
    ['stop_signal SIGFOO', svc('stop_signal: SIGFOO'), 'services.web.stop_signal', 4, 18, 'unknown signal'],
    ['user root:root:root', svc('user: root:root:root'), 'services.web.user', 4, 11, 'user[:group]'],
    ['memory 99999999999999999999999g', svc('deploy:\n  resources:\n    limits:\n      memory: 99999999999999999999999g'), 'services.web.deploy.resources.limits.memory', 7, 19, 'between 0 and'],
    ['replicas -1', svc('deploy:\n  replicas: -1'), 'services.web.deploy.replicas', 5, 17, 'must be >= 0, got -1'],
    ['replicas 1e12', svc('deploy:\n  replicas: 1e12'), 'services.web.deploy.replicas', 5, 17, `between 0 and ${LIMITS.replicas}`],
    ['replicas above LIMITS.replicas', svc(`deploy:\n  replicas: ${LIMITS.replicas + 1}`), 'services.web.deploy.replicas', 5, 17, `between 0 and ${LIMITS.replicas}`],
    ['published port 0 (long form)', svc('ports: [{target: 80, published: 0}]'), 'services.web.ports[0].published', 4, 37, 'must be >= 1, got 0'],
    ['a port range of 65535 ports', svc('ports: ["1-65535:1-65535"]'), 'services.web.ports[0]', 4, 13, `at most ${LIMITS.portsPerService}`],
    ['max_failure_ratio 2', svc('deploy:\n  update_config: {max_failure_ratio: 2}'), 'services.web.deploy.update_config.max_failure_ratio', 5, 42, 'between 0 and 1'],
    ['a service name of 64 characters', `services:\n  ${long(64)}:\n    image: nginx\n`, `services.${long(64)}`, 2, 3, `at most ${LIMITS.nameLength}`],
    ['a full service name <stack>_<service> over 63 characters', `name: ${long(40, 's')}\nservices:\n  ${long(30)}:\n    image: nginx\n`, `services.${long(30)}`, 3, 3, 'full service name'],
    ['a network name of 64 characters', svc('', `networks:\n  ${long(64)}: {}\n`), `networks.${long(64)}`, 6, 3, `at most ${LIMITS.nameLength}`],
    ['a volume named ../../etc', svc('volumes: ["data:/data"]', 'volumes:\n  data:\n    name: ../../etc\n'), 'volumes.data.name', 7, 11, 'no "/" or ".."'],
    ['a volume named a/b', svc('', 'volumes:\n  data:\n    name: a/b\n'), 'volumes.data.name', 7, 11, 'invalid volume name'],
    ['a network named host', svc('networks: [n]', 'networks:\n  n:\n    name: host\n'), 'networks.n.name', 7, 11, 'reserved engine network'],
    ['a network named bridge', svc('', 'networks:\n  n:\n    name: bridge\n'), 'networks.n.name', 7, 11, 'reserved engine network'],
    ['an external network named none', svc('', 'networks:\n  none:\n    external: true\n'), 'networks.none', 6, 3, 'reserved engine network'],
    ['an external network named ingress', svc('', 'networks:\n  n:\n    external: true\n    name: ingress\n'), 'networks.n.name', 8, 11, 'reserved engine network'],
    ['an environment value over LIMITS.stringLength', svc(`environment:\n  BIG: ${long(LIMITS.stringLength + 1)}`), 'services.web.environment.BIG', 5, 12, `at most ${LIMITS.stringLength} characters`],
    ['a relative working_dir', svc('working_dir: srv'), 'services.web.working_dir', 4, 18, 'absolute path'],
    ['an invalid hostname', svc('hostname: "a b"'), 'services.web.hostname', 4, 15, 'invalid hostname'],
    ['an invalid placement constraint', svc('deploy:\n  placement:\n    constraints: [node.role]'), 'services.web.deploy.placement.constraints[0]', 6, 23, 'invalid constraint'],
  ];

  it.each(cases)('%s', (_name, yaml, field, line, col, message) => {
    const errs = parseErrors(yaml, { projectName: yaml.startsWith('name:') ? undefined : 'app' });
    const hit = errs.find((e) => e.field === field);
    expect(hit, JSON.stringify(errs)).toMatchObject({ file: 'stack.yml', line, col, field, message: expect.stringContaining(message) });
  });

  it('more services than LIMITS.servicesPerStack', () => {
    let yaml = 'services:\n';
    for (let i = 0; i <= LIMITS.servicesPerStack; i++) yaml += `  s${i}: {image: nginx}\n`;
    const errs = parseErrors(yaml);
    expect(errs).toEqual([{ file: 'stack.yml', line: 1, col: 1, field: 'services', message: `must have at most ${LIMITS.servicesPerStack} items, got ${LIMITS.servicesPerStack + 1}`.replace('items', 'entries') }]);
  });

  it('more published ports than LIMITS.portsPerService, over several entries', () => {
    const errs = parseErrors(svc('ports: ["1000-1999:1000-1999", "3000-3100:3000-3100"]'));
    expect(errs).toEqual([expect.objectContaining({ line: 4, col: 36, field: 'services.web.ports[1]', message: expect.stringContaining(`at most ${LIMITS.portsPerService}`) })]);
  });
});

describe('dangerous bind mounts warn, naming the field', () => {
  it.each(['/', '/etc', '/var/run/docker.sock', '/run/docker.sock', '/proc', '/sys', '/boot', '/dev', '/root', '/etc/ssl'])('%s', (src) => {
    const { stack, warnings } = parse(svc(`volumes: ["${src}:/host:ro"]`));
    expect(stack.services.web.volumes[0]).toMatchObject({ type: 'bind', source: src });
    expect(warnings).toEqual([{ file: 'stack.yml', line: 4, col: 15, field: 'services.web.volumes[0].source', message: expect.stringContaining('bind-mounting') }]);
  });

  it('long syntax points at the source', () => {
    const { warnings } = parse(svc('volumes:\n  - type: bind\n    source: /var/run/docker.sock\n    target: /var/run/docker.sock'));
    expect(warnings).toEqual([{ file: 'stack.yml', line: 6, col: 17, field: 'services.web.volumes[0].source', message: expect.stringContaining('control of the engine') }]);
  });

  it('an ordinary bind mount does not warn', () => {
    expect(parse(svc('volumes: ["./data:/data"]')).warnings).toEqual([]);
  });
});

describe('stack files that would hang or crash the parser', () => {
  const deepBlock = (levels: number) => {
    let y = 'services:\n  web:\n    image: nginx\nx-deep:\n';
    for (let i = 0; i < levels; i++) y += `${'  '.repeat(i + 1)}k:\n`;
    return `${y}${'  '.repeat(levels + 1)}v\n`;
  };

  it('a block nesting deeper than LIMITS.depth', () => {
    const errs = parseErrors(deepBlock(80));
    expect(errs).toEqual([{ file: 'stack.yml', line: 4 + LIMITS.depth, col: 2 * LIMITS.depth + 1, message: `invalid YAML: nesting deeper than ${LIMITS.depth} levels` }]);
  });

  it('a nesting of exactly LIMITS.depth levels is fine', () => {
    expect(parse(deepBlock(LIMITS.depth - 2)).stack.extensions).toBeDefined();
  });

  it.each([100, 100_000])('flow style [[[…]]], %i levels', (n) => {
    const errs = parseErrors(`services:\n  web:\n    image: nginx\nx-deep: ${'['.repeat(n)}${']'.repeat(n)}\n`);
    expect(errs).toEqual([{ file: 'stack.yml', line: 4, col: 8 + LIMITS.depth, message: `invalid YAML: nesting deeper than ${LIMITS.depth} levels` }]);
  });

  it('aliases that nest deeper once expanded', () => {
    const a = 40;
    const yaml = `services:\n  web:\n    image: nginx\nx-a: &a ${'['.repeat(a)}1${']'.repeat(a)}\nx-b: ${'['.repeat(a)}*a${']'.repeat(a)}\n`;
    const errs = parseErrors(yaml);
    expect(errs).toHaveLength(1);
    // an error inside an anchored block points at the anchor
    expect(errs[0]).toMatchObject({ file: 'stack.yml', line: 4, col: expect.any(Number), message: expect.stringContaining(`nesting deeper than ${LIMITS.depth} levels`) });
  });

  it('a file larger than LIMITS.stackFileBytes is refused before parsing', () => {
    // Invalid YAML too: only the size is reported, so the text was never parsed.
    const text = `services: [\n  web:\n    image: nginx\nx-pad: "${'a'.repeat(LIMITS.stackFileBytes)}"\n`;
    expect(parseErrors(text)).toEqual([{ file: 'stack.yml', message: expect.stringContaining(`at most ${LIMITS.stackFileBytes} bytes`) }]);
  });

  it('duplicate keys are found in a mapping of many keys', () => {
    let env = '';
    for (let i = 0; i < 20_000; i++) env += `      K${i}: v\n`;
    const errs = parseErrors(`services:\n  web:\n    image: nginx\n    environment:\n${env}      K7: again\n`);
    expect(errs).toEqual([{ file: 'stack.yml', line: 20_005, col: 7, message: 'invalid YAML: map keys must be unique; "K7" is repeated' }]);
  });
});

describe('files that are not UTF-8', () => {
  it('are refused with the file and the line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsswarm-utf8-'));
    try {
      writeFileSync(join(dir, 'stack.yml'), Buffer.concat([Buffer.from('services:\n  web:\n    image: ngi'), Buffer.from([0xff, 0xfe]), Buffer.from('nx\n')]));
      let details: ErrorDetail[] = [];
      try {
        loadStackFiles(['stack.yml'], { cwd: dir, env: {} });
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(TsswarmError);
        expect((e as TsswarmError).code).toBe(ErrorCodes.STACK_INVALID);
        details = (e as TsswarmError).details;
      }
      expect(details).toEqual([{ file: 'stack.yml', line: 3, col: 15, message: expect.stringContaining('not valid UTF-8') }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a file larger than the limit is refused before it is decoded', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsswarm-big-'));
    try {
      writeFileSync(join(dir, 'stack.yml'), Buffer.alloc(LIMITS.stackFileBytes + 1, 0x20));
      expect(() => loadStackFiles(['stack.yml'], { cwd: dir, env: {} })).toThrow(/cannot read stack file stack.yml/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
