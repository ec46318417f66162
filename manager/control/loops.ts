// Runs the control loops on the leader: watch the store, call the pure decision functions
// (manager/orchestrator, manager/scheduler) on a consistent snapshot, write what they return.
// Loops never call each other; they meet only in the store. A pass is triggered by a store
// change, by a timer a decision asked for (restart delays, update delays), and by a slow tick
// as a safety net. Passes never overlap; changes during a pass trigger one more pass.

import type { Logger } from 'pino';
import { newId } from '../../common/ids.js';
import { reconcileGlobal, reconcileReplicated, reapTasks, checkNodes } from '../orchestrator/index.js';
import { schedule } from '../scheduler/index.js';
import type { Store } from '../store/store.js';
import type { ClusterState, StoreOp, VolumeObj } from '../store/types.js';
import { assignedNetworksAndVolumes } from './usage.js';

export interface LoopOptions {
  store: Store;
  log: Logger;
  /** Last heartbeat per node, kept in memory by the dispatcher. */
  heartbeats?: () => ReadonlyMap<string, number>;
  nodeGraceMs?: number;
  onPurgeVolumes?: (vols: VolumeObj[]) => void;
  now?: () => number;
  tickMs?: number;
}

export class ControlLoops {
  private running = false;
  private again = false;
  private stopped = true;
  private unwatch?: () => void;
  private wakeTimer?: NodeJS.Timeout;
  private wakeAt = Infinity;
  private tick?: NodeJS.Timeout;
  private idle: Promise<void> = Promise.resolve();

  constructor(private readonly opts: LoopOptions) {}

  private get now(): number { return this.opts.now?.() ?? Date.now(); }

  start(): void {
    this.stopped = false;
    this.unwatch = this.opts.store.watch(() => this.trigger());
    this.tick = setInterval(() => this.trigger(), this.opts.tickMs ?? 2000);
    this.trigger();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    if (this.tick) clearInterval(this.tick);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    await this.idle;
  }

  trigger(): void {
    if (this.stopped) return;
    if (this.running) { this.again = true; return; }
    this.running = true;
    this.idle = (async () => {
      try {
        do {
          this.again = false;
          await this.pass();
        } while (this.again && !this.stopped);
      } finally {
        this.running = false;
      }
    })();
  }

  /** One pass of every loop. Each loop's ops are committed before the next loop looks. */
  private async pass(): Promise<void> {
    let wake = Infinity;
    const run = async (name: string, decide: (s: ClusterState) => StoreOp[]) => {
      const state = this.opts.store.state();
      let ops: StoreOp[];
      try {
        ops = decide(state);
      } catch (err) {
        this.opts.log.error({ err, loop: name }, 'control loop failed');
        return;
      }
      if (ops.length === 0) return;
      try {
        await this.opts.store.apply(ops);
      } catch (err) {
        // A conflict means someone wrote meanwhile: their change triggers another pass.
        this.opts.log.debug({ err, loop: name }, 'control loop write conflicted; will retry');
        this.again = true;
      }
    };
    await run('nodes', (s) => checkNodes(this.withHeartbeats(s), this.now, this.opts.nodeGraceMs ?? 3000));
    await run('orchestrator', (s) => s.services.flatMap((svc) => {
      const r = svc.spec.deploy.mode === 'global' ? reconcileGlobal(s, svc, this.now, newId) : reconcileReplicated(s, svc, this.now, newId);
      if (r.wakeAt !== undefined) wake = Math.min(wake, r.wakeAt);
      return r.ops;
    }));
    await run('scheduler', (s) => schedule(s, this.now));
    await run('reaper', (s) => [...reapTasks(s), ...this.reapReleased(s)]);
    this.armWake(wake);
  }

  private withHeartbeats(s: ClusterState): ClusterState {
    const hb = this.opts.heartbeats?.();
    if (!hb) return s;
    return { ...s, nodes: s.nodes.map((n) => ({ ...n, status: { ...n.status, lastHeartbeat: Math.max(n.status.lastHeartbeat, hb.get(n.id) ?? 0) } })) };
  }

  /** Networks and volumes a stack let go of are deleted once no task uses them. */
  private reapReleased(s: ClusterState): StoreOp[] {
    const used = assignedNetworksAndVolumes(s);
    const ops: StoreOp[] = [];
    const purged: VolumeObj[] = [];
    for (const n of s.networks) if (n.released && !used.networks.has(n.id)) ops.push({ op: 'delete', kind: 'network', id: n.id });
    for (const v of s.volumes) {
      if (!v.released || used.volumes.has(v.id)) continue;
      ops.push({ op: 'delete', kind: 'volume', id: v.id });
      if (v.purge) purged.push(v);
    }
    if (purged.length) queueMicrotask(() => this.opts.onPurgeVolumes?.(purged));
    return ops;
  }

  private armWake(at: number): void {
    if (at === Infinity || at >= this.wakeAt) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(() => { this.wakeAt = Infinity; this.trigger(); }, Math.max(0, at - this.now));
  }
}
