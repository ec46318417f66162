// `node update`: the pure patch (availability, labels removed then added, every problem named,
// nothing half-applied) and the route on a real store.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyNodeUpdate } from '../../../manager/controlapi/node-update.js';
import type { NodeObj } from '../../../manager/store/types.js';
import { TsswarmError } from '../../../common/errors.js';
import { harness, type Harness } from '../api/harness.js';
import { T0, node } from '../orchestrator/fixtures.js';

const thrown = (f: () => unknown): TsswarmError => {
  try { f(); } catch (e) { return e as TsswarmError; }
  throw new Error('did not throw');
};

describe('applyNodeUpdate', () => {
  const n = node('n1', { hostname: 'w1', labels: { zone: 'a', ssd: '' } });

  it.each<[string, Parameters<typeof applyNodeUpdate>[1], Partial<NodeObj['spec']>]>([
    ['availability', { availability: 'drain' }, { availability: 'drain', labels: { zone: 'a', ssd: '' } }],
    ['a label added, K=V and K', { labelAdd: ['rack=r1', 'gpu'] }, { labels: { zone: 'a', ssd: '', rack: 'r1', gpu: '' } }],
    ['a label replaced', { labelAdd: ['zone=b'] }, { labels: { zone: 'b', ssd: '' } }],
    ['a value holding "="', { labelAdd: ['expr=a=b'] }, { labels: { zone: 'a', ssd: '', expr: 'a=b' } }],
    ['a label removed', { labelRm: ['ssd'] }, { labels: { zone: 'a' } }],
    ['all at once', { availability: 'pause', labelRm: ['zone'], labelAdd: ['zone2=x'] }, { availability: 'pause', labels: { ssd: '', zone2: 'x' } }],
  ])('%s', (_what, req, want) => {
    const next = applyNodeUpdate(n, req, T0 + 5);
    expect(next.spec).toEqual({ ...n.spec, ...want });
    expect(next.meta.updatedAt).toBe(T0 + 5);
    expect(n.spec.labels).toEqual({ zone: 'a', ssd: '' }); // the input is not touched
  });

  it('no change gives the node back as it was', () => {
    expect(applyNodeUpdate(n, { availability: 'active', labelAdd: ['zone=a'] }, T0 + 5)).toBe(n);
  });

  it.each<[string, Parameters<typeof applyNodeUpdate>[1], string, RegExp]>([
    ['removing a missing label', { labelRm: ['nope'] }, 'labelRm', /node w1 has no label nope/],
    ['an empty key', { labelAdd: ['=x'] }, 'labelAdd', /must not be empty/],
    ['a control character', { labelAdd: ['a\nb=1'] }, 'labelAdd', /control characters/],
    ['a control character in a value', { labelAdd: ['a=\u0007'] }, 'labelAdd', /value of label a must not contain control characters/],
    ['a long key', { labelAdd: ['k'.repeat(257)] }, 'labelAdd', /longer than 256/],
    ['a key removed and added', { labelRm: ['zone'], labelAdd: ['zone=b'] }, 'labelAdd', /both removed and added/],
  ])('refused: %s (nothing applied)', (_what, req, field, msg) => {
    const e = thrown(() => applyNodeUpdate(n, { availability: 'drain', ...req }, T0));
    expect(e.code).toBe('TSW_ERR_INVALID_ARGUMENT');
    expect(e.details).toContainEqual({ field, message: expect.stringMatching(msg) });
  });

  it('every problem is listed', () => {
    const e = thrown(() => applyNodeUpdate(n, { labelRm: ['x', 'y'], labelAdd: ['=1'] }, T0));
    expect(e.details.map((d) => d.field)).toEqual(['labelRm', 'labelRm', 'labelAdd']);
  });

  it('a stale version is a conflict', () => {
    expect(thrown(() => applyNodeUpdate(n, { availability: 'drain', version: 7 }, T0)).code).toBe('TSW_ERR_CONFLICT');
    expect(applyNodeUpdate(n, { availability: 'drain', version: n.meta.version }, T0).spec.availability).toBe('drain');
  });
});

describe('POST /v1/nodes/:ref/update', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
    await h.store.update((tx) => { tx.create(node('node-one-id', { hostname: 'w1', labels: { zone: 'a' } })); });
  });
  afterAll(() => h.close());
  const post = (ref: string, payload: unknown) => h.app.inject({ method: 'POST', url: `/v1/nodes/${ref}/update`, payload: payload as object });

  it('answers the node as written, by hostname or id prefix', async () => {
    const r = await post('w1', { availability: 'drain', labelAdd: ['rack=r1'] });
    expect(r.statusCode).toBe(200);
    const n = r.json<NodeObj>();
    expect(n.spec).toMatchObject({ availability: 'drain', labels: { zone: 'a', rack: 'r1' } });
    expect(n.meta.version).toBeGreaterThan(1);
    const again = await post('node-one', { availability: 'active', version: n.meta.version });
    expect(again.json<NodeObj>().spec.availability).toBe('active');
  });

  it.each<[string, string, unknown, number, string]>([
    ['an unknown node', 'nope', { availability: 'drain' }, 404, 'TSW_ERR_NODE_NOT_FOUND'],
    ['a bad availability', 'w1', { availability: 'off' }, 400, 'TSW_ERR_INVALID_ARGUMENT'],
    ['an unknown field', 'w1', { role: 'manager' }, 400, 'TSW_ERR_INVALID_ARGUMENT'],
    ['labels not a list', 'w1', { labelAdd: { a: 'b' } }, 400, 'TSW_ERR_INVALID_ARGUMENT'],
    ['a missing label (with a good change beside it)', 'w1', { availability: 'pause', labelRm: ['nope'] }, 400, 'TSW_ERR_INVALID_ARGUMENT'],
    ['a stale version', 'w1', { availability: 'pause', version: 1 }, 409, 'TSW_ERR_CONFLICT'],
  ])('refused, nothing written: %s', async (_what, ref, body, status, code) => {
    const before = h.snapshot();
    const r = await post(ref, body);
    expect([r.statusCode, r.json<{ code: string }>().code]).toEqual([status, code]);
    expect(h.snapshot()).toBe(before);
  });
});
