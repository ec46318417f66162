// Property: whatever a client sends to any route (arbitrary JSON, mutated valid stacks, huge or
// negative numbers, strange strings in paths and query strings), the API never answers 5xx, a
// 4xx is a TSW_ERR body and leaves the store exactly as it was, and what was accepted leaves
// a state the control loops can still work on.

import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDeploy, type StackSpec } from '../../../common/spec.js';
import { reapTasks, reconcileGlobal, reconcileReplicated } from '../../../manager/orchestrator/index.js';
import { schedule } from '../../../manager/scheduler/index.js';
import { harness, serviceSpec, stackSpec, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await harness();
  const r = await h.app.inject({ method: 'POST', url: '/v1/stacks/deploy', payload: { stack: validStack('app') } });
  expect(r.statusCode, r.body).toBe(200);
});
afterAll(async () => { await h.close(); });

function validStack(name: string): StackSpec {
  return stackSpec(name, {
    web: serviceSpec({ ports: [{ target: 80, published: 18080, protocol: 'tcp', mode: 'ingress' }], environment: { A: '1' }, command: ['sh', '-c', 'sleep 1'] }),
    agent: serviceSpec({ deploy: { ...defaultDeploy(), mode: 'global' } }),
  }, { volumes: { data: { driver: 'local', external: false, labels: {}, driver_opts: {} } } });
}

// ---- arbitraries ----

const strangeString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', '..', '../..', '/', 'a/b', '%00', '\u0000', 'app', 'app_web', 'app_agent', 'APP', '-1', '1e12', 'NaN', 'true', '__proto__', 'constructor', 'x'.repeat(300), ' ', 'é'),
);
const strangeNumber = fc.oneof(
  fc.integer(), fc.double(), fc.constantFrom(-1, 0, 1, 3, 1.5, -0, 1e12, 1e308, -1e308, Number.MAX_SAFE_INTEGER, 2 ** 31, 1000, 1001),
);
const leaf = fc.oneof(strangeString, strangeNumber, fc.boolean(), fc.constant(null));
const value: fc.Arbitrary<unknown> = fc.oneof({ depthSize: 'small' }, leaf, fc.jsonValue({ maxDepth: 4 }), fc.array(leaf, { maxLength: 4 }), fc.dictionary(strangeString, leaf, { maxKeys: 4 }));

/** A copy of `obj` with the value at a random path replaced (or deleted). */
function mutate(obj: unknown, path: number[], replacement: unknown, remove: boolean): unknown {
  const copy = JSON.parse(JSON.stringify(obj)) as unknown;
  let cur = copy as Record<string, unknown>;
  for (let i = 0; i < path.length; i++) {
    const keys = Object.keys(cur);
    if (keys.length === 0) break;
    const k = keys[path[i] % keys.length];
    const next = cur[k];
    if (i === path.length - 1 || next === null || typeof next !== 'object') {
      if (remove) delete cur[k];
      else cur[k] = replacement;
      break;
    }
    cur = next as Record<string, unknown>;
  }
  return copy;
}

const mutatedStack = fc.tuple(fc.constantFrom('app', 'fz', 'fz2'), fc.array(fc.nat(), { minLength: 1, maxLength: 7 }), value, fc.boolean())
  .map(([name, path, v, remove]) => mutate(validStack(name), path, v, remove));
const stackBody = fc.oneof(
  mutatedStack.map((stack) => ({ stack })),
  fc.constantFrom('app', 'fz').map((n) => ({ stack: validStack(n), dryRun: true })),
  fc.constantFrom('fz', 'fz2').map((n) => ({ stack: validStack(n) })),
  value.map((stack) => ({ stack })),
  value,
);

const flagKeys = ['image', 'envAdd', 'envRm', 'labelAdd', 'labelRm', 'replicas', 'publishAdd', 'publishRm', 'constraintAdd', 'constraintRm', 'command', 'user',
  'update', 'rollback', 'restartCondition', 'restartDelay', 'restartMaxAttempts', 'restartWindow', 'restartBackoff', 'restartMaxDelay', 'limitMemory', 'limitCpu', 'force', 'other'];
const flagValue = fc.oneof(value, fc.array(strangeString, { maxLength: 3 }), fc.dictionary(fc.constantFrom('parallelism', 'delay', 'order', 'x'), strangeString, { maxKeys: 3 }));
const updateBody = fc.oneof(
  fc.dictionary(fc.constantFrom(...flagKeys), flagValue, { maxKeys: 4 }).map((flags) => ({ flags })),
  fc.record({ flags: fc.dictionary(fc.constantFrom(...flagKeys), flagValue, { maxKeys: 3 }), dryRun: fc.boolean() }),
  value,
);

