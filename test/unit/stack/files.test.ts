// Several files, YAML anchors, the realistic fixture, the fs edge and the YAML output.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import { loadStackFiles, parseStack, stackToYaml } from '../../../common/stack/index.js';
import { memReadFile, parse, parseErrors } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));

describe('merging several files (-c a.yml -c b.yml)', () => {
  const base = `
name: shop
services:
  web:
    image: shop/web:1
    command: serve --port 80
    environment:
      - LOG=info
      - KEEP=1
    labels: {a: "1"}
    ports: ["80:80"]
    volumes:
      - data:/data
      - ./conf:/etc/conf:ro
    networks: [front]
    depends_on: [db]
    deploy:
      replicas: 2
      labels: [tier=front]
      placement: {constraints: [node.role==worker]}
      update_config: {parallelism: 1, order: stop-first}
  db:
    image: postgres:16
networks:
  front:
volumes:
  data:
`;
  const override = `
services:
  web:
    image: shop/web:2
    command: [serve, --debug]
    environment:
      LOG: debug
      NEW: yes
    labels: [b=2]
    ports: ["443:443", "80:80"]
    volumes:
      - other:/data
      - /srv/logs:/logs
    networks:
      back:
        aliases: [web-internal]
    depends_on:
      cache: {condition: service_healthy}
    deploy:
      replicas: 5
      labels: {tier: edge, extra: x}
      placement: {constraints: [node.labels.zone==a]}
      update_config: {order: start-first}
  cache:
    image: redis:7
networks:
  back:
volumes:
  other: {external: true}
`;
  const sources = [
    { path: 'stack.yml', text: base },
    { path: 'override.yml', text: override },
  ];

  it('maps merge, scalars and commands replace, ports concatenate, volumes merge by target', () => {
    const { stack, warnings } = parse(sources);
    expect(warnings).toEqual([]);
    expect(stack.name).toBe('shop');
    expect(Object.keys(stack.services).sort()).toEqual(['cache', 'db', 'web']);
    const w = stack.services.web;
    expect(w.image).toBe('shop/web:2');
    expect(w.command).toEqual(['serve', '--debug']);
    expect(w.environment).toEqual({ LOG: 'debug', KEEP: '1', NEW: 'yes' });
    expect(w.labels).toEqual({ a: '1', b: '2' });
    expect(w.ports.map((p) => `${p.published}:${p.target}`)).toEqual(['80:80', '443:443']);
    expect(w.volumes).toEqual([
      { type: 'volume', source: 'other', target: '/data', read_only: false },
      { type: 'bind', source: '/proj/app/conf', target: '/etc/conf', read_only: true },
      { type: 'bind', source: '/srv/logs', target: '/logs', read_only: false },
    ]);
    expect(w.networks).toEqual({ front: { aliases: [] }, back: { aliases: ['web-internal'] } });
    expect(w.depends_on).toEqual({
      db: { condition: 'service_started', required: true },
      cache: { condition: 'service_healthy', required: true },
    });
    expect(w.deploy.replicas).toBe(5);
    expect(w.deploy.labels).toEqual({ tier: 'edge', extra: 'x' });
    expect(w.deploy.placement.constraints).toEqual(['node.role==worker', 'node.labels.zone==a']);
    expect(w.deploy.update_config).toMatchObject({ parallelism: 1, order: 'start-first' });
    expect(Object.keys(stack.networks).sort()).toEqual(['back', 'default', 'front']);
    expect(stack.volumes.other.external).toBe(true);
  });

  it('an override may complete a service (image given only in the second file)', () => {
    const { stack } = parse([
      { path: 'a.yml', text: 'services:\n  web:\n    ports: ["80"]\n' },
      { path: 'b.yml', text: 'services:\n  web:\n    image: nginx\n' },
    ]);
    expect(stack.services.web).toMatchObject({ image: 'nginx', ports: [{ target: 80 }] });
  });

  it('errors name the file each value came from; relative paths resolve against the first file', () => {
    const errs = parseErrors([
      { path: 'deploy/a.yml', text: 'services:\n  web:\n    image: nginx\n' },
      { path: 'deploy/prod/b.yml', text: 'services:\n  web:\n    deploy:\n      replicas: many\n    volumes: ["./x:/x"]\n' },
    ]);
    expect(errs).toEqual([{ file: 'deploy/prod/b.yml', line: 4, col: 17, field: 'services.web.deploy.replicas', message: expect.stringContaining('integer') }]);
    const { stack } = parse([
      { path: 'deploy/a.yml', text: 'services:\n  web:\n    image: nginx\n' },
      { path: 'deploy/prod/b.yml', text: 'services:\n  web:\n    volumes: ["./x:/x"]\n' },
    ]);
    expect(stack.services.web.volumes[0].source).toBe('/proj/app/deploy/x');
  });

  it('errors in several files are all reported, in file order', () => {
    const errs = parseErrors([
      { path: 'a.yml', text: 'services:\n  web:\n    image: x\n    init: perhaps\n' },
      { path: 'b.yml', text: 'services:\n  web:\n    ports: ["nope"]\n' },
    ]);
    expect(errs.map((e) => `${e.file}:${e.line}`)).toEqual(['a.yml:4', 'b.yml:3']);
  });
});

