// Seeds of the store simulation (sim-store.ts), split across files so vitest runs them in
// parallel. Replay one: npm run sim:store -- --seeds 1 --first-seed S --verbose
import { expect, it } from 'vitest';
import { formatStoreFailure, runStoreSeed } from './sim-store.js';

/** Registers a test running `count` seeds from `first`; each must keep the invariants and converge. */
export function storeSimulationSeeds(first: number, count: number): void {
  it(`store simulation seeds ${first}..${first + count - 1}: invariants every step, convergence after healing`, () => {
    let acks = 0;
    let tasks = 0;
    for (let s = first; s < first + count; s++) {
      const r = runStoreSeed(s);
      if (!r.ok) expect.fail(formatStoreFailure(r));
      acks += r.stats.clientAcks;
      tasks += r.stats.tasksCreated;
    }
    // The runs did something: clients were answered, the orchestrator made tasks.
    expect(acks).toBeGreaterThan(count * 10);
    expect(tasks).toBeGreaterThan(count * 10);
  });
}

export const STORE_HALF = Number(process.env.STORE_SIM_SEEDS ?? 120) / 2;
