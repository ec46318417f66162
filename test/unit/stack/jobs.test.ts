import { describe, expect, it } from 'vitest';
import { validateStack } from '../../../common/api/validate.js';
import { stackToYaml } from '../../../common/stack/index.js';
import { parse, parseErrors, svc } from './helpers.js';

const web = (text: string) => parse(text).stack.services.web;

describe('job modes', () => {
  it('replicated-job: replicas are the total completions, all at once unless x-max-concurrent says', () => {
    const d = web(svc('deploy: {mode: replicated-job, replicas: 5}')).deploy;
    expect(d).toMatchObject({ mode: 'replicated-job', replicas: 5 });
    expect(d['x-max-concurrent']).toBeUndefined();
    expect(web(svc('deploy: {mode: replicated-job, replicas: 5, x-max-concurrent: 2}')).deploy).toMatchObject({ replicas: 5, 'x-max-concurrent': 2 });
  });

  it('accepts Swarm\'s names, bare or x-', () => {
    expect(web(svc('deploy: {mode: replicated-job, total_completions: 6, max_concurrent: 3}')).deploy).toMatchObject({ replicas: 6, 'x-max-concurrent': 3 });
    expect(web(svc('deploy: {mode: replicated-job, x-total-completions: 4}')).deploy).toMatchObject({ replicas: 4 });
  });

  it('a job restarts on failure by default; an explicit policy stays', () => {
    expect(web(svc('deploy: {mode: replicated-job}')).deploy.restart_policy.condition).toBe('on-failure');
    expect(web(svc('deploy: {mode: global-job}')).deploy).toMatchObject({ mode: 'global-job', replicas: 1, restart_policy: { condition: 'on-failure' } });
    expect(web(svc('restart: "no"\ndeploy: {mode: replicated-job}')).deploy.restart_policy.condition).toBe('none');
    expect(web(svc('deploy: {mode: replicated-job, restart_policy: {condition: any}}')).deploy.restart_policy.condition).toBe('any');
    expect(web(svc('deploy: {mode: replicated}')).deploy.restart_policy.condition).toBe('any');
  });

  it('warns that update_config does not apply to a job', () => {
    const r = parse(svc('deploy: {mode: replicated-job, update_config: {parallelism: 2}}'));
    expect(r.warnings.map((w) => w.message).join('\n')).toContain('update_config does not apply to mode: replicated-job');
  });

  it.each([
    ['deploy: {mode: replicated, x-max-concurrent: 2}', 'services.web.deploy.x-max-concurrent', 'applies to mode: replicated-job only'],
    ['deploy: {mode: global-job, max_concurrent: 2}', 'services.web.deploy.max_concurrent', 'applies to mode: replicated-job only'],
    ['deploy: {mode: replicated-job, x-max-concurrent: 0}', 'services.web.deploy.x-max-concurrent', 'at least 1'],
    ['deploy: {mode: replicated-job, replicas: 2, total_completions: 3}', 'services.web.deploy.total_completions', 'disagree'],
    ['deploy: {mode: replicated-job, max_concurrent: 1, x-max-concurrent: 2}', 'services.web.deploy.x-max-concurrent', 'given twice'],
    ['deploy: {mode: cron-job}', 'services.web.deploy.mode', 'must be one of replicated, global, replicated-job, global-job'],
  ])('%s', (line, field, message) => {
    const errs = parseErrors(svc(line));
    expect(errs[0]).toMatchObject({ field, message: expect.stringContaining(message) });
  });

  it('tsswarm config prints jobs so that they parse again to the same stack', () => {
    const text = `services:\n  a:\n    image: nginx\n    deploy: {mode: replicated-job, total_completions: 6, max_concurrent: 2}\n  b:\n    image: nginx\n    deploy: {mode: global-job}\n    depends_on: {a: {condition: service_completed_successfully}}\n`;
    const first = parse(text).stack;
    const again = parse(stackToYaml(first)).stack;
    expect(again.services).toEqual(first.services);
    expect(again.services.a.deploy).toMatchObject({ mode: 'replicated-job', replicas: 6, 'x-max-concurrent': 2, restart_policy: { condition: 'on-failure' } });
  });

  it('the API refuses x-max-concurrent outside a replicated-job, and a mode it does not know', () => {
    const stack = parse(svc('deploy: {mode: replicated-job, replicas: 3, x-max-concurrent: 2}')).stack;
    expect(validateStack(stack).errors).toEqual([]);
    const bad = structuredClone(stack);
    bad.services.web.deploy.mode = 'replicated';
    expect(validateStack(bad).errors).toEqual([expect.objectContaining({ field: 'services.web.deploy.x-max-concurrent' })]);
    const worse = structuredClone(stack) as unknown as { services: { web: { deploy: { mode: string } } } };
    worse.services.web.deploy.mode = 'cron';
    expect(validateStack(worse).errors[0]).toMatchObject({ field: 'services.web.deploy.mode' });
    const zero = structuredClone(stack);
    zero.services.web.deploy['x-max-concurrent'] = 0;
    expect(validateStack(zero).errors[0]).toMatchObject({ field: expect.stringContaining('x-max-concurrent') });
  });
});

describe('depends_on', () => {
  const two = (dep: string, extra = '') => `services:\n  db:\n    image: postgres\n${extra}  web:\n    image: nginx\n    depends_on:\n${dep}\n`;

  it('restart: true is kept (a deploy replacing db replaces web too), restart: false is the default', () => {
    const r = parse(two('      db: {condition: service_started, restart: true}'));
    expect(r.warnings.map((w) => w.message).join('\n')).not.toContain('restart');
    expect(r.stack.services.web!.depends_on).toEqual({ db: { condition: 'service_started', required: true, restart: true } });
    const f = parse(two('      db: {condition: service_started, restart: false}'));
    expect(f.warnings.map((w) => w.message).join('\n')).not.toContain('restart');
    expect(f.stack.services.web!.depends_on).toEqual({ db: { condition: 'service_started', required: true } });
  });

  it('warns when waiting for a service to complete that restarts whenever it exits', () => {
    const r = parse(two('      db: {condition: service_completed_successfully}'));
    expect(r.warnings.map((w) => w.message).join('\n')).toContain('it never stays completed');
    const ok = parse(two('      db: {condition: service_completed_successfully}', '    deploy: {mode: replicated-job}\n'));
    expect(ok.warnings.map((w) => w.message).join('\n')).not.toContain('never stays completed');
  });
});
