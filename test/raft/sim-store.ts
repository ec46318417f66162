// The store simulation: the deterministic Raft simulation (sim.ts, its nemesis and its per-step
// Raft checks) with the manager's store as the state machine. Every simulated manager applies
// StoreMachine (manager/store/machine.ts) entries; the real pure control loops (node monitor,
// orchestrator, scheduler, reaper) run on the leader only, as the manager will run them on Raft:
//
// - a batch proposed to Raft is { ops: BatchOp[], now } (now: the proposer's clock); StoreOp ->
//   BatchOp: create -> create, update -> update expecting obj.meta.version, delete -> delete
//   expecting the version in the state the decision read (when it holds the object);
// - the loops start on a node once it is leader AND has applied an entry of its own term (its
//   first empty entry: everything committed before its term is in its state); they stop when it
//   is no longer leader of that term. A pass runs each loop on the node's applied state, proposes
//   its ops as one batch and waits for it to be applied here before the next loop looks (as
//   ControlLoops awaits store.apply); a batch refused at apply (compare-and-set) is dropped and
//   the pass runs again. Passes run on every applied change, on the wake-up a decision asked for,
//   on a node heard from while down, and on a slow tick;
// - agents (worker nodes) hold a session with the leader: they register through it (a write),
//   heartbeat to it (kept in its memory and given to the node monitor, as the dispatcher does),
//   run the tasks assigned to them (the dispatcher's assignment set, from the leader's state)
//   and report statuses, which the leader writes as the dispatcher does (validated, forward only,
//   compare-and-set);
// - clients create, scale, update and delete services, and drain/activate nodes, through the
//   leader with compare-and-set, and record the writes acknowledged (applied, ok) to them.
//
// Invariants (a Violation fails the seed):
//  1. identical replicas: every manager that applied index i holds the same state at i: the
//     same apply result, the same set of objects (a digest kept from the apply events, compared
//     at every index), the same serialisation in full (at every 32nd index, at every snapshot
//     written or restored, and of every member at the end). True because StoreMachine.apply is a
//     function of (state, entry), Raft gives every manager the same entries in order, and a
//     snapshot is exactly the serialised state.
//  2. acknowledged writes kept: after healing, every member holds every service whose create or
//     update was acknowledged (applied in its proposer's term), at that version or a later one
//     (equal to what was written if at that version), unless a client delete of it that was
//     acknowledged or whose outcome is unknown expected that version or a later one; a service
//     whose delete was acknowledged is gone. True because an applied entry is committed, and
//     later writes of a service are compare-and-set: none can apply to an older version.
//  3. slots: at every applied index, for every (service, slot) — the replica number, or the node
//     for a global service: (a) at most one live task (desired running, status not terminal)
//     per spec version; (b) at most two live tasks; (c) for a service whose update and rollback
//     order are stop-first (a client never changes the order here), at most one task whose
//     desired state is running, live or not. Not "one live task per slot": a start-first update
//     runs the old and the new task side by side, and a spec change between an orchestrator's
//     read and its commit can leave two older-version tasks live until the next pass. A task
//     that ran on a node while it was drained ("leaving": start-first, it runs until its
//     replacement is up) is not counted in (a): its replacement has its spec version. True
//     because (i) only the orchestrator creates tasks, and nothing makes a task live or desired
//     running again (invariant 4), so between its decisions those sets only shrink; (ii) the
//     orchestrator decisions that commit are totally ordered, each one read a state holding
//     every earlier one: within a term a leader's loops run one batch at a time, each applied
//     here before the next loop reads; a new leader reads only after applying an entry of its
//     term at some index j, and an earlier term's entry that ever commits sits below j (terms
//     never decrease along the log), so a deposed leader's batch is either read by its successor
//     or never committed; (iii) on the state it reads, a decision stops every extra live task
//     of a generation (current / older spec) in the batch that creates, and creates a task only
//     in a slot with no live task of the current spec; stop-first creates only once the slot's
//     other tasks are stopped or in the same batch as stopping them; (iv) the batch is all or
//     nothing and compare-and-set on every task it stops. The negative control noBarrier
//     (loops started before that first applied entry of the term) breaks (a).
//  4. forward only: a task's status never goes back nor leaves a terminal state, its desired
//     state never goes back, its node once set, its slot, service and spec version never change;
//     a service's spec version never decreases. True because each writer moves tasks only
//     forward from the version it read and compare-and-set refuses a write over a newer one.
//  5. convergence: within calmMs after healing (10 s; it takes under 2 s), for STABLE_MS: a
//     leader runs the loops with nothing in flight, every member applied the same index with the
//     same state, every worker is ready (and active: an operator re-activates drained ones),
//     every replicated service has exactly one live task per slot 1..replicas, up (running),
//     a global service one per node, nothing else is live, and the agents run exactly those
//     tasks. With --drop-refused (the dispatcher drops a status batch refused at apply, as a
//     store.update that does not retry would) statuses are lost for good and seeds never
//     converge: the agent reports a status once, and again only after a new session.
import { crc32 } from '../../common/crc32.js';
import { timerDelay } from '../../common/duration.js';
import { defaultDeploy, type ServiceSpec } from '../../common/spec.js';
import { assignedNetworksAndVolumes } from '../../manager/control/usage.js';
import { prepareServiceSpec } from '../../manager/controlapi/write-spec.js';
import { parseTaskStatus } from '../../manager/dispatcher/status.js';
import { AgentErrorCodes } from '../../agent/errors.js';
import { decide, wouldReport, type Action, type Observed } from '../../agent/worker/reconcile.js';
import { checkNodes } from '../../manager/nodemonitor/index.js';
import { assignmentsFor } from '../../manager/objects/assignments.js';
import { isUp, withStatus } from '../../manager/objects/task.js';
import { reapTasks, reconcileServices, rollbackService } from '../../manager/orchestrator/index.js';
import { decodeConfChange, type Entry, type NodeId } from '../../manager/raft/types.js';
import { defaultFilters, schedule } from '../../manager/scheduler/index.js';
import { StoreMachine, type ApplyResult, type Batch, type BatchOp } from '../../manager/store/machine.js';
import {
  isTerminal, taskStateIndex, type ClusterState, type NodeObj, type ServiceObj, type StoreObj, type StoreOp, type TaskObj, type TaskStatus,
} from '../../manager/store/types.js';
import { seededRand } from './harness.js';
import { Simulation, Violation, type SimNode } from './sim.js';

export interface StoreSimOptions {
  seed: number;
  nodes: 3 | 5;
  /** Virtual ms of chaos (default 2500). */
  durationMs?: number;
  /** Virtual ms after healing within which the cluster must converge (default 10000). */
  calmMs?: number;
  /** Worker nodes (default 3 or 4). */
  agents?: number;
  verbose?: boolean;
  /**
   * Negative control: start the loops as soon as a node is leader, without waiting to apply an
   * entry of its term. The invariants must catch what this breaks (sim-store.test.ts).
   */
  noBarrier?: boolean;
  /**
   * The dispatcher's writes (registrations, statuses) refused at apply are computed again on the
   * new state and proposed again (default true). False: dropped, like the loops' batches.
   */
  retryRefused?: boolean;
  /**
   * Negative control: a loop does not wait for its batch to be applied before the next loop
   * reads, nor a pass for the previous one's batches.
   */
  pipelined?: boolean;
  /** Clocks of managers and agents are off by up to this much, each its own (default 15 ms). */
  skewMs?: number;
}

export interface StoreSimStats {
  elections: number;
  /** Leader terms whose loops started. */
  loopStarts: number;
  crashes: number;
  confChanges: number;
  transfers: number;
  snapshotsSent: number;
  events: number;
  entries: number;
  loopBatches: number;
  loopConflicts: number;
  tasksCreated: number;
  statusBatches: number;
  registrations: number;
  dispatcherRetries: number;
  dispatcherDropped: number;
  clientOps: number;
  clientAcks: number;
  clientUnknown: number;
  nodesDown: number;
  convergeMs: number;
}

export interface StoreSimResult {
  seed: number;
  ok: boolean;
  violation?: string;
  trace: string[];
  stats: StoreSimStats;
}

