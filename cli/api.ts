// The manager's HTTP API as the CLI calls it: one typed function per route. Shapes come from
// the shared contract (common/api); cli/client.ts is the transport underneath.

import type { StackSpec } from '../common/spec.js';
import type { ClusterObj, ClusterSpec, NodeObj, TaskObj } from '../common/api/objects.js';
import type {
  ConfigView, DeployObjects, ObjectRemoveResponse, ObjectWriteResponse, SecretView,
  ClusterStatus, DeployResponse, InfoResponse, JoinTokenResponse, LogLineView, NodeUpdateRequest, RollbackResponse, ScaleResponse, ServiceUpdateFlags,
  ServiceUpdateResponse, ServiceView, StackRemoveResponse, StackSummary,
} from '../common/api/types.js';
import { errorOf, header, type ApiClient } from './client.js';

export interface ClusterUpdateResult { kind: 'cluster'; id: 'default'; spec: ClusterSpec }
/** A settings patch as the API takes it: `allowedBindPaths: null` removes the allow-list. */
export type ClusterUpdate = Partial<Omit<ClusterSpec, 'allowedBindPaths'>> & { allowedBindPaths?: string[] | null };

const seg = encodeURIComponent;

export const info = (c: ApiClient): Promise<InfoResponse> => c.call('GET', '/v1/info');

/** A stack, and the values of its secrets and configs (read by the CLI: the manager never reads a client's files). */
export const deploy = (c: ApiClient, stack: StackSpec, dryRun: boolean, objects: { secrets?: DeployObjects; configs?: DeployObjects } = {}): Promise<DeployResponse> =>
  c.call('POST', '/v1/stacks/deploy', { stack, dryRun, ...objects });

/** Secrets and configs: one set of routes per kind (/v1/secrets, /v1/configs). */
export type ObjectKind = 'secret' | 'config';

export const createObject = (c: ApiClient, kind: ObjectKind, name: string, data: Buffer, labels: Record<string, string>): Promise<ObjectWriteResponse> =>
  c.call('POST', `/v1/${kind}s`, { name, data: data.toString('base64'), labels });

export const objects = (c: ApiClient, kind: ObjectKind): Promise<(SecretView | ConfigView)[]> => c.call('GET', `/v1/${kind}s`);

export const object = (c: ApiClient, kind: ObjectKind, ref: string): Promise<SecretView | ConfigView> => c.call('GET', `/v1/${kind}s/${seg(ref)}`);

/** A new value: the next revision, and the services using it roll to it. */
export const updateObject = (c: ApiClient, kind: ObjectKind, ref: string, data: Buffer, labels?: Record<string, string>): Promise<ObjectWriteResponse> =>
  c.call('POST', `/v1/${kind}s/${seg(ref)}/update`, { data: data.toString('base64'), ...(labels ? { labels } : {}) });

export const removeObject = (c: ApiClient, kind: ObjectKind, ref: string): Promise<ObjectRemoveResponse> => c.call('DELETE', `/v1/${kind}s/${seg(ref)}`);

export const stacks = (c: ApiClient): Promise<StackSummary[]> => c.call('GET', '/v1/stacks');

export const removeStack = (c: ApiClient, name: string, volumes: boolean): Promise<StackRemoveResponse> =>
  c.call('DELETE', `/v1/stacks/${seg(name)}${volumes ? '?volumes=1' : ''}`);

export const services = (c: ApiClient, stack?: string): Promise<ServiceView[]> =>
  c.call('GET', `/v1/services${stack ? `?stack=${seg(stack)}` : ''}`);

export const service = (c: ApiClient, ref: string): Promise<ServiceView> => c.call('GET', `/v1/services/${seg(ref)}`);

export const scale = (c: ApiClient, ref: string, replicas: number): Promise<ScaleResponse> =>
  c.call('POST', `/v1/services/${seg(ref)}/scale`, { replicas });

export const update = (c: ApiClient, ref: string, flags: ServiceUpdateFlags, dryRun: boolean): Promise<ServiceUpdateResponse> =>
  c.call('POST', `/v1/services/${seg(ref)}/update`, { flags, dryRun });

export const rollback = (c: ApiClient, ref: string): Promise<RollbackResponse> => c.call('POST', `/v1/services/${seg(ref)}/rollback`, {});

