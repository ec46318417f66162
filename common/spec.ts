// The normalised stack model: what `tsswarm config` prints, what the CLI sends to the
// manager, and what the store keeps as a service's spec. It is the Compose Specification's
// long form (snake_case keys, long syntax for ports/volumes, environment as a map, durations
// as canonical Go-style strings such as "1m30s"), so a user reads it as they wrote it.

import type { Static } from 'typebox';
import type * as S from './api/schema.js';
import { parseDuration } from './duration.js';

export type Duration = string; // canonical, e.g. "30s", "1m30s", "500ms"; parse with common/duration.ts

// The types are declared once, as TypeBox schemas (common/api/schema.ts, which documents each
// field and its bounds), and derived here; common/api/validate.ts checks a value against them.
export type StackSpec = Static<typeof S.StackSpecSchema>;
export type ServiceSpec = Static<typeof S.ServiceSpecSchema>;
export type BuildSpec = Static<typeof S.BuildSpecSchema>;
export type PortSpec = Static<typeof S.PortSpecSchema>;
export type MountSpec = Static<typeof S.MountSpecSchema>;
export type DeviceSpec = Static<typeof S.DeviceSpecSchema>;
export type UlimitSpec = Static<typeof S.UlimitSpecSchema>;
export type LoggingSpec = Static<typeof S.LoggingSpecSchema>;
export type BlkioSpec = Static<typeof S.BlkioSpecSchema>;
export type DeviceRequestSpec = Static<typeof S.DeviceRequestSpecSchema>;
export type ServiceNetworkSpec = Static<typeof S.ServiceNetworkSpecSchema>;
export type HealthcheckSpec = Static<typeof S.HealthcheckSpecSchema>;
export type DependsOnSpec = Static<typeof S.DependsOnSpecSchema>;
export type DeploySpec = Static<typeof S.DeploySpecSchema>;
export type RestartPolicySpec = Static<typeof S.RestartPolicySpecSchema>;
export type PlacementSpec = Static<typeof S.PlacementSpecSchema>;
export type ResourcesSpec = Static<typeof S.ResourcesSpecSchema>;
export type UpdateConfigSpec = Static<typeof S.UpdateConfigSpecSchema>;
export type NetworkSpec = Static<typeof S.NetworkSpecSchema>;
export type VolumeSpec = Static<typeof S.VolumeSpecSchema>;
/**
 * A service's use of a secret or config: `source` is its name, `id` the SecretObj/ConfigObj id
 * (filled by the manager when it accepts the spec), `target` a file name under /run/secrets/
 * or an absolute path (configs: an absolute path), `uid`/`gid` numeric strings, `mode` e.g. 0o444.
 */
export type ObjectRef = Static<typeof S.ObjectRefSchema>;

/** Where a secret is mounted when its target is a bare file name. */
export const SECRETS_DIR = '/run/secrets';
/** Defaults of a secret's or config's file: root's, readable by all (as Swarm's). */
export const DEFAULT_OBJECT_UID = '0';
export const DEFAULT_OBJECT_GID = '0';
export const DEFAULT_OBJECT_MODE = 0o444;

export const DEFAULT_STOP_GRACE_PERIOD = '10s';

export function defaultRestartPolicy(): RestartPolicySpec {
  return { condition: 'any', delay: '5s', max_attempts: 0, window: '0s' };
}

export function defaultUpdateConfig(): UpdateConfigSpec {
  return { parallelism: 1, delay: '0s', order: 'stop-first', monitor: '5s', max_failure_ratio: 0, failure_action: 'pause' };
}

export function defaultRollbackConfig(): UpdateConfigSpec {
  return { parallelism: 1, delay: '0s', order: 'stop-first', monitor: '5s', max_failure_ratio: 0, failure_action: 'pause' };
}

export function defaultDeploy(): DeploySpec {
  return {
    mode: 'replicated',
    replicas: 1,
    labels: {},
    restart_policy: defaultRestartPolicy(),
    placement: { constraints: [], preferences: [] },
    resources: { limits: {}, reservations: {} },
    update_config: defaultUpdateConfig(),
    rollback_config: defaultRollbackConfig(),
  };
}

/** The job modes: their tasks run to completion (exit 0) and are never restarted after it. */
export const isJobMode = (mode: DeploySpec['mode']): boolean => mode === 'replicated-job' || mode === 'global-job';
/** One task per eligible node (global, global-job) rather than numbered replicas. */
export const isGlobalMode = (mode: DeploySpec['mode']): boolean => mode === 'global' || mode === 'global-job';

/** How many tasks of a replicated-job run at a time: x-max-concurrent, at most the total (replicas). */
export const maxConcurrent = (deploy: DeploySpec): number => Math.min(deploy['x-max-concurrent'] ?? deploy.replicas, deploy.replicas);

/**
 * The restart policy a task's death is judged by: a job's task that completed (exit 0) is done,
 * so a job's `any` acts as `on-failure`.
 */
export function effectiveRestartPolicy(deploy: DeploySpec): RestartPolicySpec {
  const rp = deploy.restart_policy;
  return isJobMode(deploy.mode) && rp.condition === 'any' ? { ...rp, condition: 'on-failure' } : rp;
}

/** Full Swarm-style names. */
/** A service's own node-down grace (`deploy.x-node-down-grace`) in ms (0: none, or not readable). */
export function nodeDownGraceMs(spec: ServiceSpec | undefined): number {
  const g = (spec?.deploy as ServiceSpec['deploy'] | undefined)?.['x-node-down-grace'];
  if (g === undefined) return 0;
  try { return parseDuration(g); } catch { return 0; }
}

/**
 * The name of a service's built image when the stack file gives none: <stack>-<service>, as
 * `docker compose build` names it (lowercase: an image repository name is), tag latest.
 */
export const builtImageName = (stack: string, service: string): string => `${stack}-${service.toLowerCase()}`;

export const serviceFullName = (stack: string, service: string): string => `${stack}_${service}`;
export const networkFullName = (stack: string, net: string, spec?: NetworkSpec): string =>
  spec?.external || spec?.name ? (spec.name ?? net) : `${stack}_${net}`;
/** A stack's own secret or config: <stack>_<key>, unless named (`name:`) or external. */
export const objectFullName = (stack: string, key: string, spec?: { external?: boolean; name?: string }): string =>
  spec?.external || spec?.name ? (spec.name ?? key) : `${stack}_${key}`;
export const volumeFullName = (stack: string, vol: string, spec?: VolumeSpec): string =>
  spec?.external || spec?.name ? (spec.name ?? vol) : `${stack}_${vol}`;
