import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServiceView } from '../../../common/api/types.js';
import { defaultDeploy } from '../../../common/spec.js';
import { harness, serviceSpec, stackSpec, type Harness } from './harness.js';

describe('the API and jobs / depends_on', () => {
  let h: Harness;
  beforeEach(async () => { h = await harness(); });
  afterEach(async () => { await h.close(); });

  const deploy = (stack: unknown) => h.app.inject({ method: 'POST', url: '/v1/stacks/deploy', payload: { stack } });

  it('shows a job\'s completions and what a service waits for', async () => {
    const job = serviceSpec({ deploy: { ...defaultDeploy(), mode: 'replicated-job', replicas: 3, 'x-max-concurrent': 1 } });
    const app = serviceSpec({ depends_on: { mig: { condition: 'service_completed_successfully', required: true } } });
    const r = await deploy(stackSpec('st', { mig: job, app }));
    expect(r.statusCode, r.body).toBe(200);
    const svcs = (await h.app.inject({ method: 'GET', url: '/v1/services' })).json<ServiceView[]>();
    expect(svcs.find((s) => s.name === 'st_mig')).toMatchObject({ desired: 3, completed: 0 });
    expect(svcs.find((s) => s.name === 'st_app')?.waiting).toEqual([{ message: 'waiting for mig to complete successfully' }]);
    expect((await h.app.inject({ method: 'GET', url: '/v1/services/st_app' })).json<ServiceView>().waiting).toHaveLength(1);
  });

  it('refuses x-max-concurrent outside a replicated-job, and an unknown mode, naming the field', async () => {
    const bad = serviceSpec({ deploy: { ...defaultDeploy(), 'x-max-concurrent': 2 } });
    const r = await deploy(stackSpec('st', { web: bad }));
    expect(r.statusCode).toBe(400);
    expect(r.json<{ details: { field: string }[] }>().details.map((d) => d.field)).toContain('services.web.deploy.x-max-concurrent');
    const worse = serviceSpec({ deploy: { ...defaultDeploy(), mode: 'cron' as 'global' } });
    const r2 = await deploy(stackSpec('st', { web: worse }));
    expect(r2.statusCode).toBe(400);
    expect(r2.json<{ details: { field: string }[] }>().details.map((d) => d.field)).toContain('services.web.deploy.mode');
  });

  it('scale: a replicated-job\'s total completions may change, a global-job has none', async () => {
    await deploy(stackSpec('st', {
      a: serviceSpec({ deploy: { ...defaultDeploy(), mode: 'replicated-job' } }),
      b: serviceSpec({ deploy: { ...defaultDeploy(), mode: 'global-job' } }),
    }));
    expect((await h.app.inject({ method: 'POST', url: '/v1/services/st_a/scale', payload: { replicas: 4 } })).statusCode).toBe(200);
    const r = await h.app.inject({ method: 'POST', url: '/v1/services/st_b/scale', payload: { replicas: 4 } });
    expect(r.statusCode).toBe(400);
    expect(r.body).toContain('replicated or replicated-job');
  });
});
