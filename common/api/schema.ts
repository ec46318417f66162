// The normalised stack model (common/spec.ts) as TypeBox schemas: the one declaration of its
// shape. common/spec.ts derives its types from these (Static<>), common/api/validate.ts
// compiles them, and the HTTP API can use them for its request bodies. Every bound is one of
// LIMITS (common/api/limits.ts) or of SPEC_BOUNDS below; docs/stack-files.md lists them all.
//
// What a schema cannot say (image reference grammar, IP addresses, durations, names, signals,
// cross-references between services, networks and volumes) is checked by validate.ts.

import { Type, type TSchema } from 'typebox';
import { LIMITS } from './limits.js';

/** Bounds of the spec beyond LIMITS. Durations are canonical strings, bounded in validate.ts. */
export const SPEC_BOUNDS = {
  /** Any duration of a spec (grace period, healthcheck, restart and update timings): a year (8760h). Timers longer than Node's 24.8 days are re-armed, not overflowed. */
  durationMs: 8760 * 3_600_000,
  /** Longest duration string. */
  durationLength: 64,
  /** Memory limit or reservation, bytes: 1 PiB. */
  memoryBytes: 2 ** 50,
  /** CPUs of a limit or reservation. */
  cpus: 4096,
  /** Counters: restart max_attempts, healthcheck retries, update parallelism. */
  count: 1_000_000,
  /** Arguments of command or entrypoint; aliases, constraints, preferences per service. */
  listItems: LIMITS.entriesPerService,
  /** An image reference (name, tag and digest). */
  imageLength: 1024,
  /** A path (mount target or source, working_dir). */
  pathLength: 4096,
  /** A hostname (RFC 1123). */
  hostnameLength: 253,
  /** Capabilities in cap_add or cap_drop; entries of security_opt, dns, dns_search, dns_opt, group_add, ulimits. */
  shortList: 64,
  /** A ulimit value (-1 = unlimited). */
  ulimit: Number.MAX_SAFE_INTEGER,
  /** pids_limit (-1 = unlimited): the kernel's highest pid_max. */
  pids: 4_194_304,
  /** cpu_quota, microseconds per period: 1000 CPUs' worth of the longest period */
  cpuQuota: 1_000_000_000,
  /** A block I/O rate, bytes or operations per second. */
  ioRate: Number.MAX_SAFE_INTEGER,
  /** uid and gid of a secret's or config's file: a numeric id, as a string. */
  idLength: 10,
  /** The highest file mode of a secret's or config's file (permission bits). */
  fileMode: 0o777,
  /** Highest revision of a secret or config. */
  revision: Number.MAX_SAFE_INTEGER,
  /** Extension (x-*) values: nesting depth and number of values (strings, numbers, ...) in all. */
  extensionDepth: LIMITS.depth,
  extensionValues: 10_000,
} as const;

const closed = { additionalProperties: false } as const;

const Str = (max: number = LIMITS.stringLength) => Type.String({ maxLength: max });
const NonEmpty = (max: number = LIMITS.stringLength) => Type.String({ minLength: 1, maxLength: max });
const Int = (min: number, max: number) => Type.Integer({ minimum: min, maximum: max });
const Dur = () => Type.String({ minLength: 1, maxLength: SPEC_BOUNDS.durationLength });
const StrMap = (maxEntries: number) => Type.Record(Type.String(), Str(), { maxProperties: maxEntries });
const StrList = (maxItems: number = SPEC_BOUNDS.listItems) => Type.Array(Str(), { maxItems });
const Opt = <T extends TSchema>(t: T) => Type.Optional(t);

/** Free-form JSON of extension (x-*) fields; depth and size are bounded in validate.ts. */
export const ExtensionsSchema = Type.Record(Type.String(), Type.Unknown(), { maxProperties: LIMITS.entriesPerService });

export const PortSpecSchema = Type.Object(
  {
    target: Int(1, 65535),
    /** absent: no fixed host port */
    published: Opt(Int(1, 65535)),
    protocol: Type.Enum(['tcp', 'udp']),
    mode: Type.Enum(['ingress', 'host']),
    host_ip: Opt(NonEmpty(64)),
  },
  closed,
);

