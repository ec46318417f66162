// The HTTP API's request and response shapes, declared once: the manager's routes produce them,
// the CLI consumes them. Objects themselves are in objects.ts.

import type { UpdateConfigSpec } from '../spec.js';
import type { NodeAvailability, ServiceObj } from './objects.js';

export interface ServiceChange {
  action: 'create' | 'update' | 'scale' | 'remove' | 'unchanged';
  name: string; // full name
  shortName: string;
  /** field paths whose value changed (update/scale) */
  fields: string[];
  /**
   * The values before and after, per changed field (update/scale). An environment variable's
   * values are never shown: `redacted` says what happened to it instead.
   */
  changes?: { field: string; from?: unknown; to?: unknown; redacted?: 'added' | 'removed' | 'changed' }[];
  replicas?: { from: number; to: number };
  /** tasks that would be replaced (update) or stopped (scale down, remove) */
  tasksReplaced?: number;
  /**
   * Dependencies (depends_on with restart: true) whose tasks this deploy replaces: this
   * service's tasks are replaced too, as Compose restarts it after updating them.
   */
  restartedFor?: string[];
  /** A job (deploy.mode replicated-job or global-job): its tasks run to completion once. */
  job?: 'replicated-job' | 'global-job';
}

export interface DeployPlan {
  stack: string;
  services: ServiceChange[];
  networks: { action: 'create' | 'remove'; name: string }[];
  volumes: { action: 'create' | 'release'; name: string }[];
  /** The stack's secrets and configs (names and revisions: never a value); absent from older managers. */
  secrets?: ObjectChange[];
  configs?: ObjectChange[];
}

/** What a deploy does to one of the stack's secrets or configs. */
export interface ObjectChange {
  /** update: a new value (the revision goes up) or new labels; remove: the stack no longer declares it and nothing uses it */
  action: 'create' | 'update' | 'unchanged' | 'remove';
  name: string;
  /** the revision after the deploy */
  revision?: number;
}

/**
 * A secret or config a deploy request carries, by the stored name: its value (base64, read by
 * the CLI from the file or the environment variable the stack file names) and labels, or
 * `external: true` for one that must exist already.
 */
export type DeployObject = { data: string; labels?: Record<string, string> } | { external: true };
export type DeployObjects = Record<string, DeployObject>;

/** A secret as `secret ls` / `secret inspect` show it: never its value, nor its sealed form. */
export interface SecretView {
  id: string;
  name: string;
  /** '' for a secret made with `secret create`; else the stack it belongs to */
  stack: string;
  labels: Record<string, string>;
  revision: number;
  /** bytes */
  size: number;
  createdAt: number;
  updatedAt: number;
}

/** A config as `config ls` shows it; `config inspect` adds its content (configs are not confidential). */
export interface ConfigView extends SecretView {
  /** the content, base64 (inspect only) */
  data?: string;
}

/** POST /v1/secrets, POST /v1/configs */
export interface ObjectCreateRequest {
  name: string;
  /** the value, base64 */
  data: string;
  labels?: Record<string, string>;
}

/** POST /v1/secrets/:ref/update, POST /v1/configs/:ref/update: a new value (and labels, if given). */
export interface ObjectUpdateRequest {
  data: string;
  labels?: Record<string, string>;
}

/** What a create or an update did. */
export interface ObjectWriteResponse {
  id: string;
  name: string;
  revision: number;
  /** false: the value (and labels) were the stored ones; nothing was written */
  changed: boolean;
  /** services whose tasks roll to the new revision (update) */
  services: string[];
}

/** DELETE /v1/secrets/:ref, DELETE /v1/configs/:ref */
export interface ObjectRemoveResponse {
  id: string;
  name: string;
}