/** Tasks of one service (by name, id or id prefix), of one stack, or of one node. */
export const tasks = (c: ApiClient, by: { service: string } | { stack: string } | { node: string }): Promise<TaskObj[]> =>
  c.call('GET', `/v1/tasks?${new URLSearchParams(by as Record<string, string>)}`);

export interface LogOptions { follow: boolean; tail: number | 'all'; timestamps: boolean }

/** A service's log lines as the manager streams them (NDJSON), until it ends the stream. */
export async function* logs(c: ApiClient, ref: string, o: LogOptions): AsyncGenerator<LogLineView> {
  const q = new URLSearchParams();
  if (o.follow) q.set('follow', '1');
  if (o.tail !== 'all') q.set('tail', String(o.tail));
  if (o.timestamps) q.set('timestamps', '1');
  const res = await c.raw('GET', `/v1/services/${seg(ref)}/logs?${q}`);
  if (res.status >= 400) throw await errorOf(res);
  // A character may be split across chunks: decode as a stream.
  const utf8 = new TextDecoder();
  let buf = '';
  for await (const chunk of res.stream) {
    buf += utf8.decode(chunk as Buffer, { stream: true });
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line) yield JSON.parse(line) as LogLineView;
    }
  }
}

export const nodes = (c: ApiClient): Promise<NodeObj[]> => c.call('GET', '/v1/nodes');

export const node = (c: ApiClient, ref: string): Promise<NodeObj> => c.call('GET', `/v1/nodes/${seg(ref)}`);

export const cluster = (c: ApiClient): Promise<ClusterObj> => c.call('GET', '/v1/cluster');

export const clusterUpdate = (c: ApiClient, spec: ClusterUpdate): Promise<ClusterUpdateResult> =>
  c.call('POST', '/v1/cluster/update', { spec });

/** Every manager, its Raft role, reachability and lag (the leader's view, or this manager's own, marked stale). */
export const clusterStatus = (c: ApiClient): Promise<ClusterStatus> => c.call('GET', '/v1/cluster/status');

export type JoinRole = JoinTokenResponse['role'];

export const joinToken = (c: ApiClient, role: JoinRole): Promise<JoinTokenResponse> => c.call('GET', `/v1/cluster/join-token/${seg(role)}`);

export const rotateJoinToken = (c: ApiClient, role: JoinRole): Promise<JoinTokenResponse> =>
  c.call('POST', `/v1/cluster/join-token/${seg(role)}/rotate`);

/** What the membership routes answer. */
export interface MessageResponse { message: string }

/** Availability and labels of a node; answers the node as written. */
export const updateNode = (c: ApiClient, ref: string, req: NodeUpdateRequest): Promise<NodeObj> => c.call('POST', `/v1/nodes/${seg(ref)}/update`, req);

/** A learner manager votes again once it has caught up. */
export const promote = (c: ApiClient, ref: string): Promise<MessageResponse> => c.call('POST', `/v1/nodes/${seg(ref)}/promote`);

/** A voting manager stops voting (refused if the rest would not make a quorum). */
export const demote = (c: ApiClient, ref: string): Promise<MessageResponse> => c.call('POST', `/v1/nodes/${seg(ref)}/demote`);

/** A node leaves the cluster: a manager (demoted first, unless `force`), or a worker (down, unless `force`). */
export const removeNode = (c: ApiClient, ref: string, force: boolean): Promise<MessageResponse> =>
  c.call('DELETE', `/v1/nodes/${seg(ref)}${force ? '?force=true' : ''}`);

/** A backup as it arrives: the store index it was taken at, its size when announced, and its bytes. */
export interface BackupStream {
  /** `x-tsswarm-index` (absent if the manager did not say). */
  index?: number;
  /** `content-length` (absent for a chunked answer). */
  length?: number;
  stream: NodeJS.ReadableStream;
}

/** A consistent snapshot of the whole store (checksummed bytes `manager --init --restore FILE` reads). */
export async function backup(c: ApiClient): Promise<BackupStream> {
  const res = await c.raw('GET', '/v1/cluster/backup');
  if (res.status >= 400) throw await errorOf(res);
  const num = (v: string): number | undefined => (/^\d{1,16}$/.test(v) ? Number(v) : undefined);
  return { index: num(header(res.headers['x-tsswarm-index'])), length: num(header(res.headers['content-length'])), stream: res.stream };
}
