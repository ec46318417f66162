// The store's replicated state machine: deterministic, all-or-nothing, compare-and-set at apply
// time, snapshots that refuse to be edited.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SnapshotError, StoreMachine, type Batch } from '../../../manager/store/machine.js';
import type { NodeObj, StoreObj } from '../../../manager/store/types.js';

const node = (id: string, labels: Record<string, string> = {}, version = 0): NodeObj => ({
  kind: 'node', id, meta: { version, createdAt: 0, updatedAt: 0 },
  spec: { role: 'worker', availability: 'active', labels },
  description: { hostname: id, platform: { os: 'linux', arch: 'x86_64' }, resources: { nanoCpus: 1e9, memoryBytes: 1 << 30 }, engine: { version: '20.10', labels: {} } },
  status: { state: 'ready', addr: '', message: '', lastHeartbeat: 0 },
});

describe('StoreMachine.apply', () => {
  it('stamps every written object with the entry index and the proposer time', () => {
    const m = new StoreMachine();
    expect(m.apply(1, { now: 100, ops: [{ op: 'create', obj: node('a') }] })).toMatchObject({ ok: true });
    expect(m.get('node', 'a')!.meta).toEqual({ version: 1, createdAt: 100, updatedAt: 100 });
    const cur = m.get('node', 'a')!;
    expect(m.apply(2, { now: 200, ops: [{ op: 'update', obj: node('a', { x: '1' }), expect: cur.meta.version }] })).toMatchObject({ ok: true });
    expect(m.get('node', 'a')!.meta).toEqual({ version: 2, createdAt: 100, updatedAt: 200 });
    expect(m.index).toBe(2);
  });

  it('refuses a stale update (a deposed leader decision) and applies nothing of its batch', () => {
    const m = new StoreMachine();
    m.apply(1, { now: 1, ops: [{ op: 'create', obj: node('a') }, { op: 'create', obj: node('b') }] });
    // Someone else wrote `a` at index 2; a decision computed from version 1 arrives at 3.
    m.apply(2, { now: 2, ops: [{ op: 'update', obj: node('a', { new: 'yes' }), expect: 1 }] });
    const r = m.apply(3, { now: 3, ops: [{ op: 'update', obj: node('b', { stale: 'b' }), expect: 1 }, { op: 'update', obj: node('a', { stale: 'yes' }), expect: 1 }] });
    expect(r).toEqual({ ok: false, reason: 'node a changed meanwhile (version 2, not 1)' });
    expect(m.get('node', 'a')!.spec.labels).toEqual({ new: 'yes' });
    expect(m.get('node', 'b')!.spec.labels).toEqual({}); // the first op of the refused batch did not apply
    expect(m.index).toBe(3); // the entry was consumed
  });

  it.each([
    ['create of an existing object', [{ op: 'create', obj: node('a') }], 'node a already exists'],
    ['update of a missing object', [{ op: 'update', obj: node('zz'), expect: 1 }], 'node zz no longer exists'],
    ['delete expecting another version', [{ op: 'delete', kind: 'node', id: 'a', expect: 7 }], 'node a changed meanwhile (version 1, not 7)'],
    ['an unknown kind', [{ op: 'create', obj: { ...node('q'), kind: 'secretz' } as unknown as StoreObj }], 'unknown object kind "secretz"'],
  ] as const)('refuses %s', (_what, ops, reason) => {
    const m = new StoreMachine();
    m.apply(1, { now: 1, ops: [{ op: 'create', obj: node('a') }] });
    const before = m.snapshot();
    expect(m.apply(2, { now: 2, ops: ops as unknown as Batch['ops'] })).toEqual({ ok: false, reason });
    expect(new TextDecoder().decode(m.snapshot()).split('\n')[1]).toBe(new TextDecoder().decode(before).split('\n')[1].replace('"index":1', '"index":2'));
  });

  it('sees its own batch: create then update of one object, delete then create', () => {
    const m = new StoreMachine();
    m.apply(1, { now: 1, ops: [{ op: 'create', obj: node('a') }] });
    const r = m.apply(2, { now: 2, ops: [{ op: 'delete', kind: 'node', id: 'a', expect: 1 }, { op: 'create', obj: node('a', { again: '1' }) }] });
    expect(r.ok).toBe(true);
    expect(m.get('node', 'a')!.spec.labels).toEqual({ again: '1' });
  });

  it('refuses entries out of order', () => {
    const m = new StoreMachine();
    m.apply(5, { now: 1, ops: [] });
    expect(() => m.apply(5, { now: 1, ops: [] })).toThrow(/out of order/);
  });

  it('is deterministic: two machines fed the same entries hold the same bytes', () => {
    const ids = ['a', 'b', 'c', 'd'];
    const arbOp = fc.oneof(
      fc.record({ op: fc.constant('create' as const), id: fc.constantFrom(...ids), label: fc.string({ maxLength: 3 }) }),
      fc.record({ op: fc.constant('update' as const), id: fc.constantFrom(...ids), label: fc.string({ maxLength: 3 }), expect: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ op: fc.constant('delete' as const), id: fc.constantFrom(...ids), expect: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }) }),
    );
    fc.assert(fc.property(fc.array(fc.array(arbOp, { maxLength: 4 }), { maxLength: 30 }), (entries) => {
      const a = new StoreMachine();
      const b = new StoreMachine();
      entries.forEach((ops, i) => {
        const batch: Batch = {
          now: 1000 + i,
          ops: ops.map((o) => (o.op === 'delete' ? { op: 'delete', kind: 'node', id: o.id, expect: o.expect }
            : o.op === 'create' ? { op: 'create', obj: node(o.id, { l: o.label }) }
              : { op: 'update', obj: node(o.id, { l: o.label }), expect: o.expect })),
        };
        expect(a.apply(i + 1, batch)).toEqual(b.apply(i + 1, structuredClone(batch)));
      });
      expect(Buffer.from(a.snapshot()).equals(Buffer.from(b.snapshot()))).toBe(true);
      // every object's version is the index of the entry that last wrote it
      for (const o of a.state().objects) expect(o.meta.version).toBeLessThanOrEqual(a.index);
    }), { numRuns: 200 });
  });
});

