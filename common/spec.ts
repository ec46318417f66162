// The normalised stack model: what `tsswarm config` prints, what the CLI sends to the
// manager, and what the store keeps as a service's spec. It is the Compose Specification's
// long form (snake_case keys, long syntax for ports/volumes, environment as a map, durations
// as canonical Go-style strings such as "1m30s"), so a user reads it as they wrote it.

export type Duration = string; // canonical, e.g. "30s", "1m30s", "500ms"; parse with common/duration.ts

export interface StackSpec {
  name: string;
  services: Record<string, ServiceSpec>;
  networks: Record<string, NetworkSpec>;
  volumes: Record<string, VolumeSpec>;
  /** top-level extension fields kept verbatim (x-*) */
  extensions?: Record<string, unknown>;
}

export interface ServiceSpec {
  image: string;
  command?: string[];
  entrypoint?: string[];
  environment: Record<string, string>;
  labels: Record<string, string>; // container labels
  user?: string;
  working_dir?: string;
  init?: boolean;
  stop_signal?: string;
  stop_grace_period?: Duration; // default 10s
  hostname?: string;
  ports: PortSpec[];
  volumes: MountSpec[];
  networks: Record<string, ServiceNetworkSpec>; // key: stack-local network name
  healthcheck?: HealthcheckSpec;
  depends_on: Record<string, DependsOnSpec>;
  deploy: DeploySpec;
  /** extension fields kept verbatim (x-*) */
  extensions?: Record<string, unknown>;
}

export interface PortSpec {
  target: number;
  published?: number; // undefined: no fixed host port
  protocol: 'tcp' | 'udp';
  mode: 'ingress' | 'host';
  host_ip?: string;
}

export interface MountSpec {
  type: 'volume' | 'bind' | 'tmpfs';
  source?: string; // volume: stack-local volume name (or external name); bind: absolute host path
  target: string;
  read_only: boolean;
}

export interface ServiceNetworkSpec {
  aliases: string[];
}

export interface HealthcheckSpec {
  test?: string[]; // ["CMD", ...] | ["CMD-SHELL", "..."] | ["NONE"]
  interval?: Duration;
  timeout?: Duration;
  retries?: number;
  start_period?: Duration;
  disable?: boolean;
}

export interface DependsOnSpec {
  condition: 'service_started' | 'service_healthy' | 'service_completed_successfully';
  required: boolean;
}

export interface DeploySpec {
  mode: 'replicated' | 'global';
  replicas: number; // meaningful for replicated; 1 when unspecified
  labels: Record<string, string>; // service labels
  restart_policy: RestartPolicySpec;
  placement: PlacementSpec;
  resources: ResourcesSpec;
  update_config: UpdateConfigSpec;
  rollback_config: UpdateConfigSpec;
}

export interface RestartPolicySpec {
  condition: 'none' | 'on-failure' | 'any';
  delay: Duration; // Swarm's default 5s
  max_attempts: number; // 0 = unlimited
  window: Duration; // "0s" = unbounded
  /**
   * tsswarm extension: 'exponential' doubles the delay on each consecutive restart of a slot,
   * up to x-max-delay; the streak starts over once a task stayed up longer than x-max-delay.
   */
  'x-backoff'?: 'exponential';
  'x-max-delay'?: Duration; // with x-backoff; default 5m
}

export interface PlacementSpec {
  constraints: string[]; // e.g. "node.role==manager", "node.labels.disk!=ssd"
  preferences: { spread: string }[];
  max_replicas_per_node?: number;
}

export interface ResourcesSpec {
  limits: { cpus?: number; memory?: number }; // cpus as a float, memory in bytes
  reservations: { cpus?: number; memory?: number };
}

export interface UpdateConfigSpec {
  parallelism: number; // 0 = all at once
  delay: Duration;
  order: 'stop-first' | 'start-first';
  monitor: Duration;
  max_failure_ratio: number;
  failure_action: 'pause' | 'continue' | 'rollback';
}

export interface NetworkSpec {
  driver: string; // "bridge" on a single host; "overlay" is accepted and mapped to the cluster network driver
  external: boolean;
  name?: string; // actual name when external or explicitly named
  attachable?: boolean;
  internal?: boolean;
  labels: Record<string, string>;
  driver_opts: Record<string, string>;
}

export interface VolumeSpec {
  driver: string; // "local"
  external: boolean;
  name?: string;
  labels: Record<string, string>;
  driver_opts: Record<string, string>;
}

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

/** Full Swarm-style names. */
export const serviceFullName = (stack: string, service: string): string => `${stack}_${service}`;
export const networkFullName = (stack: string, net: string, spec?: NetworkSpec): string =>
  spec?.external || spec?.name ? (spec.name ?? net) : `${stack}_${net}`;
export const volumeFullName = (stack: string, vol: string, spec?: VolumeSpec): string =>
  spec?.external || spec?.name ? (spec.name ?? vol) : `${stack}_${vol}`;
