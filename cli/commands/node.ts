// Nodes: `node ls|inspect|update`, and the managers' membership: `node promote|demote|rm`.

import * as api from '../api.js';
import { parseNodeLabel } from '../../common/api/validate.js';
import type { NodeUpdateRequest } from '../../common/api/types.js';
import { formatArg, hostArg, parseArgs, READ, readOpts, usageError, type Endpoint, type Options } from '../args.js';
import { clientFor } from '../client.js';
import { printJson, type Io } from '../io.js';
import { nodeTable } from '../render.js';
import { USAGE } from '../usage.js';

export type NodeCommand = { cmd: 'help' }
  | { cmd: 'ls'; host: Endpoint; json: boolean; consistent?: true }
  | { cmd: 'inspect'; host: Endpoint; nodes: string[]; consistent?: true }
  | { cmd: 'update'; host: Endpoint; node: string; update: NodeUpdateRequest }
  | { cmd: 'promote' | 'demote'; host: Endpoint; nodes: string[] }
  | { cmd: 'rm'; host: Endpoint; nodes: string[]; force: boolean };

const SUBCOMMANDS: Record<string, { cmd: Exclude<NodeCommand['cmd'], 'help'>; options: Options }> = {
  ls: { cmd: 'ls', options: READ },
  list: { cmd: 'ls', options: READ },
  inspect: { cmd: 'inspect', options: READ },
  update: {
    cmd: 'update',
    options: { availability: { type: 'string' }, 'label-add': { type: 'string', multiple: true }, 'label-rm': { type: 'string', multiple: true } },
  },
  promote: { cmd: 'promote', options: {} },
  demote: { cmd: 'demote', options: {} },
  rm: { cmd: 'rm', options: { force: { type: 'boolean', short: 'f' } } },
  remove: { cmd: 'rm', options: { force: { type: 'boolean', short: 'f' } } },
};

export function parseNode(argv: string[]): NodeCommand {
  const [sub, ...rest] = argv;
  if (sub === '-h' || sub === '--help') return { cmd: 'help' };
  const s = sub !== undefined && Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
  if (!s) return usageError(`unknown node command ${JSON.stringify(sub ?? '')} (ls, inspect, update, promote, demote, rm)`);
  const { values: v, positionals } = parseArgs(rest, s.options);
  if (v.help) return { cmd: 'help' };
  const json = formatArg(v.format) === 'json';
  if (s.cmd === 'ls') {
    if (positionals.length) usageError(`node ${sub} takes no arguments, got ${positionals.join(' ')}`);
    return { cmd: 'ls', host: hostArg(v.host), json, ...readOpts(v) };
  }
  if (positionals.length === 0) usageError(`node ${sub} needs a NODE`);
  switch (s.cmd) {
    case 'inspect': return { cmd: 'inspect', host: hostArg(v.host), nodes: positionals, ...readOpts(v) };
    case 'rm': return { cmd: 'rm', host: hostArg(v.host), nodes: positionals, force: !!v.force };
    case 'update': return { cmd: 'update', host: hostArg(v.host), node: oneNode(positionals), update: nodeUpdate(v) };
    default: return { cmd: s.cmd, host: hostArg(v.host), nodes: positionals };
  }
}

export async function runNode(argv: string[], io: Io): Promise<number> {
  const c = parseNode(argv);
  if (c.cmd === 'help') { io.out(USAGE); return 0; }
  const client = clientFor(c.host, io, { consistent: (c.cmd === 'ls' || c.cmd === 'inspect') && c.consistent });
  switch (c.cmd) {
    case 'ls': {
      // The table also shows the managers' Raft roles (`?` when the status cannot be read).
      const [nodes, info, status] = await Promise.all([api.nodes(client), api.info(client), c.json ? undefined : api.clusterStatus(client).catch(() => undefined)]);
      if (c.json) printJson(io, nodes);
      else io.out(nodeTable(nodes, info.nodeId, status?.managers));
      return 0;
    }
    case 'inspect': {
      // `self` is the node the manager runs on.
      const self = c.nodes.includes('self') ? (await api.info(client)).nodeId : undefined;
      printJson(io, await Promise.all(c.nodes.map((n) => api.node(client, n === 'self' ? self! : n))));
      return 0;
    }
    case 'update': {
      // As docker: the node's reference, once updated.
      await api.updateNode(client, c.node, c.update);
      io.out(`${c.node}\n`);
      return 0;
    }
    case 'promote': case 'demote': case 'rm': {
      // One membership change at a time, in the order given; the first refusal stops the rest.
      for (const n of c.nodes) {
        const r = c.cmd === 'rm' ? await api.removeNode(client, n, c.force) : c.cmd === 'promote' ? await api.promote(client, n) : await api.demote(client, n);
        io.out(`${r.message}\n`);
      }
      return 0;
    }
  }
}

function oneNode(positionals: string[]): string {
  if (positionals.length > 1) usageError(`node update takes one NODE, got ${positionals.join(' ')}`);
  return positionals[0]!;
}

/** `node update`'s flags as the API takes them; a bad value is a usage error naming its flag. */
function nodeUpdate(v: Record<string, any>): NodeUpdateRequest {
  const u: NodeUpdateRequest = {};
  if (v.availability !== undefined) {
    if (v.availability !== 'active' && v.availability !== 'pause' && v.availability !== 'drain') {
      usageError(`--availability must be active, pause or drain, got ${JSON.stringify(v.availability)}`);
    }
    u.availability = v.availability;
  }
  const adds = (v['label-add'] ?? []) as string[];
  for (const kv of adds) {
    const l = parseNodeLabel(kv);
    if (typeof l === 'string') usageError(`--label-add ${JSON.stringify(kv)}: ${l}`);
  }
  const rms = (v['label-rm'] ?? []) as string[];
  for (const k of rms) if (k === '' || k.includes('=')) usageError(`--label-rm takes a label KEY, got ${JSON.stringify(k)}`);
  if (adds.length) u.labelAdd = adds;
  if (rms.length) u.labelRm = rms;
  if (Object.keys(u).length === 0) usageError('node update needs --availability, --label-add or --label-rm');
  return u;
}
