// `tsswarm cluster recover`: from what `GET /v1/cluster/status` shows, the commands that bring
// the cluster back to the number of voting managers it has. Pure functions of the status; the
// command prints the lines.
//
// The cases, by what answers:
// - healthy: a leader, every manager reachable: nothing to do;
// - degraded: a leader and a quorum, some managers unreachable: take them out (demote, rm),
//   then join as many new managers;
// - electing: no leader, but a quorum of voters answers: wait for the election;
// - no quorum: fewer voters answer than a quorum: restart the lost ones, or, if they are gone
//   for good, force a new cluster from the survivor that applied the most, then join N-1 new
//   managers to it.

import type { ClusterMember, ClusterStatus } from '../common/api/types.js';

export type ClusterHealth = 'healthy' | 'degraded' | 'electing' | 'no-quorum';

const reachableVoters = (s: ClusterStatus): number => s.managers.filter((m) => m.voter && m.reachable).length;

export function clusterHealth(s: ClusterStatus): ClusterHealth {
  if (reachableVoters(s) < s.quorum) return 'no-quorum';
  if (s.stale || !s.leader) return 'electing';
  return s.managers.some((m) => !m.reachable) ? 'degraded' : 'healthy';
}

/** How many voting managers a cluster of `n` may lose and still commit: (n-1)/2, rounded down. */
export const survivable = (n: number): number => Math.max(0, Math.floor((n - 1) / 2));

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
/** A manager as the node commands take it (its node id), or what to look for when the status does not know it. */
const ref = (m: ClusterMember): string => m.nodeId || `<node id of Raft member ${m.raftId}>`;
const named = (m: ClusterMember): string => `${ref(m)} (${m.addr || 'address unknown'})`;
const joinCommand = (addr: string): string => `tsswarm manager --join ${addr} --token TOKEN --listen-addr HOST:PORT --data-dir DIR`;

/** The rule, and what it means for this cluster. */
function rule(voters: number): string {
  const odd = voters % 2 === 0 ? `; ${voters + 1} would survive the loss of ${survivable(voters + 1)}` : '';
  return 'Rule: a cluster of N voting managers survives the loss of (N-1)/2 of them, rounded down: 3 survive the loss of 1, 5 of 2, 7 of 3. ' +
    `This one has ${voters}: it survives the loss of ${survivable(voters)}${odd}.`;
}

/** Steps that join `count` new managers through the manager at `addr` (numbered from `first`). */
function joinSteps(first: number, count: number, addr: string, tokenNote: string): string[] {
  if (count <= 0) return [];
  return [
    `  ${first}. Print the manager join token${tokenNote}:`,
    '       tsswarm cluster join-token manager',
    `  ${first + 1}. On ${count === 1 ? '1 new host' : `each of ${count} new hosts`} (or an old one, with a new data dir), run the command it prints,`,
    '     with the address the new manager listens on (HOST:PORT) and a new, empty data dir (DIR):',
    `       ${joinCommand(addr)}`,
    '     A new manager joins as a learner and votes once it has caught up: `tsswarm cluster status` shows it.',
  ];
}

