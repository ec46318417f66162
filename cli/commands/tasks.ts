// The task listing `stack ps` and `service ps` share: flags, and the table (or JSON) of tasks.

import type { TaskObj } from '../../common/api/objects.js';
import * as api from '../api.js';
import { filterArgs, formatArg, READ, type Options, type Parsed, type TaskFilter } from '../args.js';
import type { ApiClient } from '../client.js';
import { printJson, type Io } from '../io.js';
import { filterTasks, sortTasks, taskTable, waitingLines } from '../render.js';
import type { ServiceView } from '../../common/api/types.js';

export const PS_OPTIONS = {
  'no-trunc': { type: 'boolean' },
  filter: { type: 'string', short: 'f', multiple: true },
  ...READ,
} as const satisfies Options;

/** How to show a list of tasks. */
export interface TaskView {
  json: boolean;
  noTrunc: boolean;
  filters: TaskFilter[];
}

export const taskView = (v: Parsed['values']): TaskView => ({ json: formatArg(v.format) === 'json', noTrunc: !!v['no-trunc'], filters: filterArgs(v.filter) });

/** The tasks' table; then, for `services` that wait for their dependencies (depends_on), what they wait for. */
export async function printTasks(client: ApiClient, tasks: TaskObj[], view: TaskView, io: Io, services: readonly ServiceView[] = []): Promise<number> {
  const shown = sortTasks(filterTasks(tasks, view.filters));
  if (view.json) { printJson(io, shown); return 0; }
  const nodes = await api.nodes(client);
  const names = new Map(nodes.map((n) => [n.id, n.description.hostname]));
  const down = new Map(nodes.filter((n) => n.status.state === 'down').map((n) => [n.id, n.status.lastHeartbeat]));
  io.out(taskTable(shown, names, view.noTrunc, Date.now(), down));
  for (const l of waitingLines(services)) io.out(`${l}\n`);
  return 0;
}