const T0 = 1_700_000_000_000;
/** Agents heartbeat this often; a ready node is down once silent for 3 periods (LoopOptions.nodeGraceMs). */
const HEARTBEAT_MS = 50;
const GRACE_MS = 3 * HEARTBEAT_MS;
/** The loops' safety-net tick (LoopOptions.tickMs). */
const LOOP_TICK_MS = 250;
const CLIENT_TIMEOUT_MS = 1500;
const MAX_SERVICES = 4;
/** The convergence must hold this long (every check) to count. */
const STABLE_MS = 300;
/** Every manager's state is compared at every index (SetDigest), in full at multiples of this and at snapshots. */
const FULL_DIGEST_EVERY = 32;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The outcome of a proposal, as its proposer learns it. */
type Outcome =
  | { applied: true; index: number; result: ApplyResult }
  /** certain: it definitely did not and never will apply (refused, or its entry was replaced). */
  | { applied: false; certain: boolean; why: string };

interface Mgr {
  machine: StoreMachine;
  /** Term of the last entry applied (0 after a restore). */
  appliedTerm: number;
  /** Proposals this node made: index -> (term, callback). */
  proposals: Map<number, { term: number; done: (o: Outcome) => void }>;
  /** The dispatcher's memory: last time each worker was heard from. */
  heartbeats: Map<string, number>;
  loops?: Loops;
  /** The digest of the machine's state, kept up to date by apply. */
  digest: SetDigest;
  pushScheduled: boolean;
  /**
   * A member was added: snapshot at once (as RaftNode does), since the new member refuses a
   * snapshot whose configuration does not name it.
   */
  snapshotNow: boolean;
  /** Bumped at every crash and start: callbacks of an earlier life are ignored. */
  life: number;
}

/** An assigned task as the simulated worker holds it (agent/worker/assignments.ts Local). */
interface Local {
  task: TaskObj;
  /** Last status reported. */
  last?: TaskStatus;
  hadContainer: boolean;
  wakeAt?: number;
  wakeGen: number;
  /** Its start-up is in progress; `again`: reconcile once it is over. */
  busy: boolean;
  again: boolean;
}

/** A simulated container: created, running, or exited with a code. */
interface Container {
  id: string;
  state: 'created' | 'running' | 'exited';
  exitCode?: number;
  stopping: boolean;
}

interface Session {
  mgr: NodeId;
  term: number;
  life: number;
  /** The dispatcher's record of what it pushed: task id -> version. */
  sent: Map<string, number>;
}

/**
 * A worker node: its agent's session (register, heartbeats, status batches), its assignment set
 * as the dispatcher pushes it, and its containers, driven by the real worker's pure `decide`.
 */
interface Agent {
  id: string;
  index: number;
  /** Reachable from the managers (the nemesis disconnects agents). */
  up: boolean;
  session?: Session;
  /** Until when a registration is in flight (it may never be answered). */
  connecting: number;
  tasks: Map<string, Local>;
  /** By task id. */
  containers: Map<string, Container>;
  fullReceived: boolean;
  dropped: Set<string>;
  /** Statuses queued for the next batch (AgentSession.report). */
  pending: Map<string, TaskStatus>;
  flushScheduled: boolean;
  scheduled: Set<string>;
}

interface Ack {
  kind: 'create' | 'update' | 'delete';
  service: string;
  index: number;
  /** The service as the write stored it (create/update). */
  obj?: ServiceObj;
}

/** The store's state as the pure loop functions read it (as Store.state()). */
export function clusterState(m: StoreMachine): ClusterState {
  return {
    nodes: m.list('node'),
    services: m.list('service'),
    tasks: m.list('task'),
    networks: m.list('network'),
    volumes: m.list('volume'),
    cluster: m.get('cluster', 'default'),
  };
}

/**
 * The batch a decision's ops make: updates expect the version they were computed from; deletes
 * the version of the object in the state the decision read, when it holds it.
 */
export function toBatchOps(ops: StoreOp[], read: StoreMachine): BatchOp[] {
  return ops.map((op): BatchOp => {
    if (op.op === 'create') return { op: 'create', obj: op.obj };
    if (op.op === 'update') return { op: 'update', obj: op.obj, expect: op.obj.meta.version };
    const cur = read.get(op.kind, op.id);
    return cur ? { op: 'delete', kind: op.kind, id: op.id, expect: cur.meta.version } : { op: 'delete', kind: op.kind, id: op.id };
  });
}

/** The digest of a serialised state (a snapshot's body): its length and CRC-32. */
function hash(s: string): string {
  const bytes = enc.encode(s);
  return `${bytes.length}:${crc32(bytes).toString(16)}`;
}

/** The digest of the state's serialisation, computed in full. */
const fullDigest = (m: StoreMachine): string => hash(JSON.stringify(m.state()));

/** Each stored object's CRC-32 (objects in a StoreMachine are replaced, never changed in place). */
const objectCrc = new WeakMap<object, number>();

function crcOf(o: StoreObj): number {
  let c = objectCrc.get(o);
  if (c === undefined) {
    c = crc32(enc.encode(JSON.stringify(o)));
    objectCrc.set(o, c);
  }
  return c;
}

/**
 * A digest of the set of objects, kept up to date from each apply's events: the count, sum and
 * xor of the objects' serialisations' CRCs (mixed). Equal digests mean equal snapshot bodies
 * (the body is the serialisations in an order fixed by the set). The events could disagree with
 * the machine, or an object be changed in place: fullDigest, compared at every
 * FULL_DIGEST_EVERY index and every snapshot, catches those.
 */
class SetDigest {
  private count = 0;
  private sum = 0;
  private xor = 0;

  static of(m: StoreMachine): SetDigest {
    const d = new SetDigest();
    for (const o of m.state().objects) d.add(o);
    return d;
  }

  add(o: StoreObj): void {
    const c = crcOf(o);
    this.count++;
    this.sum = (this.sum + c) >>> 0;
    this.xor = (this.xor ^ Math.imul(c ^ (c >>> 15), 0x2c1b3c6d)) >>> 0;
  }

  remove(o: StoreObj): void {
    const c = crcOf(o);
    this.count--;
    this.sum = (this.sum - c) >>> 0;
    this.xor = (this.xor ^ Math.imul(c ^ (c >>> 15), 0x2c1b3c6d)) >>> 0;
  }

  apply(r: ApplyResult): void {
    if (!r.ok) return;
    for (const ev of r.events) {
      if (ev.prev) this.remove(ev.prev);
      if (ev.op === 'delete') this.remove(ev.obj);
      else this.add(ev.obj);
    }
  }

  toString(): string {
    return `${this.count}:${this.sum.toString(16)}:${this.xor.toString(16)}`;
  }
}

const stopFirst = (s: ServiceObj): boolean => s.spec.deploy.update_config.order === 'stop-first' && s.spec.deploy.rollback_config.order === 'stop-first';

const LOOP_NAMES = ['nodes', 'orchestrator', 'scheduler', 'reaper', 'release'] as const;
type LoopName = (typeof LOOP_NAMES)[number];

/** The control-loop runner of one leader term (ControlLoops, on the simulated clock). */
class Loops {
  stopped = false;
  running = false;
  private again = false;
  private wakeAt = Infinity;
  private wakeGen = 0;
  readonly watchingSince: number;

  constructor(private readonly ss: StoreSimulation, readonly n: SimNode, readonly term: number) {
    this.watchingSince = ss.clock(n);
    this.tick();
  }

  alive(): boolean {
    return !this.stopped && this.ss.isLeader(this.n, this.term);
  }

  private tick(): void {
    if (!this.alive()) return;
    this.trigger();
    this.ss.sim.at(LOOP_TICK_MS, () => this.tick());
  }

  trigger(): void {
    if (!this.alive()) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.again = false;
    this.runLoop(0, Infinity);
  }

