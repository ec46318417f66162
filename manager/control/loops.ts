// Runs the control loops on the leader: watch the store, call the pure decision functions
// (manager/nodemonitor, manager/orchestrator, manager/scheduler) on a consistent snapshot,
// write what they return. Loops never call each other; they meet only in the store. A pass is
// triggered by a store change, by a timer a decision asked for (restart delays, update delays,
// a node's heartbeat grace), by a down node being heard from, by a node's engine stopping or
// starting to answer, and by a slow tick as a safety net. Passes never overlap; changes during
// a pass trigger one more pass. One object a decision cannot handle is reported (once) and
// skipped: it never stops the others.

import { timerDelay } from '../../common/duration.js';
import type { Logger } from 'pino';
import { newId } from '../../common/ids.js';
import { checkNodes } from '../nodemonitor/index.js';
import type { EngineDown } from '../objects/node.js';
import { reapTasks, reconcileServices } from '../orchestrator/index.js';
import { defaultFilters, schedule } from '../scheduler/index.js';
import type { Store } from '../store/store.js';
import type { ClusterState, StoreOp, VolumeObj } from '../store/types.js';
import { assignedNetworksAndVolumes } from './usage.js';

export interface LoopOptions {
  store: Store;
  log: Logger;
  /** Last heartbeat per node, recorded in memory by the dispatcher. */
  heartbeats?: () => ReadonlyMap<string, number>;
  /** Nodes whose Docker engine does not answer (their agents say so), recorded in memory by the dispatcher. */
  engines?: () => ReadonlyMap<string, EngineDown>;
  /** A ready node is down once silent for this long (3 heartbeat periods). */
  nodeGraceMs?: number;
  /** Nodes whose session ended and that were not heard from since (dispatcher, in memory): when. */
  lost?: () => ReadonlyMap<string, number>;
  /** Such a node is down once it has not come back for this long (a heartbeat period). */
  lostGraceMs?: number;
  /** The grace of nodes not heard from since the loops started (an election): default nodeGraceMs. */
  startGraceMs?: number;
  onPurgeVolumes?: (vols: VolumeObj[]) => void;
  now?: () => number;
  tickMs?: number;
}

/** What a loop decided: ops to write, when to run again, ids of objects it skipped, what to do once written. */
interface Decision {
  ops: StoreOp[];
  wakeAt?: number;
  failed?: readonly string[];
  committed?: () => void;
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
  private watchingSince = 0;
  /** What was last reported per failing object (`loop/id`), so each failure is logged once. */
  private readonly reported = new Map<string, string>();

  constructor(private readonly opts: LoopOptions) {}

  private get now(): number { return this.opts.now?.() ?? Date.now(); }

