import { configDefaults, defineConfig } from 'vitest/config';

// Tests run from the compiled output? No: vitest transpiles TypeScript itself.
// End-to-end tests spawn the compiled CLI (dist/), built by `npm test` first.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/raft/**/*.test.ts'],
          testTimeout: 120_000,
          // Unit tests use no Docker engine, whatever the shell exports: the CLI run in-process
          // (deploy pins images through DOCKER_HOST's engine) then finds none.
          env: { DOCKER_HOST: 'unix:///nonexistent/tsswarm-unit-tests-use-no-engine.sock' },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts', 'test/agent/**/*.test.ts'],
          // A start-up throughput measurement, not a test of behaviour: only on request.
          exclude: [...configDefaults.exclude, ...(process.env.TSSWARM_AGENT_PERF ? [] : ['test/agent/perf.test.ts'])],
          testTimeout: 240_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
