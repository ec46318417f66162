// A leader partitioned away from the other managers (iptables: its process's packets, by its
// cgroup, and packets to its port are dropped) cannot act: it steps down, its control loops
// stop, and its writes fail at once with TSW_ERR_NO_QUORUM; the majority elects a leader and
// takes writes; healed, it follows again. Needs root, iptables and cgroup v2; skipped otherwise.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './harness.js';
import { ManagerProc, leaderOf, waitStatus } from './managers.js';

/** The cgroup v2 hierarchy (alone, or beside v1 as `unified`). */
const V2 = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((d) => existsSync(join(d, 'cgroup.subtree_control')));
const PREFIX = 'tsswarm-part-';
const iptables = (...args: string[]): boolean => { try { execFileSync('iptables', args, { stdio: 'ignore' }); return true; } catch { return false; } };
const usable = process.getuid?.() === 0 && !!V2 && iptables('-L', 'OUTPUT', '-n');

/** Removes the rules and cgroups this test (or a killed run of it) left. */
function cleanStale(): void {
  for (const chain of ['INPUT', 'OUTPUT']) {
    const rules = execFileSync('iptables', ['-S', chain]).toString().split('\n').filter((l) => l.includes(PREFIX));
    for (const r of rules) iptables(...r.replace(/^-A /, '-D ').split(' ').filter(Boolean).map((x) => x.replace(/^"|"$/g, '')));
  }
  if (!V2) return;
  for (const name of readdirSync(V2)) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(V2, name);
    // Processes still in it go back to the root group first.
    for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
      try { writeFileSync(join(V2, 'cgroup.procs'), pid); } catch { /* gone */ }
    }
    try { rmdirSync(dir); } catch { /* busy: next run */ }
  }
}

describe.skipIf(!usable)('a partitioned manager', () => {
  const ms = [new ManagerProc('p1'), new ManagerProc('p2'), new ManagerProc('p3')];
  const group = `${PREFIX}${process.pid}`;
  let port = '';
  const comment = ['-m', 'comment', '--comment', group];

  // Each manager runs in a cgroup of its own from its start: a socket belongs to the cgroup
  // its process was in when it was created, so the rule below catches every one of them.
  const cgroupOf = (i: number) => `${group}-${i}`;
  const partition = (m: ManagerProc): void => {
    const cg = cgroupOf(ms.indexOf(m));
    port = m.addr.slice(m.addr.lastIndexOf(':') + 1);
    expect(iptables('-I', 'OUTPUT', '-m', 'cgroup', '--path', cg, ...comment, '-j', 'DROP')).toBe(true);
    expect(iptables('-I', 'INPUT', '-p', 'tcp', '--dport', port, ...comment, '-j', 'DROP')).toBe(true);
  };

  beforeAll(async () => {
    cleanStale();
    ms.forEach((m, i) => {
      mkdirSync(join(V2!, cgroupOf(i)), { recursive: true });
      m.cgroupProcs = join(V2!, cgroupOf(i), 'cgroup.procs');
    });
    await ms[0]!.init('127.0.0.2');
    const token = await ms[0]!.token('manager');
    await ms[1]!.join(ms[0]!.addr, token, '127.0.0.3');
    await ms[2]!.join(ms[0]!.addr, token, '127.0.0.4');
    await waitStatus(ms, 'three voters', (st) => st.voters === 3 && st.managers.every((m) => m.reachable && m.voter));
  }, 120_000);

  const heal = (): void => {
    for (const chain of ['INPUT', 'OUTPUT']) {
      for (const r of execFileSync('iptables', ['-S', chain]).toString().split('\n').filter((l) => l.includes(group))) {
        iptables(...r.replace(/^-A /, '-D ').split(' ').filter(Boolean).map((x) => x.replace(/^"|"$/g, '')));
      }
    }
  };

  afterAll(async () => {
    heal();
    for (const m of ms) await m.kill9();
    cleanStale();
    for (const m of ms) m.remove();
  });

  it('steps down, stops its loops, refuses writes with NO_QUORUM; the majority goes on; healed, it follows', async () => {
    const old = await leaderOf(ms);
    const rest = ms.filter((m) => m !== old);
    partition(old);
    // The majority elects a leader among themselves and takes writes.
    await waitStatus(rest, 'a new leader among the others', (st) => !!st.leader && st.managers.find((m) => m.role === 'leader')!.addr !== old.addr, 30_000);
    await rest[0]!.cliOk('cluster', 'update', '--task-history-limit', '7');
    // The old leader stepped down (check-quorum) and its control loops stopped.
    await waitFor('the partitioned manager to step down', () => /no longer the leader: control loops stop/.test(readFileSync(old.logFile, 'utf8')), 30_000);
    const w = await old.cli('cluster', 'update', '--task-history-limit', '9');
    expect(w.code).not.toBe(0);
    expect(w.stderr).toMatch(/1 of 3 voting managers reachable.*TSW_ERR_NO_QUORUM/s);
    // Reads still answer, marked stale, and do not see the majority's write.
    const r = await old.api<{ spec: { taskHistoryLimit: number } }>('GET', '/v1/cluster');
    expect(r.headers['x-tsswarm-stale']).toBeDefined();
    expect(r.body.spec.taskHistoryLimit).not.toBe(9);

    heal();
    await waitFor('the healed manager to apply the majority\'s write', async () => {
      const c = await old.api<{ spec: { taskHistoryLimit: number } }>('GET', '/v1/cluster');
      return c.status === 200 && c.body.spec.taskHistoryLimit === 7 && c.headers['x-tsswarm-stale'] === undefined;
    }, 30_000);
    const st = await waitStatus(ms, 'three reachable voters, one leader', (s) => s.voters === 3 && s.managers.every((m) => m.reachable) && s.managers.filter((m) => m.role === 'leader').length === 1);
    expect(st.warnings).toEqual([]);
  });
});
