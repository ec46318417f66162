// The stack-file parser: every supported syntax, its defaults, and what it rejects or warns about.
import { describe, expect, it } from 'vitest';
import { defaultDeploy, type PortSpec } from '../../../common/spec.js';
import { parse, parseErrors, svc } from './helpers.js';

const web = (yaml: string, o = {}) => parse(yaml, o).stack.services.web;

describe('service basics and defaults', () => {
  it('fills every field of a minimal service', () => {
    const { stack, warnings } = parse('services:\n  web:\n    image: nginx\n');
    expect(warnings).toEqual([]);
    expect(stack).toEqual({
      name: 'app',
      services: {
        web: {
          image: 'nginx',
          environment: {},
          labels: {},
          ports: [],
          volumes: [],
          networks: { default: { aliases: [] } },
          depends_on: {},
          deploy: defaultDeploy(),
        },
      },
      networks: { default: { driver: 'overlay', external: false, labels: {}, driver_opts: {} } },
      volumes: {},
    });
  });

  it('reads the simple keys', () => {
    const s = web(
      svc(`
user: "1000:1000"
working_dir: /srv
init: true
stop_signal: SIGINT
stop_grace_period: 1m30s
hostname: web-host
labels: [a=1, b]
`),
    );
    expect(s).toMatchObject({
      user: '1000:1000',
      working_dir: '/srv',
      init: true,
      stop_signal: 'SIGINT',
      stop_grace_period: '1m30s',
      hostname: 'web-host',
      labels: { a: '1', b: '' },
    });
  });

  it.each([
    ['command: echo "hello world" again', { command: ['echo', 'hello world', 'again'] }],
    ['command: ["sh", "-c", "exit 0"]', { command: ['sh', '-c', 'exit 0'] }],
    ['command: [sleep, 10]', { command: ['sleep', '10'] }],
    ["entrypoint: /bin/sh -c 'a b'", { entrypoint: ['/bin/sh', '-c', 'a b'] }],
    ['entrypoint: []', { entrypoint: [] }],
    ['command: ""', { command: [] }],
  ])('%s', (line, expected) => {
    expect(web(svc(line))).toMatchObject(expected);
  });

  it('labels as a map, numbers and null become strings', () => {
    expect(web(svc('labels:\n  a: 1\n  b: true\n  c:\n  d: text')).labels).toEqual({ a: '1', b: 'true', c: '', d: 'text' });
  });

  it('keeps x-* extension fields of services and of the stack, without warnings', () => {
    const { stack, warnings } = parse('x-top: {a: 1}\nservices:\n  web:\n    image: nginx\n    x-note: [1, two]\n');
    expect(warnings).toEqual([]);
    expect(stack.extensions).toEqual({ 'x-top': { a: 1 } });
    expect(stack.services.web.extensions).toEqual({ 'x-note': [1, 'two'] });
  });

  it('accepts version silently', () => {
    expect(parse('version: "3.9"\nservices:\n  web:\n    image: nginx\n').warnings).toEqual([]);
  });
});

describe('environment and env_file', () => {
  it('list form: K=V, K from the environment, unset K dropped with a warning', () => {
    const { stack, warnings } = parse(svc('environment:\n  - A=1\n  - B=x=y\n  - FROM_SHELL\n  - MISSING\n  - EMPTY='), {
      env: { FROM_SHELL: 'sh' },
    });
    expect(stack.services.web.environment).toEqual({ A: '1', B: 'x=y', FROM_SHELL: 'sh', EMPTY: '' });
    expect(warnings).toEqual([
      expect.objectContaining({ line: 8, col: 9, field: 'services.web.environment[3]', message: expect.stringContaining('MISSING') }),
    ]);
  });

  it('map form: scalars become strings, null takes the environment', () => {
    const s = web(svc('environment:\n  A: 1\n  B: true\n  C: "x"\n  D:\n  E: ~'), { env: { D: 'dee' } });
    expect(s.environment).toEqual({ A: '1', B: 'true', C: 'x', D: 'dee' });
  });

  it('env_file: string, list and long form, relative to the stack file; environment wins', () => {
    const files = {
      '/proj/app/a.env': '# comment\nA=from-a\nSHARED=a\nexport Q="quoted value"\n',
      '/proj/app/conf/b.env': 'SHARED=b\nB=${HOSTVAR:-dflt}\n',
    };
    expect(web(svc('env_file: a.env'), { files }).environment).toEqual({ A: 'from-a', SHARED: 'a', Q: 'quoted value' });
    const s = web(
      svc(`
env_file:
  - ./a.env
  - path: conf/b.env
  - path: ./missing.env
    required: false
environment:
  A: override
`),
      { files },
    );
    expect(s.environment).toEqual({ A: 'override', SHARED: 'b', Q: 'quoted value', B: 'dflt' });
  });

  it('a missing required env_file is an error at its position', () => {
    expect(parseErrors(svc('env_file:\n  - nope.env'))).toEqual([
      { file: 'stack.yml', line: 5, col: 9, field: 'services.web.env_file[0]', message: 'env_file nope.env not found' },
    ]);
  });

  it('errors inside an env_file name that file and line', () => {
    const errs = parseErrors(svc('env_file: bad.env'), { files: { '/proj/app/bad.env': 'OK=1\n\nnot valid line\n' } });
    expect(errs).toEqual([{ file: 'bad.env', line: 3, col: 1, message: expect.stringContaining('invalid line') }]);
  });
});

