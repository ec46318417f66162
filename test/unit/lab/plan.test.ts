// The lab's pure parts: names, addresses and paths of hosts, the daemons' command lines, the
// partition rules, and the status output.

import { describe, expect, it } from 'vitest';
import {
  checkDelay, dockerdArgs, inHost, partitionRules, planHost, planLab, publicHost, statusJson, statusTable, tsswarmArgs,
  type LabStatusHost,
} from '../../../deploy/lab/plan.js';

describe('lab plan', () => {
  it('names managers lab-m1.. at .11.. and workers lab-w1.. at .21..', () => {
    const p = planLab(3, 2);
    expect(p.map((h) => [h.name, h.role, h.addr])).toEqual([
      ['lab-m1', 'manager', '10.213.0.11'], ['lab-m2', 'manager', '10.213.0.12'], ['lab-m3', 'manager', '10.213.0.13'],
      ['lab-w1', 'worker', '10.213.0.21'], ['lab-w2', 'worker', '10.213.0.22'],
    ]);
  });

  it('gives each host its own namespace, veth (at most 15 characters), docker0 subnet, cgroup parent and paths', () => {
    const hs = planLab(9, 50);
    for (const key of ['ns', 'veth', 'vethPeer', 'bip', 'cgroupParent', 'dockerSock', 'dataRoot', 'tsswarmDir', 'addr'] as const) {
      expect(new Set(hs.map((h) => h[key])).size, key).toBe(hs.length);
    }
    for (const h of hs) {
      expect(h.veth.length).toBeLessThanOrEqual(15);
      expect(h.vethPeer.length).toBeLessThanOrEqual(15);
      expect(h.bip).toMatch(/^10\.214\.\d+\.1\/24$/);
    }
    const m1 = planHost('manager', 1);
    expect(m1).toMatchObject({
      ns: 'tsswarm-lab-lab-m1', nsPath: '/var/run/netns/tsswarm-lab-lab-m1', veth: 'tswl-lab-m1', bip: '10.214.11.1/24',
      cgroupParent: 'tsswarm-lab-lab-m1', dockerHost: 'unix:///run/tsswarm-lab/lab-m1/docker.sock',
      apiHost: 'unix:///var/lib/tsswarm-lab/lab-m1/tsswarm/tsswarm.sock', gossipAddr: '10.213.0.11:4242',
    });
    expect(planHost('worker', 1).apiHost).toBeUndefined();
  });

  it('refuses counts out of range, naming them', () => {
    expect(() => planLab(0, 2)).toThrow(/managers must be 1\.\.9, got 0/);
    expect(() => planLab(3, 51)).toThrow(/workers must be 0\.\.50, got 51/);
    expect(() => planLab(1.5, 0)).toThrow(/managers/);
  });

  it('publicHost is the LabHost contract only', () => {
    expect(publicHost(planHost('worker', 2))).toEqual({
      name: 'lab-w2', role: 'worker', addr: '10.213.0.22', dockerHost: 'unix:///run/tsswarm-lab/lab-w2/docker.sock', gossipAddr: '10.213.0.22:4242',
    });
  });

  it('starts a host daemon in its network namespace and a UTS namespace named after it', () => {
    const h = planHost('worker', 1);
    expect(inHost(h, ['dockerd', '--x'])).toEqual(['nsenter', '--net=/var/run/netns/tsswarm-lab-lab-w1', 'unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', 'lab-w1', 'dockerd', '--x']);
    const d = dockerdArgs(h);
    const flag = (f: string): string => d[d.indexOf(f) + 1];
    expect(flag('--host')).toBe(h.dockerHost);
    expect(flag('--bip')).toBe('10.214.21.1/24');
    expect(flag('--cgroup-parent')).toBe('tsswarm-lab-lab-w1');
    expect(flag('--data-root')).toBe('/var/lib/tsswarm-lab/lab-w1/docker');
    expect(flag('--exec-root')).toBe('/run/tsswarm-lab/lab-w1/exec');
    expect(flag('--pidfile')).toBe('/run/tsswarm-lab/lab-w1/docker.pid');
    expect(flag('--insecure-registry')).toBe('10.213.0.0/24');
  });

  it('tsswarm: the first manager inits, others join, restarts come from the data dir', () => {
    const m1 = planHost('manager', 1);
    const m2 = planHost('manager', 2);
    const w1 = planHost('worker', 1);
    const dir = (h: typeof m1): string => h.tsswarmDir;
    expect(tsswarmArgs(m1, { init: true })).toEqual(['manager', '--init', '--listen-addr', '10.213.0.11:4242', '--advertise-addr', '10.213.0.11:4242', '--data-dir', dir(m1)]);
    expect(tsswarmArgs(m2, { join: { addr: '10.213.0.11:4242', token: 'T' } })).toEqual(
      ['manager', '--join', '10.213.0.11:4242', '--token', 'T', '--listen-addr', '10.213.0.12:4242', '--advertise-addr', '10.213.0.12:4242', '--data-dir', dir(m2)]);
    expect(tsswarmArgs(m2, {})).toEqual(['manager', '--data-dir', dir(m2)]);
    expect(tsswarmArgs(w1, { join: { addr: '10.213.0.11:4242', token: 'W' } })).toEqual(['agent', '--join', '10.213.0.11:4242', '--token', 'W', '--data-dir', dir(w1)]);
    expect(tsswarmArgs(w1, { manager: '10.213.0.12:4242' })).toEqual(['agent', '--manager', '10.213.0.12:4242', '--data-dir', dir(w1)]);
    expect(() => tsswarmArgs(w1, {})).toThrow(/lab-w1 needs a manager address/);
  });

  it('a partition cuts the lab link both ways; --from drops only what comes from that address', () => {
    expect(partitionRules()).toEqual([
      { table: 'raw', chain: 'TSSWLAB-IN', rule: ['-i', 'eth0', '-j', 'DROP'] },
      { table: 'mangle', chain: 'TSSWLAB-OUT', rule: ['-o', 'eth0', '-j', 'DROP'] },
    ]);
    expect(partitionRules('10.213.0.11')).toEqual([{ table: 'raw', chain: 'TSSWLAB-IN', rule: ['-i', 'eth0', '-s', '10.213.0.11', '-j', 'DROP'] }]);
  });

  it('delays look like netem wants them', () => {
    for (const d of ['200ms', '1s', '1.5s', '500us']) expect(checkDelay(d)).toBe(d);
    for (const d of ['200', 'ms', '-1ms', '2x', '1 s']) expect(() => checkDelay(d)).toThrow(/delay must be like 200ms/);
  });
});

