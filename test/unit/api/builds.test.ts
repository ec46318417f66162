import { describe, expect, it } from 'vitest';
import { checkBuildRequest } from '../../../common/api/builds.js';
import { TsswarmError } from '../../../common/errors.js';
import { parseBuild, parseDeploy } from '../../../cli/commands/stack.js';

const ok = { node: 'w1', service: 'web', image: 'shop-web', dockerfile: 'Dockerfile' };

function fields(body: unknown): string[] {
  try {
    checkBuildRequest(body);
  } catch (e) {
    expect(e).toBeInstanceOf(TsswarmError);
    expect((e as TsswarmError).code).toBe('TSW_ERR_INVALID_ARGUMENT');
    return (e as TsswarmError).details.map((d) => d.field ?? '');
  }
  return [];
}

describe('build request validation (POST /v1/builds)', () => {
  it('takes a minimal request and every option', () => {
    expect(checkBuildRequest(ok)).toEqual(ok);
    const full = {
      ...ok, tags: ['shop-web:1', 'reg.local/shop/web:latest'], args: { A: '1', EMPTY: '' }, labels: { 'x.y': 'z' }, target: 'prod',
      network: 'host', extraHosts: ['db:10.0.0.1', 'cache=10.0.0.2'], cacheFrom: ['type=local,src=/tmp/c'], shmSize: 1 << 20, noCache: true, pull: false,
    };
    expect(checkBuildRequest(full)).toEqual(full);
    expect(checkBuildRequest({ ...ok, remote: 'https://github.com/x/y.git#main' }).remote).toBe('https://github.com/x/y.git#main');
  });

  it('names each missing or bad field', () => {
    expect(fields({})).toEqual(['body.node', 'body.service', 'body.image', 'body.dockerfile']);
    expect(fields({ ...ok, image: 'Bad Image!' })).toEqual(['body.image']);
    expect(fields({ ...ok, dockerfile: '../Dockerfile' })).toEqual(['body.dockerfile']);
    expect(fields({ ...ok, dockerfile: '/etc/passwd' })).toEqual(['body.dockerfile']);
    expect(fields({ ...ok, remote: 'file:///etc' })).toEqual(['body.remote']);
    expect(fields({ ...ok, tags: ['ok', 'not ok'] })).toEqual(['body.tags[1]']);
    expect(fields({ ...ok, tags: 'x' })).toEqual(['body.tags']);
    expect(fields({ ...ok, args: { 'A=B': '1' } })).toEqual(['body.args.A=B']);
    expect(fields({ ...ok, args: { A: 1 } })).toEqual(['body.args.A']);
    expect(fields({ ...ok, labels: ['x'] })).toEqual(['body.labels']);
    expect(fields({ ...ok, extraHosts: ['nohost'] })).toEqual(['body.extraHosts[0]']);
    expect(fields({ ...ok, shmSize: -1 })).toEqual(['body.shmSize']);
    expect(fields({ ...ok, shmSize: 1.5 })).toEqual(['body.shmSize']);
    expect(fields({ ...ok, noCache: 'yes' })).toEqual(['body.noCache']);
    expect(fields({ ...ok, node: '' })).toEqual(['body.node']);
    expect(fields({ ...ok, service: 'a\nb' })).toEqual(['body.service']);
    expect(fields({ ...ok, surprise: 1 })).toEqual(['body.surprise']);
    expect(fields([ok])).toEqual(['body']);
    expect(fields(null)).toEqual(['body']);
  });

  it('bounds lists and maps', () => {
    expect(fields({ ...ok, tags: Array.from({ length: 257 }, (_, i) => `t${i}`) })).toEqual(['body.tags']);
    expect(fields({ ...ok, args: Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`A${i}`, ''])) })).toEqual(['body.args']);
    expect(fields({ ...ok, args: { A: 'x'.repeat(4097) } })).toEqual(['body.args.A']);
  });

  it('the message names the field', () => {
    expect(() => checkBuildRequest({ ...ok, dockerfile: '../x' })).toThrow(/body\.dockerfile: a path inside the context/);
  });
});

describe('--builder-node', () => {
  it('deploy and build take it', () => {
    const d = parseDeploy(['-c', 'x.yml', '--builder-node', 'w1']);
    expect(d.cmd === 'deploy' && d.builderNode).toBe('w1');
    const b = parseBuild(['--builder-node', 'w1', 'web']);
    expect(b.cmd === 'build' && b.builderNode).toBe('w1');
    expect(b.cmd === 'build' && b.services).toEqual(['web']);
    expect(b.cmd === 'build' && b.host).toBeDefined();
  });
  it('an empty NODE is a usage error', () => {
    expect(() => parseDeploy(['-c', 'x.yml', '--builder-node', ''])).toThrow(/--builder-node needs a NODE/);
  });
});
