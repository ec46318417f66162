// What the CLI prints, from what the API returned: deploy plans, task rows, tables, log lines,
// the managers' status, join tokens.

import { describe, expect, it } from 'vitest';
import type { NodeObj, TaskObj } from '../../../common/api/objects.js';
import type { ClusterMember, ClusterStatus, DeployPlan, ServiceChange, ServiceView } from '../../../common/api/types.js';
import {
  backupSummary, changedServices, clusterStatusText, describeChange, filterTasks, joinTokenText, logText, managerStatus, nodeTable, planLines, serviceTable,
  sortTasks, staleWarning, taskRows, updateSummary,
} from '../../../cli/render.js';

const change = (c: Partial<ServiceChange> & Pick<ServiceChange, 'action' | 'name'>): ServiceChange => ({ shortName: c.name, fields: [], ...c });

describe('deploy plans', () => {
  it.each<[ServiceChange, string]>([
    [change({ action: 'create', name: 's_web', replicas: { from: 0, to: 2 } }), 'create   s_web (2 replicas)'],
    [change({ action: 'create', name: 's_web', replicas: { from: 0, to: 1 } }), 'create   s_web (1 replica)'],
    [change({ action: 'create', name: 's_agent' }), 'create   s_agent (global)'],
    [change({ action: 'create', name: 's_migrate', job: 'replicated-job', replicas: { from: 0, to: 1 } }), 'create   s_migrate (job: 1 completion)'],
    [change({ action: 'create', name: 's_seed', job: 'replicated-job', replicas: { from: 0, to: 3 } }), 'create   s_seed (job: 3 completions)'],
    [change({ action: 'create', name: 's_warm', job: 'global-job', replicas: { from: 0, to: -1 } }), 'create   s_warm (job: once on every eligible node)'],
    [change({ action: 'remove', name: 's_web', tasksReplaced: 2 }), 'remove   s_web (2 tasks stopped)'],
    [change({ action: 'remove', name: 's_web', tasksReplaced: 1 }), 'remove   s_web (1 task stopped)'],
    [change({ action: 'remove', name: 's_web' }), 'remove   s_web'],
    [change({ action: 'scale', name: 's_web', replicas: { from: 2, to: 5 } }), 'scale    s_web 2 -> 5'],
    [change({ action: 'update', name: 's_web', tasksReplaced: 1, changes: [{ field: 'image', from: 'a:1', to: 'a:2' }, { field: 'user', from: undefined, to: 'nobody' }] }),
      'update   s_web (1 task replaced)\n           image: "a:1" -> "a:2"\n           user: (none) -> "nobody"'],
    [change({ action: 'update', name: 's_web' }), 'update   s_web (0 tasks replaced)'],
    [change({ action: 'unchanged', name: 's_web' }), 'unchanged s_web'],
  ])('%j', (c, want) => {
    expect(describeChange(c)).toBe(want);
  });

  const plan: DeployPlan = {
    stack: 's',
    networks: [{ action: 'create', name: 's_default' }, { action: 'remove', name: 's_old' }],
    volumes: [{ action: 'create', name: 's_data' }, { action: 'release', name: 's_cache' }],
    services: [change({ action: 'create', name: 's_a', replicas: { from: 0, to: 1 } }), change({ action: 'unchanged', name: 's_b' }), change({ action: 'scale', name: 's_c', replicas: { from: 1, to: 3 } })],
  };

  it('lists networks, volumes, then services; unchanged ones only in a dry run', () => {
    expect(planLines(plan, false)).toEqual([
      'Deploying stack s', 'create   network s_default', 'remove   network s_old', 'create   volume s_data', 'release   volume s_cache',
      'create   s_a (1 replica)', 'scale    s_c 1 -> 3',
    ]);
    expect(planLines(plan, true)).toEqual([
      'Would deploy stack s', 'create   network s_default', 'remove   network s_old', 'create   volume s_data', 'release   volume s_cache',
      'create   s_a (1 replica)', 'unchanged s_b', 'scale    s_c 1 -> 3',
    ]);
    expect(changedServices(plan)).toEqual(['s_a', 's_c']);
  });
});

const NOW = 1_700_000_000_000;

