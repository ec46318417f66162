// An API on a real Store (a one-manager Raft log in a temp dir) and a dispatcher that has no agents: what the
// API tests drive with app.inject().

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { defaultDeploy, type ServiceSpec, type StackSpec } from '../../../common/spec.js';
import type { ApiContext } from '../../../manager/controlapi/context.js';
import { buildApi } from '../../../manager/controlapi/server.js';
import { loneBackend } from '../../../manager/store/raft-backend.js';
import { Store } from '../../../manager/store/store.js';
import { TestSealer } from '../helpers/sealer.js';

export interface Harness {
  app: FastifyInstance;
  store: Store;
  sealer: TestSealer;
  /** The store's data dir (its Raft log and snapshots). */
  dir: string;
  /** The store's index and state, to compare before and after a refused request. */
  snapshot(): string;
  close(): Promise<void>;
}

export async function harness(o: { log?: pino.Logger; dispatcher?: ApiContext['dispatcher'] } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'tsswarm-api-'));
  const store = new Store(loneBackend(dir));
  await store.open();
  const sealer = new TestSealer();
  const app = buildApi({
    store,
    sealer,
    // No agent is connected: a log request ends at once.
    dispatcher: o.dispatcher ?? { logs: (_byNode, _req, _onLine, onEnd) => { setImmediate(onEnd); return () => undefined; } },
    log: o.log ?? pino({ level: 'silent' }),
    info: () => ({ version: 'test', clusterId: 'c', nodeId: 'n', dataDir: '/tmp/x', pid: 1 }),
  });
  await app.ready();
  return {
    app, store, sealer, dir,
    snapshot: () => JSON.stringify({ index: store.index, state: store.state() }),
    async close() {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A normalised service spec, as the CLI sends it. */
export const serviceSpec = (over: Partial<ServiceSpec> = {}): ServiceSpec => ({
  image: 'busybox', environment: {}, labels: {}, ports: [], volumes: [], networks: { default: { aliases: [] } },
  depends_on: {}, deploy: defaultDeploy(), ...over,
});

/** A normalised stack with a default network, as the CLI sends it. */
export const stackSpec = (name: string, services: Record<string, ServiceSpec>, over: Partial<StackSpec> = {}): StackSpec => ({
  name, services, networks: { default: { driver: 'bridge', external: false, labels: {}, driver_opts: {} } }, volumes: {}, ...over,
});
