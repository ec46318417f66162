// The scheduler's feasibility pipeline: small filters, each one question about a node (as in
// swarmkit's manager/scheduler/filter.go). A new placement rule is one more class here.

import { parseConstraints, matchConstraints, type Constraint } from '../../common/api/constraint.js';
import { nodeRuntimes, parsePlatform, platformMatches, type Platform } from '../../common/api/platform.js';
import { hostPortsOf, taskMemory, taskNanoCpus, type NodeInfo } from './nodeinfo.js';
import type { TaskObj } from '../store/types.js';

export interface Filter {
  readonly name: string;
  /** Prepare for a task; false when this filter has nothing to say about it (it is skipped). */
  setTask(task: TaskObj): boolean;
  /** Can the node take the task? */
  check(info: NodeInfo): boolean;
  /** Why `nodes` nodes were turned down by this filter, for the task's error message. */
  explain(nodes: number): string;
}

/** "1 node" / "2 nodes", optionally with the verb agreeing. */
export const nodesPhrase = (n: number, verb?: [string, string]): string =>
  `${n} node${n === 1 ? '' : 's'}${verb ? ` ${n === 1 ? verb[0] : verb[1]}` : ''}`;

export class ReadyFilter implements Filter {
  readonly name = 'ready';
  /** Of the nodes turned down, those that are ready but whose Docker engine does not answer. */
  private engineDown = 0;
  setTask(): boolean { this.engineDown = 0; return true; }
  check(info: NodeInfo): boolean {
    const n = info.node;
    if (n.status.state !== 'ready' || n.spec.availability !== 'active') return false;
    if (n.status.engine === 'down') { this.engineDown++; return false; }
    return true;
  }
  explain(nodes: number): string {
    const other = nodes - this.engineDown;
    return [
      ...(other > 0 ? [`${nodesPhrase(other)} not available for new tasks`] : []),
      ...(this.engineDown > 0 ? [`engine down on ${nodesPhrase(this.engineDown)}`] : []),
    ].join('; ');
  }
}

export class ConstraintFilter implements Filter {
  readonly name = 'constraints';
  private constraints: Constraint[] = [];
  private error?: string;
  setTask(task: TaskObj): boolean {
    const exprs = task.spec.deploy.placement.constraints;
    if (exprs.length === 0) return false;
    const parsed = parseConstraints(exprs);
    if (typeof parsed === 'string') { this.error = parsed; this.constraints = []; } else { this.error = undefined; this.constraints = parsed; }
    return true;
  }
  check(info: NodeInfo): boolean { return this.error === undefined && matchConstraints(this.constraints, info.node); }
  explain(nodes: number): string {
    return this.error ?? `scheduling constraints not satisfied on ${nodesPhrase(nodes)}`;
  }
}

/** Reservations against what the node reports; a node reporting 0 (unknown) is not limited. */
abstract class ReservationFilter implements Filter {
  abstract readonly name: string;
  protected need = 0;
  protected abstract amount(t: TaskObj): number;
  protected abstract capacity(info: NodeInfo): number;
  protected abstract used(info: NodeInfo): number;
  abstract explain(nodes: number): string;
  setTask(task: TaskObj): boolean { this.need = this.amount(task); return this.need > 0; }
  check(info: NodeInfo): boolean {
    const cap = this.capacity(info);
    return cap <= 0 || this.used(info) + this.need <= cap;
  }
}

export class CpuFilter extends ReservationFilter {
  readonly name = 'cpu';
  protected amount(t: TaskObj): number { return taskNanoCpus(t); }
  protected capacity(info: NodeInfo): number { return info.node.description.resources.nanoCpus; }
  protected used(info: NodeInfo): number { return info.reserved.nanoCpus; }
  explain(nodes: number): string { return `${nodesPhrase(nodes, ['has', 'have'])} insufficient CPU`; }
}

export class MemoryFilter extends ReservationFilter {
  readonly name = 'memory';
  protected amount(t: TaskObj): number { return taskMemory(t); }
  protected capacity(info: NodeInfo): number { return info.node.description.resources.memoryBytes; }
  protected used(info: NodeInfo): number { return info.reserved.memoryBytes; }
  explain(nodes: number): string { return `${nodesPhrase(nodes, ['has', 'have'])} insufficient memory`; }
}

export class HostPortFilter implements Filter {
  readonly name = 'host-ports';
  private ports: string[] = [];
  private conflicts = new Set<string>();
  setTask(task: TaskObj): boolean {
    this.ports = hostPortsOf(task);
    this.conflicts.clear();
    return this.ports.length > 0;
  }
  check(info: NodeInfo): boolean {
    const used = this.ports.filter((p) => info.hostPorts.has(p));
    for (const p of used) this.conflicts.add(p);
    return used.length === 0;
  }
  explain(nodes: number): string {
    const ports = [...this.conflicts].sort();
    return `host-mode port${ports.length === 1 ? '' : 's'} ${ports.join(', ')} in use on ${nodesPhrase(nodes)}`;
  }
}

