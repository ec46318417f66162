// platform and runtime placement: a task goes only to nodes of its OS/architecture (named as
// Docker normalises them) and to nodes whose engine has its runtime; the reason names both.
import { describe, expect, it } from 'vitest';
import { normaliseArch, parsePlatform, platformMatches } from '../../../common/api/platform.js';
import { schedule } from '../../../manager/scheduler/index.js';
import type { ClusterState, NodeObj } from '../../../manager/store/types.js';
import { T0, cluster, node, service, task, updates } from '../orchestrator/fixtures.js';

const placed = (s: ClusterState): Record<string, string | undefined> =>
  Object.fromEntries(updates(schedule(s, T0)).map((t) => [t.id, t.status.state === 'assigned' ? t.nodeId : `ERR ${t.status.err}`]));

const withSpec = (name: string, extra: { platform?: string; runtime?: string }) => {
  const svc = service(name);
  Object.assign(svc.spec, extra);
  return svc;
};
const pending = (svc: ReturnType<typeof service>, slot = 1) => task(svc, { id: `${svc.shortName}.${slot}`, slot, state: 'pending', message: 'created' });
const withRuntimes = (n: NodeObj, runtimes?: string[]): NodeObj => ({ ...n, description: { ...n.description, engine: { ...n.description.engine, ...(runtimes ? { runtimes } : {}) } } });

describe('platform names', () => {
  it.each([
    ['x86_64', 'amd64'], ['amd64', 'amd64'], ['aarch64', 'arm64'], ['arm64', 'arm64'], ['armv7l', 'arm'], ['i686', '386'], ['s390x', 's390x'], ['X86_64', 'amd64'],
  ])('%s -> %s', (a, want) => expect(normaliseArch(a)).toBe(want));

  it('parses os[/arch[/variant]] and refuses the rest', () => {
    expect(parsePlatform('linux/amd64')).toEqual({ os: 'linux', arch: 'amd64' });
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', arch: 'arm64', variant: 'v8' });
    expect(parsePlatform('Linux/x86_64')).toEqual({ os: 'linux', arch: 'amd64' });
    expect(parsePlatform('linux')).toEqual({ os: 'linux' });
    expect(parsePlatform('linux/')).toMatch(/invalid platform/);
    expect(parsePlatform('linux/amd64/v1/x')).toMatch(/invalid platform/);
  });

  it('matches what an engine reports', () => {
    expect(platformMatches({ os: 'linux', arch: 'amd64' }, 'linux', 'x86_64')).toBe(true);
    expect(platformMatches({ os: 'linux', arch: 'arm64' }, 'linux', 'x86_64')).toBe(false);
    expect(platformMatches({ os: 'linux' }, 'linux', 'aarch64')).toBe(true);
    expect(platformMatches({ os: 'windows', arch: 'amd64' }, 'linux', 'x86_64')).toBe(false);
  });
});

describe('placement by platform and runtime', () => {
  it('platform: only nodes of that OS and architecture; none -> the reason counts them', () => {
    const arm = withSpec('arm', { platform: 'linux/arm64' });
    const amd = withSpec('amd', { platform: 'linux/amd64' });
    const nodes = [node('n1', { arch: 'x86_64' }), node('n2', { arch: 'aarch64' }), node('n3', { arch: 'x86_64' })];
    expect(placed(cluster({ nodes, services: [arm, amd], tasks: [pending(arm), pending(amd)] }))).toEqual({ 'arm.1': 'n2', 'amd.1': 'n1' });
    const riscv = withSpec('riscv', { platform: 'linux/riscv64' });
    expect(placed(cluster({ nodes, services: [riscv], tasks: [pending(riscv)] }))).toEqual({ 'riscv.1': 'ERR no suitable node (platform linux/riscv64 not on 3 nodes)' });
  });

  it('runtime: only nodes whose engine reports it; a node that reported none has runc', () => {
    const gvisor = withSpec('sandboxed', { runtime: 'runsc' });
    const plain = withSpec('plain', { runtime: 'runc' });
    const nodes = [withRuntimes(node('n1'), ['runc']), withRuntimes(node('n2'), ['runc', 'runsc']), withRuntimes(node('n3'))];
    expect(placed(cluster({ nodes, services: [gvisor], tasks: [pending(gvisor)] }))).toEqual({ 'sandboxed.1': 'n2' });
    expect(placed(cluster({ nodes: [nodes[2]], services: [plain], tasks: [pending(plain)] }))).toEqual({ 'plain.1': 'n3' });
    const kata = withSpec('kata', { runtime: 'kata' });
    expect(placed(cluster({ nodes, services: [kata], tasks: [pending(kata)] }))).toEqual({ 'kata.1': 'ERR no suitable node (runtime kata not on 3 nodes)' });
  });

  it('both filters and the others explain together', () => {
    const svc = withSpec('x', { platform: 'linux/arm64', runtime: 'runsc' });
    const nodes = [node('n1', { availability: 'drain', arch: 'aarch64' }), withRuntimes(node('n2', { arch: 'x86_64' }), ['runsc']), withRuntimes(node('n3', { arch: 'aarch64' }), ['runc'])];
    expect(placed(cluster({ nodes, services: [svc], tasks: [pending(svc)] }))).toEqual({
      'x.1': 'ERR no suitable node (1 node not available for new tasks; platform linux/arm64 not on 1 node; runtime runsc not on 1 node)',
    });
  });
});

describe('placement of device reservations (gpus)', () => {
  const gpu = (count?: number) => {
    const svc = service(`g${count ?? 'all'}`);
    svc.spec.deploy.resources.reservations.devices = [{ capabilities: ['gpu'], ...(count !== undefined ? { count } : {}) }];
    return svc;
  };
  const nodes = [node('n1'), node('n2', { labels: { gpu: '1' } }), node('n3', { engineLabels: { gpu: '4' } }), node('n4', { labels: { gpu: 'true' } })];

  it('count N: nodes whose gpu label (node or engine) is at least N', () => {
    const svc = gpu(2);
    expect(placed(cluster({ nodes, services: [svc], tasks: [pending(svc)] }))).toEqual({ 'g2.1': 'n3' });
  });

  it('all (or a label without a number): any node with the label', () => {
    const svc = gpu(-1);
    expect(placed(cluster({ nodes: [nodes[0], nodes[3]], services: [svc], tasks: [pending(svc)] }))).toEqual({ 'g-1.1': 'n4' });
  });

  it('no node has them: the reason says how a node offers them', () => {
    const svc = gpu(8);
    expect(placed(cluster({ nodes, services: [svc], tasks: [pending(svc)] }))).toEqual({
      'g8.1': 'ERR no suitable node (devices gpu x8 not on 4 nodes (a node offers them with a node or engine label such as gpu=N))',
    });
  });
});
