// The object model every side shares (manager, agent, CLI): objects of the replicated store. Every object carries `meta.version`: the store index that
// last wrote it (the Raft index once the store sits on Raft); updates are compare-and-set on it.

import { posix } from 'node:path';
import { ErrorCodes, TsswarmError } from '../errors.js';
import type { ServiceSpec, NetworkSpec, VolumeSpec } from '../spec.js';

export interface Meta {
  version: number;
  createdAt: number; // ms since epoch
  updatedAt: number;
}

export type NodeRole = 'manager' | 'worker';
export type NodeAvailability = 'active' | 'pause' | 'drain';
export type NodeState = 'unknown' | 'ready' | 'down' | 'disconnected';

export interface NodeObj {
  kind: 'node';
  id: string;
  meta: Meta;
  spec: { role: NodeRole; availability: NodeAvailability; labels: Record<string, string> };
  description: {
    hostname: string;
    platform: { os: string; arch: string };
    resources: { nanoCpus: number; memoryBytes: number };
    /** runtimes: the engine's container runtimes (absent: an agent that did not report them; runc assumed) */
    engine: { version: string; labels: Record<string, string>; runtimes?: string[] };
  };
  status: {
    state: NodeState;
    addr: string;
    message: string;
    lastHeartbeat: number;
    /** When the node's agent last finished acting on a full assignment set (after it registered), ms. */
    syncedAt?: number;
    /**
     * 'down': the node's agent reports that its Docker engine does not answer (`message` says
     * why). The node gets no new tasks; after the node-down grace it is marked down as a silent
     * node would be. Absent: the engine answers (or nothing was heard of it).
     */
    engine?: 'down';
  };
  /**
   * The certificates the cluster issued to this node that are still valid (the current one,
   * and the one before it until it expires): a connection presenting any other is refused, so
   * `node rm` (which deletes this object) revokes them at once.
   */
  certs?: IssuedCert[];
}

/** A certificate the cluster issued, by serial (lower-case hex) and end of validity (ms). */
export interface IssuedCert {
  serial: string;
  notAfter: number;
  /** Digest of the root CA that issued it (a CA rotation ends once every node has one of the new root's). */
  root?: string;
}

export type UpdateState = 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';

export interface ServiceObj {
  kind: 'service';
  id: string;
  meta: Meta;
  name: string; // full name: <stack>_<service>
  stack: string; // '' for services created outside a stack
  shortName: string; // the key in the stack file
  spec: ServiceSpec;
  specVersion: number; // bumped on every spec change; tasks record the one they run
  previousSpec?: ServiceSpec;
  updateStatus?: { state: UpdateState; startedAt: number; completedAt?: number; message: string };
}