describe('interpolation in stack files', () => {
  it('substitutes every form in values, not in keys', () => {
    const yaml = `
services:
  web:
    image: "\${REG:-docker.io}/nginx:\${TAG-latest}"
    environment:
      \${NOT_A_KEY}: $A
      PLUS: \${A:+yes}
      LITERAL: $$HOME
      NESTED: \${NOPE:-\${A}}
    deploy:
      replicas: \${REPLICAS}
`;
    const { stack, warnings } = parse(yaml, { env: { A: 'a', REPLICAS: '3', TAG: '' } });
    const s = stack.services.web;
    expect(s.image).toBe('docker.io/nginx:');
    expect(s.environment).toEqual({ '${NOT_A_KEY}': 'a', PLUS: 'yes', LITERAL: '$HOME', NESTED: 'a' });
    expect(s.deploy.replicas).toBe(3);
    expect(warnings).toEqual([]);
  });

  it('an unset variable becomes empty, with one warning naming it and its position', () => {
    const { stack, warnings } = parse(svc('labels:\n  a: x${GONE}y\n  b: ${GONE}'));
    expect(stack.services.web.labels).toEqual({ a: 'xy', b: '' });
    expect(warnings).toEqual([{ file: 'stack.yml', line: 5, col: 10, field: 'services.web.labels.a', message: 'variable GONE is not set; using an empty string' }]);
  });

  it('an error caused by an unset variable is followed by a note naming it', () => {
    expect(parseErrors('services:\n  web:\n    image: ${IMG}\n')).toEqual([
      { file: 'stack.yml', line: 3, col: 12, field: 'services.web.image', message: 'must not be empty' },
      { file: 'stack.yml', line: 3, col: 12, field: 'services.web.image', message: 'note: variable IMG is not set; using an empty string' },
    ]);
  });

  it('${VAR:?message} fails with the message and position', () => {
    expect(parseErrors(svc('environment:\n  PW: ${PW:?set a password}'))).toEqual([
      { file: 'stack.yml', line: 5, col: 11, field: 'services.web.environment.PW', message: 'required variable PW is missing a value: set a password' },
    ]);
  });

  it('.env beside the first file is read; the shell environment wins over it', () => {
    const files = { '/proj/app/.env': 'TAG=from-dotenv\nONLY_DOTENV=yes\nREF=${SHELL_ONLY}-x\n' };
    const yaml = svc('labels:\n  tag: $TAG\n  only: $ONLY_DOTENV\n  ref: $REF');
    expect(web(yaml, { files }).labels).toEqual({ tag: 'from-dotenv', only: 'yes', ref: '-x' });
    expect(web(yaml, { files, env: { TAG: 'from-shell', SHELL_ONLY: 's' } }).labels).toEqual({ tag: 'from-shell', only: 'yes', ref: 's-x' });
  });

  it('.env is looked up beside the first file, as the user named it', () => {
    const files = { '/proj/app/deploy/.env': 'TAG=sub\n' };
    const { stack } = parse([{ path: 'deploy/stack.yml', text: 'services:\n  web:\n    image: nginx:$TAG\n' }], { files });
    expect(stack.services.web.image).toBe('nginx:sub');
    expect(stack.name).toBe('deploy');
  });

  it('variables from .env also feed environment: [KEY] entries', () => {
    const files = { '/proj/app/.env': 'DB_HOST=db\n' };
    expect(web(svc('environment: [DB_HOST]'), { files }).environment).toEqual({ DB_HOST: 'db' });
  });

  it('errors in .env name the file and line', () => {
    const errs = parseErrors(svc(''), { files: { '/proj/app/.env': 'A=1\nB="open\n' } });
    expect(errs).toEqual([{ file: '.env', line: 2, col: 1, message: expect.stringContaining('unterminated') }]);
  });
});