function task(t: { id: string; service?: string; slot?: number; nodeId?: string; desired?: TaskObj['desiredState']; state?: TaskObj['status']['state']; createdAt: number; err?: string; image?: string; health?: TaskObj['status']['health'] }): TaskObj {
  return {
    kind: 'task', id: t.id, meta: { version: 1, createdAt: t.createdAt, updatedAt: t.createdAt },
    serviceId: 'svc', serviceName: t.service ?? 's_web', stack: 's', slot: t.slot, nodeId: t.nodeId, specVersion: 1,
    spec: { image: t.image ?? 'busybox:latest', ports: [{ target: 80, published: 8080, protocol: 'tcp', mode: 'host' }] } as unknown as TaskObj['spec'],
    desiredState: t.desired ?? 'running',
    status: { state: t.state ?? 'running', timestamp: t.createdAt, message: '', err: t.err, health: t.health, portBindings: [{ target: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 }] },
  };
}

describe('task rows', () => {
  const longErr = 'starting container failed: exec: "/no/such-program-in-this-image": stat: no such file or directory';
  const tasks = [
    task({ id: 'a'.repeat(25), slot: 1, nodeId: 'n'.repeat(25), createdAt: NOW - 5000, health: 'healthy' }),
    task({ id: 'b'.repeat(25), slot: 1, nodeId: 'n'.repeat(25), desired: 'shutdown', state: 'failed', createdAt: NOW - 120_000, err: longErr }),
    task({ id: 'c'.repeat(25), slot: 2, nodeId: 'unknown-node-id-0000', createdAt: NOW - 1000, image: `registry.example.com/team/${'x'.repeat(30)}:1` }),
    task({ id: 'd'.repeat(25), service: 's_api', slot: 1, createdAt: NOW, state: 'pending' }),
  ];
  const names = new Map([['n'.repeat(25), 'host-1']]);

  it('sorts by service, slot, newest first', () => {
    expect(sortTasks(tasks).map((t) => t.id[0])).toEqual(['d', 'a', 'b', 'c']);
  });

  it('draws a slot\'s older tasks under its newest, truncating ids, images and errors', () => {
    expect(taskRows(sortTasks(tasks), names, false, NOW)).toEqual([
      ['d'.repeat(12), 's_api.1', 'busybox:latest', '', 'Running', 'Pending less than a second ago', '', '0.0.0.0:8080->80/tcp'],
      ['a'.repeat(12), 's_web.1', 'busybox:latest', 'host-1', 'Running', 'Running (healthy) 5 seconds ago', '', '0.0.0.0:8080->80/tcp'],
      ['b'.repeat(12), ' \\_ s_web.1', 'busybox:latest', 'host-1', 'Shutdown', 'Failed 2 minutes ago', `${longErr.slice(0, 59)}…`, '0.0.0.0:8080->80/tcp'],
      ['c'.repeat(12), 's_web.2', `${'registry.example.com/team/xxx'}…`, 'unknown-node', 'Running', 'Running 1 second ago', '', '0.0.0.0:8080->80/tcp'],
    ]);
  });

  it('a task on a down node says so in ERROR, with about when it moves under a node-down grace', () => {
    const down = new Map([['n'.repeat(25), NOW - 20_000]]);
    expect(taskRows(sortTasks(tasks), names, false, NOW, down).map((r) => [r[0][0], r[6]])).toEqual([
      ['d', ''], ['a', 'node host-1 is down'], ['b', `${longErr.slice(0, 59)}…`], ['c', ''],
    ]);
    const graced = tasks.map((t) => ({ ...t, spec: { ...t.spec, deploy: { ...t.spec.deploy, 'x-node-down-grace': '2m' } } }));
    expect(taskRows(sortTasks(graced), names, false, NOW, down)[1]![6]).toBe('node host-1 is down; moves in about 1m40s');
    expect(taskRows(sortTasks(graced), names, false, NOW + 100_000, down)[1]![6]).toBe('node host-1 is down');
  });

  it('--no-trunc shows ids, images and errors whole', () => {
    const rows = taskRows(sortTasks(tasks), names, true, NOW);
    expect(rows[2][0]).toBe('b'.repeat(25));
    expect(rows[2][6]).toBe(longErr);
    expect(rows[3][2]).toBe(`registry.example.com/team/${'x'.repeat(30)}:1`);
  });

  it.each([
    [[{ desiredState: 'running' as const }], ['a', 'c', 'd']],
    [[{ desiredState: 'shutdown' as const }], ['b']],
    [[{ name: 's_web.1' }], ['a', 'b']],
    [[{ node: 'n'.repeat(25) }, { desiredState: 'running' as const }], ['a']],
    [[], ['a', 'b', 'c', 'd']],
  ])('filters %j', (filters, want) => {
    expect(filterTasks(tasks, filters).map((t) => t.id[0])).toEqual(want);
  });
});

