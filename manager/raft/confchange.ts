// Membership changes: one voter at a time ("simple"), or joint consensus (enter / leave),
// computed on copies of the tracker configuration and progress map (etcd's confchange).
import { cloneTrackerConfig, configToConfState, isJoint, Progress, type TrackerConfig } from './tracker.js';
import { RaftError, type ConfChange, type ConfChangeSingle, type ConfState, type NodeId } from './types.js';

export interface ChangeResult {
  config: TrackerConfig;
  progress: Map<NodeId, Progress>;
}

export class Changer {
  constructor(
    private readonly config: TrackerConfig,
    private readonly progress: ReadonlyMap<NodeId, Progress>,
    private readonly lastIndex: number,
    private readonly newProgress: (next: number, isLearner: boolean) => Progress,
  ) {}

  private copy(): ChangeResult {
    const progress = new Map<NodeId, Progress>();
    for (const [id, pr] of this.progress) progress.set(id, pr.clone());
    return { config: cloneTrackerConfig(this.config), progress };
  }

  /** Applies `cc` the way its shape asks: leave joint, enter joint, or a simple change. */
  apply(cc: ConfChange): ChangeResult {
    if (cc.changes.length === 0 && (cc.transition ?? 'auto') === 'auto') return this.leaveJoint();
    const [autoLeave, joint] = enterJointFor(cc);
    return joint ? this.enterJoint(autoLeave, cc.changes) : this.simple(cc.changes);
  }

  enterJoint(autoLeave: boolean, ccs: ConfChangeSingle[]): ChangeResult {
    const r = this.copy();
    if (isJoint(r.config)) throw new RaftError('config is already joint');
    if (r.config.voters.incoming.size === 0) throw new RaftError("can't make a zero-voter config joint");
    r.config.voters = { incoming: r.config.voters.incoming, outgoing: new Set(r.config.voters.incoming) };
    this.applyChanges(r, ccs);
    r.config.autoLeave = autoLeave;
    return check(r);
  }

  leaveJoint(): ChangeResult {
    const r = this.copy();
    if (!isJoint(r.config)) throw new RaftError("can't leave a non-joint config");
    for (const id of r.config.learnersNext) {
      r.config.learners.add(id);
      r.progress.get(id)!.isLearner = true;
    }
    r.config.learnersNext = new Set();
    for (const id of r.config.voters.outgoing) {
      if (!r.config.voters.incoming.has(id) && !r.config.learners.has(id)) r.progress.delete(id);
    }
    r.config.voters = { incoming: r.config.voters.incoming, outgoing: new Set() };
    r.config.autoLeave = false;
    return check(r);
  }

  simple(ccs: ConfChangeSingle[]): ChangeResult {
    const r = this.copy();
    if (isJoint(r.config)) throw new RaftError("can't apply simple config change in joint config");
    this.applyChanges(r, ccs);
    const before = this.config.voters.incoming;
    const after = r.config.voters.incoming;
    let diff = 0;
    for (const id of before) if (!after.has(id)) diff++;
    for (const id of after) if (!before.has(id)) diff++;
    if (diff > 1) throw new RaftError('more than one voter changed without entering joint config');
    return check(r);
  }

  private applyChanges(r: ChangeResult, ccs: ConfChangeSingle[]): void {
    for (const cc of ccs) {
      if (cc.nodeId === 0) continue;
      if (cc.type === 'addNode') this.makeVoter(r, cc.nodeId);
      else if (cc.type === 'addLearner') this.makeLearner(r, cc.nodeId);
      else this.remove(r, cc.nodeId);
    }
    if (r.config.voters.incoming.size === 0) throw new RaftError('removed all voters');
  }

  private makeVoter(r: ChangeResult, id: NodeId): void {
    const pr = r.progress.get(id);
    if (!pr) {
      this.initProgress(r, id, false);
      return;
    }
    pr.isLearner = false;
    r.config.learners.delete(id);
    r.config.learnersNext.delete(id);
    r.config.voters.incoming.add(id);
  }

