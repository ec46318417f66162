// What the commands print, as pure functions of what the API returned: deploy plans, the
// task, service, stack and node tables, log lines, the managers' status, join tokens. cli/format.ts holds the building blocks.

import { isTerminal, taskName, type NodeObj, type TaskObj } from '../common/api/objects.js';
import { formatDuration } from '../common/duration.js';
import { nodeDownGraceMs } from '../common/spec.js';
import type { ClusterMember, ClusterStatus, ConfigView, DeployPlan, JoinTokenResponse, LogLineView, ObjectChange, SecretView, ServiceChange, ServiceView, StackSummary } from '../common/api/types.js';
import type { ServiceUpdateResponse } from '../common/api/types.js';
import type { TaskFilter } from './args.js';
import { ago, cap, ports, table, taskState, trunc } from './format.js';

const show = (x: unknown): string => (x === undefined ? '(none)' : JSON.stringify(x));
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** One service's line (and, for an update, one line per changed field) of a deploy plan. */
export function describeChange(c: ServiceChange): string {
  switch (c.action) {
    case 'create':
      if (c.job === 'global-job') return `create   ${c.name} (job: once on every eligible node)`;
      if (c.job) return `create   ${c.name} (job: ${plural(Math.max(0, c.replicas?.to ?? 0), 'completion')})`;
      return `create   ${c.name}${c.replicas && c.replicas.to >= 0 ? ` (${plural(c.replicas.to, 'replica')})` : ' (global)'}`;
    case 'remove': return `remove   ${c.name}${c.tasksReplaced ? ` (${plural(c.tasksReplaced, 'task')} stopped)` : ''}`;
    case 'scale': return `scale    ${c.name} ${c.replicas!.from} -> ${c.replicas!.to}`;
    case 'update': return `update   ${c.name} (${c.tasksReplaced ?? 0} task${c.tasksReplaced === 1 ? '' : 's'} replaced)` +
      (c.changes ?? []).map((d) => `\n           ${d.field}: ${d.redacted ?? `${show(d.from)} -> ${show(d.to)}`}`).join('') +
      (c.restartedFor ? `\n           restarted after ${c.restartedFor.join(', ')} (depends_on restart: true)` : '');
    default: return `unchanged ${c.name}`;
  }
}

/** A secret's or config's line of a deploy plan: its name and revision, never its value. */
const objectLine = (kind: 'secret' | 'config', c: ObjectChange): string =>
  `${c.action === 'unchanged' ? 'unchanged' : c.action.padEnd(8)} ${kind} ${c.name}${c.action === 'update' || c.action === 'create' ? ` (revision ${c.revision})` : ''}`;

/** A deploy plan as `deploy` prints it; unchanged services, secrets and configs only in a dry run. */
export function planLines(p: DeployPlan, dryRun: boolean): string[] {
  const objects = (kind: 'secret' | 'config', list: ObjectChange[] = []) => list.filter((c) => c.action !== 'unchanged' || dryRun).map((c) => objectLine(kind, c));
  return [
    `${dryRun ? 'Would deploy' : 'Deploying'} stack ${p.stack}`,
    ...p.networks.map((n) => `${n.action === 'create' ? 'create' : 'remove'}   network ${n.name}`),
    ...p.volumes.map((v) => `${v.action === 'create' ? 'create' : 'release'}   volume ${v.name}`),
    ...objects('secret', p.secrets),
    ...objects('config', p.configs),
    ...p.services.filter((c) => c.action !== 'unchanged' || dryRun).map(describeChange),
  ];
}

/** The services a deploy changed, whose tasks it should wait for. */
export const changedServices = (p: DeployPlan): string[] =>
  p.services.filter((c) => c.action === 'create' || c.action === 'update' || c.action === 'scale').map((c) => c.name);

/** Tasks that pass every filter (`--filter` flags add up). */
export function filterTasks(tasks: TaskObj[], filters: TaskFilter[]): TaskObj[] {
  return tasks.filter((t) => filters.every((f) =>
    (f.desiredState === undefined || t.desiredState === f.desiredState)
    && (f.name === undefined || taskName(t).startsWith(f.name))
    && (f.node === undefined || t.nodeId === f.node)));
}

/** By service, then slot, newest task of a slot first (the order `ps` lists them in). */
export const sortTasks = (tasks: TaskObj[]): TaskObj[] =>
  [...tasks].sort((a, b) => a.serviceName.localeCompare(b.serviceName) || (a.slot ?? 0) - (b.slot ?? 0) || b.meta.createdAt - a.meta.createdAt);

