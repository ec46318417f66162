// `build:` in every Compose form -> the normalised BuildSpec; the image name derived when none is
// given; errors at file:line:col; what the engine's classic builder cannot do, said with why.
import { describe, expect, it } from 'vitest';
import { parseStack, stackToYaml } from '../../../common/stack/index.js';
import { validateStack } from '../../../common/api/validate.js';
import { builtImageName } from '../../../common/spec.js';
import { CWD, memReadFile, parse, parseErrors } from './helpers.js';

const stack = (body: string, extra = '') => `services:\n  web:\n${body.trim().split('\n').map((l) => `    ${l}`).join('\n')}\n${extra}`;
const web = (yaml: string, env: Record<string, string> = {}) => parse(yaml, { env }).stack.services.web;

describe('build: forms -> the normalised spec', () => {
  it('a string is the context, resolved against the stack file\'s folder; the image is <stack>-<service>', () => {
    const { stack: s, warnings } = parse(stack('build: ./web'), { projectName: 'shop' });
    expect(s.services.web.build).toEqual({ context: `${CWD}/web` });
    expect(s.services.web.image).toBe('shop-web');
    expect(warnings).toEqual([]);
  });

  it('the derived name follows the stack name (the folder by default) and is lowercase', () => {
    expect(web('services:\n  Web.Api:\n    build: .\n'.replace('services:\n  Web.Api', 'services:\n  web'))).toMatchObject({ image: 'app-web', build: { context: CWD } });
    expect(parse('services:\n  Api:\n    build: .\n').stack.services.Api.image).toBe('app-api');
    expect(builtImageName('shop', 'Front.End')).toBe('shop-front.end');
  });

  it('with image: the built image gets that name', () => {
    expect(web(stack('image: registry.local:5000/shop/web:2\nbuild: {context: .}'))).toMatchObject({ image: 'registry.local:5000/shop/web:2', build: { context: CWD } });
  });

  it('every key of the long form', () => {
    const yaml = stack(`
build:
  context: ../src
  dockerfile: docker/Dockerfile.prod
  args: {VERSION: "1.2", COMMIT: 42, FROM_ENV: null}
  target: runtime
  labels: [com.example.team=web]
  network: host
  extra_hosts: ["db.local:10.0.0.5", "cache=10.0.0.6"]
  cache_from: [shop-web:cache]
  tags: [shop/web:1.2]
  shm_size: 256m
  no_cache: true
  pull: yes
  x-note: kept out`);
    const b = web(yaml, { FROM_ENV: 'env!' }).build;
    expect(b).toEqual({
      context: '/proj/src',
      dockerfile: 'docker/Dockerfile.prod',
      args: { VERSION: '1.2', COMMIT: '42', FROM_ENV: 'env!' },
      target: 'runtime',
      labels: { 'com.example.team': 'web' },
      network: 'host',
      extra_hosts: ['db.local:10.0.0.5', 'cache:10.0.0.6'],
      cache_from: ['shop-web:cache'],
      tags: ['shop/web:1.2'],
      shm_size: 256 * 1024 * 1024,
      no_cache: true,
      pull: true,
    });
  });

  it('args as a list; a key without a value takes the environment\'s, or is left out', () => {
    expect(web(stack('build:\n  context: .\n  args: [A=1, B, C, "D="]'), { B: 'b' }).build?.args).toEqual({ A: '1', B: 'b', D: '' });
  });

  it('dockerfile_inline, an absolute context, a URL context', () => {
    expect(web(stack('build:\n  context: /srv/app\n  dockerfile_inline: |\n    FROM tsswarm/busybox\n    CMD ["true"]')).build).toEqual({ context: '/srv/app', dockerfile_inline: 'FROM tsswarm/busybox\nCMD ["true"]\n' });
    expect(web(stack('build: https://github.com/example/app.git#main')).build).toEqual({ context: 'https://github.com/example/app.git#main' });
  });

  it('no context in the mapping: the stack file\'s folder', () => {
    expect(web(stack('build: {dockerfile: Dockerfile.dev}')).build).toEqual({ context: CWD, dockerfile: 'Dockerfile.dev' });
  });

  it('secrets (top-level secrets, short and long form) and ssh are read; the build refuses them later, saying why', () => {
    const yaml = stack('build:\n  context: .\n  secrets: [npm, {source: npm, target: token}]\n  ssh: [default, "gh=/home/me/.ssh/id"]', 'secrets:\n  npm: {file: ./npm.txt}\n');
    const { stack: s } = parse(yaml, { files: { '/proj/app/npm.txt': 't0k3n' } });
    expect(s.services.web.build).toMatchObject({ secrets: ['npm', 'npm'], ssh: ['default', 'gh=/home/me/.ssh/id'] });
    expect(web(stack('build:\n  ssh: {default: null, gh: /k}'))?.build?.ssh).toEqual(['default', 'gh=/k']);
  });

  it('keys that need BuildKit warn with the reason; additional_contexts is an error', () => {
    const { warnings } = parse(stack('build:\n  context: .\n  platforms: [linux/arm64]\n  cache_to: [type=local]\n  wat: 1'));
    expect(warnings).toEqual([
      { file: 'stack.yml', line: 5, col: 7, field: 'services.web.build.platforms', message: expect.stringContaining('needs BuildKit') },
      { file: 'stack.yml', line: 6, col: 7, field: 'services.web.build.cache_to', message: expect.stringContaining('needs BuildKit') },
      { file: 'stack.yml', line: 7, col: 7, field: 'services.web.build.wat', message: 'unknown build key wat; ignored' },
    ]);
    expect(parseErrors(stack('build:\n  context: .\n  additional_contexts: {a: ./a}'))).toEqual([
      { file: 'stack.yml', line: 5, col: 7, field: 'services.web.build.additional_contexts', message: expect.stringContaining('needs BuildKit') },
    ]);
  });

  it('tsswarm config prints the build section, and the output parses again to the same stack', () => {
    const first = parse(stack('build:\n  context: ./web\n  args: {V: "$$HOME"}'));
    const yaml = stackToYaml(first.stack);
    expect(yaml).toContain('build:');
    expect(yaml).toContain(`context: ${CWD}/web`);
    const again = parseStack([{ path: 'out.yml', text: yaml }], { env: {}, readFile: memReadFile({}), cwd: CWD });
    expect(again.stack).toEqual(first.stack);
  });

  it('several files: a later build mapping merges into an earlier string; args merge as a map', () => {
    const s = parse([
      { path: 'stack.yml', text: stack('build: ./web') },
      { path: 'override.yml', text: 'services:\n  web:\n    build:\n      args: {A: "1"}\n' },
      { path: 'more.yml', text: 'services:\n  web:\n    build:\n      args: [B=2]\n      target: dev\n' },
    ]).stack.services.web;
    expect(s.build).toEqual({ context: `${CWD}/web`, args: { A: '1', B: '2' }, target: 'dev' });
  });
});

