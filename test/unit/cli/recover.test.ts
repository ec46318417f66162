// `cluster recover`'s advice, from a cluster status: which case it is, and exactly which
// commands bring the cluster back to the number of voting managers it has.

import { describe, expect, it } from 'vitest';
import type { ClusterMember, ClusterStatus } from '../../../common/api/types.js';
import { clusterHealth, recoveryPlan, survivable, type ClusterHealth } from '../../../cli/recover.js';

/** Manager `x`: node id xxxx…, Raft id and address from the letter; a reachable follower unless told. */
const m = (x: string, o: Partial<ClusterMember> = {}): ClusterMember => ({
  nodeId: x.repeat(20), raftId: x.charCodeAt(0) - 96, addr: `10.0.0.${x.charCodeAt(0) - 96}:4242`,
  role: 'follower', voter: true, reachable: true, applied: 100, lag: 0, ...o,
});
const down: Partial<ClusterMember> = { role: 'unreachable', reachable: false, applied: undefined, lag: undefined };
const leader: Partial<ClusterMember> = { role: 'leader' };

/** A status as the manager computes it from its members. */
function status(managers: ClusterMember[], o: Partial<ClusterStatus> = {}): ClusterStatus {
  const voters = managers.filter((x) => x.voter).length;
  const quorum = Math.floor(voters / 2) + 1;
  return {
    clusterId: 'c1', answeredBy: 'm1', leader: managers.find((x) => x.role === 'leader')?.nodeId, quorum, voters, tolerates: voters - quorum,
    commitIndex: 100, managers, warnings: [], ...o,
  };
}

/** The commands of a plan, in order. */
const commands = (lines: string[]): string[] => lines.filter((l) => /^ {7}tsswarm /.test(l)).map((l) => l.trim());
const id = (x: string): string => x.repeat(20);
const join = (addr: string): string => `tsswarm manager --join ${addr} --token TOKEN --listen-addr HOST:PORT --data-dir DIR`;