/** Task lifecycle, as in Swarm. Order matters: a task only moves forward. */
export const TASK_STATES = [
  'new', 'pending', 'assigned', 'accepted', 'preparing', 'starting', 'running',
  'complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const taskStateIndex = (s: TaskState): number => TASK_STATES.indexOf(s);
/** A task at or past `complete` will never run again. */
export const isTerminal = (s: TaskState): boolean => taskStateIndex(s) >= taskStateIndex('complete');

export type HealthState = 'none' | 'starting' | 'healthy' | 'unhealthy';

export interface TaskStatus {
  state: TaskState;
  timestamp: number;
  message: string; // short human message, e.g. "started", "task: non-zero exit (1)"
  err?: string; // why it failed, e.g. "port 8080 is already in use on this node"
  /** The TSW_ERR_… code of `err`, so a user can search it (agent/errors.ts lists the agent's). */
  errCode?: string;
  containerId?: string;
  pid?: number;
  exitCode?: number;
  health?: HealthState;
  /** For ingress mode: where the task's target ports are reachable on its node (127.0.0.1:hostPort). */
  portBindings?: { target: number; protocol: 'tcp' | 'udp'; hostIp: string; hostPort: number }[];
}

export interface TaskObj {
  kind: 'task';
  id: string;
  meta: Meta;
  serviceId: string;
  serviceName: string;
  stack: string;
  slot?: number; // replicated services
  nodeId?: string; // global services have it from creation; replicated once scheduled
  specVersion: number;
  spec: ServiceSpec; // the spec this task runs (a copy: the service may change)
  desiredState: TaskState; // 'running' | 'shutdown' | 'remove'
  status: TaskStatus;
  /** Earliest time the agent may start it (restart delay), ms since epoch. */
  notBefore?: number;
  /** Restart bookkeeping: how many times this slot was restarted, and when. */
  restartHistory?: number[];
  /** Restarts in a row of this slot (for exponential backoff). */
  restartStreak?: number;
  /** When the manager first saw it up (running, and healthy if it has a healthcheck), ms. */
  upAt?: number;
  /** When the manager saw its status turn terminal, ms. */
  endedAt?: number;
}

export interface NetworkObj {
  kind: 'network';
  id: string;
  meta: Meta;
  name: string; // full name, e.g. <stack>_default
  stack: string;
  spec: NetworkSpec;
  /** The stack no longer declares it: deleted (and removed from nodes) once no task uses it. */
  released?: boolean;
}

export interface VolumeObj {
  kind: 'volume';
  id: string;
  meta: Meta;
  name: string; // full name, e.g. <stack>_data
  stack: string;
  spec: VolumeSpec;
  /** `stack rm --volumes`: delete the engine's volume on every node once no task uses it. */
  purge?: boolean;
  /** The stack no longer declares it: the store object goes once no task uses it. */
  released?: boolean;
}

/** Cluster-wide settings (one object, id 'default'); absent = defaults. */
export interface ClusterObj {
  kind: 'cluster';
  id: 'default';
  meta: Meta;
  spec: ClusterSpec;
  /** The managers: Raft members and where they are reached (written by join, promote, demote, rm). */
  managers?: ManagerMember[];
  /**
   * The current join tokens (as Swarm keeps them in its Raft store: every manager can print
   * them; the API's cluster view leaves them out). Rotation replaces one.
   */
  joinTokens?: { worker: string; manager: string };
  /** Digest of the cluster CA certificate (the join token carries it). */
  caDigest?: string;
  /**
   * The cluster CA: its certificate, and its private key sealed with the cluster's data key
   * (manager/keys), so any manager can sign when it leads. During a CA rotation `next` is the
   * new root and `crossSigned` the new root's key certified by the current one (docs/identity.md).
   */
  ca?: { certPem: string; keySealed: string; next?: { certPem: string; keySealed: string; crossSignedPem: string } };
  /**
   * Certificates issued to remote CLIs (`tsswarm cluster client-cert NAME`): the HTTPS API
   * accepts a client certificate only while its serial is here (revoking one removes it).
   */
  clientCerts?: { name: string; serial: string; notAfter: number; createdAt: number }[];
  /** Autolock on: the unlock key, sealed with the data key (each manager re-wraps its data key with it). */
  autolock?: { keySealed: string };
}

/**
 * A secret: its value is sealed with the cluster's data key (AES-256-GCM, manager/keys), so
 * the Raft log and snapshots never hold it in clear. Only agents running a task that uses it
 * receive it, and only over mutual TLS.
 */
export interface SecretObj {
  kind: 'secret';
  id: string;
  meta: Meta;
  /** What services reference: `<stack>_<key>` for a stack's secrets, as given for `secret create`. */
  name: string;
  /** '' for secrets made with `tsswarm secret create` (shared by stacks, `external: true`). */
  stack: string;
  labels: Record<string, string>;
  /** The value, sealed (manager/keys Sealer, additional data `secret/<id>`): never the value. */
  sealed: string;
  /** Bumped each time the value changes (`secret update`): services using it roll. */
  revision: number;
  /** Length of the value in bytes (shown by ls/inspect; the value never is). */
  size: number;
}

/** A config: like a secret, but not confidential (stored as given, shown by inspect). */
export interface ConfigObj {
  kind: 'config';
  id: string;
  meta: Meta;
  name: string;
  stack: string;
  labels: Record<string, string>;
  /** The content, base64. */
  data: string;
  revision: number;
  size: number;
}

export interface ManagerMember {
  /** Raft member id. */
  raftId: number;
  /** The manager's node id (its embedded agent's node, if it has one). */
  nodeId: string;
  /** gRPC address other managers and agents reach it at (host:port). */
  addr: string;
  /** What it should be: a voter, or a learner (demoted, or joining and not caught up yet). */
  desired: 'voter' | 'learner';
  /** Its manager certificates still valid (as NodeObj.certs). */
  certs?: IssuedCert[];
}

export interface ClusterSpec {
  /** Tasks kept per slot (per node for global services), the live one included, as Swarm's. */
  taskHistoryLimit: number;
  /**
   * Host paths a bind mount's source may be under (absolute, normalised). Absent: any host
   * path (the stack parser warns about binds); set: a deploy or update whose bind mount's
   * source is not one of them or below one of them is refused (TSW_ERR_BIND_NOT_ALLOWED).
   * An empty list forbids bind mounts.
   */
  allowedBindPaths?: string[];
  /**
   * How long node certificates are valid (ms; absent: DEFAULT_CERT_EXPIRY_MS). Nodes renew
   * theirs between half and four fifths of the way through; a worker that stays off longer
   * than this must join again with a token.
   */
  certExpiryMs?: number;
}

/** Node certificates are valid 30 days by default. */
export const DEFAULT_CERT_EXPIRY_MS = 30 * 24 * 3600 * 1000;
/** The shortest validity accepted (10 s: for tests of renewal; real clusters use hours or days). */
export const MIN_CERT_EXPIRY_MS = 10_000;
/** The longest: 10 years. */
export const MAX_CERT_EXPIRY_MS = 10 * 365 * 24 * 3600 * 1000;

export const DEFAULT_TASK_HISTORY_LIMIT = 5;
/** At most this many entries in allowedBindPaths, each at most MAX_BIND_PATH_LENGTH characters. */
export const MAX_ALLOWED_BIND_PATHS = 64;
export const MAX_BIND_PATH_LENGTH = 4096;
export const defaultClusterSpec = (): ClusterSpec => ({ taskHistoryLimit: DEFAULT_TASK_HISTORY_LIMIT });

/** The cluster object as first written (the store stamps its meta). */
export const newClusterObj = (spec: ClusterSpec = defaultClusterSpec()): ClusterObj => ({ kind: 'cluster', id: 'default', meta: { version: 0, createdAt: 0, updatedAt: 0 }, spec });

const CLUSTER_SETTINGS = ['taskHistoryLimit', 'allowedBindPaths', 'certExpiryMs'];

/**
 * A cluster spec with `patch` applied; throws TSW_ERR_INVALID_ARGUMENT naming the field on a
 * bad value (nothing is applied then). `allowedBindPaths: null` removes the setting.
 */
export function patchClusterSpec(cur: ClusterSpec, patch: Record<string, unknown>): ClusterSpec {
  const next = { ...cur };
  const bad = (k: string, message: string, field = k): never => { throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, message, [{ field: `spec.${field}`, message }]); };
  for (const [k, v] of Object.entries(patch)) {
    if (k === 'taskHistoryLimit') {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(k, `taskHistoryLimit must be an integer >= 0, got ${JSON.stringify(v)}`);
      next.taskHistoryLimit = v as number;
    } else if (k === 'allowedBindPaths') {
      if (v === null) { delete next.allowedBindPaths; continue; }
      if (!Array.isArray(v)) bad(k, `allowedBindPaths must be a list of absolute host paths (or null to allow any), got ${JSON.stringify(v)?.slice(0, 80)}`);
      const list = v as unknown[];
      if (list.length > MAX_ALLOWED_BIND_PATHS) bad(k, `allowedBindPaths holds at most ${MAX_ALLOWED_BIND_PATHS} paths, got ${list.length}`);
      next.allowedBindPaths = list.map((p, i) => {
        const why = bindPathProblem(p);
        return why ? bad(k, `allowedBindPaths[${i}]: ${why}`, `${k}[${i}]`) : normaliseHostPath(p as string);
      });
    } else if (k === 'certExpiryMs') {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < MIN_CERT_EXPIRY_MS || v > MAX_CERT_EXPIRY_MS) {
        bad(k, `certExpiryMs must be a whole number of milliseconds from ${MIN_CERT_EXPIRY_MS} (10s) to ${MAX_CERT_EXPIRY_MS} (10 years), got ${JSON.stringify(v)?.slice(0, 40)}`);
      }
      next.certExpiryMs = v as number;
    } else {
      bad(k, `unknown cluster setting ${k} (${CLUSTER_SETTINGS.join(', ')})`);
    }
  }
  return next;
}