/** What to do, line by line, to bring the cluster back to `status.voters` voting managers. */
export function recoveryPlan(s: ClusterStatus): string[] {
  const n = s.voters;
  const r = reachableVoters(s);
  const leader = s.managers.find((m) => m.role === 'leader' && m.reachable) ?? s.managers.find((m) => m.nodeId === s.leader);
  const lost = s.managers.filter((m) => !m.reachable);
  const lostVoters = lost.filter((m) => m.voter);
  const lostLearners = lost.filter((m) => !m.voter);

  switch (clusterHealth(s)) {
    case 'healthy':
      return [
        `The cluster is healthy: all ${plural(n, 'voting manager')} answer${leader ? `, and ${named(leader)} leads` : ''}. Nothing to do.`,
        ...s.warnings.map((w) => `WARNING: ${w}`),
        rule(n),
      ];

    case 'electing':
      return [
        `No leader is elected, but ${r} of ${plural(n, 'voting manager')} answer (${s.quorum} make a quorum): an election should settle within seconds.`,
        'Run `tsswarm cluster recover` again in a moment. If no leader appears, check that the managers reach each other at their',
        'addresses (`tsswarm cluster status`, ADDRESS). Do not force a new cluster while a quorum answers: it would drop what they agreed on since.',
        rule(n),
      ];

    case 'degraded': {
      const lines = [
        `The cluster works: ${r} of ${plural(n, 'voting manager')} answer (${s.quorum} make a quorum)${leader ? `, led by ${named(leader)}` : ''};`
          + (r > s.quorum ? ` it can lose ${plural(r - s.quorum, 'more voting manager')} and still commit.` : ' it cannot lose one more voting manager.'),
        `Unreachable: ${lost.map(named).join(', ')}.`,
        'If a manager is only down for a while (a reboot, a restart), start it again on its host with its own --data-dir:',
        'it catches up by itself, and nothing below is needed.',
        lostVoters.length ? `To replace ${lost.length === 1 ? 'it' : 'them'} and bring the cluster back to ${plural(n, 'voting manager')}:` : `To remove ${lost.length === 1 ? 'it' : 'them'} (${lost.length === 1 ? 'it does' : 'they do'} not vote):`,
        lostVoters.length ? '  1. Take each unreachable manager out, one at a time (a voting manager is demoted first):' : '  1. Take each unreachable manager out:',
        ...lostVoters.flatMap((m) => [`       tsswarm node demote ${ref(m)}`, `       tsswarm node rm ${ref(m)}`]),
        ...lostLearners.map((m) => `       tsswarm node rm ${ref(m)}`),
        ...joinSteps(2, lostVoters.length, leader?.addr || 'LEADER:PORT', ''),
        rule(n),
      ];
      return lines;
    }

    case 'no-quorum': {
      const reachable = s.managers.filter((m) => m.reachable);
      // The survivor: the most applied; among equals a voter, then the address order (stable advice).
      const survivor = [...reachable].sort((a, b) => (b.applied ?? -1) - (a.applied ?? -1) || Number(b.voter) - Number(a.voter) || a.addr.localeCompare(b.addr))[0];
      const lines = [
        `No quorum: ${r} of ${plural(n, 'voting manager')} answer, ${s.quorum} are needed. Nothing can be changed until a quorum is back;`,
        'services keep running as they are.',
        `Best: start the unreachable managers again on their hosts, each with its own --data-dir: ${lostVoters.map(named).join(', ') || '(none)'}.`,
        `Once ${s.quorum} answer, the cluster recovers by itself and nothing is lost.`,
      ];
      if (!survivor) {
        lines.push('No manager answers with its state: if none can be started again, start from a backup (see below).');
      } else {
        const others = reachable.filter((m) => m !== survivor);
        lines.push(
          `If they are lost for good, make a new cluster from the manager that applied the most, ${named(survivor)}${survivor.applied !== undefined ? ` (applied index ${survivor.applied})` : ''}:`,
          '  1. On its host, stop that manager and start it again with its --data-dir:',
          '       tsswarm manager --force-new-cluster --data-dir <its --data-dir>',
          '     It becomes a one-manager cluster with the state it had committed (entries no quorum confirmed are dropped;',
          '     its old Raft log is kept aside).',
        );
        let step = 2;
        if (others.length) {
          lines.push(
            `  ${step}. Stop the other managers that still run, on their hosts: ${others.map(named).join(', ')}.`,
            '     They belong to the old cluster; to use their hosts again, join them below with a new, empty data dir.',
          );
          step++;
        }
        lines.push(...joinSteps(step, n - 1, survivor.addr || 'SURVIVOR:PORT', ' on that manager (a new one: the old tokens no longer work)'));
        if (n > 1) step += 2;
        const old = s.managers.filter((m) => m !== survivor);
        if (old.length) {
          lines.push(
            `  ${step}. If \`tsswarm node ls\` still lists the old managers' hosts, remove them:`,
            ...old.map((m) => `       tsswarm node rm ${ref(m)}`),
          );
        }
      }
      lines.push(
        'If no manager\'s data dir survives, start a new cluster from a backup (`tsswarm cluster backup FILE`, taken earlier):',
        '       tsswarm manager --init --restore FILE --data-dir DIR',
        rule(n),
      );
      return lines;
    }
  }
}