describe('recoveryPlan', () => {
  it.each<[string, ClusterStatus, ClusterHealth, string[]]>([
    ['3 managers, all answer', status([m('a', leader), m('b'), m('c')]), 'healthy', []],
    ['1 manager', status([m('a', leader)]), 'healthy', []],
    ['3 managers, 1 lost: demote and remove it, join 1 through the leader',
      status([m('a'), m('b', leader), m('c', down)]), 'degraded',
      [`tsswarm node demote ${id('c')}`, `tsswarm node rm ${id('c')}`, 'tsswarm cluster join-token manager', join('10.0.0.2:4242')]],
    ['5 managers, 2 lost: each demoted and removed in turn, then 2 joined',
      status([m('a', leader), m('b', down), m('c'), m('d', down), m('e')]), 'degraded',
      [`tsswarm node demote ${id('b')}`, `tsswarm node rm ${id('b')}`, `tsswarm node demote ${id('d')}`, `tsswarm node rm ${id('d')}`,
        'tsswarm cluster join-token manager', join('10.0.0.1:4242')]],
    ['a lost learner is removed, not replaced',
      status([m('a', leader), m('b'), m('c'), m('d', { ...down, voter: false })]), 'degraded', [`tsswarm node rm ${id('d')}`]],
    ['no leader, but a quorum answers: wait for the election',
      status([m('a', { role: 'candidate' }), m('b'), m('c', down)], { stale: true }), 'electing', []],
    ['3 managers, 2 lost: force a new cluster from the one left, join 2',
      status([m('a', { role: 'preCandidate', applied: 90 }), m('b', down), m('c', down)], { stale: true }), 'no-quorum',
      ['tsswarm manager --force-new-cluster --data-dir <its --data-dir>', 'tsswarm cluster join-token manager', join('10.0.0.1:4242'),
        `tsswarm node rm ${id('b')}`, `tsswarm node rm ${id('c')}`, 'tsswarm manager --init --restore FILE --data-dir DIR']],
    ['5 managers, 3 lost: the survivor is the one that applied the most',
      status([m('a', { role: 'preCandidate', applied: 90 }), m('b', { applied: 95 }), m('c', down), m('d', down), m('e', down)], { stale: true }), 'no-quorum',
      ['tsswarm manager --force-new-cluster --data-dir <its --data-dir>', 'tsswarm cluster join-token manager', join('10.0.0.2:4242'),
        ...['a', 'c', 'd', 'e'].map((x) => `tsswarm node rm ${id(x)}`), 'tsswarm manager --init --restore FILE --data-dir DIR']],
    ['equal applied indexes: a voter before a learner',
      status([m('a', { voter: false, role: 'learner' }), m('b', down), m('c'), m('d', down)], { stale: true }), 'no-quorum',
      ['tsswarm manager --force-new-cluster --data-dir <its --data-dir>', 'tsswarm cluster join-token manager', join('10.0.0.3:4242'),
        ...['a', 'b', 'd'].map((x) => `tsswarm node rm ${id(x)}`), 'tsswarm manager --init --restore FILE --data-dir DIR']],
    ['a leader that answers without a quorum (about to step down) is no quorum',
      status([m('a', leader), m('b', down), m('c', down)]), 'no-quorum',
      ['tsswarm manager --force-new-cluster --data-dir <its --data-dir>', 'tsswarm cluster join-token manager', join('10.0.0.1:4242'),
        `tsswarm node rm ${id('b')}`, `tsswarm node rm ${id('c')}`, 'tsswarm manager --init --restore FILE --data-dir DIR']],
    ['1 voting manager lost, a learner left: no one to join (N-1 = 0)',
      status([m('a', down), m('b', { voter: false, role: 'learner' })], { stale: true }), 'no-quorum',
      ['tsswarm manager --force-new-cluster --data-dir <its --data-dir>', `tsswarm node rm ${id('a')}`, 'tsswarm manager --init --restore FILE --data-dir DIR']],
  ])('%s', (_name, s, health, cmds) => {
    expect(clusterHealth(s)).toBe(health);
    const plan = recoveryPlan(s);
    expect(commands(plan)).toEqual(cmds);
    expect(plan.at(-1)).toMatch(new RegExp(`^Rule: a cluster of N voting managers survives the loss of \\(N-1\\)/2 of them, .*This one has ${s.voters}: it survives the loss of ${survivable(s.voters)}`));
  });

  it('healthy: says so, with the leader', () => {
    expect(recoveryPlan(status([m('a', leader), m('b'), m('c')]))).toEqual([
      `The cluster is healthy: all 3 voting managers answer, and ${id('a')} (10.0.0.1:4242) leads. Nothing to do.`,
      'Rule: a cluster of N voting managers survives the loss of (N-1)/2 of them, rounded down: 3 survive the loss of 1, 5 of 2, 7 of 3. This one has 3: it survives the loss of 1.',
    ]);
  });

  it('healthy with an even number of voters: the warning, and what one more would survive', () => {
    const s = status([m('a', leader), m('b')], { warnings: ['2 voting managers tolerate no more failures than 1: use an odd number'] });
    expect(recoveryPlan(s).slice(1)).toEqual([
      'WARNING: 2 voting managers tolerate no more failures than 1: use an odd number',
      'Rule: a cluster of N voting managers survives the loss of (N-1)/2 of them, rounded down: 3 survive the loss of 1, 5 of 2, 7 of 3. This one has 2: it survives the loss of 0; 3 would survive the loss of 1.',
    ]);
  });

  it('degraded: the whole text', () => {
    expect(recoveryPlan(status([m('a'), m('b', leader), m('c', down)]))).toEqual([
      `The cluster works: 2 of 3 voting managers answer (2 make a quorum), led by ${id('b')} (10.0.0.2:4242); it cannot lose one more voting manager.`,
      `Unreachable: ${id('c')} (10.0.0.3:4242).`,
      'If a manager is only down for a while (a reboot, a restart), start it again on its host with its own --data-dir:',
      'it catches up by itself, and nothing below is needed.',
      'To replace it and bring the cluster back to 3 voting managers:',
      '  1. Take each unreachable manager out, one at a time (a voting manager is demoted first):',
      `       tsswarm node demote ${id('c')}`,
      `       tsswarm node rm ${id('c')}`,
      '  2. Print the manager join token:',
      '       tsswarm cluster join-token manager',
      '  3. On 1 new host (or an old one, with a new data dir), run the command it prints,',
      '     with the address the new manager listens on (HOST:PORT) and a new, empty data dir (DIR):',
      `       ${join('10.0.0.2:4242')}`,
      '     A new manager joins as a learner and votes once it has caught up: `tsswarm cluster status` shows it.',
      'Rule: a cluster of N voting managers survives the loss of (N-1)/2 of them, rounded down: 3 survive the loss of 1, 5 of 2, 7 of 3. This one has 3: it survives the loss of 1.',
    ]);
  });

  it('no quorum: the whole text', () => {
    const s = status([m('a', { role: 'follower', applied: 90 }), m('b', { applied: 97 }), m('c', down), m('d', down), m('e', down)], { stale: true });
    expect(recoveryPlan(s)).toEqual([
      'No quorum: 2 of 5 voting managers answer, 3 are needed. Nothing can be changed until a quorum is back;',
      'services keep running as they are.',
      `Best: start the unreachable managers again on their hosts, each with its own --data-dir: ${id('c')} (10.0.0.3:4242), ${id('d')} (10.0.0.4:4242), ${id('e')} (10.0.0.5:4242).`,
      'Once 3 answer, the cluster recovers by itself and nothing is lost.',
      `If they are lost for good, make a new cluster from the manager that applied the most, ${id('b')} (10.0.0.2:4242) (applied index 97):`,
      '  1. On its host, stop that manager and start it again with its --data-dir:',
      '       tsswarm manager --force-new-cluster --data-dir <its --data-dir>',
      '     It becomes a one-manager cluster with the state it had committed (entries no quorum confirmed are dropped;',
      '     its old Raft log is kept aside).',
      `  2. Stop the other managers that still run, on their hosts: ${id('a')} (10.0.0.1:4242).`,
      '     They belong to the old cluster; to use their hosts again, join them below with a new, empty data dir.',
      '  3. Print the manager join token on that manager (a new one: the old tokens no longer work):',
      '       tsswarm cluster join-token manager',
      '  4. On each of 4 new hosts (or an old one, with a new data dir), run the command it prints,',
      '     with the address the new manager listens on (HOST:PORT) and a new, empty data dir (DIR):',
      `       ${join('10.0.0.2:4242')}`,
      '     A new manager joins as a learner and votes once it has caught up: `tsswarm cluster status` shows it.',
      '  5. If `tsswarm node ls` still lists the old managers\' hosts, remove them:',
      ...['a', 'c', 'd', 'e'].map((x) => `       tsswarm node rm ${id(x)}`),
      'If no manager\'s data dir survives, start a new cluster from a backup (`tsswarm cluster backup FILE`, taken earlier):',
      '       tsswarm manager --init --restore FILE --data-dir DIR',
      'Rule: a cluster of N voting managers survives the loss of (N-1)/2 of them, rounded down: 3 survive the loss of 1, 5 of 2, 7 of 3. This one has 5: it survives the loss of 2.',
    ]);
  });

  it('electing: wait, and do not force', () => {
    const plan = recoveryPlan(status([m('a', { role: 'candidate' }), m('b'), m('c')], { stale: true }));
    expect(plan[0]).toBe('No leader is elected, but 3 of 3 voting managers answer (2 make a quorum): an election should settle within seconds.');
    expect(plan.join('\n')).toMatch(/Do not force a new cluster while a quorum answers/);
  });

  it.each([[1, 0], [2, 0], [3, 1], [4, 1], [5, 2], [6, 2], [7, 3], [0, 0]])('%i voting managers survive the loss of %i', (n, f) => {
    expect(survivable(n)).toBe(f);
  });
});