describe('StoreMachine snapshots', () => {
  const filled = () => {
    const m = new StoreMachine();
    m.apply(1, { now: 1, ops: [{ op: 'create', obj: node('a', { replicas: '1' }) }, { op: 'create', obj: node('b') }] });
    return m;
  };

  it('round-trip: a restored machine holds the same state and index', () => {
    const m = filled();
    const r = new StoreMachine();
    r.restore(m.snapshot());
    expect(r.state()).toEqual(m.state());
    expect(r.index).toBe(1);
  });

  it('an edited snapshot (valid JSON, one value changed) is refused, and the machine is unchanged', () => {
    const bytes = filled().snapshot();
    const edited = new TextEncoder().encode(new TextDecoder().decode(bytes).replace('"replicas":"1"', '"replicas":"9"'));
    const r = new StoreMachine();
    r.apply(1, { now: 1, ops: [{ op: 'create', obj: node('keep') }] });
    expect(() => r.restore(edited)).toThrow(SnapshotError);
    expect(() => r.restore(edited)).toThrow(/checksum mismatch/);
    expect(r.list('node').map((n) => n.id)).toEqual(['keep']);
  });

  it.each([
    ['truncated', (b: Uint8Array) => b.subarray(0, b.length - 10), /truncated/],
    ['a zeroed block', (b: Uint8Array) => { const c = b.slice(); c.fill(0, 60, 90); return c; }, /checksum mismatch/],
    ['not a snapshot', () => new TextEncoder().encode('{"index":1,"objects":[]}'), /not a store snapshot/],
    ['empty', () => new Uint8Array(), /not a store snapshot/],
  ])('refuses %s', (_what, damage, msg) => {
    expect(() => new StoreMachine().restore(damage(filled().snapshot()))).toThrow(msg);
  });
});
