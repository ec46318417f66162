// Ingress on this node: which service owns each published ingress port, the listeners the
// proxy opens for the tasks, and their backends (local tasks running and, if checked, healthy).

import type { Logger } from 'pino';
import { taskStateIndex, type TaskObj, type TaskStatus } from '../../common/api/objects.js';
import { graceMs } from '../exec/container.js';
import { IngressProxy, PortInUseError, ingressKeyString, type Backend, type IngressKey } from '../ingress/proxy.js';

/** Longest wait for a stopping task's ingress connections to finish. */
export const INGRESS_DRAIN_MS = 2000;

const RUNNING_IDX = taskStateIndex('running');

const backendOf = (b: { hostIp: string; hostPort: number }): Backend => ({ host: b.hostIp === '0.0.0.0' ? '127.0.0.1' : b.hostIp, port: b.hostPort });

type IngressPort = { published?: number; protocol: 'tcp' | 'udp'; host_ip?: string; mode: 'ingress' | 'host'; target: number };

export class Ingress {
  readonly proxy: IngressProxy;
  private readonly owners = new Map<string, string>(); // key -> serviceId

  constructor(log: Logger, private readonly bindAddr: string) {
    this.proxy = new IngressProxy({ log });
  }

  private portsOf(t: TaskObj): (IngressPort & { published: number })[] {
    return (t.spec.ports ?? []).filter((p): p is IngressPort & { published: number } => p.mode === 'ingress' && p.published !== undefined);
  }

  private keyOf(p: { published: number; protocol: 'tcp' | 'udp'; host_ip?: string }): IngressKey {
    return { port: p.published, protocol: p.protocol, hostIp: p.host_ip || this.bindAddr };
  }

  /** Every listener the task publishes is open and its service's. */
  ready(t: TaskObj): boolean {
    return this.portsOf(t).every((p) => {
      const key = this.keyOf(p);
      return this.owners.get(ingressKeyString(key)) === t.serviceId && this.proxy.has(key);
    });
  }

  /** Open the ingress listeners a task publishes. Throws PortInUseError. */
  async bind(t: TaskObj): Promise<void> {
    for (const p of this.portsOf(t)) {
      const key = this.keyOf(p);
      const ks = ingressKeyString(key);
      const owner = this.owners.get(ks);
      if (owner && owner !== t.serviceId) throw new PortInUseError(key);
      this.owners.set(ks, t.serviceId); // before awaiting: a concurrent claim by another service fails
      try {
        await this.proxy.bind(key);
      } catch (err) {
        if (this.owners.get(ks) === t.serviceId && !this.proxy.has(key)) this.owners.delete(ks);
        throw err;
      }
    }
  }

  /** Backends of every ingress port from the local tasks; listeners nobody wants close. */
  refresh(tasks: Iterable<{ task: TaskObj; last?: TaskStatus }>): void {
    const wanted = new Map<string, { key: IngressKey; backends: Backend[] }>();
    for (const { task: t, last: s } of tasks) {
      if (taskStateIndex(t.desiredState) > RUNNING_IDX) continue;
      for (const p of this.portsOf(t)) {
        const key = this.keyOf(p);
        const ks = ingressKeyString(key);
        const owner = this.owners.get(ks);
        if (owner && owner !== t.serviceId) continue;
        let w = wanted.get(ks);
        if (!w) { w = { key, backends: [] }; wanted.set(ks, w); }
        if (!s || s.state !== 'running' || (s.health !== 'none' && s.health !== 'healthy' && s.health !== undefined)) continue;
        const b = s.portBindings?.find((x) => x.target === p.target && x.protocol === p.protocol);
        if (b) w.backends.push(backendOf(b));
      }
    }
    for (const w of wanted.values()) this.proxy.setBackends(w.key, w.backends);
    for (const key of this.proxy.keys()) {
      const ks = ingressKeyString(key);
      if (!wanted.has(ks)) {
        this.owners.delete(ks);
        void this.proxy.release(key);
      }
    }
  }

  /** Wait (bounded) for the TCP connections to a stopping task's backends to finish. */
  async drain(t: TaskObj, last: TaskStatus | undefined): Promise<void> {
    const backends: Backend[] = [];
    for (const p of this.portsOf(t)) {
      const b = last?.portBindings?.find((x) => x.target === p.target && x.protocol === p.protocol && x.protocol === 'tcp');
      if (b) backends.push(backendOf(b));
    }
    await this.proxy.drain(backends, Math.min(INGRESS_DRAIN_MS, graceMs(t)));
  }

  close(): Promise<void> { return this.proxy.close(); }
}
