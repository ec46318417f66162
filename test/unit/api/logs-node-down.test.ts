// GET /v1/services/:ref/logs with a node away: the other nodes' lines stream, and one notice
// per node that cannot be asked names its hostname, its state and how many tasks' logs are missing.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogLineView } from '../../../common/api/types.js';
import { logText } from '../../../cli/render.js';
import { T0, node, service, task } from '../orchestrator/fixtures.js';
import { harness, type Harness } from './harness.js';

describe('service logs with a node down', () => {
  let h: Harness;
  let asked: Map<string, string[]> | undefined;
  beforeAll(async () => {
    h = await harness({
      dispatcher: {
        logs: (byNode, _req, onLine, onEnd, onUnreachable) => {
          asked = byNode;
          setImmediate(() => {
            for (const [nodeId, ids] of byNode) {
              if (nodeId === 'node-up') for (const id of ids) onLine({ taskId: id, stream: 'stdout', data: Buffer.from(`hello from ${id}\n`), timestampMs: T0 });
              else { onUnreachable?.(nodeId, ids); onUnreachable?.(nodeId, ids); } // said twice: shown once
            }
            onEnd();
          });
          return () => undefined;
        },
      },
    });
    const svc = service('web', { replicas: 3 });
    const withContainer = (t: ReturnType<typeof task>) => ({ ...t, status: { ...t.status, containerId: `c-${t.id}` } });
    await h.store.update((tx) => {
      tx.create(node('node-up', { hostname: 'w1' }));
      tx.create(node('node-down', { hostname: 'w2', state: 'down' }));
      tx.create(svc);
      tx.create(withContainer(task(svc, { id: 'task-a', slot: 1, nodeId: 'node-up' })));
      tx.create(withContainer(task(svc, { id: 'task-b', slot: 2, nodeId: 'node-down' })));
      tx.create(withContainer(task(svc, { id: 'task-c', slot: 3, nodeId: 'node-down' })));
    });
  });
  afterAll(() => h.close());

  it('streams the live node\'s lines and one notice for the down node', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/v1/services/st_web/logs' });
    expect(r.statusCode).toBe(200);
    const lines = r.body.trim().split('\n').map((l) => JSON.parse(l) as LogLineView);
    expect([...asked!.keys()].sort()).toEqual(['node-down', 'node-up']);
    expect(lines.filter((l) => !l.notice).map((l) => [l.task, l.data])).toEqual([['st_web.1.task-a', 'hello from task-a\n']]);
    const notices = lines.filter((l) => l.notice);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ stream: 'stderr', task: '' });
    expect(notices[0]!.data).toBe('node w2 (node-down, down) has no agent session: the logs of its 2 tasks cannot be read\n');
    // The CLI prints a notice as it is (on stderr), a task's line with its task's name.
    expect(logText(notices[0]!)).toBe(notices[0]!.data);
    expect(logText(lines[0]!)).toBe('st_web.1.task-a    | hello from task-a\n');
  });
});
