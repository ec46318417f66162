// The store's log: a RaftNode over the manager's WAL (`<data dir>/raft`). A one-manager
// cluster is a Raft group of one; more managers are the same code with peers.

import { RaftNode, type RaftNodeOptions } from '../raft/node.js';
import type { RaftTransport } from '../raft/transport.js';
import type { NodeId } from '../raft/types.js';
import { type ReplicatedMachine, type StoreLog } from './store.js';

export type RaftBackendOptions = Omit<RaftNodeOptions, 'sm'>;

export class RaftBackend implements StoreLog {
  node!: RaftNode;

  constructor(private readonly o: RaftBackendOptions) {}

  private leaderWaiters: (() => void)[] = [];
  private openFull?: () => void;

  async open(sm: ReplicatedMachine): Promise<void> {
    this.node = new RaftNode({
      ...this.o,
      sm,
      onStorageError: (err) => {
        if (err) for (const w of [...this.fullWaiters]) w(err);
        if (err) this.openFull?.();
        this.o.onStorageError?.(err);
      },
      onRoleChange: (role, lead, term) => {
        if (role === 'leader') for (const w of this.leaderWaiters.splice(0)) w();
        this.o.onRoleChange?.(role, lead, term);
      },
    });
    await this.node.start();
    const voters = this.node.membership.voters;
    if (voters.length === 1 && voters[0] === this.o.id) {
      // Alone in the group: lead at once rather than after an election timeout, and apply
      // everything the log holds (an entry of this term committed) before anyone reads.
      const elected = new Promise<void>((resolve) => this.leaderWaiters.push(resolve));
      // A full data dir: start anyway (reads answer, writes are refused); it leads once space is back.
      const full = new Promise<void>((resolve) => { this.openFull = resolve; });
      this.node.campaign();
      await Promise.race([elected.then(() => this.node.readIndex()).catch((e: Error) => { if (e.name !== 'DiskFullError') throw e; }), full]);
      this.openFull = undefined;
    } else {
      // What the log held when it stopped is applied before anyone reads the store.
      await this.node.waitApplied(this.node.commitIndex);
    }
  }

  /**
   * Proposes `data`. If the data dir fills up while it waits, the caller hears it at once
   * (DiskFullError): the entry is not durable, and is applied only if space comes back before
   * this manager stops.
   */
  propose(data: Uint8Array): Promise<unknown> {
    const p = this.node.propose(data);
    return new Promise((resolve, reject) => {
      const full = (err: Error): void => reject(Object.assign(new Error(`${err.message}; the change is not durable: it is applied if space is freed before the manager stops, otherwise it is lost — check before retrying`), { name: 'DiskFullError' }));
      this.fullWaiters.add(full);
      p.then(resolve, reject).finally(() => this.fullWaiters.delete(full));
    });
  }

  private readonly fullWaiters = new Set<(err: Error) => void>();

  readIndex(): Promise<void> {
    return this.node.readIndex();
  }

  close(): Promise<void> {
    return this.node.stop();
  }
}

/** A transport for a group of one: there is no one to talk to. */
export class LoneTransport implements RaftTransport {
  async start(): Promise<void> {}
  send(): void {}
  addPeer(): void {}
  removePeer(): void {}
  async close(): Promise<void> {}
}

/** A one-manager store in `dir` with no network (tests, tools). */
export function loneBackend(dir: string, opts: Partial<RaftBackendOptions> = {}): RaftBackend {
  const id: NodeId = 1;
  return new RaftBackend({
    id, dir, peers: new Map([[id, 'lone']]), bootstrap: [id],
    transportFactory: () => new LoneTransport(),
    wal: { preallocate: false, ...opts.wal },
    ...opts,
  });
}
