import { describe, expect, it } from 'vitest';
import { parseStack, stackToYaml, type LoadOptions } from '../../../common/compose/index.js';
import { interpolate } from '../../../common/compose/interpolate.js';
import { parseDotenv } from '../../../common/compose/dotenv.js';
import { parseShortPort, shellSplit } from '../../../common/compose/normalize.js';
import type { TsswarmError } from '../../../common/errors.js';

const files: Record<string, string> = {};
const opts = (env: Record<string, string> = {}, extra: Partial<LoadOptions> = {}): LoadOptions => ({
  env,
  readFile: (p) => { if (p in files) return files[p]; throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' }); },
  ...extra,
});
const parse = (text: string, env: Record<string, string> = {}, path = '/proj/app/stack.yml') => parseStack([{ path, text }], opts(env));
const svc = (text: string, env?: Record<string, string>) => parse(`services:\n  s:\n    image: busybox\n${text.replace(/^/gm, '    ')}\n`, env).stack.services.s;
const fail = (text: string, env: Record<string, string> = {}): TsswarmError => {
  try { parse(text, env); } catch (e) { return e as TsswarmError; }
  throw new Error('expected a failure');
};

describe('interpolation', () => {
  const env: Record<string, string> = { A: 'a', EMPTY: '' };
  const look = (n: string) => env[n];
  it.each([
    ['$A', 'a'], ['${A}', 'a'], ['x${A}y', 'xay'], ['$$A', '$A'], ['$$', '$'],
    ['${B:-def}', 'def'], ['${EMPTY:-def}', 'def'], ['${EMPTY-def}', ''], ['${B-def}', 'def'], ['${A:-def}', 'a'],
    ['${A:+rep}', 'rep'], ['${EMPTY:+rep}', ''], ['${EMPTY+rep}', 'rep'], ['${B+rep}', ''],
    ['${B:-${A}}', 'a'], ['${B:-x-${C:-y}}', 'x-y'], ['price $5', 'price $5'],
  ])('%s -> %s', (input, out) => {
    const r = interpolate(input, look);
    expect(r.errors).toEqual([]);
    expect(r.value).toBe(out);
  });
  it('reports missing variables and required ones', () => {
    expect(interpolate('${NOPE}', look).missing).toEqual(['NOPE']);
    expect(interpolate('${NOPE:?set it please}', look).errors[0]).toMatch(/NOPE.*set it please/);
    expect(interpolate('${EMPTY:?x}', look).errors[0]).toMatch(/EMPTY is empty/);
    expect(interpolate('${EMPTY?x}', look).errors).toEqual([]);
  });
});

describe('.env and environment', () => {
  it('parses the .env format', () => {
    const r = parseDotenv('# c\nA=1\nexport B=two\nC="x\\ny"\nD=\'$lit\'\nE=v # comment\nBAD KEY=1\n');
    expect(r.values).toEqual({ A: '1', B: 'two', C: 'x\ny', D: '$lit', E: 'v' });
    expect(r.errors).toEqual([{ line: 7, message: 'invalid variable name "BAD KEY"' }]);
  });
  it('reads .env beside the first file; the process environment wins', () => {
    files['/proj/app/.env'] = 'TAG=fromfile\nPORT=81\n';
    try {
      const s = parse('services:\n  s:\n    image: busybox:${TAG}\n    ports: ["${PORT}:80"]\n', { PORT: '82' }).stack.services.s;
      expect(s.image).toBe('busybox:fromfile');
      expect(s.ports[0].published).toBe(82);
    } finally { delete files['/proj/app/.env']; }
  });
  it('takes environment as a list or a map, and env_file', () => {
    files['/proj/app/common.env'] = 'X=1\nY=2\n';
    try {
      expect(svc('environment: [A=1, "B=x=y", FROM_ENV, UNSET]', { FROM_ENV: 'e' }).environment).toEqual({ A: '1', B: 'x=y', FROM_ENV: 'e' });
      expect(svc('environment: {A: 1, B: true, C: null}').environment).toEqual({ A: '1', B: 'true' });
      expect(svc('env_file: common.env\nenvironment: {Y: over}').environment).toEqual({ X: '1', Y: 'over' });
      expect(svc('env_file: [{path: missing.env, required: false}]').environment).toEqual({});
    } finally { delete files['/proj/app/common.env']; }
  });
  it('warns about unset variables with their position', () => {
    const r = parse('services:\n  s:\n    image: busybox:${NOTSET}\n');
    expect(r.warnings).toEqual([expect.objectContaining({ line: 3, col: 12, message: expect.stringContaining('NOTSET') })]);
  });
});

describe('service fields', () => {
  it('splits string commands like a shell and keeps lists', () => {
    expect(svc('command: sh -c "echo hi there"').command).toEqual(['sh', '-c', 'echo hi there']);
    expect(svc('entrypoint: ["/bin/sh", "-c"]').entrypoint).toEqual(['/bin/sh', '-c']);
    expect(shellSplit("a 'b c' d\\ e")).toEqual(['a', 'b c', 'd e']);
  });
  it.each<[string, object[]]>([
    ['80', [{ target: 80, protocol: 'tcp', mode: 'ingress' }]],
    ['8080:80', [{ target: 80, published: 8080, protocol: 'tcp', mode: 'ingress' }]],
    ['127.0.0.1:8080:80', [{ target: 80, published: 8080, protocol: 'tcp', mode: 'ingress', host_ip: '127.0.0.1' }]],
    ['53:53/udp', [{ target: 53, published: 53, protocol: 'udp', mode: 'ingress' }]],
    ['8000-8001:80-81', [{ target: 80, published: 8000, protocol: 'tcp', mode: 'ingress' }, { target: 81, published: 8001, protocol: 'tcp', mode: 'ingress' }]],
  ])('short port %s', (p, want) => expect(parseShortPort(p)).toEqual(want));
  it('long port syntax with host mode', () => {
    expect(svc('ports: [{target: 80, published: "8080", protocol: udp, mode: host, host_ip: 127.0.0.1}]').ports)
      .toEqual([{ target: 80, published: 8080, protocol: 'udp', mode: 'host', host_ip: '127.0.0.1' }]);
  });
  it('volumes: named, bind (relative to the file), read-only, anonymous, long syntax', () => {
    const s = parse(`services:
  s:
    image: busybox
    volumes:
      - data:/data
      - ./conf:/etc/conf:ro
      - /abs:/abs
      - /anon
      - {type: tmpfs, target: /tmp}
      - {type: bind, source: ../up, target: /up, read_only: true}
volumes:
  data:
`).stack;
    expect(s.services.s.volumes).toEqual([
      { type: 'volume', source: 'data', target: '/data', read_only: false },
      { type: 'bind', source: '/proj/app/conf', target: '/etc/conf', read_only: true },
      { type: 'bind', source: '/abs', target: '/abs', read_only: false },
      { type: 'volume', target: '/anon', read_only: false },
      { type: 'tmpfs', target: '/tmp', read_only: false },
      { type: 'bind', source: '/proj/up', target: '/up', read_only: true },
    ]);
    expect(s.volumes.data).toEqual({ driver: 'local', external: false, labels: {}, driver_opts: {} });
  });
  it('networks: default when none, list, map with aliases', () => {
    const st = parse('services:\n  a: {image: x}\n  b: {image: x, networks: {front: {aliases: [web]}}}\nnetworks:\n  front: {driver: overlay, attachable: true}\n').stack;
    expect(st.services.a.networks).toEqual({ default: { aliases: [] } });
    expect(st.networks.default).toBeDefined();
    expect(st.services.b.networks).toEqual({ front: { aliases: ['web'] } });
    expect(st.networks.front).toMatchObject({ driver: 'overlay', attachable: true });
  });
  it('healthcheck forms', () => {
    expect(svc('healthcheck: {test: "curl -f localhost", interval: 90s, timeout: 1m30s, retries: 3, start_period: 500ms}').healthcheck)
      .toEqual({ test: ['CMD-SHELL', 'curl -f localhost'], interval: '1m30s', timeout: '1m30s', retries: 3, start_period: '500ms' });
    expect(svc('healthcheck: {disable: true}').healthcheck).toEqual({ disable: true });
    expect(svc('healthcheck: {test: [NONE]}').healthcheck).toEqual({ disable: true });
  });
  it('restart maps to a restart policy; deploy.restart_policy wins', () => {
    expect(svc('restart: "no"').deploy.restart_policy.condition).toBe('none');
    expect(svc('restart: unless-stopped').deploy.restart_policy.condition).toBe('any');
    expect(svc('restart: on-failure:3').deploy.restart_policy).toMatchObject({ condition: 'on-failure', max_attempts: 3 });
    expect(svc('restart: always\ndeploy: {restart_policy: {condition: none}}').deploy.restart_policy.condition).toBe('none');
  });
  it('depends_on short and long forms', () => {
    const st = parse('services:\n  db: {image: x}\n  a: {image: x, depends_on: [db]}\n  b:\n    image: x\n    depends_on:\n      db: {condition: service_healthy, required: false}\n').stack;
    expect(st.services.a.depends_on).toEqual({ db: { condition: 'service_started', required: true } });
    expect(st.services.b.depends_on).toEqual({ db: { condition: 'service_healthy', required: false } });
  });
  it('deploy section in full', () => {
    const d = svc(`deploy:
  mode: replicated
  replicas: 4
  labels: [tier=web]
  restart_policy: {condition: on-failure, delay: 2s, max_attempts: 5, window: 1m}
  placement: {constraints: [node.role==manager], preferences: [{spread: node.labels.zone}], max_replicas_per_node: 2}
  resources: {limits: {cpus: "0.5", memory: 512M}, reservations: {memory: 1g}}
  update_config: {parallelism: 2, delay: 10s, order: start-first, monitor: 30s, max_failure_ratio: 0.1, failure_action: rollback}
  rollback_config: {parallelism: 0}`).deploy;
    expect(d).toEqual({
      mode: 'replicated', replicas: 4, labels: { tier: 'web' },
      restart_policy: { condition: 'on-failure', delay: '2s', max_attempts: 5, window: '1m' },
      placement: { constraints: ['node.role==manager'], preferences: [{ spread: 'node.labels.zone' }], max_replicas_per_node: 2 },
      resources: { limits: { cpus: 0.5, memory: 512 * 1024 ** 2 }, reservations: { memory: 1024 ** 3 } },
      update_config: { parallelism: 2, delay: '10s', order: 'start-first', monitor: '30s', max_failure_ratio: 0.1, failure_action: 'rollback' },
      rollback_config: { parallelism: 0, delay: '0s', order: 'stop-first', monitor: '5s', max_failure_ratio: 0, failure_action: 'pause' },
    });
  });
  it('keeps x- extension fields, anchors and merge keys', () => {
    const st = parse(`x-common: &common
  image: busybox
  init: true
  environment: {A: "1"}
services:
  a:
    <<: *common
    x-team: ops
  b:
    <<: *common
    image: other
`).stack;
    expect(st.services.a).toMatchObject({ image: 'busybox', init: true, environment: { A: '1' }, extensions: { 'x-team': 'ops' } });
    expect(st.services.b.image).toBe('other');
  });
  it('stack name: argument, then name:, then the folder', () => {
    expect(parse('name: fromfile\nservices: {a: {image: x}}').stack.name).toBe('fromfile');
    expect(parse('services: {a: {image: x}}', {}, '/proj/My.App/stack.yml').stack.name).toBe('myapp');
    expect(parseStack([{ path: '/p/s.yml', text: 'name: n\nservices: {a: {image: x}}' }], opts({}, { projectName: 'cli' })).stack.name).toBe('cli');
  });
  it('merges several files like compose', () => {
    const r = parseStack([
      { path: '/p/a.yml', text: 'services:\n  s:\n    image: x\n    environment: [A=1]\n    ports: ["80:80"]\n' },
      { path: '/p/b.yml', text: 'services:\n  s:\n    image: y\n    environment: {B: "2"}\n    ports: ["81:81"]\n' },
    ], opts());
    expect(r.stack.services.s).toMatchObject({ image: 'y', environment: { A: '1', B: '2' } });
    expect(r.stack.services.s.ports.map((p) => p.published)).toEqual([80, 81]);
  });
});

describe('errors and warnings', () => {
  it('names file:line:col and the field of every error, all at once', () => {
    const e = fail('services:\n  web:\n    image: x\n    deploy:\n      replicas: many\n    ports: ["abc"]\n    stop_grace_period: soon\n');
    expect(e.code).toBe('TSW_ERR_STACK_INVALID');
    expect(e.details).toEqual([
      expect.objectContaining({ file: '/proj/app/stack.yml', line: 5, col: 17, field: 'services.web.deploy.replicas' }),
      expect.objectContaining({ line: 6, col: 13, field: 'services.web.ports[0]' }),
      expect.objectContaining({ line: 7, col: 24, field: 'services.web.stop_grace_period' }),
    ]);
  });
  it('reports YAML syntax errors with a position', () => {
    const e = fail('services:\n  web:\n    image: [x\n');
    expect(e.details[0]).toMatchObject({ file: '/proj/app/stack.yml', line: expect.any(Number), message: expect.stringMatching(/invalid YAML/) });
  });
  it('rejects a missing image, undefined networks/volumes/services, replicas with global, :? variables', () => {
    expect(fail('services:\n  a: {command: x}\n').details[0]).toMatchObject({ field: 'services.a.image', line: 2, col: 3 });
    expect(fail('services:\n  a: {image: x, networks: [nope]}\n').details[0].message).toMatch(/undefined network nope/);
    expect(fail('services:\n  a: {image: x, volumes: ["data:/d"]}\n').details[0].message).toMatch(/undefined volume data/);
    expect(fail('services:\n  a: {image: x, depends_on: [b]}\n').details[0].message).toMatch(/undefined service b/);
    expect(fail('services:\n  a: {image: x, deploy: {mode: global, replicas: 2}}\n').details[0].field).toBe('services.a.deploy.replicas');
    expect(fail('services:\n  a: {image: "${TAG:?set TAG}"}\n').details[0]).toMatchObject({ line: 2, message: expect.stringMatching(/TAG.*set TAG/) });
    expect(fail('services:\n  a: {image: x, deploy: {restart_policy: {condition: sometimes}}}\n').details[0].message).toMatch(/none, on-failure, any/);
  });
  it('warns about keys meaningless for a cluster, never drops them silently', () => {
    const r = parse('version: "3.8"\nservices:\n  a:\n    image: x\n    container_name: foo\n    build: .\n    frobnicate: 1\n');
    expect(r.warnings.map((w) => `${w.line}:${w.col} ${w.field}`)).toEqual(['5:5 services.a.container_name', '6:5 services.a.build', '7:5 services.a.frobnicate']);
    expect(r.warnings[0].message).toMatch(/ignored/);
  });
});

describe('stackToYaml', () => {
  it('round-trips: parsing the printed stack gives the same stack', () => {
    const { stack } = parse(`name: rt
services:
  web:
    image: busybox
    command: echo "$$HOME costs $$5"
    environment: {A: "1"}
    ports: ["127.0.0.1:8080:80", "53:53/udp"]
    volumes: [data:/data, ./c:/c:ro]
    healthcheck: {test: "true", interval: 1m30s}
    depends_on: {db: {condition: service_healthy}}
    deploy: {replicas: 3, resources: {limits: {memory: 1g}}}
    x-note: hi
  db: {image: postgres, restart: unless-stopped}
volumes: {data: {}}
`);
    const again = parseStack([{ path: '/proj/app/out.yml', text: stackToYaml(stack) }], opts()).stack;
    expect(again).toEqual(stack);
    expect(stack.services.web.command).toEqual(['echo', '$HOME costs $5']);
  });
});