  start(): void {
    this.stopped = false;
    this.watchingSince = this.now;
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

  /** Resolves once no pass is running (a pass triggered meanwhile included). */
  async whenIdle(): Promise<void> {
    let seen: Promise<void> | undefined;
    while (seen !== this.idle) { seen = this.idle; await seen; }
  }

  /** A node was heard from (a heartbeat): a pass marks it ready again if it was down. */
  nodeHeard(nodeId: string): void {
    const n = this.opts.store.view((tx) => tx.get('node', nodeId));
    if (n && n.status.state === 'down') this.trigger();
  }

  /** A node's session ended: a pass arms the wake-up that marks it down if it does not come back. */
  sessionLost(): void {
    this.trigger();
  }

  /** A node's engine stopped or started answering: a pass shows it (and decides on the node). */
  engineChanged(): void {
    this.trigger();
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
    // Decide on everything committed so far (ReadIndex), never on a deposed leader's view.
    try {
      await this.opts.store.barrier();
    } catch (err) {
      this.failed('barrier', '', err instanceof Error ? err.message : String(err), { err });
      return;
    }
    this.settle('barrier', []);
    let wake = Infinity;
    const run = async (name: string, decide: (s: ClusterState) => Decision) => {
      const state = this.opts.store.state();
      let d: ReturnType<typeof decide>;
      try {
        d = decide(state);
      } catch (err) {
        this.failed(name, '', err instanceof Error ? err.message : String(err), { err });
        return;
      }
      this.settle(name, d.failed ?? []);
      if (d.wakeAt !== undefined) wake = Math.min(wake, d.wakeAt);
      if (d.ops.length === 0) return;
      try {
        await this.opts.store.apply(d.ops);
      } catch (err) {
        // A conflict means someone wrote meanwhile: their change triggers another pass.
        this.opts.log.debug({ err, loop: name }, 'control loop write conflicted; will retry');
        this.again = true;
        return;
      }
      d.committed?.();
    };
    await run('nodes', (s) => {
      const d = checkNodes(s, { now: this.now, graceMs: this.opts.nodeGraceMs ?? 3000, startGraceMs: this.opts.startGraceMs, heartbeats: this.opts.heartbeats?.(), engines: this.opts.engines?.(), lost: this.opts.lost?.(), lostGraceMs: this.opts.lostGraceMs, watchingSince: this.watchingSince });
      return {
        ...d,
        committed: () => {
          for (const n of d.down) this.opts.log.warn({ node: n.id, hostname: n.description.hostname, reason: n.status.message }, `node down: ${n.status.message}`);
          for (const n of d.ready) this.opts.log.info({ node: n.id, hostname: n.description.hostname }, 'node ready again');
        },
      };
    });
    await run('orchestrator', (s) => {
      const r = reconcileServices(s, this.now, newId);
      for (const f of r.failures) this.failed('orchestrator', f.service.id, f.error, { service: f.service.name });
      return { ...r, failed: r.failures.map((f) => f.service.id) };
    });
    await run('scheduler', (s) => {
      const failed: string[] = [];
      const ops = schedule(s, this.now, defaultFilters(), (t, error) => {
        failed.push(t.id);
        this.failed('scheduler', t.id, error, { task: t.id, service: t.serviceName });
      });
      return { ops, failed };
    });
    await run('reaper', (s) => ({ ops: reapTasks(s) }));
    await run('release', (s) => this.reapReleased(s));
    this.armWake(wake);
  }

  /** Log a failure of one object (or of a whole loop: id '') once, not on every pass. */
  private failed(loop: string, id: string, error: string, fields: Record<string, unknown>): void {
    const key = `${loop}/${id}`;
    if (this.reported.get(key) === error) return;
    this.reported.set(key, error);
    this.opts.log.error({ ...fields, loop, ...(id ? { id } : {}), error }, id ? `${loop}: skipped an object it cannot handle` : 'control loop failed');
  }

  /** After a loop ran: failures of it no longer seen (the loop itself, objects not in `failing`) are over. */
  private settle(loop: string, failing: readonly string[]): void {
    const still = new Set(failing.map((id) => `${loop}/${id}`));
    for (const key of [...this.reported.keys()]) {
      if (!key.startsWith(`${loop}/`) || still.has(key)) continue;
      this.reported.delete(key);
      const id = key.slice(loop.length + 1);
      this.opts.log.info({ loop, ...(id ? { id } : {}) }, 'control loop failure cleared');
    }
  }

  /** Networks and volumes a stack let go of are deleted once no task uses them. */
  private reapReleased(s: ClusterState): Decision {
    const used = assignedNetworksAndVolumes(s);
    const ops: StoreOp[] = [];
    const purged: VolumeObj[] = [];
    for (const n of s.networks) if (n.released && !used.networks.has(n.id)) ops.push({ op: 'delete', kind: 'network', id: n.id });
    for (const v of s.volumes) {
      if (!v.released || used.volumes.has(v.id)) continue;
      ops.push({ op: 'delete', kind: 'volume', id: v.id });
      if (v.purge) purged.push(v);
    }
    // Nodes delete the engine's volumes once the store no longer holds them.
    return { ops, committed: () => { if (purged.length) this.opts.onPurgeVolumes?.(purged); } };
  }

  private armWake(at: number): void {
    if (at === Infinity || at >= this.wakeAt) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(() => { this.wakeAt = Infinity; this.trigger(); }, timerDelay(at - this.now));
  }
}