  private makeLearner(r: ChangeResult, id: NodeId): void {
    const pr = r.progress.get(id);
    if (!pr) {
      this.initProgress(r, id, true);
      return;
    }
    if (pr.isLearner) return;
    this.remove(r, id);
    r.progress.set(id, pr);
    if (r.config.voters.outgoing.has(id)) r.config.learnersNext.add(id);
    else {
      pr.isLearner = true;
      r.config.learners.add(id);
    }
  }

  private remove(r: ChangeResult, id: NodeId): void {
    if (!r.progress.has(id)) return;
    r.config.voters.incoming.delete(id);
    r.config.learners.delete(id);
    r.config.learnersNext.delete(id);
    if (!r.config.voters.outgoing.has(id)) r.progress.delete(id);
  }

  private initProgress(r: ChangeResult, id: NodeId, isLearner: boolean): void {
    if (isLearner) r.config.learners.add(id);
    else r.config.voters.incoming.add(id);
    const pr = this.newProgress(Math.max(this.lastIndex, 1), isLearner);
    // A new peer gets a grace period before check-quorum counts it as inactive.
    pr.recentActive = true;
    r.progress.set(id, pr);
  }
}

/** [autoLeave, useJoint] for a ConfChange, as in etcd's ConfChangeV2.EnterJoint. */
export function enterJointFor(cc: ConfChange): [boolean, boolean] {
  const t = cc.transition ?? 'auto';
  if (t !== 'auto' || cc.changes.length > 1) {
    return [t === 'auto' || t === 'implicit', true];
  }
  return [false, false];
}

export function isLeaveJoint(cc: ConfChange): boolean {
  return cc.changes.length === 0 && (cc.transition ?? 'auto') === 'auto';
}

function check(r: ChangeResult): ChangeResult {
  const c = r.config;
  for (const id of [...c.voters.incoming, ...c.voters.outgoing, ...c.learners, ...c.learnersNext]) {
    if (!r.progress.has(id)) throw new RaftError(`no progress for ${id}`);
  }
  for (const id of c.learnersNext) {
    if (!c.voters.outgoing.has(id)) throw new RaftError(`${id} is in LearnersNext, but not Voters[1]`);
    if (r.progress.get(id)!.isLearner) throw new RaftError(`${id} is in LearnersNext, but is already marked as learner`);
  }
  for (const id of c.learners) {
    if (c.voters.outgoing.has(id) || c.voters.incoming.has(id)) throw new RaftError(`${id} is in Learners and Voters`);
    if (!r.progress.get(id)!.isLearner) throw new RaftError(`${id} is in Learners, but is not marked as learner`);
  }
  if (!isJoint(c)) {
    if (c.learnersNext.size > 0) throw new RaftError('cfg.LearnersNext must be empty when not joint');
    if (c.autoLeave) throw new RaftError('AutoLeave must be false when not joint');
  }
  return r;
}

/** Builds configuration and progress from a persisted ConfState. */
export function restoreConfState(cs: ConfState, lastIndex: number, newProgress: (next: number, isLearner: boolean) => Progress): ChangeResult {
  const config: TrackerConfig = {
    voters: { incoming: new Set(cs.voters), outgoing: new Set(cs.votersOutgoing) },
    learners: new Set(cs.learners),
    learnersNext: new Set(cs.learnersNext),
    autoLeave: cs.autoLeave && cs.votersOutgoing.length > 0,
  };
  const progress = new Map<NodeId, Progress>();
  for (const id of [...config.voters.incoming, ...config.voters.outgoing, ...config.learners, ...config.learnersNext]) {
    if (progress.has(id)) continue;
    const pr = newProgress(lastIndex + 1, config.learners.has(id));
    pr.recentActive = true;
    progress.set(id, pr);
  }
  return check({ config, progress });
}

export { configToConfState };
