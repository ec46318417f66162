// Nodes: `node ls|inspect`.

import * as api from '../api.js';
import { formatArg, hostArg, parseArgs, usageError, type Endpoint } from '../args.js';
import { clientFor } from '../client.js';
import { printJson, type Io } from '../io.js';
import { nodeTable } from '../render.js';
import { USAGE } from '../usage.js';

export type NodeCommand = { cmd: 'help' }
  | { cmd: 'ls'; host: Endpoint; json: boolean }
  | { cmd: 'inspect'; host: Endpoint; nodes: string[] };

export function parseNode(argv: string[]): NodeCommand {
  const [sub, ...rest] = argv;
  if (sub === '-h' || sub === '--help') return { cmd: 'help' };
  if (sub !== 'ls' && sub !== 'list' && sub !== 'inspect') usageError(`unknown node command ${JSON.stringify(sub ?? '')} (ls, inspect)`);
  const { values: v, positionals } = parseArgs(rest, {});
  if (v.help) return { cmd: 'help' };
  const json = formatArg(v.format) === 'json';
  if (sub === 'inspect') {
    if (positionals.length === 0) usageError('node inspect needs a NODE');
    return { cmd: 'inspect', host: hostArg(v.host), nodes: positionals };
  }
  if (positionals.length) usageError(`node ${sub} takes no arguments, got ${positionals.join(' ')}`);
  return { cmd: 'ls', host: hostArg(v.host), json };
}

export async function runNode(argv: string[], io: Io): Promise<number> {
  const c = parseNode(argv);
  if (c.cmd === 'help') { io.out(USAGE); return 0; }
  const client = clientFor(c.host, io);
  switch (c.cmd) {
    case 'ls': {
      const [nodes, info] = await Promise.all([api.nodes(client), api.info(client)]);
      if (c.json) printJson(io, nodes);
      else io.out(nodeTable(nodes, info.nodeId));
      return 0;
    }
    case 'inspect': {
      // `self` is the node the manager runs on.
      const self = c.nodes.includes('self') ? (await api.info(client)).nodeId : undefined;
      printJson(io, await Promise.all(c.nodes.map((n) => api.node(client, n === 'self' ? self! : n))));
      return 0;
    }
  }
}