describe('YAML anchors, aliases and merge keys', () => {
  it('expands them, explicit keys win over merged ones', () => {
    const yaml = `
x-common: &common
  image: base:1
  environment: &env
    A: "1"
    B: "2"
  deploy:
    replicas: 2
x-labels: &labels
  team: core
services:
  a:
    <<: *common
  b:
    <<: [*common]
    image: special:2
    labels: *labels
  c:
    <<: *common
    environment:
      <<: *env
      B: overridden
`;
    const { stack, warnings } = parse(yaml);
    expect(warnings).toEqual([]);
    expect(stack.services.a).toMatchObject({ image: 'base:1', environment: { A: '1', B: '2' }, deploy: { replicas: 2 } });
    expect(stack.services.b).toMatchObject({ image: 'special:2', labels: { team: 'core' }, deploy: { replicas: 2 } });
    expect(stack.services.c.environment).toEqual({ A: '1', B: 'overridden' });
    expect(stack.extensions).toEqual({
      'x-common': { image: 'base:1', environment: { A: '1', B: '2' }, deploy: { replicas: 2 } },
      'x-labels': { team: 'core' },
    });
  });

  it('an error inside an anchored value points at the anchor and is reported once', () => {
    const yaml = 'x-d: &d\n  replicas: -1\nservices:\n  a: {image: x, deploy: *d}\n  b: {image: x, deploy: *d}\n';
    const errs = parseErrors(yaml);
    expect(errs.map((e) => [e.line, e.col, e.field])).toEqual([
      [2, 13, 'services.a.deploy.replicas'],
      [2, 13, 'services.b.deploy.replicas'],
    ]);
  });

  it('a merge key needs mappings', () => {
    expect(parseErrors('x: &x [1]\nservices:\n  a:\n    <<: *x\n')[0].message).toContain('merge key');
  });
});

describe('the realistic postgres + pgadmin fixture', () => {
  const dir = join(here, 'fixtures', 'postgres');

  it('parses with no errors and no warnings, reading the .env beside it', () => {
    const { stack, warnings } = loadStackFiles([join(dir, 'stack.yml')], { env: {} });
    expect(warnings).toEqual([]);
    expect(stack.name).toBe('postgres');
    const pg = stack.services.postgres;
    expect(pg.image).toBe('postgres:16-alpine');
    expect(pg.environment).toEqual({ POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: 's3cret', POSTGRES_DB: 'app', PGDATA: '/var/lib/postgresql/data/pgdata' });
    expect(pg.deploy.restart_policy.condition).toBe('any');
    expect(pg.ports).toEqual([{ target: 5432, published: 5432, protocol: 'tcp', mode: 'ingress', host_ip: '127.0.0.1' }]);
    expect(pg.volumes).toEqual([
      { type: 'volume', source: 'pgdata', target: '/var/lib/postgresql/data', read_only: false },
      { type: 'bind', source: join(dir, 'init'), target: '/docker-entrypoint-initdb.d', read_only: true },
    ]);
    expect(pg.healthcheck).toEqual({ test: ['CMD-SHELL', 'pg_isready -U ${POSTGRES_USER:-postgres}'], interval: '10s', timeout: '5s', retries: 5, start_period: '30s' });
    const admin = stack.services.pgadmin;
    expect(admin.environment.PGADMIN_DEFAULT_EMAIL).toBe('ops@example.com');
    expect(admin.depends_on).toEqual({ postgres: { condition: 'service_healthy', required: true } });
    expect(stack.networks).toEqual({ backend: { driver: 'bridge', external: false, labels: {}, driver_opts: {} } });
    expect(Object.keys(stack.volumes)).toEqual(['pgdata', 'pgadmin']);
  });

  it('the shell environment wins over its .env; a missing required variable fails', () => {
    const { stack } = loadStackFiles([join(dir, 'stack.yml')], { env: { POSTGRES_PASSWORD: 'shell', POSTGRES_VERSION: '15' }, projectName: 'db' });
    expect(stack.name).toBe('db');
    expect(stack.services.postgres.environment.POSTGRES_PASSWORD).toBe('shell');
    expect(stack.services.postgres.image).toBe('postgres:15-alpine');
    const text = 'services:\n  db:\n    image: x\n    environment:\n      PW: ${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}\n';
    expect(() => parseStack([{ path: 'other/stack.yml', text }], { env: {}, readFile: memReadFile({}), cwd: '/' })).toThrow(TsswarmError);
  });
});