describe('ports', () => {
  const P = (target: number, extra: Partial<PortSpec> = {}): PortSpec => ({ target, protocol: 'tcp', mode: 'ingress', ...extra });
  it.each<[string, PortSpec[]]>([
    ['"80"', [P(80)]],
    ['80', [P(80)]],
    ['"8080:80"', [P(80, { published: 8080 })]],
    ['"127.0.0.1:8080:80"', [P(80, { published: 8080, host_ip: '127.0.0.1' })]],
    ['"127.0.0.1::80"', [P(80, { host_ip: '127.0.0.1' })]],
    ['"[::1]:8080:80"', [P(80, { published: 8080, host_ip: '::1' })]],
    ['"8080:80/udp"', [P(80, { published: 8080, protocol: 'udp' })]],
    ['"53/udp"', [P(53, { protocol: 'udp' })]],
    ['"8000-8001:80-81"', [P(80, { published: 8000 }), P(81, { published: 8001 })]],
    ['"3000-3002"', [P(3000), P(3001), P(3002)]],
    ['{target: 80, published: 8080, protocol: udp, mode: host, host_ip: 0.0.0.0}', [P(80, { published: 8080, protocol: 'udp', mode: 'host', host_ip: '0.0.0.0' })]],
    ['{target: 80, published: "8080"}', [P(80, { published: 8080 })]],
    ['{target: 80}', [P(80)]],
  ])('%s', (spec, expected) => {
    expect(web(svc(`ports:\n  - ${spec}`)).ports).toEqual(expected);
  });

  it.each([
    ['"0:80"', 'published "0"'],
    ['"80:70000"', 'target "70000"'],
    ['"abc"', 'target "abc"'],
    ['"8000-8002:80-81"', 'same length'],
    ['"80/sctp"', 'protocol must be tcp or udp'],
    ['"host:80:80"', 'is not an IP address'],
    ['{published: 80}', 'a port needs a target'],
    ['{target: 80, mode: bridge}', 'must be one of ingress, host'],
    ['{target: "x"}', 'must be an integer'],
    ['true', 'must be a port'],
  ])('%s is an error', (spec, message) => {
    const errs = parseErrors(svc(`ports:\n  - ${spec}`));
    expect(errs).toHaveLength(1);
    expect(errs[0].message).toContain(message);
    expect(errs[0].field).toMatch(/^services\.web\.ports\[0\]/);
  });
});

