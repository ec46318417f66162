// npm run sim -- --seeds N [--first-seed S] [--nodes 3|5] [--duration MS] [--verbose] [--keep-going]
// Runs N seeded simulations; prints the first failure (seed, replay command, trace) and exits 1.
// With --keep-going it runs them all, printing each failure, and says which seeds failed.
// --store (npm run sim:store): the store simulation (sim-store.ts) instead of the KV one; with
// --no-barrier (loops start without applying an entry of their term), --pipelined (a loop does
// not wait for its batch to apply) or --drop-refused (the dispatcher drops a write refused at
// apply): the negative controls; --skew MS: clocks off by up to MS (default 15).
import { formatFailure, runSeed } from './sim.js';
import { formatStoreFailure, runStoreSeed } from './sim-store.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const seeds = Number(arg('seeds') ?? 100);
const first = Number(arg('first-seed') ?? 1);
const nodes = arg('nodes') ? (Number(arg('nodes')) as 3 | 5) : undefined;
const durationMs = arg('duration') ? Number(arg('duration')) : undefined;
const verbose = process.argv.includes('--verbose');
const keepGoing = process.argv.includes('--keep-going');
if (process.argv.includes('--store')) runStore();
const failedSeeds: number[] = [];
const t0 = Date.now();
let failed = 0;
const totals = { ops: 0, okOps: 0, elections: 0, crashes: 0, confChanges: 0, transfers: 0, snapshotsSent: 0, events: 0 };
for (let s = first; s < first + seeds; s++) {
  const r = runSeed(s, { ...(nodes ? { nodes } : {}), ...(durationMs ? { durationMs } : {}), verbose });
  for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += r.stats[k];
  if (!r.ok) {
    failed++;
    failedSeeds.push(s);
    console.error(formatFailure(r));
    if (!keepGoing) break;
  }
}
console.log(`${seeds} seeds from ${first}: ${failed ? `FAILED (${failedSeeds.join(', ')})` : 'all passed'} in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${JSON.stringify(totals)}`);
process.exit(failed ? 1 : 0);

function runStore(): never {
  const failed: number[] = [];
  const t = Date.now();
  const totals: Record<string, number> = {};
  let slowest = { seed: 0, ms: 0 };
  let maxConverge = { seed: 0, ms: -1 };
  for (let s = first; s < first + seeds; s++) {
    const t1 = Date.now();
    const r = runStoreSeed(s, {
      ...(nodes ? { nodes } : {}),
      ...(durationMs ? { durationMs } : {}),
      verbose,
      noBarrier: process.argv.includes('--no-barrier'),
      pipelined: process.argv.includes('--pipelined'),
      retryRefused: !process.argv.includes('--drop-refused'),
      ...(arg('skew') ? { skewMs: Number(arg('skew')) } : {}),
    });
    const ms = Date.now() - t1;
    if (ms > slowest.ms) slowest = { seed: s, ms };
    if (r.stats.convergeMs > maxConverge.ms) maxConverge = { seed: s, ms: r.stats.convergeMs };
    for (const [k, v] of Object.entries(r.stats)) if (k !== 'convergeMs') totals[k] = (totals[k] ?? 0) + v;
    if (!r.ok) {
      failed.push(s);
      console.error(formatStoreFailure(r));
      if (!keepGoing) break;
    }
  }
  console.log(`store: ${seeds} seeds from ${first}: ${failed.length ? `FAILED (${failed.join(', ')})` : 'all passed'} in ${((Date.now() - t) / 1000).toFixed(1)} s; slowest seed ${slowest.seed} (${slowest.ms} ms); longest convergence ${maxConverge.ms} ms (seed ${maxConverge.seed}); ${JSON.stringify(totals)}`);
  process.exit(failed.length ? 1 : 0);
}
