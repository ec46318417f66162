// Which secrets and configs a node holds: exactly those referenced (by id) by the tasks
// assigned to it that may still start a container; nothing used only elsewhere.

import { describe, expect, it } from 'vitest';
import type { ObjectRef } from '../../../common/spec.js';
import { assignmentsFor } from '../../../manager/objects/assignments.js';
import type { ConfigObj, SecretObj, TaskObj, TaskState } from '../../../manager/store/types.js';
import { cluster, service, task } from '../orchestrator/fixtures.js';

const meta = { version: 1, createdAt: 0, updatedAt: 0 };
const secret = (id: string, name = id): SecretObj => ({ kind: 'secret', id, meta, name, stack: 'st', labels: {}, sealed: 'sealed', revision: 1, size: 6 });
const config = (id: string, name = id): ConfigObj => ({ kind: 'config', id, meta, name, stack: 'st', labels: {}, data: 'eA==', revision: 1, size: 1 });
const ref = (id: string | undefined, source = id ?? 'x'): ObjectRef => ({ source, target: source, uid: '0', gid: '0', mode: 0o444, ...(id ? { id } : {}) });

function using(nodeId: string, secrets: (string | undefined)[], configs: string[] = [], state: TaskState = 'running', desired: TaskState = 'running'): TaskObj {
  const t = task(service('web'), { nodeId, state, desired });
  t.spec.secrets = secrets.map((s) => ref(s));
  t.spec.configs = configs.map((c) => ref(c));
  return t;
}

const ids = (m: Map<string, unknown>) => [...m.keys()].sort();

describe('assignmentsFor: secrets and configs', () => {
  it('a node gets the secrets and configs its own tasks reference, never those of another node\'s tasks', () => {
    const s = {
      ...cluster({ tasks: [using('n1', ['a'], ['c1']), using('n2', ['b'], ['c2']), using('n1', ['a', 'shared']), using('n2', ['shared'])] }),
      secrets: [secret('a'), secret('b'), secret('shared'), secret('unused')],
      configs: [config('c1'), config('c2')],
    };
    const n1 = assignmentsFor(s, 'n1');
    expect(ids(n1.secrets)).toEqual(['a', 'shared']);
    expect(ids(n1.configs)).toEqual(['c1']);
    const n2 = assignmentsFor(s, 'n2');
    expect(ids(n2.secrets)).toEqual(['b', 'shared']);
    expect(ids(n2.configs)).toEqual(['c2']);
    expect(ids(assignmentsFor(s, 'n3').secrets)).toEqual([]);
  });

  it('a secret leaves the node\'s set when its last task there ends or is to stop', () => {
    const first = using('n1', ['a'], ['c1']);
    const second = using('n1', ['a']);
    const base = { secrets: [secret('a')], configs: [config('c1')] };
    const set = (tasks: TaskObj[]) => assignmentsFor({ ...cluster({ tasks }), ...base }, 'n1');
    expect(ids(set([first, second]).secrets)).toEqual(['a']);
    // One ends: the other still needs it.
    const ended = { ...first, status: { ...first.status, state: 'complete' as const } };
    expect(ids(set([ended, second]).secrets)).toEqual(['a']);
    expect(ids(set([ended, second]).configs)).toEqual([]);
    // The last one fails (still on the node's list, wanted running: it never starts again).
    const failed = { ...second, status: { ...second.status, state: 'failed' as const } };
    const after = set([ended, failed]);
    expect(ids(after.tasks)).toContain(failed.id);
    expect(ids(after.secrets)).toEqual([]);
    // To be stopped: it will not start a container either.
    const stopping = { ...second, desiredState: 'shutdown' as const };
    expect(ids(set([stopping]).secrets)).toEqual([]);
    // Not started yet (assigned): it needs it.
    expect(ids(set([{ ...second, status: { ...second.status, state: 'assigned' as const } }]).secrets)).toEqual(['a']);
  });

  it('only a reference the manager resolved (by id) counts; a name alone or an unknown id names nothing', () => {
    const t = using('n1', [undefined, 'gone']);
    t.spec.secrets![0].source = 'a';
    const s = { ...cluster({ tasks: [t] }), secrets: [secret('a', 'a')] };
    expect(ids(assignmentsFor(s, 'n1').secrets)).toEqual([]);
    // States of older tests have no secrets at all.
    expect(ids(assignmentsFor(cluster({ tasks: [t] }), 'n1').secrets)).toEqual([]);
  });
});