describe('volumes', () => {
  const top = 'volumes:\n  data:\n  cache: {}\n';
  it.each([
    ['data:/var/lib/data', { type: 'volume', source: 'data', target: '/var/lib/data', read_only: false }],
    ['data:/var/lib/data:ro', { type: 'volume', source: 'data', target: '/var/lib/data', read_only: true }],
    ['./html:/usr/share/nginx/html', { type: 'bind', source: '/proj/app/html', target: '/usr/share/nginx/html', read_only: false }],
    ['../up:/x:rw', { type: 'bind', source: '/proj/up', target: '/x', read_only: false }],
    ['/etc/ssl:/etc/ssl:ro', { type: 'bind', source: '/etc/ssl', target: '/etc/ssl', read_only: true }],
    ['~/conf:/conf', { type: 'bind', source: '/home/me/conf', target: '/conf', read_only: false }],
    ['/scratch', { type: 'volume', target: '/scratch', read_only: false }],
    ['{type: volume, source: cache, target: /c, read_only: true}', { type: 'volume', source: 'cache', target: '/c', read_only: true }],
    ['{type: volume, target: /anon}', { type: 'volume', target: '/anon', read_only: false }],
    ['{type: bind, source: ./rel, target: /r}', { type: 'bind', source: '/proj/app/rel', target: '/r', read_only: false }],
    ['{type: tmpfs, target: /tmp}', { type: 'tmpfs', target: '/tmp', read_only: false }],
  ])('%s', (spec, expected) => {
    expect(web(svc(`volumes:\n  - ${spec}`, top), { env: { HOME: '/home/me' } }).volumes).toEqual([expected]);
  });

  it('a named volume not declared at the top level is an error', () => {
    expect(parseErrors(svc('volumes:\n  - undeclared:/data'))).toEqual([
      {
        file: 'stack.yml',
        line: 5,
        col: 9,
        field: 'services.web.volumes[0]',
        message: 'service web uses volume "undeclared", which is not declared in the top-level volumes section',
      },
    ]);
  });

  it.each([
    ['data:relative', 'absolute path'],
    ['data:/x:rx', 'unknown mode "rx"'],
    ['a:b:c:d', 'expected [source:]target[:mode]'],
    ['{type: bind, target: /x}', 'a bind mount needs a source path'],
    ['{type: tmpfs, source: data, target: /x}', 'a tmpfs mount has no source'],
    ['{source: data, target: /x}', 'needs a type'],
    ['{type: volume}', 'needs a target'],
    ['{type: weird, target: /x}', 'must be one of volume, bind, tmpfs'],
    ['{type: volume, source: nope, target: /x}', 'not declared'],
  ])('%s is an error', (spec, message) => {
    const errs = parseErrors(svc(`volumes:\n  - ${spec}`, top));
    expect(errs.length).toBeGreaterThanOrEqual(1);
    expect(errs[0].message).toContain(message);
  });

  it('two mounts on one target are an error', () => {
    const errs = parseErrors(svc('volumes:\n  - data:/x\n  - cache:/x', top));
    expect(errs).toEqual([expect.objectContaining({ line: 6, field: 'services.web.volumes[1]', message: expect.stringContaining('duplicate mount target /x') })]);
  });

  it('volume options the cluster ignores are warned about', () => {
    const { warnings } = parse(svc('volumes:\n  - data:/x:z\n  - {type: volume, source: data, target: /y, volume: {subpath: sub}}', top));
    expect(warnings.map((w) => w.field)).toEqual(['services.web.volumes[0]', 'services.web.volumes[1].volume.subpath']);
  });
});

describe('networks', () => {
  it('list form, map form with aliases, implicit default', () => {
    const yaml = `
services:
  a:
    image: x
    networks: [front, back]
  b:
    image: x
    networks:
      front:
        aliases: [api, api2]
      back:
  c:
    image: x
networks:
  front:
  back: {driver: bridge}
`;
    const { stack } = parse(yaml);
    expect(stack.services.a.networks).toEqual({ front: { aliases: [] }, back: { aliases: [] } });
    expect(stack.services.b.networks).toEqual({ front: { aliases: ['api', 'api2'] }, back: { aliases: [] } });
    expect(stack.services.c.networks).toEqual({ default: { aliases: [] } });
    expect(Object.keys(stack.networks)).toEqual(['front', 'back', 'default']);
    expect(stack.networks.back.driver).toBe('bridge');
  });

  it('no default network when every service names its networks', () => {
    const { stack } = parse('services:\n  a:\n    image: x\n    networks: [n]\nnetworks:\n  n:\n');
    expect(Object.keys(stack.networks)).toEqual(['n']);
  });

  it('an undeclared network is an error; default may be named without declaring it', () => {
    expect(parseErrors(svc('networks: [default, nope]'))).toEqual([
      expect.objectContaining({ line: 4, col: 25, field: 'services.web.networks[1]', message: expect.stringContaining('"nope"') }),
    ]);
  });

  it('top-level options, external forms and null entries', () => {
    const yaml = `
services:
  web: {image: x, networks: [a, b, c, d]}
networks:
  a:
    driver: overlay
    attachable: true
    internal: false
    labels: [team=web]
    driver_opts: {mtu: 1400}
    name: custom-a
  b:
    external: true
  c:
    external:
      name: legacy-name
  d:
`;
    const { stack, warnings } = parse(yaml);
    expect(stack.networks).toEqual({
      a: { driver: 'overlay', external: false, name: 'custom-a', attachable: true, internal: false, labels: { team: 'web' }, driver_opts: { mtu: '1400' } },
      b: { driver: 'overlay', external: true, labels: {}, driver_opts: {} },
      c: { driver: 'overlay', external: true, name: 'legacy-name', labels: {}, driver_opts: {} },
      d: { driver: 'overlay', external: false, labels: {}, driver_opts: {} },
    });
    expect(warnings).toEqual([expect.objectContaining({ field: 'networks.c.external.name', message: expect.stringContaining('deprecated') })]);
  });

  it('top-level volumes', () => {
    const yaml = `
services:
  web: {image: x, volumes: ["a:/a", "b:/b", "c:/c"]}
volumes:
  a:
  b: {external: true, name: shared}
  c: {driver: local, labels: {k: v}, driver_opts: {type: nfs, o: "addr=10.0.0.1"}}
`;
    expect(parse(yaml).stack.volumes).toEqual({
      a: { driver: 'local', external: false, labels: {}, driver_opts: {} },
      b: { driver: 'local', external: true, name: 'shared', labels: {}, driver_opts: {} },
      c: { driver: 'local', external: false, labels: { k: 'v' }, driver_opts: { type: 'nfs', o: 'addr=10.0.0.1' } },
    });
  });
});