function bindPathProblem(p: unknown): string | undefined {
  if (typeof p !== 'string') return `must be a string, got ${JSON.stringify(p)?.slice(0, 80)}`;
  if (p.length > MAX_BIND_PATH_LENGTH) return `is longer than ${MAX_BIND_PATH_LENGTH} characters`;
  if (!p.startsWith('/')) return `${JSON.stringify(p)} is not an absolute path`;
  if (p.includes('\0')) return 'holds a NUL character';
  if (p.split('/').some((seg) => seg === '..' || seg === '.')) return `${JSON.stringify(p)} holds "." or ".." segments`;
  return undefined;
}

/** "/srv//data/" -> "/srv/data"; "/" stays "/". */
export const normaliseHostPath = (p: string): string => posix.normalize(p).replace(/(.)\/+$/, '$1');

/**
 * Whether a bind mount's source is allowed by `allowed` (undefined: anything is). The source is
 * normalised first, so "/srv/ok/../../etc" is judged as "/etc".
 */
export function bindAllowed(source: string, allowed: string[] | undefined): boolean {
  if (allowed === undefined) return true;
  const src = normaliseHostPath(source);
  return allowed.some((a) => a === '/' || src === a || src.startsWith(`${a}/`));
}

export type StoreObj = NodeObj | ServiceObj | TaskObj | NetworkObj | VolumeObj | ClusterObj | SecretObj | ConfigObj;
export type ObjKind = StoreObj['kind'];
export type ObjOf<K extends ObjKind> = Extract<StoreObj, { kind: K }>;

/** Task name as Swarm shows it: <service>.<slot> or <service>.<nodeId> for global services. */
export const taskName = (t: Pick<TaskObj, 'serviceName' | 'slot' | 'nodeId'>): string =>
  `${t.serviceName}.${t.slot ?? t.nodeId}`;
