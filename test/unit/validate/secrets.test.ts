// The shared validator on secrets and configs as a client sends them: service references
// (names, targets, ids, modes), the values a deploy carries (names, base64, bounds, labels),
// and `secret create` bodies. No message quotes a value.

import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../../common/api/limits.js';
import { base64Size, checkObjectData, validateDeployObjects, validateObjectRequest, validateServiceSpec } from '../../../common/api/validate.js';
import { defaultDeploy, type ServiceSpec } from '../../../common/spec.js';

const spec = (over: Partial<ServiceSpec>): ServiceSpec => ({
  image: 'nginx', environment: {}, labels: {}, ports: [], volumes: [], networks: {}, depends_on: {}, deploy: defaultDeploy(), ...over,
});
const ref = (over: Record<string, unknown> = {}) => ({ source: 's', target: 't', uid: '0', gid: '0', mode: 0o444, ...over });
const fields = (errors: { field?: string }[]) => errors.map((e) => e.field);

describe('service references', () => {
  it('accepts the long form with a resolved id and revision', () => {
    expect(validateServiceSpec(spec({ secrets: [ref({ id: 'abc', revision: 3 })], configs: [ref({ target: '/etc/x' })] })).errors).toEqual([]);
  });

  it.each<[Record<string, unknown>, string]>([
    [{ target: '../x' }, 'secrets[0].target'],
    [{ target: 'a/../../x' }, 'secrets[0].target'],
    [{ target: 'x\0y' }, 'secrets[0].target'],
    [{ target: 'x'.repeat(5000) }, 'secrets[0].target'],
    [{ target: '' }, 'secrets[0].target'],
    [{ source: 'a/b' }, 'secrets[0].source'],
    [{ uid: '-1' }, 'secrets[0].uid'],
    [{ gid: '99999999999' }, 'secrets[0].gid'],
    [{ mode: 0o1000 }, 'secrets[0].mode'],
    [{ mode: -1 }, 'secrets[0].mode'],
    [{ revision: 0 }, 'secrets[0].revision'],
    [{ extra: 1 }, 'secrets[0].extra'],
  ])('refuses %j', (over, field) => {
    expect(fields(validateServiceSpec(spec({ secrets: [ref(over)] })).errors)).toContain(field);
  });

  it('a config target is an absolute path; no two files at one path', () => {
    expect(fields(validateServiceSpec(spec({ configs: [ref({ target: 'rel' })] })).errors)).toEqual(['configs[0].target']);
    expect(fields(validateServiceSpec(spec({ secrets: [ref({ target: 'a' })], configs: [ref({ target: '/run/secrets/a' })] })).errors)).toEqual(['configs[0].target']);
  });

  it('an environment value is never quoted in an error', () => {
    const r = validateServiceSpec(spec({ environment: { PW: 1234567 as unknown as string } }));
    expect(r.errors).toEqual([{ field: 'environment.PW', message: 'must be a string, got a value not shown' }]);
  });
});

describe('values a deploy or a create carries', () => {
  const b64 = (n: number) => Buffer.alloc(n, 7).toString('base64');

  it('bounds: 1 byte to LIMITS.secretBytes, strict base64', () => {
    expect(checkObjectData('secret', b64(1))).toBeUndefined();
    expect(checkObjectData('secret', b64(LIMITS.secretBytes))).toBeUndefined();
    expect(checkObjectData('secret', b64(LIMITS.secretBytes + 1))).toMatch(/512001 bytes; a secret holds at most 512000/);
    expect(checkObjectData('secret', b64(LIMITS.secretBytes + 3))).toMatch(/over 512000 bytes/);
    expect(checkObjectData('config', b64(LIMITS.configBytes + 1))).toMatch(/a config holds at most/);
    expect(checkObjectData('secret', '')).toMatch(/empty/);
    expect(checkObjectData('secret', 'abc')).toMatch(/base64/);
    expect(checkObjectData('secret', 'ab c')).toMatch(/base64/);
    expect(checkObjectData('secret', 12)).toMatch(/got number/);
    expect(base64Size(b64(10))).toBe(10);
  });

  it('deploy objects: names, shapes, external alone, labels', () => {
    expect(validateDeployObjects('secret', { a: { data: b64(3), labels: { x: 'y' } }, b: { external: true } }).errors).toEqual([]);
    expect(validateDeployObjects('secret', undefined).value).toEqual({});
    const r = validateDeployObjects('secret', {
      'a/b': { data: b64(1) }, c: { external: false }, d: { external: true, data: b64(1) }, e: { data: 'secret-text!' }, f: {}, g: 5,
      h: { data: b64(1), labels: { k: 1 } }, i: { data: b64(1), other: 1 },
    });
    expect(fields(r.errors)).toEqual(['secrets.a/b', 'secrets.c.external', 'secrets.d.data', 'secrets.e.data', 'secrets.f.data', 'secrets.g', 'secrets.h.labels.k', 'secrets.i.other']);
    expect(JSON.stringify(r.errors)).not.toContain('secret-text');
    expect(fields(validateDeployObjects('config', [1]).errors)).toEqual(['configs']);
  });

  it('create bodies', () => {
    expect(validateObjectRequest('secret', { name: 'ok', data: b64(2) }, true)).toEqual([]);
    expect(fields(validateObjectRequest('secret', { name: '..', data: b64(2) }, true))).toEqual(['name']);
    expect(fields(validateObjectRequest('secret', { data: b64(2) }, true))).toEqual(['name']);
    expect(fields(validateObjectRequest('secret', { data: 'x' }, false))).toEqual(['data']);
  });
});