describe('healthcheck', () => {
  it.each([
    ['test: curl -f http://localhost', { test: ['CMD-SHELL', 'curl -f http://localhost'] }],
    ['test: ["CMD", "curl", "-f", "http://localhost"]', { test: ['CMD', 'curl', '-f', 'http://localhost'] }],
    ['test: ["CMD-SHELL", "pg_isready"]', { test: ['CMD-SHELL', 'pg_isready'] }],
    ['test: ["NONE"]', { disable: true }],
    ['disable: true', { disable: true }],
    [
      'test: [CMD, true]\ninterval: 1m\ntimeout: 2s\nretries: 3\nstart_period: 90s',
      { test: ['CMD', 'true'], interval: '1m', timeout: '2s', retries: 3, start_period: '1m30s' },
    ],
  ])('%s', (body, expected) => {
    const indented = body
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n');
    expect(web(svc(`healthcheck:\n${indented}`)).healthcheck).toEqual(expected);
  });

  it.each([
    ['test: [curl, x]', 'must start with CMD, CMD-SHELL or NONE'],
    ['test: [CMD]', 'CMD needs a command'],
    ['interval: soon', 'invalid duration'],
    ['retries: -1', 'must be >= 0'],
  ])('%s is an error', (body, message) => {
    expect(parseErrors(svc(`healthcheck:\n  ${body}`))[0].message).toContain(message);
  });
});

describe('restart and deploy.restart_policy', () => {
  const base = defaultDeploy().restart_policy;
  it.each([
    ['no', { ...base, condition: 'none' }],
    ['"no"', { ...base, condition: 'none' }],
    ['always', { ...base, condition: 'any' }],
    ['unless-stopped', { ...base, condition: 'any' }],
    ['on-failure', { ...base, condition: 'on-failure' }],
    ['on-failure:3', { ...base, condition: 'on-failure', max_attempts: 3 }],
  ])('restart: %s', (v, expected) => {
    expect(web(svc(`restart: ${v}`)).deploy.restart_policy).toEqual(expected);
  });

  it('deploy.restart_policy overrides restart field by field', () => {
    const s = web(svc('restart: on-failure:5\ndeploy:\n  restart_policy:\n    delay: 0s\n    window: 2m'));
    expect(s.deploy.restart_policy).toEqual({ condition: 'on-failure', delay: '0s', max_attempts: 5, window: '2m' });
    const t = web(svc('restart: always\ndeploy:\n  restart_policy: {condition: none}'));
    expect(t.deploy.restart_policy.condition).toBe('none');
  });

  it('x-backoff: exponential with x-max-delay (a tsswarm extension Compose tools accept)', () => {
    const s = web(svc('deploy:\n  restart_policy:\n    delay: 1s\n    x-backoff: exponential\n    x-max-delay: 2m\n    x-note: hi'));
    expect(s.deploy.restart_policy).toEqual({ ...base, delay: '1s', 'x-backoff': 'exponential', 'x-max-delay': '2m' });
    expect(web(svc('deploy:\n  restart_policy:\n    x-backoff: none')).deploy.restart_policy).toEqual(base);
    expect(parseErrors(svc('deploy:\n  restart_policy:\n    x-backoff: linear'))[0]).toMatchObject({ field: 'services.web.deploy.restart_policy.x-backoff', line: 6 });
    const { warnings } = parse(svc('deploy:\n  restart_policy:\n    x-max-delay: 1m'));
    expect(warnings.map((w) => w.message)).toEqual(['x-max-delay has no effect without x-backoff: exponential']);
  });

  it('deploy.x-node-down-grace: a duration carried in canonical form (a tsswarm extension)', () => {
    expect(web(svc('deploy:\n  x-node-down-grace: 90s')).deploy['x-node-down-grace']).toBe('1m30s');
    expect(web(svc('deploy:\n  x-node-down-grace: 0s')).deploy['x-node-down-grace']).toBe('0s');
    expect(web(svc('deploy:\n  replicas: 2')).deploy['x-node-down-grace']).toBeUndefined();
    expect(parseErrors(svc('deploy:\n  x-node-down-grace: soon'))[0]).toMatchObject({ field: 'services.web.deploy.x-node-down-grace', line: 5 });
  });

  it('bad values are errors', () => {
    expect(parseErrors(svc('restart: sometimes'))[0]).toMatchObject({ field: 'services.web.restart', line: 4, col: 14 });
    expect(parseErrors(svc('deploy:\n  restart_policy:\n    condition: maybe'))[0]).toMatchObject({
      field: 'services.web.deploy.restart_policy.condition',
      line: 6,
      col: 20,
      message: 'must be one of none, on-failure, any, got "maybe"',
    });
  });
});

