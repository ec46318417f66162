// A node that comes back after its tasks were moved: the full assignment set the manager sends
// it (assignmentsFor) and the agent's decision for each container it still has (decide) stop or
// remove every container of an orphaned task — never keep it running beside its replacement,
// whatever else the set holds — and leave a task that carried on (within its node-down grace)
// running.

import { describe, expect, it } from 'vitest';
import { decide, type Action } from '../../../agent/worker/reconcile.js';
import type { TaskObj, TaskStatus } from '../../../common/api/objects.js';
import { assignmentsFor } from '../../../manager/objects/assignments.js';
import { T0, cluster, node, service, task } from '../orchestrator/fixtures.js';

const running: TaskStatus = { state: 'running', timestamp: T0, message: 'started', containerId: 'c', health: 'none' };

describe('a returning node', () => {
  const web = service('web', { replicas: 2 });
  const db = service('db');
  const orphaned = (t: TaskObj): TaskObj => ({ ...t, status: { ...t.status, state: 'orphaned', message: 'orphaned', err: 'node host-n1 is down' } });
  const tasks = [
    // Orphaned; the orchestrator has not acted on it yet (still desired running).
    orphaned(task(web, { id: 'w-orphan-new', slot: 1, nodeId: 'n1' })),
    // Orphaned and replaced (stopped by the orchestrator); its replacement runs on n2.
    { ...orphaned(task(web, { id: 'w-orphan-old', slot: 2, nodeId: 'n1' })), desiredState: 'shutdown' as const },
    task(web, { id: 'w-replacement', slot: 2, nodeId: 'n2' }),
    // A task that kept its slot through the node's absence (node-down grace).
    task(db, { id: 'db-kept', slot: 1, nodeId: 'n1' }),
  ];
  const state = cluster({ nodes: [node('n1'), node('n2')], services: [web, db], tasks });
  const set = assignmentsFor(state, 'n1');
  const containers = ['w-orphan-new', 'w-orphan-old', 'db-kept'];

  it.each([
    ['its agent restarted (it remembers no status)', undefined],
    ['its agent kept running while cut off', running],
  ])('%s: orphaned tasks\' containers are stopped or removed, the kept task runs on', (_what, last) => {
    const actions = new Map<string, Action[]>(containers.map((id) => {
      const t = set.tasks.get(id);
      return [id, decide({
        now: T0 + 60_000, fullReceived: true,
        task: t ? { task: t, ingressReady: true, ...(last ? { last } : {}) } : undefined,
        container: { id: `c-${id}`, live: true, status: running },
      })];
    }));
    expect(actions.get('w-orphan-new')).toEqual([{ do: 'stop', graceMs: 10_000 }]);
    expect(actions.get('w-orphan-old')).toEqual([{ do: 'remove' }]);
    const kept = actions.get('db-kept')!.map((a) => a.do);
    expect(kept.some((d) => d === 'stop' || d === 'remove' || d === 'create-start')).toBe(false);
    expect([...set.tasks.keys()].sort()).toEqual(['db-kept', 'w-orphan-new']);
  });
});