describe('lab status output', () => {
  const hs: LabStatusHost[] = [
    { ...publicHost(planHost('manager', 1)), engine: true, tsswarm: true, partitioned: false },
    { ...publicHost(planHost('worker', 1)), engine: false, tsswarm: false, partitioned: true, delay: '200ms' },
  ];

  it('prints a table, then the export line of a live manager', () => {
    expect(statusTable(hs, hs[0].apiHost)).toBe([
      'NAME    ROLE     ADDRESS      ENGINE  TSSWARM  NOTES',
      'lab-m1  manager  10.213.0.11  up      up',
      'lab-w1  worker   10.213.0.21  down    down     partitioned, delay 200ms',
      '',
      'export TSSWARM_HOST=unix:///var/lib/tsswarm-lab/lab-m1/tsswarm/tsswarm.sock',
      '',
    ].join('\n'));
  });

  it('says when no manager answers, and when there is no lab', () => {
    expect(statusTable(hs)).toMatch(/# no live manager answers\n$/);
    expect(statusTable([])).toMatch(/no lab/);
  });

  it('engines only: no tsswarm column values, and says so', () => {
    const t = statusTable(hs, undefined, true);
    expect(t.split('\n')[1]).toBe('lab-m1  manager  10.213.0.11  up      -');
    expect(t).toMatch(/# engines only \(up --engines-only\): no tsswarm\n$/);
    expect(JSON.parse(statusJson(hs, undefined, true))).toEqual({ hosts: hs, enginesOnly: true });
  });

  it('json: {hosts, tsswarmHost}', () => {
    expect(JSON.parse(statusJson(hs, 'unix:///x'))).toEqual({ hosts: hs, tsswarmHost: 'unix:///x' });
    expect(JSON.parse(statusJson(hs))).toEqual({ hosts: hs });
  });
});