describe('depends_on', () => {
  const two = (dep: string) => `services:\n  db:\n    image: postgres\n  web:\n    image: nginx\n    depends_on:${dep}\n`;
  it('short form', () => {
    expect(web(two(' [db]')).depends_on).toEqual({ db: { condition: 'service_started', required: true } });
  });

  it('long form with condition and required', () => {
    expect(web(two('\n      db:\n        condition: service_healthy\n        required: false')).depends_on).toEqual({
      db: { condition: 'service_healthy', required: false },
    });
    expect(web(two('\n      db: {condition: service_completed_successfully}')).depends_on.db.condition).toBe('service_completed_successfully');
    expect(web(two('\n      db:')).depends_on.db).toEqual({ condition: 'service_started', required: true });
  });

  it('unknown service, bad condition, self and cycles are errors', () => {
    expect(parseErrors(two(' [cache]'))).toEqual([
      { file: 'stack.yml', line: 6, col: 18, field: 'services.web.depends_on[0]', message: 'service web depends on undefined service "cache"' },
    ]);
    expect(parseErrors(two('\n      db: {condition: started}'))[0].field).toBe('services.web.depends_on.db.condition');
    expect(parseErrors(two(' [web]'))[0].message).toContain('cannot depend on itself');
    const cyc = 'services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n';
    expect(parseErrors(cyc)).toEqual([expect.objectContaining({ message: 'dependency cycle: a -> b -> a', field: 'services.b.depends_on.a', line: 3 })]);
  });
});