describe('tables and lines', () => {
  it('services', () => {
    const svc = { id: 'f'.repeat(25), name: 's_web', spec: { image: 'nginx', deploy: { mode: 'replicated' }, ports: [{ target: 80, published: 8080, protocol: 'tcp', mode: 'ingress' }] }, running: 1, desired: 2 } as unknown as ServiceView;
    expect(serviceTable([svc])).toBe(
      'ID             NAME    MODE         REPLICAS   IMAGE   PORTS\n' +
      `${'f'.repeat(12)}   s_web   replicated   1/2        nginx   *:8080->80/tcp\n`);
  });

  it('nodes, this one starred', () => {
    const n = { id: 'n'.repeat(25), spec: { role: 'manager', availability: 'active' }, status: { state: 'ready' }, description: { hostname: 'h1', engine: { version: '27.0' } } } as unknown as NodeObj;
    const leader = { nodeId: n.id, raftId: 1, addr: '', role: 'leader', voter: true, reachable: true } as const;
    expect(nodeTable([n], n.id, [leader])).toBe(
      'ID               HOSTNAME   STATUS   AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n' +
      `${'n'.repeat(12)} *   h1         Ready    Active         Leader           27.0\n`);
  });

  it('manager status as Docker shows it', () => {
    const m = (id: string) => ({ id, spec: { role: 'manager' } }) as unknown as NodeObj;
    const member = (nodeId: string, role: ClusterMember['role'], reachable: boolean, voter = true): ClusterMember => ({ nodeId, raftId: 1, addr: '', role, voter, reachable });
    const members = [member('a', 'leader', true), member('b', 'follower', true), member('c', 'unreachable', false), member('d', 'learner', true, false)];
    expect(['a', 'b', 'c', 'd', 'e'].map((id) => managerStatus(m(id), members))).toEqual(['Leader', 'Reachable', 'Unreachable', 'Reachable (learner)', 'Unreachable']);
    expect(managerStatus(m('a'))).toBe('?');
    expect(managerStatus({ id: 'w', spec: { role: 'worker' } } as unknown as NodeObj, members)).toBe('');
  });

  it('nodes whose engine does not answer', () => {
    const mk = (id: string, state: string) => ({ id, spec: { role: 'worker', availability: 'active' }, status: { state, engine: 'down' }, description: { hostname: id, engine: { version: '20.10' } } }) as unknown as NodeObj;
    expect(nodeTable([mk('a', 'ready'), mk('b', 'down')], '')).toBe(
      'ID   HOSTNAME   STATUS                AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n' +
      'a    a          Ready (engine down)   Active                          20.10\n' +
      'b    b          Down                  Active                          20.10\n');
  });

  it.each([
    ['one\n', 's_web.1.abc    | one\n'],
    ['one', 's_web.1.abc    | one\n'],
    ['one\ntwo\n', 's_web.1.abc    | one\ns_web.1.abc    | two\n'],
    ['\n', 's_web.1.abc    | \n'],
  ])('log record %j', (data, want) => {
    expect(logText({ task: 's_web.1.abc', stream: 'stdout', data, ts: 0 })).toBe(want);
  });

  it('service update summaries', () => {
    expect(updateSummary({ service: 's_web', fields: ['image', 'environment.A'], replaced: true, applied: true }, false))
      .toBe('Updated s_web: image, environment.A (tasks will be replaced)\n');
    expect(updateSummary({ service: 's_web', fields: [], replaced: false, applied: false }, true)).toBe('Would update s_web: no change\n');
  });
});