/** `service update` flags (docker service update's), sent as `{ flags }`. */
export interface ServiceUpdateFlags {
  image?: string;
  /**
   * With `image`: the ID the CLI's engine gave that name (an image no registry gave it), as a
   * deploy pins one (ServiceSpec.image_id): every node runs exactly those bits.
   */
  imageId?: string;
  envAdd?: string[];
  envRm?: string[];
  labelAdd?: string[]; // container labels
  labelRm?: string[];
  replicas?: number;
  publishAdd?: string[]; // short port syntax, e.g. "8080:80", "53:53/udp"
  publishRm?: string[]; // "8080" or "8080/udp" (published port), or "TARGET" of an unpublished one
  constraintAdd?: string[];
  constraintRm?: string[];
  command?: string[];
  user?: string;
  update?: Partial<Record<keyof UpdateConfigSpec, string>>;
  rollback?: Partial<Record<keyof UpdateConfigSpec, string>>;
  restartCondition?: string;
  restartDelay?: string;
  restartMaxAttempts?: string;
  restartWindow?: string;
  restartBackoff?: string;
  restartMaxDelay?: string;
  /** deploy.x-node-down-grace: a duration; "0s" moves tasks as soon as their node is down. */
  nodeDownGrace?: string;
  limitMemory?: string;
  limitCpu?: string;
  /** Replace the tasks even if nothing changed (docker service update --force). */
  force?: boolean;
}

/**
 * POST /v1/nodes/:ref/update (docker node update's flags). Labels are removed first, then
 * added; `labelAdd` entries are `KEY=VALUE` or `KEY` (an empty value). `version`: apply only
 * if the node is still at that version (compare-and-set), else TSW_ERR_CONFLICT.
 */
export interface NodeUpdateRequest {
  availability?: NodeAvailability;
  labelAdd?: string[];
  labelRm?: string[];
  version?: number;
}

/** A service as `service ls` / `service inspect` show it. */
export interface ServiceView extends ServiceObj {
  running: number;
  /** replicas; eligible nodes (global); a job's total completions */
  desired: number;
  /** Jobs: slots of the current spec whose task completed (exit 0), out of `desired`. */
  completed?: number;
  /** Jobs: why the job failed (a task failed and is not restarted), e.g. "task st_migrate.1 failed: exit code 3". */
  jobFailure?: string;
  /**
   * depends_on: what the service waits for before its tasks are created ("waiting for db to be
   * healthy"), and, when that dependency failed, why ("db keeps failing: task st_db.1 failed: exit code 1").
   */
  waiting?: { message: string; failure?: string }[];
}

/** One line of `service logs` (NDJSON on the wire). */
export interface LogLineView {
  task: string; // <service>.<slot|node>.<task id prefix>; '' for a notice
  stream: 'stdout' | 'stderr';
  data: string;
  ts: number; // ms since epoch
  /** Said by tsswarm, not by a task (e.g. a node whose tasks' logs cannot be read): printed as is, on stderr. */
  notice?: true;
}

/** `stack ls` rows. */
export interface StackSummary {
  name: string;
  services: number;
}

/** Every refusal: a TSW_ERR_… code (common/errors.ts gives its HTTP status), a message, and the fields at fault. */
export interface ErrorBody {
  code: string;
  message: string;
  details: { field?: string; file?: string; line?: number; col?: number; message: string }[];
}

/** GET /v1/info */
export interface InfoResponse extends ManagerInfo {
  storeIndex: number;
}
/** What a manager says of itself in GET /v1/info (the store index aside). */
export interface ManagerInfo {
  version: string;
  clusterId: string;
  nodeId: string;
  dataDir: string;
  pid: number;
  /** Where its HTTPS API listens for remote CLIs (host:port), when it does. */
  apiAddr?: string;
}

/** POST /v1/stacks/deploy: a normalised stack (what `tsswarm config` prints), and its secrets' and configs' values. */
export interface DeployRequest {
  stack: unknown; // a StackSpec, checked by common/api/validate.ts's validateStack
  dryRun?: boolean;
  secrets?: unknown; // DeployObjects, checked by validateDeployObjects
  configs?: unknown; // DeployObjects, checked by validateDeployObjects
}
export interface DeployResponse {
  plan: DeployPlan;
  applied: boolean;
}