  private runLoop(i: number, wake: number): void {
    if (!this.alive()) {
      this.running = false;
      return;
    }
    if (i === LOOP_NAMES.length) {
      this.running = false;
      this.armWake(wake);
      if (this.again) this.ss.sim.at(0, () => this.trigger());
      return;
    }
    const name = LOOP_NAMES[i]!;
    const m = this.ss.mgr(this.n);
    const d = this.ss.decide(name, m, this);
    if (d.wakeAt !== undefined) wake = Math.min(wake, d.wakeAt);
    if (d.ops.length === 0) {
      this.runLoop(i + 1, wake);
      return;
    }
    const pipelined = this.ss.pipelined;
    const proposed = this.ss.propose(this.n, toBatchOps(d.ops, m.machine), `loop ${name}`, (o) => {
      if (pipelined) {
        if (o.applied && o.result.ok) this.ss.stats.loopBatches++;
        return;
      }
      if (o.applied && o.result.ok) this.ss.stats.loopBatches++;
      else {
        // Refused (someone wrote meanwhile) or lost: the pass runs again on what is there now.
        if (o.applied) this.ss.stats.loopConflicts++;
        this.again = true;
      }
      this.runLoop(i + 1, wake);
    });
    if (!proposed) {
      // Refused at once (a leadership transfer is under way): try again a little later.
      this.running = false;
      this.ss.sim.at(20, () => this.trigger());
    } else if (pipelined) this.runLoop(i + 1, wake);
  }

  private armWake(at: number): void {
    if (at === Infinity || at >= this.wakeAt) return;
    this.wakeAt = at;
    const gen = ++this.wakeGen;
    this.ss.sim.at(timerDelay(at - this.ss.clock(this.n)), () => {
      if (gen !== this.wakeGen) return;
      this.wakeAt = Infinity;
      this.trigger();
    });
  }
}

export class StoreSimulation {
  sim!: Simulation;
  readonly stats: StoreSimStats = {
    elections: 0, loopStarts: 0, crashes: 0, confChanges: 0, transfers: 0, snapshotsSent: 0, events: 0, entries: 0,
    loopBatches: 0, loopConflicts: 0, tasksCreated: 0, statusBatches: 0, registrations: 0, dispatcherRetries: 0, dispatcherDropped: 0,
    clientOps: 0, clientAcks: 0, clientUnknown: 0, nodesDown: 0, convergeMs: -1,
  };
  get pipelined(): boolean {
    return !!this.o.pipelined;
  }

  private readonly rand: () => number;
  private readonly skews = new Map<string, number>();
  private readonly mgrs = new Map<NodeId, Mgr>();
  private readonly agents: Agent[] = [];
  private ids = 0;
  /** index -> digest of the state there, and who first applied it. */
  private readonly digests = new Map<number, { node: NodeId; digest: string; what: string }>();
  /** The same, of the full serialisation (at snapshots, restores and every FULL_DIGEST_EVERY). */
  private readonly fullDigests = new Map<number, { node: NodeId; digest: string; what: string }>();
  /** index -> the result of applying it, and who first applied it. */
  private readonly results = new Map<number, { node: NodeId; result: string }>();
  /** Tasks seen running, meant to, on a drained node (invariant 3: a start-first move). */
  private readonly leaving = new Set<string>();
  private maxApplied = 0;
  private readonly acks: Ack[] = [];
  /** Client deletes of unknown outcome: service id -> versions they expected. */
  private readonly maybeDeleted = new Map<string, number[]>();
  private calmAt = -1;
  private indexAtCalm = 0;
  private convergedSince = -1;
  private notConverged = 'not checked yet';
  private finished = false;

  constructor(private readonly o: StoreSimOptions) {
    this.rand = seededRand(o.seed * 104_729 + 7);
    const agents = o.agents ?? 3 + (o.seed % 3 === 0 ? 1 : 0);
    for (let i = 1; i <= agents; i++) this.agents.push({ id: `w${i}`, index: i, up: true, connecting: 0, tasks: new Map(), containers: new Map(), fullReceived: false, dropped: new Set(), pending: new Map(), flushScheduled: false, scheduled: new Set() });
    this.sim = new Simulation({
      seed: o.seed,
      nodes: o.nodes,
      durationMs: o.durationMs ?? 2500,
      calmMs: o.calmMs ?? 10_000,
      clients: 0,
      verbose: o.verbose,
      hooks: {
        restore: (n, data, index, why) => this.restore(n, data, index, why),
        apply: (n, e) => this.apply(n, e),
        snapshot: (n) => this.snapshot(n),
        snapshotNow: (n) => this.mgr(n).snapshotNow && n.appliedIndex > (n.disk?.mem.snapshot().meta.index ?? 0),
        softState: (n) => this.softState(n),
        crash: (n) => this.crashed(n),
        calm: () => this.calm(),
        done: () => this.finished,
        end: () => this.end(),
      },
    });
  }

  /** A manager's clock (each one a little off, see skewMs). */
  clock(n: SimNode): number {
    return T0 + this.sim.now + this.skew(`m${n.id}`);
  }

  /** An agent's clock. */
  aclock(a: Agent): number {
    return T0 + this.sim.now + this.skew(a.id);
  }

  private skew(who: string): number {
    let k = this.skews.get(who);
    if (k === undefined) {
      const max = this.o.skewMs ?? 15;
      k = Math.round((this.rand() * 2 - 1) * max);
      this.skews.set(who, k);
    }
    return k;
  }

  private log(s: string): void {
    this.sim?.log(s);
  }

  private pick<T>(xs: readonly T[]): T | undefined {
    return xs.length ? xs[Math.floor(this.rand() * xs.length)] : undefined;
  }

  newId(prefix: string): string {
    return `${prefix}${String(++this.ids).padStart(5, '0')}`;
  }

  mgr(n: SimNode): Mgr {
    let m = this.mgrs.get(n.id);
    if (!m) {
      m = { machine: new StoreMachine(), appliedTerm: 0, proposals: new Map(), heartbeats: new Map(), life: 0, pushScheduled: false, snapshotNow: false, digest: new SetDigest() };
      this.mgrs.set(n.id, m);
    }
    return m;
  }

  isLeader(n: SimNode, term: number): boolean {
    return !!n.core && !n.removed && n.core.role === 'leader' && n.core.term === term;
  }

  /** Runs fn after the current event (hooks run inside the Raft ready loop: nothing may propose there). */
  private defer(fn: () => void): void {
    if (this.sim) this.sim.at(0, fn);
  }

  // ---------------------------------------------------------------- state machine hooks

  private restore(n: SimNode, data: Uint8Array, index: number, why: 'start' | 'snapshot'): void {
    const m = this.mgr(n);
    if (why === 'start') this.reset(n, m, 'restarted');
    const machine = new StoreMachine();
    if (data.length) machine.restore(data);
    if (machine.index !== index) throw new Violation(`node ${n.id}: the snapshot at ${index} restores a state at ${machine.index}`);
    m.machine = machine;
    m.digest = SetDigest.of(machine);
    m.appliedTerm = 0;
    if (index > 0) {
      this.checkDigest(this.fullDigests, n, index, fullDigest(machine), `restored from a snapshot (${why})`);
      this.checkDigest(this.digests, n, index, m.digest.toString(), `restored from a snapshot (${why})`);
    }
  }

  private snapshot(n: SimNode): Uint8Array {
    const m = this.mgr(n);
    if (m.machine.index !== n.appliedIndex) throw new Violation(`node ${n.id}: snapshot at ${n.appliedIndex} of a machine at ${m.machine.index}`);
    m.snapshotNow = false;
    const bytes = m.machine.snapshot();
    // The snapshot's body is the state: check it against the others' at this index.
    const body = dec.decode(bytes.subarray(bytes.indexOf(0x0a) + 1));
    this.checkDigest(this.fullDigests, n, n.appliedIndex, hash(body), 'wrote a snapshot');
    return bytes;
  }