describe('deploy', () => {
  it('reads every section', () => {
    const s = web(
      svc(`
deploy:
  mode: replicated
  replicas: 3
  labels: {traefik.enable: "true"}
  endpoint_mode: vip
  placement:
    constraints: [node.role==manager, "node.labels.disk != ssd"]
    preferences:
      - spread: node.labels.zone
    max_replicas_per_node: 2
  resources:
    limits: {cpus: "0.5", memory: 512M}
    reservations: {cpus: 0.25, memory: 268435456}
  update_config:
    parallelism: 2
    delay: 10s
    order: start-first
    monitor: 1m
    max_failure_ratio: 0.1
    failure_action: rollback
  rollback_config:
    parallelism: 0
    failure_action: continue
`),
    );
    expect(s.deploy).toEqual({
      mode: 'replicated',
      replicas: 3,
      labels: { 'traefik.enable': 'true' },
      restart_policy: defaultDeploy().restart_policy,
      placement: { constraints: ['node.role==manager', 'node.labels.disk != ssd'], preferences: [{ spread: 'node.labels.zone' }], max_replicas_per_node: 2 },
      resources: { limits: { cpus: 0.5, memory: 512 * 1024 ** 2 }, reservations: { cpus: 0.25, memory: 256 * 1024 ** 2 } },
      update_config: { parallelism: 2, delay: '10s', order: 'start-first', monitor: '1m', max_failure_ratio: 0.1, failure_action: 'rollback' },
      rollback_config: { ...defaultDeploy().rollback_config, parallelism: 0, failure_action: 'continue' },
    });
  });

  it('global mode', () => {
    expect(web(svc('deploy: {mode: global}')).deploy).toMatchObject({ mode: 'global', replicas: 1 });
  });

  it.each([
    ['deploy: {mode: global, replicas: 2}', 'services.web.deploy.replicas', 'replicas cannot be used with mode: global'],
    ['deploy: {replicas: -1}', 'services.web.deploy.replicas', 'must be >= 0, got -1'],
    ['deploy: {replicas: two}', 'services.web.deploy.replicas', 'must be an integer'],
    ['deploy: {mode: swarm}', 'services.web.deploy.mode', 'must be one of replicated, global'],
    ['deploy: {mode: global-job, replicas: 2}', 'services.web.deploy.replicas', 'replicas cannot be used with mode: global-job'],
    ['deploy: {resources: {limits: {memory: lots}}}', 'services.web.deploy.resources.limits.memory', 'must be a size'],
    ['deploy: {resources: {limits: {cpus: -1}}}', 'services.web.deploy.resources.limits.cpus', 'must be >= 0'],
    ['deploy: {update_config: {order: random}}', 'services.web.deploy.update_config.order', 'must be one of stop-first, start-first'],
    ['deploy: {update_config: {delay: 10 seconds}}', 'services.web.deploy.update_config.delay', 'invalid duration'],
    ['deploy: {update_config: {max_failure_ratio: 2}}', 'services.web.deploy.update_config.max_failure_ratio', 'between 0 and 1'],
    ['deploy: {placement: {constraints: [node.role]}}', 'services.web.deploy.placement.constraints[0]', 'invalid constraint'],
    ['deploy: {placement: {preferences: [{pack: x}]}}', 'services.web.deploy.placement.preferences[0]', 'needs spread'],
    ['deploy: {endpoint_mode: magic}', 'services.web.deploy.endpoint_mode', 'must be one of vip, dnsrr'],
  ])('%s', (line, field, message) => {
    const errs = parseErrors(svc(line));
    expect(errs[0]).toMatchObject({ field, message: expect.stringContaining(message) });
  });

  it('endpoint_mode dnsrr and per-resource extras are warnings', () => {
    const { warnings } = parse(svc('deploy:\n  endpoint_mode: dnsrr\n  resources: {reservations: {pids: 10}}'));
    expect(warnings.map((w) => w.field)).toEqual(['services.web.deploy.endpoint_mode', 'services.web.deploy.resources.reservations.pids']);
  });

  it('accepts numbers given as strings after interpolation', () => {
    const s = web(svc('deploy:\n  replicas: "${N}"\n  resources: {limits: {cpus: "${C}"}}'), { env: { N: '4', C: '1.5' } });
    expect(s.deploy.replicas).toBe(4);
    expect(s.deploy.resources.limits.cpus).toBe(1.5);
  });
});

describe('warnings for keys a cluster ignores', () => {
  it('container_name warns with position and reason, and is dropped (build is read: build.test.ts)', () => {
    const { stack, warnings } = parse(svc('container_name: my-web\nbuild: .\nmac_address: 02:42:ac:11:00:02\nfrobnicate: 1'));
    expect(warnings).toEqual([
      { file: 'stack.yml', line: 4, col: 5, field: 'services.web.container_name', message: 'container_name is ignored: tasks are named <service>.<slot>' },
      { file: 'stack.yml', line: 6, col: 5, field: 'services.web.mac_address', message: expect.stringContaining('mac_address is ignored: the tasks of a service, on several nodes, would share one MAC address') },
      { file: 'stack.yml', line: 7, col: 5, field: 'services.web.frobnicate', message: 'unknown service key frobnicate; ignored' },
    ]);
    expect(stack.services.web).not.toHaveProperty('container_name');
  });

  it.each(['links: [db]', 'cgroup_parent: x', 'expose: ["80"]', 'init_path: /x', 'volumes_from: [db]'])(
    '%s warns',
    (line) => {
      const { warnings } = parse(svc(line));
      expect(warnings).toHaveLength(1);
      expect(warnings[0].field).toBe(`services.web.${line.split(':')[0]}`);
    },
  );

  it('unknown top-level keys warn (secrets and configs are read: stack/secrets.test.ts)', () => {
    const { warnings } = parse('services:\n  web: {image: x}\nsecrets:\n  pw: {external: true}\nconfigs: {}\nweird: 1\n');
    expect(warnings).toEqual([
      { file: 'stack.yml', line: 6, col: 1, field: 'weird', message: 'unknown top-level key weird; ignored' },
    ]);
  });
});