export class MaxReplicasFilter implements Filter {
  readonly name = 'max-replicas';
  private max = 0;
  private serviceId = '';
  setTask(task: TaskObj): boolean {
    this.max = task.spec.deploy.placement.max_replicas_per_node ?? 0;
    this.serviceId = task.serviceId;
    return this.max > 0;
  }
  check(info: NodeInfo): boolean { return (info.serviceTasks.get(this.serviceId) ?? 0) < this.max; }
  explain(nodes: number): string {
    return `max replicas per node (${this.max}) reached on ${nodesPhrase(nodes)}`;
  }
}

/** `platform: os/arch`: only nodes of that OS and architecture (x86_64 is amd64, aarch64 arm64, as Docker reads them). */
export class PlatformFilter implements Filter {
  readonly name = 'platform';
  private platform?: Platform;
  private text = '';
  setTask(task: TaskObj): boolean {
    const p = task.spec.platform === undefined ? undefined : parsePlatform(task.spec.platform);
    this.platform = typeof p === 'object' ? p : undefined;
    this.text = task.spec.platform ?? '';
    return this.platform !== undefined;
  }
  check(info: NodeInfo): boolean {
    const { os, arch } = info.node.description.platform;
    return this.platform !== undefined && platformMatches(this.platform, os, arch);
  }
  explain(nodes: number): string { return `platform ${this.text} not on ${nodesPhrase(nodes)}`; }
}

/** `runtime`: only nodes whose engine has that runtime. */
export class RuntimeFilter implements Filter {
  readonly name = 'runtime';
  private runtime = '';
  setTask(task: TaskObj): boolean {
    this.runtime = task.spec.runtime ?? '';
    return this.runtime !== '';
  }
  check(info: NodeInfo): boolean { return nodeRuntimes(info.node.description.engine.runtimes).includes(this.runtime); }
  explain(nodes: number): string { return `runtime ${this.runtime} not on ${nodesPhrase(nodes)}`; }
}

/**
 * `gpus` / `deploy.resources.reservations.devices`: an engine cannot tell which devices it
 * has, so a node says it through a label named after the capability, a node label or its
 * engine's (`dockerd --label gpu=2`): `gpu=2` two GPUs, `gpu=true` one. A request of
 * `count` N needs at least N; `all` or device_ids need the label alone. What
 * other tasks hold is not counted.
 */
export class DeviceFilter implements Filter {
  readonly name = 'devices';
  private needs: { capability: string; count: number }[] = [];
  private missing = new Set<string>();
  setTask(task: TaskObj): boolean {
    const reqs = task.spec.deploy.resources.reservations.devices ?? [];
    this.needs = reqs.flatMap((r) => r.capabilities.map((capability) => ({ capability, count: r.count !== undefined && r.count > 0 ? r.count : 0 })));
    this.missing.clear();
    return this.needs.length > 0;
  }
  check(info: NodeInfo): boolean {
    const labels = { ...info.node.description.engine.labels, ...info.node.spec.labels };
    const short = this.needs.filter(({ capability, count }) => {
      const v = labels[capability];
      if (v === undefined || v === 'false' || v === '0') return true;
      return (/^\d+$/.test(v) ? Number(v) : 1) < count;
    });
    for (const n of short) this.missing.add(n.count > 0 ? `${n.capability} x${n.count}` : n.capability);
    return short.length === 0;
  }
  explain(nodes: number): string {
    const first = [...this.missing].sort()[0]?.split(' ')[0] ?? 'gpu';
    return `devices ${[...this.missing].sort().join(', ')} not on ${nodesPhrase(nodes)} (a node offers them with a node or engine label such as ${first}=N)`;
  }
}

/** The pipeline in the order failures are blamed: a node is counted against the first filter it fails. */
export const defaultFilters = (): Filter[] => [
  new ReadyFilter(), new ConstraintFilter(), new CpuFilter(), new MemoryFilter(), new HostPortFilter(), new MaxReplicasFilter(),
  new PlatformFilter(), new RuntimeFilter(), new DeviceFilter(),
];

export interface FilterResult {
  eligible: NodeInfo[];
  /** Empty when some node is eligible; otherwise the "no suitable node (...)" message. */
  error?: string;
}

/** Run a task through the pipeline over the given nodes. */
export function filterNodes(filters: readonly Filter[], task: TaskObj, nodes: readonly NodeInfo[]): FilterResult {
  const active = filters.filter((f) => f.setTask(task));
  const failures = new Map<Filter, number>();
  const eligible: NodeInfo[] = [];
  for (const info of nodes) {
    const failed = active.find((f) => !f.check(info));
    if (failed) failures.set(failed, (failures.get(failed) ?? 0) + 1);
    else eligible.push(info);
  }
  if (eligible.length > 0) return { eligible };
  if (nodes.length === 0) return { eligible, error: 'no suitable node (no nodes in the cluster)' };
  const reasons = active.filter((f) => failures.has(f)).map((f) => f.explain(failures.get(f)!));
  return { eligible, error: `no suitable node (${reasons.join('; ')})` };
}
