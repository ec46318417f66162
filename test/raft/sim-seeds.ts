// Deterministic simulation (3 nodes on even seeds, 5 on odd), split across files so vitest runs
// the halves in parallel. Replay one: npm run sim -- --seeds 1 --first-seed S --verbose
import { expect, it } from 'vitest';
import { formatFailure, runSeed } from './sim.js';

/** Registers a test running `count` seeds from `first`; each must be safe and linearizable. */
export function simulationSeeds(first: number, count: number): void {
  it(`simulation seeds ${first}..${first + count - 1}: safety every step, linearizable history`, () => {
    let ops = 0;
    for (let s = first; s < first + count; s++) {
      const r = runSeed(s);
      ops += r.stats.okOps;
      if (!r.ok) expect.fail(formatFailure(r));
    }
    expect(ops).toBeGreaterThan(count * 50);
  }, 300_000); // ~60 s on an idle 2-core machine; a loaded one (other suites beside it) takes longer
}

export const HALF = Number(process.env.RAFT_SIM_SEEDS ?? 1000) / 2;
