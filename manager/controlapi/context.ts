// What the route plugins are given: the store they read and write, the dispatcher (logs), the
// manager's log, its identity, and the checks that need manager-side knowledge.

import type { CaStatusResponse, ManagerInfo, UnlockKeyResponse } from '../../common/api/types.js';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import type { ClusterControl } from '../cluster/control.js';
import type { Dispatcher } from '../dispatcher/dispatcher.js';
import type { Sealer } from '../keys/sealer.js';
import type { Store } from '../store/store.js';

export interface ApiContext {
  store: Store;
  /** `logs`, and the heartbeats it heard (node inspect shows the latest); a unit test may pass a stub. */
  dispatcher: Pick<Dispatcher, 'logs'> & Partial<Pick<Dispatcher, 'heartbeats'>>
    // Images shipped from the CLI (routes/images.ts): absent in unit tests of a lone API.
    & Partial<Pick<Dispatcher, 'images' | 'builds' | 'connectedNodes'>>;
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
  /** Autolock on (a new unlock key, shown once here) or off (leader). */
  setAutolock(enabled: boolean): Promise<UnlockKeyResponse>;
  /** The current unlock key, if autolock is on. */
  unlockKey(): UnlockKeyResponse;
  /** A new unlock key (leader): the old one opens managers that were down meanwhile. */
  rotateUnlockKey(): Promise<UnlockKeyResponse>;
  /** The data key as a backup carries it (wrapped by the unlock key under autolock). */
  backupKeys(): string;
  /** The root CA, and the progress of a rotation. */
  caStatus(): CaStatusResponse;
  /** Starts a root CA rotation (leader): every node gets a certificate of the new root, then the old one is dropped. */
  rotateCA(): Promise<CaStatusResponse>;
  /**
   * Signs a remote CLI's certificate request (leader): subject O=<cluster id>, OU=client,
   * CN=`name`, valid `validSeconds` from now (cut to the CA's own end). Throws a TsswarmError
   * (TSW_ERR_INVALID_ARGUMENT) on a CSR that is not PEM PKCS#10, whose signature does not
   * verify, or whose key is weak. The `client-certs` route records the serial in the cluster
   * object; without this function, issuing is refused as unavailable.
   */
  signClientCert(name: string, csrPem: string, validSeconds: number): Promise<{ certPem: string; caPems: string[]; serial: string; notAfter: number }>;
}

/** A route plugin: registered with `{ ctx }`; its schemas type its requests. */
export type RoutePlugin = FastifyPluginAsyncTypebox<{ ctx: ApiContext }>;