/** DELETE /v1/stacks/:name[?volumes=1] */
export interface StackRemoveResponse {
  services: string[];
  /** the stack's own secrets and configs removed (one still used by another stack's service is kept) */
  secrets?: string[];
  configs?: string[];
}

/** POST /v1/services/:ref/scale */
export interface ScaleRequest {
  replicas: number;
}
export interface ScaleResponse {
  service: string;
  replicas: number;
}

/** POST /v1/services/:ref/update */
export interface ServiceUpdateRequest {
  flags: ServiceUpdateFlags;
  dryRun?: boolean;
}
export interface ServiceUpdateResponse {
  service: string;
  fields: string[];
  replaced: boolean;
  applied: boolean;
}

/** POST /v1/services/:ref/rollback (body `{}` or none) */
export interface RollbackResponse {
  service: string;
}

/** POST /v1/cluster/update: the settings to change (see ClusterSpec). */
export interface ClusterUpdateRequest {
  spec: Record<string, unknown>;
}

/** One manager in `tsswarm cluster status` (GET /v1/cluster/status). */
export interface ClusterMember {
  nodeId: string;
  raftId: number;
  /** gRPC address other managers and agents reach it at. */
  addr: string;
  /** Its Raft role as it reports it, or `unreachable` when it did not answer. */
  role: 'leader' | 'follower' | 'learner' | 'candidate' | 'preCandidate' | 'unreachable';
  /** It votes (counts towards the quorum). */
  voter: boolean;
  reachable: boolean;
  /** The last log index it applied (absent when unreachable). */
  applied?: number;
  /** How many committed entries it has yet to apply. */
  lag?: number;
}

/** GET /v1/cluster/status. */
export interface ClusterStatus {
  clusterId: string;
  /** The node id of the manager whose view this is (the leader's, unless `stale`). */
  answeredBy: string;
  /** The leader's node id (absent: no leader). */
  leader?: string;
  /** Voting managers needed to commit. */
  quorum: number;
  voters: number;
  /** How many voting managers may fail with the cluster still committing. */
  tolerates: number;
  commitIndex: number;
  managers: ClusterMember[];
  /** E.g. an even number of voters, or no quorum. */
  warnings: string[];
  /** Set when no leader answered: this manager's own view. */
  stale?: boolean;
}

/** GET /v1/cluster/join-token/:role, POST /v1/cluster/join-token/:role/rotate. */
export interface JoinTokenResponse {
  role: 'worker' | 'manager';
  token: string;
  /** The command a new member runs (with a manager address to reach). */
  command: string;
}

/** POST /v1/cluster/autolock, GET /v1/cluster/unlock-key, POST /v1/cluster/unlock-key/rotate. */
export interface UnlockKeyResponse {
  enabled: boolean;
  /** The key, when autolock is on (shown to managers' operators only: the API socket, or a manager's certificate). */
  unlockKey?: string;
  message: string;
}

/** GET /v1/cluster/ca, POST /v1/cluster/ca/rotate. */
export interface CaStatusResponse {
  /** The current root's digest (what join tokens carry). */
  digest: string;
  /** During a rotation: the new root's digest, and the nodes that still hold a certificate of the old one. */
  next?: { digest: string; pending: string[] };
  message: string;
}

/** POST /v1/cluster/client-certs: a remote CLI's certificate request (its key stays with it). */
export interface ClientCertRequest {
  /** The identity: 1-64 of [A-Za-z0-9._-]; a second certificate for a name replaces the first. */
  name: string;
  /** A PKCS#10 certificate signing request, PEM. */
  csr: string;
  /** How long the certificate is valid: "90d" (the default), "720h", "1d12h"; 1h to 365d. */
  expiry?: string;
}
/** The certificate issued, the CA certificates to verify managers with, and what identifies it. */
export interface ClientCertResponse {
  certPem: string;
  caPems: string[];
  /** Lower-case hex. */
  serial: string;
  /** ms since epoch. */
  notAfter: number;
}
/** GET /v1/cluster/client-certs rows: what was issued, never a key. */
export interface ClientCertInfo {
  name: string;
  serial: string;
  notAfter: number;
  createdAt: number;
}