describe('build: errors name file:line:col', () => {
  it.each([
    ['build: ""', 3, 12, 'services.web.build', 'must not be empty'],
    ['build: 42', 3, 12, 'services.web.build', 'must be a mapping'],
    ['build:\n  context: [a]', 4, 16, 'services.web.build.context', 'must be a string'],
    ['build:\n  no_cache: maybe', 4, 17, 'services.web.build.no_cache', 'must be a boolean'],
    ['build:\n  shm_size: lots', 4, 17, 'services.web.build.shm_size', 'must be a size'],
    ['build:\n  args: ["=x"]', 4, 14, 'services.web.build.args[0]', 'must be KEY=VALUE or KEY'],
    ['build:\n  secrets: [nope]', 4, 17, 'services.web.build.secrets[0]', 'secret nope is not declared'],
    ['build:\n  tags: ["Bad Name"]', 4, 14, 'services.web.build.tags[0]', 'invalid image reference'],
    ['build:\n  cache_from: ["a b"]', 4, 20, 'services.web.build.cache_from[0]', 'invalid image reference'],
    ['build:\n  extra_hosts: ["db:not-an-ip"]', 4, 21, 'services.web.build.extra_hosts[0]', 'invalid extra host'],
    ['build:\n  dockerfile: a\n  dockerfile_inline: "FROM x"', undefined, undefined, 'services.web.build.dockerfile_inline', 'not both'],
  ])('%s', (body, line, col, field, message) => {
    const errs = parseErrors(stack(body));
    expect(errs).toEqual([expect.objectContaining({ field, message: expect.stringContaining(message), ...(line ? { file: 'stack.yml', line, col } : {}) })]);
  });

  it('no image and no build: says how to give one', () => {
    expect(parseErrors('services:\n  web:\n    init: true\n')).toEqual([
      { file: 'stack.yml', line: 2, col: 3, field: 'services.web.image', message: 'service web has no image: give image: (or build: to build one)' },
    ]);
  });

  it('a derived name that is not a valid image name is an error on the service', () => {
    const errs = parseErrors('services:\n  web-:\n    build: .\n');
    expect(errs).toEqual([expect.objectContaining({ field: 'services.web-.image', message: expect.stringContaining('invalid image reference "app-web-"') })]);
  });
});

describe('image_id: the API validates the pin', () => {
  const base = () => parse(stack('build: .')).stack;
  it('accepts sha256:<64 hex>', () => {
    const s = base();
    s.services.web.image_id = `sha256:${'a'.repeat(64)}`;
    expect(validateStack(s).errors).toEqual([]);
  });
  it.each(['sha256:abc', `sha256:${'A'.repeat(64)}`, `md5:${'a'.repeat(64)}`, `${'a'.repeat(71)}`])('refuses %s', (id) => {
    const s = base();
    s.services.web.image_id = id;
    expect(validateStack(s).errors).toEqual([expect.objectContaining({ field: 'services.web.image_id' })]);
  });
  it('a relative context is refused by the API (the parser makes it absolute)', () => {
    const s = base();
    s.services.web.build = { context: 'web' };
    expect(validateStack(s).errors).toEqual([expect.objectContaining({ field: 'services.web.build.context', message: expect.stringContaining('absolute') })]);
  });
});