export const TASK_HEADERS = ['ID', 'NAME', 'IMAGE', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR', 'PORTS'];

/** `ps` rows of sorted tasks: older tasks of a slot are drawn under its newest ( \_ name). */
export function taskRows(sorted: TaskObj[], nodeNames: Map<string, string>, noTrunc: boolean, now = Date.now(), downNodes: ReadonlyMap<string, number> = new Map()): string[][] {
  let prevSlot = '';
  return sorted.map((t) => {
    const slotKey = `${t.serviceName}.${t.slot ?? t.nodeId}`;
    const name = slotKey === prevSlot ? ` \\_ ${taskName(t)}` : taskName(t);
    prevSlot = slotKey;
    const hostPorts = (t.status.portBindings ?? []).filter((b) => t.spec.ports.some((p) => p.mode === 'host' && p.target === b.target));
    return [
      noTrunc ? t.id : t.id.slice(0, 12), name, trunc(t.spec.image, 30, noTrunc),
      t.nodeId ? (nodeNames.get(t.nodeId) ?? t.nodeId.slice(0, 12)) : '',
      cap(t.desiredState), taskState(t, now), trunc(nodeDownError(t, nodeNames, downNodes, now) ?? t.status.err ?? '', 60, noTrunc),
      hostPorts.map((b) => `${b.hostIp}:${b.hostPort}->${b.target}/${b.protocol}`).join(', '),
    ];
  });
}

export const taskTable = (sorted: TaskObj[], nodeNames: Map<string, string>, noTrunc: boolean, now = Date.now(), downNodes: ReadonlyMap<string, number> = new Map()): string =>
  table(TASK_HEADERS, taskRows(sorted, nodeNames, noTrunc, now, downNodes));

/**
 * A task not ended on a node that is down (`downNodes`: node id → its last heartbeat): "node X
 * is down", and when its service waits longer than that (deploy.x-node-down-grace), about when
 * it moves.
 */
export function nodeDownError(t: TaskObj, nodeNames: Map<string, string>, downNodes: ReadonlyMap<string, number>, now: number): string | undefined {
  const last = t.nodeId === undefined ? undefined : downNodes.get(t.nodeId);
  if (last === undefined || isTerminal(t.status.state)) return undefined;
  const down = `node ${nodeNames.get(t.nodeId!) ?? t.nodeId!.slice(0, 12)} is down`;
  const left = last + nodeDownGraceMs(t.spec) - now;
  return t.desiredState === 'running' && left >= 1000 ? `${down}; moves in about ${formatDuration(Math.ceil(left / 1000) * 1000)}` : down;
}

export const stackTable = (stacks: StackSummary[]): string =>
  table(['NAME', 'SERVICES'], stacks.map((s) => [s.name, String(s.services)]));

/**
 * `service ls`'s REPLICAS: running/desired; a job's completions ("1/1 completed", "0/3 completed,
 * 2 running", "0/1 failed"); "(waiting)" while depends_on holds the service back.
 */
export function replicasText(s: ServiceView): string {
  const job = s.spec.deploy.mode === 'replicated-job' || s.spec.deploy.mode === 'global-job';
  let text = job
    ? `${s.completed ?? 0}/${s.desired} ${s.jobFailure ? 'failed' : 'completed'}${s.running > 0 && !s.jobFailure ? `, ${s.running} running` : ''}`
    : `${s.running}/${s.desired}`;
  if (s.waiting?.length) text += s.waiting.some((w) => w.failure) ? ' (dependency failed)' : ' (waiting)';
  return text;
}

export const serviceTable = (svcs: ServiceView[]): string =>
  table(['ID', 'NAME', 'MODE', 'REPLICAS', 'IMAGE', 'PORTS'], svcs.map((s) => [
    s.id.slice(0, 12), s.name, s.spec.deploy.mode, replicasText(s), s.spec.image, ports(s.spec.ports)]));

/** Under `ps`: the services that wait for their dependencies, and what for ("st_app: waiting for db to be healthy"). */
export function waitingLines(svcs: readonly ServiceView[]): string[] {
  return svcs.flatMap((s) => (s.waiting ?? []).map((w) => `${s.name}: ${w.message}${w.failure ? `, but ${w.failure}` : ''}`));
}

/** `secret ls` / `config ls`: never a value. */
export const objectTable = (list: (SecretView | ConfigView)[], now = Date.now()): string =>
  table(['ID', 'NAME', 'STACK', 'REVISION', 'SIZE', 'CREATED', 'UPDATED'], list.map((o) => [
    o.id.slice(0, 12), o.name, o.stack || '-', String(o.revision), String(o.size), ago(o.createdAt, now), ago(o.updatedAt, now)]));

/** `node ls`: the node this manager runs on is marked with `*`. */
/** `Ready`, `Down`, …; a ready node whose Docker engine does not answer: `Ready (engine down)`. */
export const nodeStatus = (n: NodeObj): string =>
  cap(n.status.state) + (n.status.engine === 'down' && n.status.state === 'ready' ? ' (engine down)' : '');

/** MANAGER STATUS as Docker shows it: Leader, Reachable, Unreachable (blank for workers; `?` when the managers' status is unknown). */
export function managerStatus(n: NodeObj, members?: readonly ClusterMember[]): string {
  if (n.spec.role !== 'manager') return '';
  const m = members?.find((x) => x.nodeId === n.id);
  if (!m) return members ? 'Unreachable' : '?';
  if (m.role === 'leader') return 'Leader';
  return m.reachable ? (m.voter ? 'Reachable' : 'Reachable (learner)') : 'Unreachable';
}

export const nodeTable = (nodes: NodeObj[], selfId: string, members?: readonly ClusterMember[]): string =>
  table(['ID', 'HOSTNAME', 'STATUS', 'AVAILABILITY', 'MANAGER STATUS', 'ENGINE VERSION'], nodes.map((n) => [
    n.id.slice(0, 12) + (n.id === selfId ? ' *' : ''), n.description.hostname, nodeStatus(n), cap(n.spec.availability),
    managerStatus(n, members), n.description.engine.version]));

/** A log record as printed: each of its lines prefixed with the task's name. */
export function logText(l: LogLineView): string {
  const text = l.data.endsWith('\n') ? l.data : l.data + '\n';
  if (l.notice) return text;
  return text.split('\n').slice(0, -1).map((x) => `${l.task}    | ${x}\n`).join('');
}

/** `service update`'s one-line answer. */
export const updateSummary = (r: ServiceUpdateResponse, dryRun: boolean): string =>
  `${dryRun ? 'Would update' : 'Updated'} ${r.service}: ${r.fields.length ? r.fields.join(', ') : 'no change'}${r.replaced ? ' (tasks will be replaced)' : ''}\n`;

/** Said once (on stderr) when an answer was computed by a manager that knew no leader. */
export const staleWarning = (reason: string): string =>
  `WARNING: no leader elected: this answer is this manager's own view and may be stale (${reason})\n`;

const yesNo = (b: boolean): string => (b ? 'yes' : 'no');
const orDash = (x: number | string | undefined): string => (x === undefined || x === '' ? '-' : String(x));

/** `cluster status`: one row per manager, then the quorum, the warnings, and whose view it is. */
export function clusterStatusText(s: ClusterStatus): string {
  const rows = s.managers.map((m) => [
    orDash(m.nodeId.slice(0, 12)), orDash(m.addr), m.role, yesNo(m.voter), yesNo(m.reachable), orDash(m.applied), orDash(m.lag),
  ]);
  const lines = [
    `Quorum: ${s.quorum} of ${plural(s.voters, 'voting manager')} (tolerates ${plural(s.tolerates, 'failure')})`,
    ...s.warnings.map((w) => `WARNING: ${w}`),
    ...(s.stale ? ['No leader answered: this is the view of the manager asked, on its own; it may be out of date.'] : []),
  ];
  return table(['NODE ID', 'ADDRESS', 'RAFT ROLE', 'VOTER', 'REACHABLE', 'APPLIED', 'LAG'], rows) + '\n' + lines.join('\n') + '\n';
}

/** `cluster join-token`: the command to run on a new member, as docker prints it; only the token with `quiet`. */
export function joinTokenText(t: JoinTokenResponse, o: { quiet: boolean; rotated: boolean }): string {
  if (o.quiet) return `${t.token}\n`;
  return (o.rotated ? `Successfully rotated ${t.role} join token.\n\n` : '') +
    `To add a ${t.role} to this cluster, run the following command:\n\n    ${t.command}\n`;
}

/** `cluster backup`'s last line. */
export const backupSummary = (index: number | undefined, file: string, bytes: number): string =>
  `Backup of the cluster state at ${index === undefined ? 'an index the manager did not give' : `index ${index}`} written to ${file === '-' ? 'stdout' : file} (${plural(bytes, 'byte')})\n`;