describe('cluster status', () => {
  const status: ClusterStatus = {
    clusterId: 'c1', answeredBy: 'a'.repeat(25), leader: 'a'.repeat(25), quorum: 2, voters: 3, tolerates: 1, commitIndex: 120,
    managers: [
      { nodeId: 'a'.repeat(25), raftId: 1, addr: '10.0.0.1:4242', role: 'leader', voter: true, reachable: true, applied: 120, lag: 0 },
      { nodeId: 'b'.repeat(25), raftId: 2, addr: '10.0.0.2:4242', role: 'follower', voter: true, reachable: true, applied: 118, lag: 2 },
      { nodeId: 'c'.repeat(25), raftId: 3, addr: '10.0.0.3:4242', role: 'unreachable', voter: true, reachable: false },
      { nodeId: 'd'.repeat(25), raftId: 4, addr: '10.0.0.4:4242', role: 'learner', voter: false, reachable: true, applied: 60, lag: 60 },
    ],
    warnings: [],
  };

  it('a table of the managers, then the quorum', () => {
    expect(clusterStatusText(status)).toBe(
      'NODE ID        ADDRESS         RAFT ROLE     VOTER   REACHABLE   APPLIED   LAG\n' +
      'aaaaaaaaaaaa   10.0.0.1:4242   leader        yes     yes         120       0\n' +
      'bbbbbbbbbbbb   10.0.0.2:4242   follower      yes     yes         118       2\n' +
      'cccccccccccc   10.0.0.3:4242   unreachable   yes     no          -         -\n' +
      'dddddddddddd   10.0.0.4:4242   learner       no      yes         60        60\n' +
      '\n' +
      'Quorum: 2 of 3 voting managers (tolerates 1 failure)\n');
  });

  it('warnings, and whose view a stale answer is', () => {
    const alone: ClusterStatus = {
      ...status, leader: undefined, quorum: 2, voters: 2, tolerates: 0, stale: true,
      managers: [
        { nodeId: 'b'.repeat(25), raftId: 2, addr: '10.0.0.2:4242', role: 'preCandidate', voter: true, reachable: true, applied: 118, lag: 0 },
        { nodeId: '', raftId: 3, addr: '', role: 'unreachable', voter: true, reachable: false },
      ],
      warnings: ['2 voting managers tolerate no more failures than 1: use an odd number', 'no quorum: 1 of 2 voting managers answer, 2 are needed'],
    };
    expect(clusterStatusText(alone).split('\n')).toEqual([
      'NODE ID        ADDRESS         RAFT ROLE      VOTER   REACHABLE   APPLIED   LAG',
      'bbbbbbbbbbbb   10.0.0.2:4242   preCandidate   yes     yes         118       0',
      '-              -               unreachable    yes     no          -         -',
      '',
      'Quorum: 2 of 2 voting managers (tolerates 0 failures)',
      'WARNING: 2 voting managers tolerate no more failures than 1: use an odd number',
      'WARNING: no quorum: 1 of 2 voting managers answer, 2 are needed',
      'No leader answered: this is the view of the manager asked, on its own; it may be out of date.',
      '',
    ]);
  });

  it('one voting manager', () => {
    const one: ClusterStatus = { ...status, quorum: 1, voters: 1, tolerates: 0, managers: [status.managers[0]] };
    expect(clusterStatusText(one)).toMatch(/\nQuorum: 1 of 1 voting manager \(tolerates 0 failures\)\n$/);
  });
});

describe('join tokens, backups, stale answers', () => {
  const manager = { role: 'manager' as const, token: 'TSWTKN-1-abc-def', command: 'tsswarm manager --join 10.0.0.1:4242 --token TSWTKN-1-abc-def --listen-addr HOST:PORT --data-dir DIR' };
  const worker = { role: 'worker' as const, token: 'TSWTKN-1-abc-ghi', command: 'tsswarm agent --join 10.0.0.1:4242 --token TSWTKN-1-abc-ghi' };

  it.each([
    [manager, false, false, `To add a manager to this cluster, run the following command:\n\n    ${manager.command}\n`],
    [worker, false, false, `To add a worker to this cluster, run the following command:\n\n    ${worker.command}\n`],
    [manager, false, true, `Successfully rotated manager join token.\n\nTo add a manager to this cluster, run the following command:\n\n    ${manager.command}\n`],
    [worker, true, false, 'TSWTKN-1-abc-ghi\n'],
    [manager, true, true, 'TSWTKN-1-abc-def\n'],
  ])('%#: %j quiet=%s rotated=%s', (t, quiet, rotated, want) => {
    expect(joinTokenText(t, { quiet, rotated })).toBe(want);
  });

  it('backup summaries', () => {
    expect(backupSummary(42, '/backups/c.bin', 1234)).toBe('Backup of the cluster state at index 42 written to /backups/c.bin (1234 bytes)\n');
    expect(backupSummary(1, '-', 1)).toBe('Backup of the cluster state at index 1 written to stdout (1 byte)\n');
    expect(backupSummary(undefined, 'b', 0)).toBe('Backup of the cluster state at an index the manager did not give written to b (0 bytes)\n');
  });

  it('the stale warning', () => {
    expect(staleWarning('no leader: answered from this manager\'s applied state'))
      .toBe('WARNING: no leader elected: this answer is this manager\'s own view and may be stale (no leader: answered from this manager\'s applied state)\n');
  });
});
