// Deterministic simulation, seeds 1..500 (3 nodes on even seeds, 5 on odd).
// Split across files so vitest runs the halves in parallel. Replay one: npm run sim -- --seeds 1 --first-seed S --verbose
import { expect, it } from 'vitest';
import { formatFailure, runSeed } from './sim.js';

const FIRST = 1;
const COUNT = Number(process.env.RAFT_SIM_SEEDS ?? 1000) / 2;

it(`simulation seeds ${FIRST}..${FIRST + COUNT - 1}: safety every step, linearizable history`, () => {
  let ops = 0;
  for (let s = FIRST; s < FIRST + COUNT; s++) {
    const r = runSeed(s);
    ops += r.stats.okOps;
    if (!r.ok) expect.fail(formatFailure(r));
  }
  expect(ops).toBeGreaterThan(COUNT * 50);
});
