// What each route accepts, as TypeBox schemas: params, query strings and bodies. Fastify checks
// them (validator.ts compiles them with TypeBox's Compile) before a handler runs; what is left
// to check is semantic and belongs to one place each: a stack's rules to the shared validator
// (common/api/validate.ts), a service spec's too, cluster settings to patchClusterSpec.

import { Type, type Static } from 'typebox';
import { LIMITS } from '../../common/api/limits.js';
import type { ClusterUpdateRequest, DeployRequest, NodeUpdateRequest, ScaleRequest, ServiceUpdateFlags, ServiceUpdateRequest } from '../../common/api/types.js';

/** `tail` of service logs: lines per task. */
export const LOG_TAIL_MAX = 1_000_000;
/** Service, task and node references: a name, a hostname, an id or an id prefix. */
export const REF_MAX = 2 * LIMITS.nameLength + 1;
/** Keys in a cluster update's `spec` (the settings are few; patchClusterSpec names unknown ones). */
export const CLUSTER_PATCH_KEYS_MAX = 16;

const NAMEISH = '^[a-zA-Z0-9][a-zA-Z0-9_.-]*$';

/** A stack's name, as the parser's (a DNS label of lowercase letters, digits, '-' and '_'). */
export const StackName = Type.String({ minLength: 1, maxLength: LIMITS.nameLength, pattern: '^[a-z0-9][a-z0-9_-]*$' });
/** A service or node reference: full name, hostname, id or id prefix. */
export const Ref = Type.String({ minLength: 1, maxLength: REF_MAX, pattern: NAMEISH });

const closed = { additionalProperties: false } as const;
const Str = (maxLength: number = LIMITS.stringLength) => Type.String({ maxLength });
const StrList = (maxItems: number = LIMITS.entriesPerService) => Type.Array(Str(), { maxItems });
/** A short flag value: a duration, a size, a number, an enum word. */
const Word = Str(256);

// ---- params ----------------------------------------------------------------------------
export const StackParams = Type.Object({ name: StackName }, closed);
export const RefParams = Type.Object({ ref: Ref }, closed);
export const RoleParams = Type.Object({ role: Type.Union([Type.Literal('worker'), Type.Literal('manager')]) }, closed);
export const NodeRemoveQuery = Type.Object({ force: Type.Optional(Type.Boolean()) }, closed);

// ---- query strings (values arrive as strings; validator.ts turns "1"/"true" and digits into booleans and integers) ----
export const StackRemoveQuery = Type.Object({ volumes: Type.Optional(Type.Boolean()) }, closed);
export const ServicesQuery = Type.Object({ stack: Type.Optional(StackName) }, closed);
export const TasksQuery = Type.Object({ service: Type.Optional(Ref), stack: Type.Optional(StackName), node: Type.Optional(Ref) }, closed);
export const LogsQuery = Type.Object({
  follow: Type.Optional(Type.Boolean()),
  tail: Type.Optional(Type.Integer({ minimum: 0, maximum: LOG_TAIL_MAX })),
  timestamps: Type.Optional(Type.Boolean()),
}, closed);

// ---- bodies ------------------------------------------------------------------------------
/** `stack` is checked by validateStack (schema and semantic rules), the parser's own validator; `secrets` and `configs` by validateDeployObjects. */
export const DeployBody = Type.Object({
  stack: Type.Unknown(), dryRun: Type.Optional(Type.Boolean()), secrets: Type.Optional(Type.Unknown()), configs: Type.Optional(Type.Unknown()),
}, closed);

export const ScaleBody = Type.Object({ replicas: Type.Integer({ minimum: 0, maximum: LIMITS.replicas }) }, closed);

const UpdateConfigFlags = Type.Object({
  parallelism: Type.Optional(Word),
  delay: Type.Optional(Word),
  order: Type.Optional(Word),
  monitor: Type.Optional(Word),
  max_failure_ratio: Type.Optional(Word),
  failure_action: Type.Optional(Word),
}, closed);

/** `service update` flags: their shapes here; their meaning in service-update.ts; the resulting spec by validateServiceSpec. */
export const ServiceUpdateFlagsSchema = Type.Object({
  image: Type.Optional(Str()),
  imageId: Type.Optional(Type.String({ pattern: '^sha256:[0-9a-f]{64}$' })),
  envAdd: Type.Optional(StrList()),
  envRm: Type.Optional(StrList()),
  labelAdd: Type.Optional(StrList()),
  labelRm: Type.Optional(StrList()),
  replicas: Type.Optional(Type.Integer({ minimum: 0, maximum: LIMITS.replicas })),
  publishAdd: Type.Optional(Type.Array(Word, { maxItems: LIMITS.portsPerService })),
  publishRm: Type.Optional(Type.Array(Word, { maxItems: LIMITS.portsPerService })),
  constraintAdd: Type.Optional(StrList()),
  constraintRm: Type.Optional(StrList()),
  command: Type.Optional(StrList()),
  user: Type.Optional(Str(256)),
  update: Type.Optional(UpdateConfigFlags),
  rollback: Type.Optional(UpdateConfigFlags),
  restartCondition: Type.Optional(Word),
  restartDelay: Type.Optional(Word),
  restartMaxAttempts: Type.Optional(Word),
  restartWindow: Type.Optional(Word),
  restartBackoff: Type.Optional(Word),
  restartMaxDelay: Type.Optional(Word),
  nodeDownGrace: Type.Optional(Word),
  limitMemory: Type.Optional(Word),
  limitCpu: Type.Optional(Word),
  force: Type.Optional(Type.Boolean()),
}, closed);

export const ServiceUpdateBody = Type.Object({ flags: ServiceUpdateFlagsSchema, dryRun: Type.Optional(Type.Boolean()) }, closed);

/** `service rollback` takes no arguments: no body, or `{}`. */
export const RollbackBody = Type.Union([Type.Null(), Type.Object({}, closed)]);

/** `node update`: label syntax and bounds are applyNodeUpdate's (node-update.ts), which names the label at fault. */
export const NodeUpdateBody = Type.Object({
  availability: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('pause'), Type.Literal('drain')])),
  labelAdd: Type.Optional(StrList()),
  labelRm: Type.Optional(StrList()),
  version: Type.Optional(Type.Integer({ minimum: 0 })),
}, closed);

/** The settings' values are checked by patchClusterSpec, which names the setting at fault. */
export const ClusterUpdateBody = Type.Object({
  spec: Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: CLUSTER_PATCH_KEYS_MAX }),
}, closed);

// The schemas and the shared contract's types (common/api/types.ts) must agree: checked here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type SchemasAgreeWithContract = [
  Assert<Same<Static<typeof ServiceUpdateFlagsSchema>, ServiceUpdateFlags>>,
  Assert<Same<Static<typeof ServiceUpdateBody>, ServiceUpdateRequest>>,
  Assert<Same<Static<typeof ScaleBody>, ScaleRequest>>,
  Assert<Same<Static<typeof DeployBody>, DeployRequest>>,
  Assert<Same<Static<typeof ClusterUpdateBody>, ClusterUpdateRequest>>,
  Assert<Same<Static<typeof NodeUpdateBody>, NodeUpdateRequest>>,
];
