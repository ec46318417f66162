// Start-up throughput: 50 tasks through the worker vs 50 × `docker run --init` at parallelism 8
// (the benchmark's raw baseline; goal ≤ 1.3×). A measurement, left out of `npm test`: run it
// with TSSWARM_AGENT_PERF=1 npx vitest run test/agent/perf.test.ts.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE, Recorder, cleanup, docker, makeTask, makeWorker, uniqueStack, update, remove, waitFor, stackContainers } from './helpers.js';

const run = promisify(execFile);
const PREFIX = 'agtp';
const N = 50;

beforeAll(async () => { await cleanup(PREFIX); });
afterAll(async () => { await cleanup(PREFIX); });

async function pool(n: number, par: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: par }, async () => {
    while (next < n) await fn(next++);
  }));
}

describe('worker start-up throughput', () => {
  it(`starts ${N} tasks within 1.3x of raw docker run`, async () => {
    const rawStack = uniqueStack(PREFIX);
    const t0 = Date.now();
    await pool(N, 8, async (i) => {
      await run('docker', ['run', '-d', '--init', '--name', `${rawStack}-${i}`, '--label', `tsswarm.stack.namespace=${rawStack}`, IMAGE, 'sleep', '600']);
    });
    const raw = Date.now() - t0;
    await cleanup(rawStack);

    const stack = uniqueStack(PREFIX);
    const nodeId = `node-${stack}`;
    const rec = new Recorder();
    const w = makeWorker(nodeId, rec);
    await w.start();
    const tasks = Array.from({ length: N }, (_, i) => makeTask(stack, 'bench', i + 1, nodeId, { command: ['sleep', '600'] }));
    const t1 = Date.now();
    w.assign(true, tasks.map(update));
    await waitFor('all running', () => tasks.every((t) => rec.last(t.id)?.state === 'running'), 120_000, 20);
    const ours = Date.now() - t1;

    const t2 = Date.now();
    w.assign(false, tasks.map(remove));
    await waitFor('all removed', async () => (await stackContainers(stack)).length === 0, 120_000, 100);
    const teardown = Date.now() - t2;
    await w.stop();
    console.log(`raw docker run x${N}: ${raw} ms; worker: ${ours} ms (${(ours / raw).toFixed(2)}x); worker teardown: ${teardown} ms`);
    expect(ours / raw).toBeLessThan(1.3);
    void docker;
  });
});