  private apply(n: SimNode, e: Entry): void {
    const m = this.mgr(n);
    let batch: Batch = { ops: [], now: 0 };
    if (e.type === 'normal' && e.data.length) batch = JSON.parse(dec.decode(e.data)) as Batch;
    if (e.type === 'confChange' && decodeConfChange(e.data).changes.some((c) => c.type !== 'removeNode')) m.snapshotNow = true;
    const result = m.machine.apply(e.index, batch);
    if (m.machine.index !== n.appliedIndex) throw new Violation(`node ${n.id}: machine at ${m.machine.index} after applying ${n.appliedIndex}`);
    m.appliedTerm = e.term;
    const first = !this.results.has(e.index);
    if (e.index > this.maxApplied) this.maxApplied = e.index;
    this.checkResult(n, e.index, result.ok ? 'ok' : result.reason);
    m.digest.apply(result);
    this.checkDigest(this.digests, n, e.index, m.digest.toString(), 'applied');
    if (e.index % FULL_DIGEST_EVERY === 0) this.checkDigest(this.fullDigests, n, e.index, fullDigest(m.machine), 'applied');
    if (first) {
      this.stats.entries++;
      if (result.ok && result.events.length) this.checkEvents(result, e.index);
      this.checkSlots(m.machine, e.index);
    }
    const p = m.proposals.get(e.index);
    if (p) {
      m.proposals.delete(e.index);
      const o: Outcome = p.term === e.term ? { applied: true, index: e.index, result } : { applied: false, certain: true, why: `entry ${e.index} replaced by term ${e.term}` };
      this.defer(() => p.done(o));
    }
    const core = n.core;
    if (core && core.role === 'leader' && e.term === core.term && !this.o.noBarrier) this.defer(() => this.maybeStartLoops(n));
    if (result.ok && result.events.length) {
      if (m.loops && !m.loops.stopped) {
        const loops = m.loops;
        this.defer(() => loops.trigger());
      }
      this.schedulePush(n, m);
    }
  }

  private softState(n: SimNode): void {
    const m = this.mgr(n);
    const core = n.core!;
    if (m.loops && !this.isLeader(n, m.loops.term)) {
      m.loops.stopped = true;
      m.loops = undefined;
    }
    if (core.role !== 'leader') this.failProposals(m, 'leadership lost');
    if (core.role === 'leader' && this.o.noBarrier) this.defer(() => this.maybeStartLoops(n));
  }

  private crashed(n: SimNode): void {
    this.reset(n, this.mgr(n), 'crashed');
  }

  private reset(n: SimNode, m: Mgr, why: string): void {
    if (m.loops) m.loops.stopped = true;
    m.loops = undefined;
    m.life++;
    m.snapshotNow = false;
    m.heartbeats = new Map();
    this.failProposals(m, `node ${n.id} ${why}`);
  }

  private failProposals(m: Mgr, why: string): void {
    const ps = [...m.proposals.values()];
    m.proposals.clear();
    for (const p of ps) this.defer(() => p.done({ applied: false, certain: false, why }));
  }

  private maybeStartLoops(n: SimNode): void {
    const core = n.core;
    if (!core || n.removed || core.role !== 'leader') return;
    const m = this.mgr(n);
    if (m.loops && m.loops.term === core.term) return;
    if (!this.o.noBarrier && m.appliedTerm !== core.term) return;
    this.stats.loopStarts++;
    this.log(`${n.id} LOOPS start (term ${core.term}, applied ${n.appliedIndex})`);
    m.loops = new Loops(this, n, core.term);
  }

  /** Proposes a batch on n (its leader); false if refused at once. `done` runs later, never inside this call. */
  propose(n: SimNode, ops: BatchOp[], what: string, done: (o: Outcome) => void): boolean {
    const core = n.core;
    if (!core || n.removed || core.role !== 'leader') return false;
    const batch: Batch = { ops, now: this.clock(n) };
    let res;
    try {
      res = core.propose(enc.encode(JSON.stringify(batch)));
    } catch {
      return false;
    }
    if (!('index' in res)) return false;
    this.mgr(n).proposals.set(res.index, { term: res.term, done });
    if (this.o.verbose) this.log(`${n.id} proposes ${res.term}/${res.index} ${what}: ${ops.map(describeOp).join(', ')}`);
    this.sim.process(n);
    return true;
  }

  // ---------------------------------------------------------------- the loops' decisions

  decide(name: LoopName, m: Mgr, loops: Loops): { ops: StoreOp[]; wakeAt?: number } {
    const s = clusterState(m.machine);
    const now = this.clock(loops.n);
    switch (name) {
      case 'nodes': {
        const d = checkNodes(s, { now, graceMs: GRACE_MS, heartbeats: m.heartbeats, watchingSince: loops.watchingSince });
        this.stats.nodesDown += d.down.length;
        if (d.down.length) this.log(`${loops.n.id} node monitor: ${d.down.map((x) => x.id).join(',')} down`);
        return d;
      }
      case 'orchestrator': {
        const r = reconcileServices(s, now, () => this.newId('t'));
        if (r.failures.length) throw new Violation(`orchestrator failed on ${r.failures.map((f) => `${f.service.id}: ${f.error}`).join('; ')}`);
        return r;
      }
      case 'scheduler':
        return {
          ops: schedule(s, now, defaultFilters(), (t, error) => {
            throw new Violation(`scheduler failed on task ${t.id}: ${error}`);
          }),
        };
      case 'reaper':
        return { ops: reapTasks(s) };
      case 'release': {
        // ControlLoops.reapReleased
        const used = assignedNetworksAndVolumes(s);
        const ops: StoreOp[] = [];
        for (const x of s.networks) if (x.released && !used.networks.has(x.id)) ops.push({ op: 'delete', kind: 'network', id: x.id });
        for (const v of s.volumes) if (v.released && !used.volumes.has(v.id)) ops.push({ op: 'delete', kind: 'volume', id: v.id });
        return { ops };
      }
    }
  }

  // ---------------------------------------------------------------- invariants

  /** Invariant 1: the same state at the same index on every manager (applied, snapshotted or restored). */
  private checkDigest(digests: Map<number, { node: NodeId; digest: string; what: string }>, n: SimNode, index: number, digest: string, what: string): void {
    const seen = digests.get(index);
    if (!seen) digests.set(index, { node: n.id, digest, what });
    else if (seen.digest !== digest) throw new Violation(`identical replicas: node ${n.id} ${what} at ${index} holds state ${digest}, node ${seen.node} ${seen.what} ${seen.digest}`);
  }

  /** Invariant 1: the same apply result at the same index on every manager. */
  private checkResult(n: SimNode, index: number, result: string): void {
    const seen = this.results.get(index);
    if (!seen) this.results.set(index, { node: n.id, result });
    else if (seen.result !== result) throw new Violation(`identical replicas: node ${n.id} applied ${index} with result "${result}", node ${seen.node} with "${seen.result}"`);
  }

  /** Invariant 4: what an applied batch changed only moves forward. */
  private checkEvents(r: ApplyResult & { ok: true }, index: number): void {
    for (const ev of r.events) {
      if (ev.op === 'create' && ev.obj.kind === 'task') this.stats.tasksCreated++;
      if (ev.op !== 'update' || !ev.prev) continue;
      const a = ev.prev;
      const b = ev.obj;
      const bad = (why: string): never => {
        throw new Violation(`forward only: entry ${index} changes ${b.kind} ${b.id}: ${why}`);
      };
      if (a.kind === 'task' && b.kind === 'task') {
        if (isTerminal(a.status.state) && b.status.state !== a.status.state) bad(`status ${a.status.state} (terminal) -> ${b.status.state}`);
        if (taskStateIndex(b.status.state) < taskStateIndex(a.status.state)) bad(`status ${a.status.state} -> ${b.status.state}`);
        if (taskStateIndex(b.desiredState) < taskStateIndex(a.desiredState)) bad(`desired state ${a.desiredState} -> ${b.desiredState}`);
        if (a.nodeId !== undefined && b.nodeId !== a.nodeId) bad(`node ${a.nodeId} -> ${b.nodeId}`);
        if (a.slot !== b.slot || a.serviceId !== b.serviceId || a.specVersion !== b.specVersion) bad('slot, service or spec version changed');
      } else if (a.kind === 'service' && b.kind === 'service') {
        if (b.specVersion < a.specVersion) bad(`spec version ${a.specVersion} -> ${b.specVersion}`);
      }
    }
  }