describe('errors: positions, fields, all of them at once', () => {
  it('collects every error with file, line, col and field', () => {
    const yaml = `services:
  web:
    image: nginx
    ports:
      - "80"
      - "99999:80"
    deploy:
      replicas: -2
  worker:
    command: run
  "bad name":
    image: x
`;
    expect(parseErrors(yaml)).toEqual([
      { file: 'stack.yml', line: 6, col: 9, field: 'services.web.ports[1]', message: expect.stringContaining('published "99999"') },
      { file: 'stack.yml', line: 8, col: 17, field: 'services.web.deploy.replicas', message: 'must be >= 0, got -2' },
      { file: 'stack.yml', line: 9, col: 3, field: 'services.worker.image', message: 'service worker has no image: give image: (or build: to build one)' },
      { file: 'stack.yml', line: 11, col: 3, field: 'services.bad name', message: expect.stringContaining('invalid service name') },
    ]);
  });

  it('type errors name what was found', () => {
    expect(parseErrors(svc('environment: 5'))[0]).toMatchObject({ field: 'services.web.environment', line: 4, col: 18, message: expect.stringContaining('number 5') });
    expect(parseErrors(svc('init: maybe'))[0].message).toContain('must be a boolean');
    expect(parseErrors(svc('stop_grace_period: forever'))[0].message).toContain('invalid duration');
    expect(parseErrors('services:\n  web: nginx\n')[0]).toMatchObject({ field: 'services.web', message: 'must be a mapping, got "nginx"' });
  });

  it('YAML syntax errors carry their position', () => {
    const errs = parseErrors('services:\n  web:\n    image: [unclosed\n');
    expect(errs[0]).toMatchObject({ file: 'stack.yml', line: expect.any(Number), col: expect.any(Number), message: expect.stringContaining('invalid YAML') });
    expect(parseErrors('services:\n  web: {image: a, image: b}\n')[0]).toMatchObject({ line: 2, col: 19, message: expect.stringContaining('unique') });
    expect(parseErrors('services:\n  web:\n    image: *nope\n')[0]).toMatchObject({ line: 3, col: 12, message: expect.stringContaining('nope') });
  });

  it('one YAML document per file', () => {
    expect(parseErrors('services:\n  web: {image: x}\n---\nfoo: 1\n')).toEqual([
      { file: 'stack.yml', line: 3, col: 1, message: 'invalid YAML: a stack file holds one YAML document (remove the ---)' },
    ]);
  });

  it('a stack needs services; an empty file is an error', () => {
    expect(parseErrors('networks: {}\n')[0]).toMatchObject({ field: 'services', message: 'a stack needs a services section' });
    expect(parseErrors('')[0].message).toBe('the stack file is empty');
    expect(parseErrors('- a\n- b\n')[0].message).toContain('must be a mapping');
  });

  it('the thrown error message counts the errors', () => {
    expect(() => parse('services:\n  a: {}\n  b: {}\n')).toThrow('invalid stack file stack.yml: 2 errors');
  });
});

describe('stack name', () => {
  const yaml = 'services:\n  web: {image: x}\n';
  it('projectName > name: > folder name', () => {
    expect(parse(`name: from-file\n${yaml}`, { projectName: 'cli' }).stack.name).toBe('cli');
    expect(parse(`name: from-file\n${yaml}`).stack.name).toBe('from-file');
    expect(parse(`name: \${N}\n${yaml}`, { env: { N: 'interp' } }).stack.name).toBe('interp');
    expect(parse([{ path: '/srv/My.Stack_1/compose.yaml', text: yaml }]).stack.name).toBe('mystack_1');
    expect(parse([{ path: '../Other Dir/x.yml', text: yaml }]).stack.name).toBe('otherdir');
  });

  it('an invalid explicit name is an error', () => {
    expect(parseErrors(`name: Bad Name\n${yaml}`)).toEqual([expect.objectContaining({ field: 'name', line: 1, col: 7, message: expect.stringContaining('not a valid stack name') })]);
    expect(parseErrors(yaml, { projectName: '-x' })[0].message).toContain('not a valid stack name');
  });
});