describe('loadStackFiles (node:fs)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tsswarm-stack-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('reads the files, .env beside the first and env_file relative to it', () => {
    const dir = join(tmp, 'My_Project');
    mkdirSync(join(dir, 'env'), { recursive: true });
    writeFileSync(join(dir, 'compose.yaml'), 'services:\n  web:\n    image: nginx:${TAG}\n    env_file: env/web.env\n');
    writeFileSync(join(dir, 'prod.yml'), 'services:\n  web:\n    deploy: {replicas: 3}\n');
    writeFileSync(join(dir, '.env'), 'TAG=1.25\n');
    writeFileSync(join(dir, 'env', 'web.env'), 'MODE=prod\n');
    const { stack } = loadStackFiles(['compose.yaml', 'prod.yml'], { env: {}, cwd: dir });
    expect(stack.name).toBe('my_project');
    expect(stack.services.web).toMatchObject({ image: 'nginx:1.25', environment: { MODE: 'prod' }, deploy: { replicas: 3 } });
    // no -c: compose.yaml in the current directory
    expect(loadStackFiles([], { env: {}, cwd: dir }).stack.services.web.image).toBe('nginx:1.25');
  });

  it('a missing file is a STACK_INVALID error naming it', () => {
    try {
      loadStackFiles(['nope.yml'], { env: {}, cwd: tmp });
      expect.unreachable();
    } catch (e) {
      expect((e as TsswarmError).code).toBe(ErrorCodes.STACK_INVALID);
      expect((e as TsswarmError).details).toEqual([{ file: 'nope.yml', message: 'no such file' }]);
    }
    expect(() => loadStackFiles([], { env: {}, cwd: tmp })).toThrow('no stack file given');
  });
});

describe('stackToYaml', () => {
  const roundTrip = (yaml: string, env: Record<string, string> = {}) => {
    const first = parse(yaml, { env }).stack;
    const text = stackToYaml(first);
    const second = parse(text).stack;
    expect(second).toEqual(first);
    expect(parse(text).warnings).toEqual([]);
    return text;
  };

  it('round-trips a stack using every feature', () => {
    const text = roundTrip(`
name: full
x-top: {note: "costs $$5"}
services:
  api:
    image: registry.local/api:\${TAG:-1}
    command: ["node", "server.js", "--greeting=$$HOME"]
    entrypoint: /bin/sh -c
    environment: {A: "1", PRICE: "$$9", EMPTY: ""}
    labels: {l: v}
    user: "1000"
    working_dir: /app
    init: true
    stop_signal: SIGTERM
    stop_grace_period: 1m30s
    hostname: api
    ports: ["127.0.0.1:8080:80", "53/udp", {target: 9000, published: 9000, mode: host}]
    volumes: [data:/data, ./html:/html:ro, /anon, {type: tmpfs, target: /tmp}]
    networks: {front: {aliases: [api.local]}}
    healthcheck: {test: curl -f localhost, interval: 5s, retries: 2}
    depends_on: {db: {condition: service_healthy, required: false}}
    x-meta: {owner: me}
    deploy:
      replicas: 3
      labels: {s: l}
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 4, window: 1m}
      placement: {constraints: [node.role==worker], preferences: [{spread: node.labels.az}], max_replicas_per_node: 2}
      resources: {limits: {cpus: 1.5, memory: 1g}, reservations: {memory: 256M}}
      update_config: {parallelism: 2, delay: 5s, order: start-first, monitor: 10s, max_failure_ratio: 0.2, failure_action: rollback}
      rollback_config: {parallelism: 0}
  db:
    image: postgres
    healthcheck: {disable: true}
    deploy: {mode: global}
networks:
  front: {driver: overlay, attachable: true, labels: {a: b}}
  ext: {external: true, name: shared-net}
volumes:
  data: {driver_opts: {type: none}}
`);
    expect(text.split('\n').slice(0, 2)).toEqual(['name: full', 'services:']);
    expect(text).toContain('PRICE: $$9');
    expect(text.indexOf('\n  api:')).toBeLessThan(text.indexOf('\n  db:'));
  });

  it('round-trips the fixture and is stable', () => {
    const { stack } = loadStackFiles([join(here, 'fixtures', 'postgres', 'stack.yml')], { env: {} });
    const text = stackToYaml(stack);
    const again = parseStack([{ path: '/x/stack.yml', text }], { env: {}, readFile: memReadFile({}) }).stack;
    expect(again).toEqual(stack);
    expect(stackToYaml(again)).toBe(text);
  });

  it('sorts keys whatever the input order', () => {
    const a = stackToYaml(parse('services:\n  b: {image: x}\n  a: {image: y, environment: {Z: "1", A: "2"}}\n').stack);
    expect(a.indexOf('\n  a:')).toBeLessThan(a.indexOf('\n  b:'));
    expect(a.indexOf('A: "2"')).toBeLessThan(a.indexOf('Z: "1"'));
  });
});