  /** Invariant 3, on the state at `index`. */
  private checkSlots(m: StoreMachine, index: number): void {
    const groups = new Map<string, { running: TaskObj[]; live: TaskObj[] }>();
    for (const t of m.list('task')) {
      if (t.desiredState !== 'running') continue;
      const key = `${t.serviceId} ${t.slot !== undefined ? `slot ${t.slot}` : `node ${t.nodeId}`}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { running: [], live: [] }));
      g.running.push(t);
      if (!isTerminal(t.status.state)) g.live.push(t);
    }
    for (const g of groups.values()) {
      for (const t of g.live) if (t.status.state === 'running' && t.nodeId !== undefined && m.get('node', t.nodeId)?.spec.availability === 'drain') this.leaving.add(t.id);
    }
    for (const [key, g] of groups) {
      const show = (ts: TaskObj[]) => ts.map((t) => `${t.id} v${t.specVersion} ${t.status.state}@${t.meta.version}`).join(', ');
      const staying = g.live.filter((t) => !this.leaving.has(t.id));
      const versions = new Set(staying.map((t) => t.specVersion));
      if (versions.size < staying.length) throw new Violation(`slots: at ${index}, ${key} has two live tasks of one spec version: ${show(g.live)}`);
      if (g.live.length > 2) throw new Violation(`slots: at ${index}, ${key} has ${g.live.length} live tasks: ${show(g.live)}`);
      const svc = m.get('service', g.running[0]!.serviceId);
      if (svc && stopFirst(svc) && g.running.length > 1) throw new Violation(`slots: at ${index}, ${key} (stop-first) has ${g.running.length} tasks meant to run: ${show(g.running)}`);
    }
  }

  // ---------------------------------------------------------------- dispatcher (on the leader)

  private heard(n: SimNode, nodeId: string): void {
    const m = this.mgr(n);
    m.heartbeats.set(nodeId, this.clock(n));
    // ControlLoops.nodeHeard
    if (m.loops && m.machine.get('node', nodeId)?.status.state === 'down') m.loops.trigger();
  }

  /**
   * A dispatcher write (its store.update): ops computed on the leader's applied state, proposed
   * as one batch. Refused at apply (someone wrote meanwhile), it is computed again on the new
   * state and proposed again; refused at once (a leadership transfer is under way), it is tried
   * again shortly, while the node is leader of that term. With the option retryRefused false,
   * both are dropped. `done` may run at once.
   */
  private dispatcherWrite(n: SimNode, term: number, what: string, compute: (m: Mgr) => StoreOp[], done: (ok: boolean) => void, tries = 0): void {
    if (!this.isLeader(n, term)) return done(false);
    const m = this.mgr(n);
    const ops = compute(m);
    if (!ops.length) return done(true);
    const proposed = this.propose(n, toBatchOps(ops, m.machine), what, (o) => {
      if (o.applied && o.result.ok) return done(true);
      if (o.applied && this.o.retryRefused !== false && tries < 20) {
        this.stats.dispatcherRetries++;
        return this.dispatcherWrite(n, term, what, compute, done, tries + 1);
      }
      if (o.applied) this.stats.dispatcherDropped++;
      done(false);
    });
    if (proposed) return;
    if (this.o.retryRefused !== false && tries < 100 && this.isLeader(n, term)) {
      this.stats.dispatcherRetries++;
      this.sim.at(20, () => this.dispatcherWrite(n, term, what, compute, done, tries + 1));
    } else done(false);
  }

  /** Dispatcher.updateStatuses: each status validated, never backwards, written compare-and-set. */
  private updateStatuses(n: SimNode, a: Agent, updates: [string, TaskStatus][]): void {
    this.heard(n, a.id);
    const valid: [string, TaskStatus][] = [];
    for (const [taskId, s] of updates) {
      const p = parseTaskStatus(JSON.stringify(s));
      if (!p.ok) throw new Violation(`agent ${a.id} sent an invalid status (${p.error}): ${JSON.stringify(s)}`);
      valid.push([taskId, p.status]);
    }
    this.stats.statusBatches++;
    this.dispatcherWrite(n, a.session!.term, `statuses of ${a.id}`, (m) => {
      const ops: StoreOp[] = [];
      for (const [taskId, status] of valid) {
        const t = m.machine.get('task', taskId);
        if (!t) continue;
        if (t.nodeId !== a.id) continue;
        const cur = t.status;
        if (isTerminal(cur.state) && cur.state !== status.state) continue;
        if (taskStateIndex(status.state) < taskStateIndex(cur.state)) continue;
        if (JSON.stringify({ ...cur, timestamp: 0 }) === JSON.stringify({ ...status, timestamp: 0 })) continue;
        ops.push({ op: 'update', obj: withStatus(t, status, this.clock(n)) });
      }
      return ops;
    }, () => undefined);
  }

  /** Dispatcher.push: what changed in the agent's assignment set since the last push (or all of it). */
  private push(a: Agent, full: boolean): void {
    const n = this.sessionManager(a);
    if (!n) return;
    const s = a.session!;
    const set = assignmentsFor(clusterState(this.mgr(n).machine), a.id).tasks;
    const updates: TaskObj[] = [];
    const want = new Map<string, number>();
    for (const [id, t] of set) {
      want.set(id, t.meta.version);
      if (full || s.sent.get(id) !== t.meta.version) updates.push(t);
    }
    const removes = full ? [] : [...s.sent.keys()].filter((id) => !want.has(id));
    s.sent = want;
    if (!full && !updates.length && !removes.length) return;
    this.sim.at(2, () => {
      if (a.session === s) this.assign(a, full, updates, removes);
    });
  }

  /** After a write applied on n: push to the agents in session with it (once per instant). */
  private schedulePush(n: SimNode, m: Mgr): void {
    if (m.pushScheduled) return;
    m.pushScheduled = true;
    this.defer(() => {
      m.pushScheduled = false;
      for (const a of this.agents) if (a.session?.mgr === n.id) this.push(a, false);
    });
  }

  // ---------------------------------------------------------------- agents

  private sessionManager(a: Agent): SimNode | undefined {
    const s = a.session;
    if (!s) return undefined;
    const n = this.sim.nodes.get(s.mgr);
    if (!a.up || !n || !this.isLeader(n, s.term) || this.mgr(n).life !== s.life) {
      a.session = undefined;
      return undefined;
    }
    return n;
  }

  /** Every heartbeat period: heartbeat (or connect), and containers that crash on their own. */
  private agentTick(a: Agent): void {
    this.sim.at(HEARTBEAT_MS - 5 + Math.floor(this.rand() * 10), () => this.agentTick(a));
    if (this.sim.chaos) {
      for (const [id, c] of a.containers) {
        if (c.state === 'running' && !c.stopping && this.rand() < 0.003) this.exit(a, id, c, 137);
      }
    }
    const n = this.sessionManager(a);
    if (n) this.heard(n, a.id);
    else if (a.up && a.connecting <= this.sim.now) this.connect(a);
  }

  /** Session.connect and Dispatcher.register: the node written ready; then the full set. */
  private connect(a: Agent): void {
    const n = this.sim.leaderNode();
    if (!n?.core) return;
    const term = n.core.term;
    const life = this.mgr(n).life;
    a.connecting = this.sim.now + 1000;
    this.dispatcherWrite(n, term, `register ${a.id}`, (m) => {
      const cur = m.machine.get('node', a.id);
      const description: NodeObj['description'] = {
        hostname: `host-${a.id}`,
        platform: { os: 'linux', arch: 'x86_64' },
        resources: { nanoCpus: 4e9, memoryBytes: 8 * 1024 ** 3 },
        engine: { version: '27.0.0', labels: {} },
      };
      const status: NodeObj['status'] = { state: 'ready', addr: `10.0.0.${a.index}`, message: '', lastHeartbeat: this.clock(n) };
      return [cur
        ? { op: 'update', obj: { ...cur, description, status } }
        : { op: 'create', obj: { kind: 'node', id: a.id, meta: { version: 0, createdAt: 0, updatedAt: 0 }, spec: { role: 'worker', availability: 'active', labels: {} }, description, status } }];
    }, (ok) => {
      a.connecting = 0;
      if (!ok || !a.up || !this.isLeader(n, term) || this.mgr(n).life !== life) return;
      this.stats.registrations++;
      a.session = { mgr: n.id, term, life, sent: new Map() };
      this.log(`agent ${a.id} session with ${n.id} (term ${term})`);
      this.heard(n, a.id);
      // Welcome: the agent sends what it queued; the dispatcher pushes the full set.
      this.flush(a);
      this.push(a, true);
    });
  }

  /** Worker.assign: a full set (everything assigned) or changes. */
  private assign(a: Agent, full: boolean, updates: TaskObj[], removes: string[]): void {
    const touched = new Set<string>();
    if (full) {
      const keep = new Set(updates.map((t) => t.id));
      for (const id of [...a.tasks.keys()]) {
        if (!keep.has(id)) {
          a.tasks.delete(id);
          touched.add(id);
        }
      }
    }
    for (const t of updates) {
      const l = a.tasks.get(t.id);
      if (l) l.task = t;
      else a.tasks.set(t.id, { task: t, hadContainer: false, wakeGen: 0, busy: false, again: false });
      touched.add(t.id);
    }
    for (const id of removes) {
      a.tasks.delete(id);
      a.dropped.add(id);
      touched.add(id);
    }
    if (full) {
      a.fullReceived = true;
      // Re-report everything known, then look at every task and container again.
      for (const l of a.tasks.values()) if (l.last) this.queueStatus(a, l.task.id, l.last);
      for (const id of a.tasks.keys()) touched.add(id);
      for (const id of a.containers.keys()) touched.add(id);
    }
    for (const id of touched) this.scheduleReconcile(a, id);
  }

  private scheduleReconcile(a: Agent, id: string): void {
    if (a.scheduled.has(id)) return;
    a.scheduled.add(id);
    this.sim.at(0, () => {
      a.scheduled.delete(id);
      this.reconcile(a, id);
    });
  }

  /** What the engine shows of a container (statusFromContainer). */
  private observe(a: Agent, c: Container): Observed {
    const base = { timestamp: this.aclock(a), containerId: c.id };
    let status: TaskStatus | undefined;
    if (c.state === 'running') status = { ...base, state: 'running', message: 'started', health: 'none' };
    else if (c.state === 'exited') {
      const message = `task: non-zero exit (${c.exitCode})`;
      status = c.exitCode === 0
        ? { ...base, state: 'complete', message: 'finished', exitCode: 0 }
        : { ...base, state: 'failed', message, exitCode: c.exitCode, err: message, errCode: AgentErrorCodes.EXIT_NON_ZERO };
    }
    return { id: c.id, live: c.state === 'running', status, exitCode: c.state === 'exited' ? c.exitCode : undefined };
  }

  /** Worker.reconcile: the real worker's decision for one task, carried out on the simulated engine. */
  private reconcile(a: Agent, id: string): void {
    const l = a.tasks.get(id);
    if (l?.busy) {
      l.again = true;
      return;
    }
    const c = a.containers.get(id);
    const removable = a.fullReceived || a.dropped.has(id);
    let container: Observed | undefined;
    if (c && l) {
      l.hadContainer = true;
      container = this.observe(a, c);
    } else if (c && removable) container = { ...this.observe(a, c), status: undefined };
    const actions = decide({
      now: this.aclock(a),
      task: l && { task: l.task, last: l.last, hadContainer: l.hadContainer, wakeAt: l.wakeAt, ingressReady: true },
      container,
      fullReceived: a.fullReceived,
      dropped: a.dropped.has(id),
    });
    for (const act of actions) this.act(a, act, id, l, c);
    if (!l) a.dropped.delete(id);
  }

  private act(a: Agent, act: Action, id: string, l: Local | undefined, c: Container | undefined): void {
    switch (act.do) {
      case 'report':
        if (l) this.report(a, l, act.status);
        return;
      case 'wait': {
        if (!l) return;
        l.wakeAt = act.at;
        const gen = ++l.wakeGen;
        this.sim.at(timerDelay(act.at - this.aclock(a) + 5), () => {
          if (l.wakeGen !== gen) return;
          l.wakeAt = undefined;
          this.scheduleReconcile(a, id);
        });
        return;
      }
      case 'cancel-wait':
        if (l) {
          l.wakeAt = undefined;
          l.wakeGen++;
        }
        return;
      case 'drain':
      case 'adopt':
        return;
      case 'stop':
        if (c && c.state === 'running' && !c.stopping) {
          c.stopping = true;
          this.sim.at(5 + Math.floor(this.rand() * 40), () => this.exit(a, id, c, 0));
        }
        return;
      case 'remove':
        a.containers.delete(id);
        return;
      case 'start':
        if (l && c) this.startUp(a, l, c);
        return;
      case 'create-start':
        if (l) this.startUp(a, l);
        return;
    }
  }

  /** The container exits (stopped, or crashed): the engine's event makes the worker look again. */
  private exit(a: Agent, id: string, c: Container, code: number): void {
    c.stopping = false;
    if (c.state !== 'running') return;
    c.state = 'exited';
    c.exitCode = code;
    this.scheduleReconcile(a, id);
  }

  /** Executor.startUp: preparing -> starting -> running (or rejected / failed, in the chaos). */
  private startUp(a: Agent, l: Local, existing?: Container): void {
    const id = l.task.id;
    l.busy = true;
    const finish = () => {
      l.busy = false;
      if (l.again) {
        l.again = false;
        this.scheduleReconcile(a, id);
      }
    };
    const current = () => a.tasks.get(id) === l;
    const r = this.rand();
    const fate = !this.sim.chaos || r > 0.1 ? 'run' : r > 0.04 ? 'fail' : 'reject';
    const start = (c: Container) => {
      this.sim.at(5 + Math.floor(this.rand() * 20), () => {
        if (fate === 'fail') {
          this.report(a, l, { state: 'failed', timestamp: this.aclock(a), message: 'start failed', containerId: c.id, err: 'simulated start failure', errCode: AgentErrorCodes.CONTAINER_START_FAILED });
        } else if (a.containers.get(id) !== c) {
          this.report(a, l, { state: 'failed', timestamp: this.aclock(a), message: 'container removed', err: 'the task\'s container vanished while starting', errCode: AgentErrorCodes.CONTAINER_REMOVED });
        } else {
          if (c.state === 'created') c.state = 'running';
          const st = this.observe(a, c).status;
          if (st) this.report(a, l, st);
        }
        finish();
      });
    };
    if (!current()) return finish();
    if (existing) {
      this.report(a, l, { state: 'starting', timestamp: this.aclock(a), message: 'starting', containerId: existing.id });
      return start(existing);
    }
    this.report(a, l, { state: 'preparing', timestamp: this.aclock(a), message: 'preparing' });
    this.sim.at(10 + Math.floor(this.rand() * 40), () => {
      if (!current()) return finish();
      if (fate === 'reject') {
        this.report(a, l, { state: 'rejected', timestamp: this.aclock(a), message: 'preparing failed', err: 'simulated: no such image', errCode: AgentErrorCodes.IMAGE_NOT_FOUND });
        return finish();
      }
      if (taskStateIndex(l.task.desiredState) > taskStateIndex('running')) return finish();
      this.report(a, l, { state: 'starting', timestamp: this.aclock(a), message: 'starting' });
      const c: Container = { id: `c${id}`, state: 'created', stopping: false };
      a.containers.set(id, c);
      l.hadContainer = true;
      start(c);
    });
  }

  /** Worker.report: never backwards, never twice; queued for the session. */
  private report(a: Agent, l: Local, s: TaskStatus): void {
    if (!wouldReport(l.last, s)) return;
    l.last = s;
    this.queueStatus(a, l.task.id, s);
  }

  /** AgentSession.report: statuses go in batches, 20 ms after the first one queued. */
  private queueStatus(a: Agent, id: string, s: TaskStatus): void {
    a.pending.set(id, s);
    if (a.flushScheduled) return;
    a.flushScheduled = true;
    this.sim.at(20, () => {
      a.flushScheduled = false;
      this.flush(a);
    });
  }

  /** AgentSession.flush: the queued statuses to the session's manager (kept while there is none). */
  private flush(a: Agent): void {
    const n = this.sessionManager(a);
    if (!n || !a.pending.size) return;
    const updates = [...a.pending];
    a.pending.clear();
    this.updateStatuses(n, a, updates);
  }

  private agentNemesis(): void {
    if (!this.sim.chaos) return;
    const r = this.rand();
    const a = this.pick(this.agents)!;
    if (r < 0.25 && a.up) {
      a.up = false;
      a.session = undefined;
      const back = 100 + Math.floor(this.rand() * 900);
      this.log(`AGENT ${a.id} disconnected for ${back} ms`);
      this.sim.at(back, () => {
        a.up = true;
        this.log(`AGENT ${a.id} reconnects`);
      });
    } else if (r < 0.4) {
      const running = [...a.containers].filter(([, c]) => c.state === 'running' && !c.stopping);
      const hit = this.pick(running);
      if (hit) this.exit(a, hit[0], hit[1], 1);
    }
    this.sim.at(150 + Math.floor(this.rand() * 300), () => this.agentNemesis());
  }

  // ---------------------------------------------------------------- clients

  private newSpec(global: boolean): ServiceSpec {
    const deploy = defaultDeploy();
    deploy.mode = global ? 'global' : 'replicated';
    deploy.replicas = 1 + Math.floor(this.rand() * 3);
    deploy.restart_policy = { condition: this.rand() < 0.7 ? 'any' : 'on-failure', delay: this.pick(['0s', '20ms', '50ms'])!, max_attempts: 0, window: '0s' };
    const order: 'stop-first' | 'start-first' = this.rand() < 0.5 ? 'stop-first' : 'start-first';
    const rollout = () => ({
      parallelism: this.pick([0, 1, 1, 2])!,
      delay: this.pick(['0s', '0s', '30ms'])!,
      order,
      monitor: this.pick(['0s', '50ms', '150ms'])!,
      max_failure_ratio: this.pick([0, 0, 0.3])!,
      failure_action: this.pick(['pause', 'continue', 'rollback'] as const)!,
    });
    deploy.update_config = rollout();
    deploy.rollback_config = rollout();
    return { image: 'app:1', environment: { GEN: '1' }, labels: {}, ports: [], volumes: [], networks: {}, depends_on: {}, deploy };
  }

  private clientLoop(c: number): void {
    if (!this.sim.chaos) return;
    const next = (dt: number) => this.sim.at(dt, () => this.clientLoop(c));
    const live = [...this.sim.nodes.values()].filter((n) => n.core && !n.removed);
    const n = this.rand() < 0.85 ? this.sim.leaderNode() : this.pick(live);
    if (!n?.core || n.core.role !== 'leader') {
      next(20 + Math.floor(this.rand() * 30));
      return;
    }
    const m = this.mgr(n).machine;
    const services = m.list('service');
    const r = this.rand();
    let ops: BatchOp[];
    let what: string;
    let ack: ((index: number) => Ack | undefined) | undefined;
    let svcId: string | undefined;
    let deleteExpect: number | undefined;
    try {
      if (services.length < 2 || (r < 0.2 && services.length < MAX_SERVICES)) {
        const id = this.newId('svc');
        const global = this.rand() < 0.15;
        const w = prepareServiceSpec({ id, name: `st_${id}`, stack: 'st', shortName: id }, this.newSpec(global), undefined);
        ops = [{ op: 'create', obj: w.service }];
        what = `create ${id}${global ? ' (global)' : ''}`;
        svcId = id;
        ack = (index) => ({ kind: 'create', service: id, index, obj: { ...w.service, meta: { version: index, createdAt: 0, updatedAt: 0 } } });
      } else if (r < 0.28 && services.some((x) => x.previousSpec)) {
        // `service rollback` (the API's transition)
        const s = this.pick(services.filter((x) => x.previousSpec))!;
        const rolled = rollbackService(s, this.clock(n), 'rollback requested')!;
        ops = [{ op: 'update', obj: rolled, expect: s.meta.version }];
        what = `roll ${s.id} back to spec version ${rolled.specVersion}`;
        svcId = s.id;
        ack = (index) => ({ kind: 'update', service: s.id, index, obj: { ...rolled, meta: { ...rolled.meta, version: index } } });
      } else if (r < 0.75) {
        const s = this.pick(services)!;
        const spec = structuredClone(s.spec);
        const scale = this.rand() < 0.5 && spec.deploy.mode === 'replicated';
        if (scale) spec.deploy.replicas = Math.floor(this.rand() * 5);
        else spec.environment.GEN = String(Number(spec.environment.GEN ?? 0) + 1);
        const w = prepareServiceSpec(s, spec, undefined);
        ops = [{ op: 'update', obj: w.service, expect: s.meta.version }];
        what = scale ? `scale ${s.id} to ${spec.deploy.replicas}` : `update ${s.id} to spec version ${w.service.specVersion}`;
        svcId = s.id;
        ack = (index) => ({ kind: 'update', service: s.id, index, obj: { ...w.service, meta: { ...w.service.meta, version: index } } });
      } else if (r < 0.85) {
        const s = this.pick(services)!;
        ops = [{ op: 'delete', kind: 'service', id: s.id, expect: s.meta.version }];
        what = `delete ${s.id}`;
        svcId = s.id;
        deleteExpect = s.meta.version;
        ack = (index) => ({ kind: 'delete', service: s.id, index });
      } else {
        const node = this.pick(m.list('node'));
        if (!node) {
          next(20);
          return;
        }
        const availability = node.spec.availability === 'active' ? this.pick(['drain', 'pause'] as const)! : 'active';
        ops = [{ op: 'update', obj: { ...node, spec: { ...node.spec, availability } }, expect: node.meta.version }];
        what = `node ${node.id} ${availability}`;
      }
    } catch (e) {
      throw new Violation(`client ${c}: the API refused its own write: ${(e as Error).message}`);
    }
    this.stats.clientOps++;
    let settled = false;
    const settle = (o: Outcome) => {
      if (settled) return;
      settled = true;
      if (o.applied && o.result.ok) {
        this.stats.clientAcks++;
        const a = ack?.(o.index);
        if (a) this.acks.push(a);
        this.log(`client ${c}: ${what} acknowledged at ${o.index}`);
      } else if (!o.applied && !o.certain) {
        this.stats.clientUnknown++;
        if (deleteExpect !== undefined) this.maybeDeleted.set(svcId!, [...(this.maybeDeleted.get(svcId!) ?? []), deleteExpect]);
        this.log(`client ${c}: ${what} outcome unknown (${o.why})`);
      }
      next(20 + Math.floor(this.rand() * 150));
    };
    if (!this.propose(n, ops, `client ${c} ${what}`, settle)) {
      settled = true;
      next(20);
      return;
    }
    this.sim.at(CLIENT_TIMEOUT_MS, () => settle({ applied: false, certain: false, why: 'timeout' }));
  }

  // ---------------------------------------------------------------- calm, convergence, end

  private calm(): void {
    this.calmAt = this.sim.now;
    this.indexAtCalm = this.maxApplied;
    for (const a of this.agents) a.up = true;
    const poll = () => {
      this.checkConverged();
      if (!this.finished) this.sim.at(50, poll);
    };
    this.sim.at(50, poll);
  }

  /** Invariant 5's condition, on the leader; sets `notConverged` to what is missing. */
  private converged(): boolean {
    const fail = (why: string) => {
      this.notConverged = why;
      return false;
    };
    if (this.maxApplied <= this.indexAtCalm) return fail('nothing applied since healing');
    const n = this.sim.leaderNode();
    if (!n) return fail('no leader');
    const m = this.mgr(n);
    if (!m.loops || !m.loops.alive()) return fail(`leader ${n.id} does not run the loops`);
    if (m.loops.running || m.proposals.size) return fail(`leader ${n.id} has a pass or proposals in flight`);
    // Workers left drained or paused by the clients are made active again (an operator's job).
    const st = clusterState(m.machine);
    const idle = st.nodes.find((x) => x.spec.availability !== 'active');
    if (idle) {
      this.propose(n, [{ op: 'update', obj: { ...idle, spec: { ...idle.spec, availability: 'active' } }, expect: idle.meta.version }], 'operator activates', () => undefined);
      return fail(`node ${idle.id} is ${idle.spec.availability}`);
    }
    const digest = m.digest.toString();
    for (const x of this.members(n)) {
      if (!x.core) return fail(`member ${x.id} is down`);
      if (x.appliedIndex !== n.appliedIndex) return fail(`node ${x.id} applied ${x.appliedIndex}, the leader ${n.appliedIndex}`);
      if (this.mgr(x).digest.toString() !== digest) throw new Violation(`identical replicas: nodes ${x.id} and ${n.id} hold different states at ${n.appliedIndex}`);
    }
    for (const a of this.agents) {
      const node = st.nodes.find((x) => x.id === a.id);
      if (!node || node.status.state !== 'ready') return fail(`worker ${a.id} is ${node?.status.state ?? 'not registered'}`);
    }
    const want = new Set<string>();
    for (const s of st.services) {
      const tasks = st.tasks.filter((t) => t.serviceId === s.id && t.desiredState === 'running' && !isTerminal(t.status.state));
      const keys = s.spec.deploy.mode === 'global' ? st.nodes.map((x) => x.id) : Array.from({ length: s.spec.deploy.replicas }, (_, i) => String(i + 1));
      const keyOf = (t: TaskObj) => (s.spec.deploy.mode === 'global' ? t.nodeId : String(t.slot));
      for (const k of keys) {
        const here = tasks.filter((t) => keyOf(t) === k);
        if (here.length !== 1) return fail(`${s.id} ${k}: ${here.length} live tasks\n${describeService(st, s)}`);
        if (!isUp(here[0]!)) return fail(`${s.id} ${k}: task ${here[0]!.id} is ${here[0]!.status.state}`);
        want.add(here[0]!.id);
      }
      const extra = tasks.find((t) => !keys.includes(keyOf(t) ?? ''));
      if (extra) return fail(`${s.id}: task ${extra.id} live in ${keyOf(extra)}`);
    }
    for (const t of st.tasks) {
      if (t.desiredState === 'running' && !isTerminal(t.status.state) && !want.has(t.id)) return fail(`task ${t.id} of ${t.serviceId} live`);
    }
    for (const a of this.agents) {
      for (const [id, c] of a.containers) {
        if (c.state === 'running' && !want.has(id)) return fail(`agent ${a.id} runs ${id}, not wanted`);
      }
    }
    for (const id of want) {
      const t = st.tasks.find((x) => x.id === id)!;
      const c = this.agents.find((a) => a.id === t.nodeId)?.containers.get(id);
      if (c?.state !== 'running') return fail(`task ${id} is not running on ${t.nodeId}`);
    }
    return true;
  }

  /** The managers in the leader's configuration (a node removed while it was away never learns it). */
  private members(leader: SimNode): SimNode[] {
    const cs = leader.core!.status().confState;
    const ids = new Set([...cs.voters, ...cs.learners, ...cs.votersOutgoing, ...cs.learnersNext]);
    return [...this.sim.nodes.values()].filter((x) => ids.has(x.id));
  }

  private checkConverged(): void {
    if (this.converged()) {
      if (this.convergedSince < 0) this.convergedSince = this.sim.now;
      if (this.sim.now - this.convergedSince >= STABLE_MS) {
        this.stats.convergeMs = this.convergedSince - this.calmAt;
        this.finished = true;
      }
    } else this.convergedSince = -1;
  }

  private end(): void {
    if (!this.finished) throw new Violation(`liveness: not converged ${this.o.calmMs ?? 10_000} ms after healing: ${this.notConverged}`);
    // Invariant 2, on every manager.
    const leader = this.sim.leaderNode()!;
    const full = fullDigest(this.mgr(leader).machine);
    for (const n of this.members(leader)) {
      if (fullDigest(this.mgr(n).machine) !== full) throw new Violation(`identical replicas: nodes ${n.id} and ${leader.id} hold different states at the end`);
      const m = this.mgr(n).machine;
      const byService = new Map<string, Ack[]>();
      for (const a of this.acks) byService.set(a.service, [...(byService.get(a.service) ?? []), a]);
      for (const [id, acks] of byService) {
        const s = m.get('service', id);
        const writes = acks.filter((a) => a.kind !== 'delete');
        const last = writes.length ? Math.max(...writes.map((a) => a.index)) : 0;
        if (acks.some((a) => a.kind === 'delete')) {
          if (s) throw new Violation(`acknowledged writes: service ${id} is on node ${n.id} (version ${s.meta.version}) after its delete was acknowledged`);
          continue;
        }
        if (!s) {
          const expects = this.maybeDeleted.get(id) ?? [];
          if (!expects.some((v) => v >= last)) throw new Violation(`acknowledged writes: service ${id} written at ${last} is gone from node ${n.id}, and no delete expected that version`);
          continue;
        }
        if (s.meta.version < last) throw new Violation(`acknowledged writes: service ${id} on node ${n.id} is at version ${s.meta.version}, older than its acknowledged write at ${last}`);
        const w = writes.find((a) => a.index === s.meta.version);
        if (w && JSON.stringify(stripMeta(w.obj!)) !== JSON.stringify(stripMeta(s))) {
          throw new Violation(`acknowledged writes: service ${id} at version ${s.meta.version} on node ${n.id} is not what the acknowledged write stored`);
        }
      }
    }
  }

  // ---------------------------------------------------------------- run

  run(): StoreSimResult {
    for (const a of this.agents) this.sim.at(20 + a.index * 7, () => this.agentTick(a));
    for (let c = 1; c <= 2; c++) this.sim.at(150 + c * 11, () => this.clientLoop(c));
    this.sim.at(400, () => this.agentNemesis());
    const r = this.sim.run();
    const b = r.stats;
    Object.assign(this.stats, { elections: b.elections, crashes: b.crashes, confChanges: b.confChanges, transfers: b.transfers, snapshotsSent: b.snapshotsSent, events: b.events });
    return { seed: this.o.seed, ok: r.ok, ...(r.violation !== undefined ? { violation: r.violation } : {}), trace: r.trace, stats: this.stats };
  }
}

function stripMeta(s: ServiceObj): unknown {
  const { meta: _m, ...rest } = JSON.parse(JSON.stringify(s)) as ServiceObj;
  return rest;
}

/** A service and its tasks, for a failure's message. */
function describeService(st: ClusterState, s: ServiceObj): string {
  const lines = [`service ${s.id}@${s.meta.version} v${s.specVersion} ${s.spec.deploy.mode} replicas=${s.spec.deploy.replicas} update=${JSON.stringify(s.spec.deploy.update_config)} restart=${JSON.stringify(s.spec.deploy.restart_policy)} status=${JSON.stringify(s.updateStatus)}`];
  for (const t of st.tasks.filter((x) => x.serviceId === s.id).sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0) || a.meta.createdAt - b.meta.createdAt)) {
    lines.push(`  task ${t.id}@${t.meta.version} slot=${t.slot} node=${t.nodeId} v${t.specVersion} ${t.status.state}/${t.desiredState} ${JSON.stringify(t.status)} created=${t.meta.createdAt - T0}${t.notBefore ? ` notBefore=${t.notBefore - T0}` : ''}`);
  }
  return lines.join('\n');
}

function describeOp(op: BatchOp): string {
  if (op.op === 'delete') return `delete ${op.kind} ${op.id}${op.expect !== undefined ? `@${op.expect}` : ''}`;
  const o: StoreObj = op.obj;
  const extra = o.kind === 'task' ? ` ${o.status.state}/${o.desiredState}${o.slot !== undefined ? ` slot ${o.slot}` : ''}${o.nodeId ? ` on ${o.nodeId}` : ''}` : o.kind === 'node' ? ` ${o.status.state}/${o.spec.availability}` : '';
  return `${op.op} ${o.kind} ${o.id}${op.op === 'update' ? `@${op.expect}` : ''}${extra}`;
}

export function runStoreSeed(seed: number, opts: Partial<StoreSimOptions> = {}): StoreSimResult {
  const nodes = opts.nodes ?? (seed % 2 === 0 ? 3 : 5);
  return new StoreSimulation({ seed, nodes, ...opts }).run();
}

export function formatStoreFailure(r: StoreSimResult): string {
  return [`STORE SIMULATION FAILED seed=${r.seed}: ${r.violation}`, `replay: npm run sim:store -- --seeds 1 --first-seed ${r.seed} --verbose`, 'last events:', ...r.trace].join('\n');
}
