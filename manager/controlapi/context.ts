// What the route plugins are given: the store they read and write, the dispatcher (logs), the
// manager's log, its identity, and the checks that need manager-side knowledge.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { ManagerInfo } from '../../common/api/types.js';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import type { ClusterControl } from '../cluster/control.js';
import type { Dispatcher } from '../dispatcher/dispatcher.js';
import type { Sealer } from '../keys/sealer.js';
import type { Store } from '../store/store.js';

export interface ApiContext {
  store: Store;
  /** Only `logs` is used (a unit test may pass a stub). */
  dispatcher: Pick<Dispatcher, 'logs'>;
  log: Logger;
  info: () => ManagerInfo;
  /**
   * The manager's place in the cluster (forwarding to the leader, membership, status). Absent
   * in unit tests of a lone API: it then acts as the leader of a cluster of one.
   */
  cluster?: ClusterApi;
  /** Seals secret values before anything reaches the store (the cluster's data key). */
  sealer: Sealer;
}

export type ClusterApi = Pick<ClusterControl,
  'isLeader' | 'leaderAddr' | 'forward' | 'quorumActive' | 'reachableVoters' | 'status' | 'members' | 'memberByNode' | 'promote' | 'demote' | 'remove' | 'managerAddrs'> & {
  /** Replaces a role's join token with a fresh secret (leader). */
  rotateToken(role: 'worker' | 'manager'): Promise<string>;
}

/** A route plugin: registered with `{ ctx }`; its schemas type its requests. */
export type RoutePlugin = FastifyPluginAsyncTypebox<{ ctx: ApiContext }>;

/**
 * The sealer of a manager wired without the cluster's data key: AES-256-GCM with a key that
 * lives in this process only. Values never reach the store in clear, but what it sealed cannot
 * be opened by another manager or after a restart (a deploy then counts the value as changed
 * and seals it again). The manager passes the cluster's own sealer once its data key is loaded.
 */
export function processSealer(): Sealer {
  const key = randomBytes(32);
  return {
    seal(plain, aad) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(Buffer.from(aad, 'utf8'));
      const body = Buffer.concat([c.update(plain), c.final()]);
      return `p1:${Buffer.concat([iv, c.getAuthTag(), body]).toString('base64')}`;
    },
    open(sealed, aad) {
      if (!sealed.startsWith('p1:')) throw new Error('sealed by another key');
      const raw = Buffer.from(sealed.slice(3), 'base64');
      const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      d.setAAD(Buffer.from(aad, 'utf8'));
      d.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]);
    },
  };
}
