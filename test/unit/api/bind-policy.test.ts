// The cluster's allowedBindPaths: absent, any host path may be bound (as before); set, a deploy
// or an update whose bind mount's source is outside the list is refused, naming the mount.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultClusterSpec, MAX_ALLOWED_BIND_PATHS, patchClusterSpec } from '../../../common/api/objects.js';
import type { MountSpec } from '../../../common/spec.js';
import { harness, serviceSpec, stackSpec, type Harness } from './harness.js';

let h: Harness;
beforeEach(async () => { h = await harness(); });
afterEach(async () => { await h.close(); });

const bind = (source: string, target = '/data'): MountSpec => ({ type: 'bind', source, target, read_only: false });
const deploy = (name: string, ...sources: string[]) => h.app.inject({
  method: 'POST', url: '/v1/stacks/deploy',
  payload: { stack: stackSpec(name, { web: serviceSpec({ volumes: sources.map((s, i) => bind(s, `/m${i}`)) }) }) },
});
const setPolicy = (allowedBindPaths: string[] | null) => h.app.inject({ method: 'POST', url: '/v1/cluster/update', payload: { spec: { allowedBindPaths } } });

describe('allowedBindPaths', () => {
  it('absent: any host path may be bound', async () => {
    const r = await deploy('free', '/etc', '/srv/data');
    expect(r.statusCode, r.body).toBe(200);
  });

  it('set: binds outside the list are refused naming the mount, nothing written; inside are deployed', async () => {
    const set = await setPolicy(['/srv/data/', '/var//log']);
    expect(set.statusCode, set.body).toBe(200);
    expect(h.store.state().cluster?.spec.allowedBindPaths).toEqual(['/srv/data', '/var/log']);

    for (const outside of ['/etc', '/srv/database', '/srv', '/', '/var/logs']) {
      const before = h.snapshot();
      const r = await deploy('locked', '/srv/data/ok', outside);
      expect(r.statusCode, `${outside}: ${r.body}`).toBe(403);
      expect(r.json()).toMatchObject({ code: 'TSW_ERR_BIND_NOT_ALLOWED', details: [{ field: 'services.web.volumes[1].source' }] });
      expect(h.snapshot()).toBe(before);
    }
    // A source that climbs out of an allowed path is refused (by the policy or the validator).
    const before = h.snapshot();
    const climb = await deploy('locked', '/srv/data/../../etc');
    expect([400, 403]).toContain(climb.statusCode);
    expect(h.snapshot()).toBe(before);

    const ok = await deploy('locked', '/srv/data', '/srv/data/sub/dir', '/var/log');
    expect(ok.statusCode, ok.body).toBe(200);
  });

  it('narrowed after a deploy: updates and scaling up are refused, scaling down is not', async () => {
    expect((await deploy('app', '/srv/data')).statusCode).toBe(200);
    expect((await setPolicy(['/opt'])).statusCode).toBe(200);

    for (const req of [
      { url: '/v1/services/app_web/update', payload: { flags: { image: 'busybox:2' } } },
      { url: '/v1/services/app_web/update', payload: { flags: { force: true } } },
      { url: '/v1/services/app_web/scale', payload: { replicas: 2 } },
    ]) {
      const before = h.snapshot();
      const r = await h.app.inject({ method: 'POST', ...req });
      expect(r.statusCode, r.body).toBe(403);
      expect(r.json()).toMatchObject({ code: 'TSW_ERR_BIND_NOT_ALLOWED', details: [{ field: 'volumes[0].source' }] });
      expect(h.snapshot()).toBe(before);
    }
    // Redeploying the same stack is a deploy with that bind: refused.
    expect((await deploy('app', '/srv/data')).statusCode).toBe(403);
    // Scaling down (to stop it) is allowed.
    expect((await h.app.inject({ method: 'POST', url: '/v1/services/app_web/scale', payload: { replicas: 0 } })).statusCode).toBe(200);
    // Lifting the policy lets it run again.
    expect((await setPolicy(null)).statusCode).toBe(200);
    expect(h.store.state().cluster?.spec.allowedBindPaths).toBeUndefined();
    expect((await h.app.inject({ method: 'POST', url: '/v1/services/app_web/scale', payload: { replicas: 2 } })).statusCode).toBe(200);
  });

  it('an empty list forbids bind mounts; volumes and tmpfs are not binds', async () => {
    expect((await setPolicy([])).statusCode).toBe(200);
    expect((await deploy('none', '/srv/data')).statusCode).toBe(403);
    const r = await h.app.inject({
      method: 'POST', url: '/v1/stacks/deploy',
      payload: { stack: stackSpec('vols', { web: serviceSpec({ volumes: [{ type: 'tmpfs', target: '/tmp', read_only: false }] }) }) },
    });
    expect(r.statusCode, r.body).toBe(200);
  });
});

describe('patchClusterSpec: allowedBindPaths', () => {
  const bad = (v: unknown) => () => patchClusterSpec(defaultClusterSpec(), { allowedBindPaths: v });
  it('takes absolute paths, normalised; null removes the setting', () => {
    expect(patchClusterSpec(defaultClusterSpec(), { allowedBindPaths: ['/a/b/', '/c//d', '/'] }).allowedBindPaths).toEqual(['/a/b', '/c/d', '/']);
    expect(patchClusterSpec({ ...defaultClusterSpec(), allowedBindPaths: ['/a'] }, { allowedBindPaths: null })).toEqual(defaultClusterSpec());
  });
  it('refuses anything else, naming the entry', () => {
    for (const [v, field] of [
      ['/srv', 'spec.allowedBindPaths'], [['relative'], 'spec.allowedBindPaths[0]'], [['/ok', '/a/../etc'], 'spec.allowedBindPaths[1]'],
      [['/ok', 7], 'spec.allowedBindPaths[1]'], [['/a\u0000b'], 'spec.allowedBindPaths[0]'], [[`/${'x'.repeat(5000)}`], 'spec.allowedBindPaths[0]'],
      [Array.from({ length: MAX_ALLOWED_BIND_PATHS + 1 }, (_, i) => `/p${i}`), 'spec.allowedBindPaths'],
    ] as const) {
      expect(bad(v), JSON.stringify(v).slice(0, 60)).toThrow(expect.objectContaining({ code: 'TSW_ERR_INVALID_ARGUMENT', details: [expect.objectContaining({ field })] }));
    }
  });
});
