// `tsswarm manager unlock`: gives a manager that restarted under autolock its unlock key.
// (`tsswarm manager` itself starts the daemon: the launcher's.) The key is read from
// --key-file, or from standard input (a prompt when it is a terminal): never from the command
// line, where it would land in the shell's history and the process list.

import { readFileSync } from 'node:fs';
import { apiSocketPath } from '../../common/api/datadir.js';
import { hostArg, parseArgs, usageError } from '../args.js';
import { clientFor } from '../client.js';
import type { Io } from '../io.js';

const OPTIONS = { 'key-file': { type: 'string' }, 'data-dir': { type: 'string' } } as const;

export async function runManager(argv: string[], io: Io, stdin: NodeJS.ReadableStream & { isTTY?: boolean } = process.stdin): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'unlock') usageError(`unknown manager command ${JSON.stringify(sub ?? '')}: \`tsswarm manager unlock\` (\`tsswarm manager --help\` starts a manager)`);
  const { values: v, positionals } = parseArgs(rest, OPTIONS);
  if (v.help) { io.out('Usage: tsswarm manager unlock [--key-file FILE] [--data-dir DIR | -H HOST]\n\nGive a locked manager (autolock) its unlock key, read from FILE or standard input.\n'); return 0; }
  if (positionals.length) usageError('manager unlock takes no arguments: the key is read from --key-file or standard input');
  if (v.host && v['data-dir']) usageError('--host and --data-dir exclude each other');
  const endpoint = v['data-dir'] ? hostArg(`unix://${apiSocketPath(v['data-dir'] as string)}`) : hostArg(v.host);
  const key = (v['key-file'] ? readFileSync(v['key-file'] as string, 'utf8') : await readKey(stdin, io)).trim();
  if (!key) usageError('no unlock key was given');
  const r = await clientFor(endpoint, io).call<{ message: string }>('POST', '/v1/unlock', { key });
  io.out(`${r.message}\n`);
  return 0;
}

async function readKey(stdin: NodeJS.ReadableStream & { isTTY?: boolean }, io: Io): Promise<string> {
  if (stdin.isTTY) io.err('Unlock key: ');
  const parts: Buffer[] = [];
  for await (const chunk of stdin) {
    parts.push(Buffer.from(chunk as Buffer));
    // A terminal ends the key with Enter.
    if (stdin.isTTY && Buffer.concat(parts).includes(10)) break;
    if (Buffer.concat(parts).length > 4096) usageError('the unlock key read is longer than 4096 bytes');
  }
  return Buffer.concat(parts).toString('utf8');
}
