// Cluster-wide settings: `cluster inspect|update`.

import type { ClusterUpdate } from '../api.js';
import * as api from '../api.js';
import { formatArg, historyLimitArg, hostArg, parseArgs, usageError, type Endpoint } from '../args.js';
import { clientFor } from '../client.js';
import { printJson, type Io } from '../io.js';
import { USAGE } from '../usage.js';

export type ClusterCommand = { cmd: 'help' }
  | { cmd: 'inspect'; host: Endpoint }
  | { cmd: 'update'; host: Endpoint; spec: ClusterUpdate; json: boolean };

export function parseCluster(argv: string[]): ClusterCommand {
  const [sub, ...rest] = argv;
  if (sub === '-h' || sub === '--help') return { cmd: 'help' };
  if (sub !== 'inspect' && sub !== 'update') usageError(`unknown cluster command ${JSON.stringify(sub ?? '')} (inspect, update)`);
  const { values: v, positionals } = parseArgs(rest, sub === 'update' ? {
    'task-history-limit': { type: 'string' },
    'bind-allow': { type: 'string', multiple: true },
    'bind-allow-any': { type: 'boolean' },
  } : {});
  if (v.help) return { cmd: 'help' };
  if (positionals.length) usageError(`cluster ${sub} takes no arguments, got ${positionals.join(' ')}`);
  const json = formatArg(v.format) === 'json';
  if (sub === 'inspect') return { cmd: 'inspect', host: hostArg(v.host) };
  const spec: ClusterUpdate = {};
  if (v['task-history-limit'] !== undefined) spec.taskHistoryLimit = historyLimitArg(v['task-history-limit']);
  const allow = v['bind-allow'] as string[] | undefined;
  if (allow && v['bind-allow-any']) usageError('--bind-allow and --bind-allow-any exclude each other');
  if (allow) {
    for (const p of allow) if (!p.startsWith('/')) usageError(`--bind-allow takes absolute host paths, got ${JSON.stringify(p)}`);
    spec.allowedBindPaths = allow;
  }
  if (v['bind-allow-any']) spec.allowedBindPaths = null;
  if (Object.keys(spec).length === 0) usageError('cluster update needs a setting, e.g. --task-history-limit N or --bind-allow PATH');
  return { cmd: 'update', host: hostArg(v.host), spec, json };
}

export async function runCluster(argv: string[], io: Io): Promise<number> {
  const c = parseCluster(argv);
  if (c.cmd === 'help') { io.out(USAGE); return 0; }
  const client = clientFor(c.host, io);
  switch (c.cmd) {
    case 'inspect': printJson(io, await api.cluster(client)); return 0;
    case 'update': {
      const r = await api.clusterUpdate(client, c.spec);
      if (c.json) printJson(io, r); else io.out('Cluster updated\n');
      return 0;
    }
  }
}