export const MountSpecSchema = Type.Object(
  {
    type: Type.Enum(['volume', 'bind', 'tmpfs']),
    /** volume: stack-local volume name (or external name); bind: absolute host path */
    source: Opt(NonEmpty(SPEC_BOUNDS.pathLength)),
    target: NonEmpty(SPEC_BOUNDS.pathLength),
    read_only: Type.Boolean(),
    /** type volume: nocopy = do not fill a new volume with the image's files at the target */
    volume: Opt(Type.Object({ nocopy: Opt(Type.Boolean()) }, closed)),
    /** type bind: mount propagation; create_host_path = make a missing source folder on the node */
    bind: Opt(Type.Object({
      propagation: Opt(Type.Enum(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'])),
      create_host_path: Opt(Type.Boolean()),
    }, closed)),
    /** type tmpfs: size in bytes (0 = the kernel's default, half the RAM), permission bits */
    tmpfs: Opt(Type.Object({ size: Opt(Int(0, SPEC_BOUNDS.memoryBytes)), mode: Opt(Int(0, 0o7777)) }, closed)),
  },
  closed,
);

/** A host device given to the container (`devices`). */
export const DeviceSpecSchema = Type.Object(
  {
    /** absolute path on the node */
    source: NonEmpty(SPEC_BOUNDS.pathLength),
    /** absolute path in the container */
    target: NonEmpty(SPEC_BOUNDS.pathLength),
    /** cgroup permissions: some of r, w, m */
    permissions: NonEmpty(3),
  },
  closed,
);

/** One ulimit: soft and hard, -1 = unlimited. */
export const UlimitSpecSchema = Type.Object({ soft: Int(-1, SPEC_BOUNDS.ulimit), hard: Int(-1, SPEC_BOUNDS.ulimit) }, closed);

/** The container's log driver and its options (the engine's LogConfig). */
export const LoggingSpecSchema = Type.Object(
  {
    /** absent: the engine's default driver */
    driver: Opt(NonEmpty(255)),
    options: StrMap(LIMITS.entriesPerService),
  },
  closed,
);

const BlkioWeights = () => Type.Array(Type.Object({ path: NonEmpty(SPEC_BOUNDS.pathLength), weight: Int(10, 1000) }, closed), { maxItems: SPEC_BOUNDS.shortList });
const BlkioRates = () => Type.Array(Type.Object({ path: NonEmpty(SPEC_BOUNDS.pathLength), rate: Int(0, SPEC_BOUNDS.ioRate) }, closed), { maxItems: SPEC_BOUNDS.shortList });

/** `blkio_config`: the engine's BlkioWeight, BlkioWeightDevice and BlkioDevice{Read,Write}{Bps,IOps}. */
export const BlkioSpecSchema = Type.Object(
  {
    /** 10 to 1000 */
    weight: Opt(Int(10, 1000)),
    weight_device: Opt(BlkioWeights()),
    /** bytes per second */
    device_read_bps: Opt(BlkioRates()),
    device_write_bps: Opt(BlkioRates()),
    /** operations per second */
    device_read_iops: Opt(BlkioRates()),
    device_write_iops: Opt(BlkioRates()),
  },
  closed,
);

export const ServiceNetworkSpecSchema = Type.Object({ aliases: StrList() }, closed);

export const HealthcheckSpecSchema = Type.Object(
  {
    /** ["CMD", ...] | ["CMD-SHELL", "..."] | ["NONE"] */
    test: Opt(Type.Array(Str(), { minItems: 1, maxItems: SPEC_BOUNDS.listItems })),
    interval: Opt(Dur()),
    timeout: Opt(Dur()),
    retries: Opt(Int(0, SPEC_BOUNDS.count)),
    start_period: Opt(Dur()),
    disable: Opt(Type.Boolean()),
  },
  closed,
);

export const DependsOnSpecSchema = Type.Object(
  {
    condition: Type.Enum(['service_started', 'service_healthy', 'service_completed_successfully']),
    required: Type.Boolean(),
    /** A deploy that replaces the dependency's tasks replaces this service's too (Compose's restart: true). */
    restart: Type.Optional(Type.Boolean()),
  },
  closed,
);

export const RestartPolicySpecSchema = Type.Object(
  {
    condition: Type.Enum(['none', 'on-failure', 'any']),
    /** Swarm's default 5s */
    delay: Dur(),
    /** 0 = unlimited */
    max_attempts: Int(0, SPEC_BOUNDS.count),
    /** "0s" = unbounded */
    window: Dur(),
    /**
     * tsswarm extension: 'exponential' doubles the delay on each consecutive restart of a slot,
     * up to x-max-delay; the streak starts over once a task stayed up longer than x-max-delay.
     */
    'x-backoff': Opt(Type.Enum(['exponential'])),
    /** with x-backoff; default 5m */
    'x-max-delay': Opt(Dur()),
  },
  closed,
);

export const PlacementSpecSchema = Type.Object(
  {
    /** e.g. "node.role==manager", "node.labels.disk!=ssd" */
    constraints: StrList(),
    preferences: Type.Array(Type.Object({ spread: NonEmpty() }, closed), { maxItems: SPEC_BOUNDS.listItems }),
    max_replicas_per_node: Opt(Int(0, LIMITS.replicas)),
  },
  closed,
);

const ResourceSchema = Type.Object(
  {
    /** CPUs as a float */
    cpus: Opt(Type.Number({ minimum: 0, maximum: SPEC_BOUNDS.cpus })),
    /** bytes */
    memory: Opt(Int(0, SPEC_BOUNDS.memoryBytes)),
  },
  closed,
);

/**
 * A device a task reserves (`gpus`, `deploy.resources.reservations.devices`): the engine's
 * DeviceRequest. The scheduler places it on nodes labelled with each capability (docs/stack-files.md).
 */
export const DeviceRequestSpecSchema = Type.Object(
  {
    /** e.g. [gpu] or [gpu, utility]: all of them */
    capabilities: Type.Array(NonEmpty(64), { minItems: 1, maxItems: SPEC_BOUNDS.shortList }),
    driver: Opt(NonEmpty(64)),
    /** -1 = all the node's devices; absent with device_ids */
    count: Opt(Int(-1, 1024)),
    device_ids: Opt(Type.Array(NonEmpty(256), { maxItems: SPEC_BOUNDS.shortList })),
    options: Opt(StrMap(SPEC_BOUNDS.shortList)),
  },
  closed,
);

const ReservationSchema = Type.Object(
  { ...ResourceSchema.properties, devices: Opt(Type.Array(DeviceRequestSpecSchema, { maxItems: SPEC_BOUNDS.shortList })) },
  closed,
);

export const ResourcesSpecSchema = Type.Object({ limits: ResourceSchema, reservations: ReservationSchema }, closed);

export const UpdateConfigSpecSchema = Type.Object(
  {
    /** 0 = all at once */
    parallelism: Int(0, SPEC_BOUNDS.count),
    delay: Dur(),
    order: Type.Enum(['stop-first', 'start-first']),
    monitor: Dur(),
    max_failure_ratio: Type.Number({ minimum: 0, maximum: 1 }),
    failure_action: Type.Enum(['pause', 'continue', 'rollback']),
  },
  closed,
);

export const DeploySpecSchema = Type.Object(
  {
    /** replicated-job and global-job run their tasks to completion (Swarm's job modes) */
    mode: Type.Enum(['replicated', 'global', 'replicated-job', 'global-job']),
    /** meaningful for replicated; replicated-job: the total completions; 1 when unspecified */
    replicas: Int(0, LIMITS.replicas),
    /** replicated-job: at most this many tasks run at a time (absent: replicas, all at once) */
    'x-max-concurrent': Opt(Int(1, LIMITS.replicas)),
    /** service labels */
    labels: StrMap(LIMITS.entriesPerService),
    restart_policy: RestartPolicySpecSchema,
    placement: PlacementSpecSchema,
    resources: ResourcesSpecSchema,
    update_config: UpdateConfigSpecSchema,
    rollback_config: UpdateConfigSpecSchema,
    /**
     * tsswarm extension: how long a node may be down before this service's running tasks on it
     * are moved (counted from its last heartbeat; never less than the cluster's node-down
     * grace). Absent or "0s": as soon as the node is marked down.
     */
    'x-node-down-grace': Opt(Dur()),
  },
  closed,
);

/**
 * A service's use of a secret or config (`secrets:` / `configs:`): which stored object, and the
 * file the task sees. `id` and `revision` are the manager's: it resolves them from `source`
 * when it accepts a spec (a client's values are overwritten), and a new revision is a spec
 * change, so the service rolls.
 */
export const ObjectRefSchema = Type.Object(
  {
    /** the stored object's name (a stack's own: <stack>_<key>) */
    source: NonEmpty(LIMITS.nameLength),
    /** secrets: a file name under /run/secrets/ or an absolute path; configs: an absolute path */
    target: NonEmpty(SPEC_BOUNDS.pathLength),
    /** numeric ids, "0" by default */
    uid: NonEmpty(SPEC_BOUNDS.idLength),
    gid: NonEmpty(SPEC_BOUNDS.idLength),
    /** permission bits, 0o444 by default */
    mode: Int(0, SPEC_BOUNDS.fileMode),
    id: Opt(NonEmpty(LIMITS.nameLength)),
    revision: Opt(Int(1, SPEC_BOUNDS.revision)),
  },
  closed,
);

/**
 * How the CLI builds a service's image (`build:`), on the Docker engine it sees. The build is
 * the CLI's: a deploy sends the spec without it, with `image_id` set to what was built.
 */
export const BuildSpecSchema = Type.Object(
  {
    /** absolute folder (resolved against the stack file's folder), or a git/http URL the engine fetches */
    context: NonEmpty(SPEC_BOUNDS.pathLength),
    /** the Dockerfile: relative to the context (default Dockerfile), or an absolute path */
    dockerfile: Opt(NonEmpty(SPEC_BOUNDS.pathLength)),
    /** the Dockerfile's text itself (instead of dockerfile) */
    dockerfile_inline: Opt(NonEmpty()),
    /** build arguments (ARG); an argument listed without a value takes the environment's, or is left out */
    args: Opt(StrMap(LIMITS.entriesPerService)),
    /** the stage of a multi-stage Dockerfile to build */
    target: Opt(NonEmpty(128)),
    /** labels of the built image */
    labels: Opt(StrMap(LIMITS.entriesPerService)),
    /** network of the RUN steps: default, host, none or a network's name */
    network: Opt(NonEmpty(255)),
    /** "host:ip" lines in /etc/hosts of the RUN steps */
    extra_hosts: Opt(Type.Array(NonEmpty(SPEC_BOUNDS.hostnameLength + 64), { maxItems: SPEC_BOUNDS.listItems })),
    /** images whose layers the build may reuse */
    cache_from: Opt(Type.Array(NonEmpty(SPEC_BOUNDS.imageLength), { maxItems: SPEC_BOUNDS.shortList })),
    /** further names of the built image */
    tags: Opt(Type.Array(NonEmpty(SPEC_BOUNDS.imageLength), { maxItems: SPEC_BOUNDS.shortList })),
    /** build secrets (names of top-level secrets): need BuildKit, refused at build time by the classic builder */
    secrets: Opt(Type.Array(NonEmpty(LIMITS.nameLength), { maxItems: SPEC_BOUNDS.shortList })),
    /** SSH agent sockets or keys (default, or id=path): need BuildKit, refused at build time */
    ssh: Opt(Type.Array(NonEmpty(SPEC_BOUNDS.pathLength), { maxItems: SPEC_BOUNDS.shortList })),
    /** /dev/shm of the RUN steps, bytes */
    shm_size: Opt(Int(0, SPEC_BOUNDS.memoryBytes)),
    /** build every step again, ignoring the engine's cache */
    no_cache: Opt(Type.Boolean()),
    /** pull a newer version of the FROM images first */
    pull: Opt(Type.Boolean()),
  },
  closed,
);

export const ServiceSpecSchema = Type.Object(
  {
    image: NonEmpty(SPEC_BOUNDS.imageLength),
    /**
     * The image's ID (sha256:<64 hex>, its config digest), pinned by the CLI after a build:
     * every node runs exactly these bits, and a new ID is what rolls the tasks.
     */
    image_id: Opt(Type.String({ minLength: 71, maxLength: 71 })),
    /** how the CLI builds the image (not sent by a deploy) */
    build: Opt(BuildSpecSchema),
    command: Opt(StrList()),
    entrypoint: Opt(StrList()),
    environment: StrMap(LIMITS.entriesPerService),
    /** container labels */
    labels: StrMap(LIMITS.entriesPerService),
    user: Opt(NonEmpty(256)),
    working_dir: Opt(NonEmpty(SPEC_BOUNDS.pathLength)),
    init: Opt(Type.Boolean()),
    stop_signal: Opt(NonEmpty(32)),
    /** default 10s (DEFAULT_STOP_GRACE_PERIOD) */
    stop_grace_period: Opt(Dur()),
    hostname: Opt(NonEmpty(SPEC_BOUNDS.hostnameLength)),
    /** capability names (NET_ADMIN, CAP_NET_ADMIN) or ALL */
    cap_add: Opt(Type.Array(NonEmpty(64), { maxItems: SPEC_BOUNDS.shortList })),
    cap_drop: Opt(Type.Array(NonEmpty(64), { maxItems: SPEC_BOUNDS.shortList })),
    privileged: Opt(Type.Boolean()),
    /** label=..., apparmor=..., seccomp=unconfined or a JSON profile, no-new-privileges[=true] */
    security_opt: Opt(Type.Array(NonEmpty(), { maxItems: SPEC_BOUNDS.shortList })),
    devices: Opt(Type.Array(DeviceSpecSchema, { maxItems: SPEC_BOUNDS.listItems })),
    /** supplementary groups: names or numeric ids */
    group_add: Opt(Type.Array(NonEmpty(256), { maxItems: SPEC_BOUNDS.shortList })),
    /** namespaced kernel parameters, e.g. net.core.somaxconn */
    sysctls: Opt(StrMap(LIMITS.entriesPerService)),
    /** key: the limit's name (nofile, nproc, memlock, ...) */
    ulimits: Opt(Type.Record(Type.String(), UlimitSpecSchema, { maxProperties: SPEC_BOUNDS.shortList })),
    /** -1 = unlimited */
    pids_limit: Opt(Int(-1, SPEC_BOUNDS.pids)),
    /** /dev/shm, bytes */
    shm_size: Opt(Int(0, SPEC_BOUNDS.memoryBytes)),
    read_only: Opt(Type.Boolean()),
    /** "path[:options]": tmpfs mounts (options as mount(8): size=64m,mode=1777) */
    tmpfs: Opt(Type.Array(NonEmpty(SPEC_BOUNDS.pathLength), { maxItems: SPEC_BOUNDS.listItems })),
    /** "host:ip" lines added to /etc/hosts (ip may be host-gateway) */
    extra_hosts: Opt(Type.Array(NonEmpty(SPEC_BOUNDS.hostnameLength + 64), { maxItems: SPEC_BOUNDS.listItems })),
    dns: Opt(Type.Array(NonEmpty(64), { maxItems: SPEC_BOUNDS.shortList })),
    dns_search: Opt(Type.Array(NonEmpty(SPEC_BOUNDS.hostnameLength), { maxItems: SPEC_BOUNDS.shortList })),
    dns_opt: Opt(Type.Array(NonEmpty(256), { maxItems: SPEC_BOUNDS.shortList })),
    logging: Opt(LoggingSpecSchema),
    /** host: the node's network stack; none: no network. Absent: the stack networks. */
    network_mode: Opt(Type.Enum(['host', 'none'])),
    /** host: the node's process namespace (other forms cannot apply across nodes) */
    pid: Opt(Type.Enum(['host'])),
    /** IPC namespace: the node's, the container's own (private, shareable) or none */
    ipc: Opt(Type.Enum(['host', 'private', 'shareable', 'none'])),
    /** host: the node's UTS namespace (its hostname) */
    uts: Opt(Type.Enum(['host'])),
    /** host: no user namespace remapping for this task */
    userns_mode: Opt(Type.Enum(['host'])),
    /** cgroup namespace: the node's or the container's own */
    cgroup: Opt(Type.Enum(['host', 'private'])),
    tty: Opt(Type.Boolean()),
    stdin_open: Opt(Type.Boolean()),
    /** NIS domain name (RFC 1123) */
    domainname: Opt(NonEmpty(SPEC_BOUNDS.hostnameLength)),
    /** the kernel's OOM score adjustment: -1000 (never killed) to 1000 */
    oom_score_adj: Opt(Int(-1000, 1000)),
    oom_kill_disable: Opt(Type.Boolean()),
    /** relative CPU weight (the engine's 2 to 262144; 1024 is the default) */
    cpu_shares: Opt(Int(2, 262_144)),
    /** CFS period and quota, microseconds (quota -1 = unlimited) */
    cpu_period: Opt(Int(1000, 1_000_000)),
    cpu_quota: Opt(Int(-1, SPEC_BOUNDS.cpuQuota)),
    /** CPUs the tasks may run on, e.g. "0-3" or "0,2" */
    cpuset: Opt(NonEmpty(256)),
    /** memory plus swap, bytes (-1 = unlimited swap); needs deploy.resources.limits.memory */
    memswap_limit: Opt(Int(-1, SPEC_BOUNDS.memoryBytes)),
    mem_swappiness: Opt(Int(0, 100)),
    /** device cgroup rules, e.g. "c 1:3 mr" */
    device_cgroup_rules: Opt(Type.Array(NonEmpty(64), { maxItems: SPEC_BOUNDS.shortList })),
    /** storage driver options (size=... on overlay2 over xfs with pquota) */
    storage_opt: Opt(Type.Record(Type.String(), Str(), { maxProperties: SPEC_BOUNDS.shortList })),
    /** block I/O weight and per-device limits (rates in bytes or operations per second) */
    blkio_config: Opt(BlkioSpecSchema),
    /** OCI annotations of the container (engines with API 1.43+, Docker 24) */
    annotations: Opt(StrMap(LIMITS.entriesPerService)),
    /** the engine runtime (runc, runsc, nvidia ...): placed only on nodes whose engine has it */
    runtime: Opt(NonEmpty(64)),
    /** os[/arch[/variant]], e.g. linux/arm64: placed only on nodes of that OS and architecture */
    platform: Opt(NonEmpty(64)),
    /** when the agent pulls the image: always, missing (the default), never; build = missing */
    pull_policy: Opt(Type.Enum(['always', 'missing', 'never', 'build'])),
    ports: Type.Array(PortSpecSchema, { maxItems: LIMITS.portsPerService }),
    volumes: Type.Array(MountSpecSchema, { maxItems: LIMITS.entriesPerService }),
    /** key: stack-local network name */
    networks: Type.Record(Type.String(), ServiceNetworkSpecSchema, { maxProperties: LIMITS.entriesPerService }),
    healthcheck: Opt(HealthcheckSpecSchema),
    depends_on: Type.Record(Type.String(), DependsOnSpecSchema, { maxProperties: LIMITS.servicesPerStack }),
    deploy: DeploySpecSchema,
    /** secrets the tasks get as files (values never in the spec) */
    secrets: Opt(Type.Array(ObjectRefSchema, { maxItems: LIMITS.entriesPerService })),
    /** configs the tasks get as files */
    configs: Opt(Type.Array(ObjectRefSchema, { maxItems: LIMITS.entriesPerService })),
    /** extension fields kept verbatim (x-*) */
    extensions: Opt(ExtensionsSchema),
  },
  closed,
);

export const NetworkSpecSchema = Type.Object(
  {
    /** "bridge" on a single host; "overlay" is accepted and mapped to the cluster network driver */
    driver: NonEmpty(255),
    external: Type.Boolean(),
    /** actual name when external or explicitly named */
    name: Opt(NonEmpty(LIMITS.nameLength)),
    attachable: Opt(Type.Boolean()),
    internal: Opt(Type.Boolean()),
    labels: StrMap(LIMITS.entriesPerService),
    driver_opts: StrMap(LIMITS.entriesPerService),
  },
  closed,
);

export const VolumeSpecSchema = Type.Object(
  {
    /** "local" */
    driver: NonEmpty(255),
    external: Type.Boolean(),
    name: Opt(NonEmpty(LIMITS.nameLength)),
    labels: StrMap(LIMITS.entriesPerService),
    driver_opts: StrMap(LIMITS.entriesPerService),
  },
  closed,
);

export const StackSpecSchema = Type.Object(
  {
    name: NonEmpty(LIMITS.nameLength),
    services: Type.Record(Type.String(), ServiceSpecSchema, { maxProperties: LIMITS.servicesPerStack }),
    networks: Type.Record(Type.String(), NetworkSpecSchema, { maxProperties: LIMITS.resourcesPerStack }),
    volumes: Type.Record(Type.String(), VolumeSpecSchema, { maxProperties: LIMITS.resourcesPerStack }),
    /** top-level extension fields kept verbatim (x-*) */
    extensions: Opt(ExtensionsSchema),
  },
  closed,
);
