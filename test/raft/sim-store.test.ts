// The store simulation (sim-store.ts): StoreMachine on every simulated manager, the real control
// loops on the leader once it applied an entry of its term, agents driven by the real worker's
// decisions through the dispatcher's writes, clients writing with compare-and-set, under the Raft
// simulation's nemesis. The first half of the seeds runs here, the second in sim-store-b.test.ts
// (STORE_SIM_SEEDS, default 120, sets how many: ~0.4 s each); then checks that it fails the runs
// it must fail (negative controls). Replay a seed: npm run sim:store -- --seeds 1 --first-seed S --verbose
import { describe, expect, it } from 'vitest';
import { StoreMachine } from '../../manager/store/machine.js';
import type { StoreOp } from '../../manager/store/types.js';
import { runStoreSeed, toBatchOps } from './sim-store.js';
import { STORE_HALF, storeSimulationSeeds } from './sim-store-seeds.js';

storeSimulationSeeds(1, STORE_HALF);

describe('store simulation', () => {
  // Two drains in a row under start-first: the task leaving the first drained node was kept
  // beside a replacement that had to leave too, and a third live task filled the slot.
  it('keeps at most two live tasks in a slot whose replacement\'s node is drained too (seed 9004333)', () => {
    const r = runStoreSeed(9004333);
    expect(r.violation).toBeUndefined();
    expect(r.ok).toBe(true);
  });

  it('replays a seed exactly', () => {
    const a = runStoreSeed(4);
    const b = runStoreSeed(4);
    expect(a.ok).toBe(true);
    expect(b.stats).toEqual(a.stats);
  });

  it('turns decisions into batches as the manager will: updates expect the version read, deletes the version in the state read', () => {
    const m = new StoreMachine();
    const node = { kind: 'node', id: 'n1', meta: { version: 0, createdAt: 0, updatedAt: 0 }, spec: { role: 'worker', availability: 'active', labels: {} }, description: { hostname: 'h', platform: { os: 'linux', arch: 'x86_64' }, resources: { nanoCpus: 0, memoryBytes: 0 }, engine: { version: '', labels: {} } }, status: { state: 'ready', addr: '', message: '', lastHeartbeat: 0 } } as const;
    expect(m.apply(7, { ops: [{ op: 'create', obj: structuredClone(node) }], now: 1 }).ok).toBe(true);
    const stored = m.get('node', 'n1')!;
    const ops: StoreOp[] = [
      { op: 'update', obj: { ...stored, spec: { ...stored.spec, availability: 'drain' } } },
      { op: 'delete', kind: 'node', id: 'n1' },
      { op: 'delete', kind: 'task', id: 'gone' },
    ];
    expect(toBatchOps(ops, m).map((o) => ('expect' in o ? o.expect : undefined))).toEqual([7, 7, undefined]);
  });

  // Negative controls: the invariants catch what breaks the design.
  it('catches two leaders filling one slot when the loops start before the leader applied an entry of its term (seed 43)', () => {
    const r = runStoreSeed(43, { noBarrier: true });
    expect(r.ok).toBe(false);
    expect(r.violation).toMatch(/^slots: at \d+, \S+ slot 1 has two live tasks of one spec version/);
  });

  it('catches a leader filling one slot twice when a loop reads before its previous batch was applied (seed 1)', () => {
    const r = runStoreSeed(1, { pipelined: true });
    expect(r.ok).toBe(false);
    expect(r.violation).toMatch(/^slots: at \d+, .* has two live tasks of one spec version/);
  });

  it('catches statuses lost for good when the dispatcher drops a status batch refused at apply (seed 8)', () => {
    expect(runStoreSeed(8).ok).toBe(true);
    const r = runStoreSeed(8, { retryRefused: false });
    expect(r.ok).toBe(false);
    expect(r.violation).toMatch(/^liveness: not converged/);
    expect(r.stats.dispatcherDropped).toBeGreaterThan(0);
  });
});