const ref = fc.oneof(fc.constantFrom('app_web', 'app_agent', 'fz_web', 'app'), strangeString);
/** Percent-encodes every byte of the UTF-8 form (any string, lone surrogates included). */
const pct = (s: string): string => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const seg = ref.map((s) => (s === '' ? 'x' : pct(s)));
const query = fc.dictionary(fc.constantFrom('tail', 'follow', 'timestamps', 'stack', 'service', 'node', 'volumes', 'x'), fc.oneof(strangeString, strangeNumber.map(String)), { maxKeys: 3 })
  .map((q) => Object.entries(q).map(([k, v]) => `${k}=${pct(v)}`).join('&'));

const json = (method: 'POST' | 'DELETE', url: string, body: unknown): InjectOptions =>
  ({ method, url, payload: JSON.stringify(body) ?? '', headers: { 'content-type': 'application/json' } });

const request: fc.Arbitrary<InjectOptions> = fc.oneof(
  stackBody.map((b) => json('POST', '/v1/stacks/deploy', b)),
  fc.tuple(seg, fc.oneof(strangeNumber.map((replicas) => ({ replicas })), value)).map(([r, b]) => json('POST', `/v1/services/${r}/scale`, b)),
  fc.tuple(seg, updateBody).map(([r, b]) => json('POST', `/v1/services/${r}/update`, b)),
  fc.tuple(seg, fc.oneof(fc.constant({}), value)).map(([r, b]) => json('POST', `/v1/services/${r}/rollback`, b)),
  fc.oneof(
    fc.dictionary(fc.constantFrom('taskHistoryLimit', 'allowedBindPaths', 'other'), fc.oneof(value, fc.array(strangeString, { maxLength: 3 })), { maxKeys: 2 }).map((spec) => ({ spec })),
    value,
  ).map((b) => json('POST', '/v1/cluster/update', b)),
  fc.tuple(seg, query).map(([n, q]) => ({ method: 'DELETE' as const, url: `/v1/stacks/${n}?${q}` })),
  fc.tuple(fc.constantFrom('/v1/info', '/v1/stacks', '/v1/services', '/v1/tasks', '/v1/nodes', '/v1/cluster'), query).map(([u, q]) => ({ method: 'GET' as const, url: `${u}?${q}` })),
  fc.tuple(fc.constantFrom('services', 'nodes'), seg, query).map(([k, r, q]) => ({ method: 'GET' as const, url: `/v1/${k}/${r}?${q}` })),
  fc.tuple(seg, query).map(([r, q]) => ({ method: 'GET' as const, url: `/v1/services/${r}/logs?${q}` })),
  fc.tuple(fc.constantFrom('/v1/stacks/deploy', '/v1/services/app_web/scale', '/v1/cluster/update'), fc.string({ maxLength: 40 }), fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8'))
    .map(([url, body, ct]) => ({ method: 'POST' as const, url, payload: body, headers: { 'content-type': ct } })),
);

describe('API fuzz', () => {
  it('never a 5xx; a 4xx is a TSW_ERR refusal that changed nothing', async () => {
    let accepted = 0;
    await fc.assert(fc.asyncProperty(request, async (req) => {
      const before = h.snapshot();
      const r = await h.app.inject(req);
      expect(r.statusCode, `${req.method} ${req.url} ${String(req.payload).slice(0, 300)} -> ${r.body.slice(0, 300)}`).toBeLessThan(500);
      if (r.statusCode >= 400) {
        const body = r.json();
        expect(body.code).toMatch(/^TSW_ERR_[A-Z_]+$/);
        expect(typeof body.message).toBe('string');
        expect(Array.isArray(body.details)).toBe(true);
        expect(h.snapshot(), `${req.method} ${req.url} was refused but changed the store`).toBe(before);
      } else accepted++;
    }), { numRuns: Number(process.env.FUZZ_RUNS ?? 300), seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) });
    expect(accepted).toBeGreaterThan(0);

    // What was accepted is something the control loops can work on.
    const s = h.store.state();
    expect(() => {
      for (const svc of s.services) (svc.spec.deploy.mode === 'global' ? reconcileGlobal : reconcileReplicated)(s, svc, Date.now(), () => 'x');
      schedule(s, Date.now());
      reapTasks(s);
    }).not.toThrow();
  }, 60_000);
});
