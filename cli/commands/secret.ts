// Secrets (and, through the same code, configs): `secret create|ls|inspect|update|rm`. A value
// comes from a file or from stdin (`-`), is read here, bounded (LIMITS.secretBytes), and sent
// base64; nothing the manager answers holds a secret's value, and nothing here prints one.

import { closeSync, openSync, readSync } from 'node:fs';
import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import { LIMITS } from '../../common/api/limits.js';
import * as api from '../api.js';
import { formatArg, hostArg, invalid, parseArgs, READ, readOpts, usageError, type Endpoint, type Options } from '../args.js';
import { clientFor } from '../client.js';
import { printJson, type Io } from '../io.js';
import { objectTable } from '../render.js';
import { USAGE } from '../usage.js';

type Kind = api.ObjectKind;

export type ObjectCommand = { cmd: 'help' }
  | { cmd: 'create'; host: Endpoint; name: string; source: string; labels: Record<string, string> }
  | { cmd: 'ls'; host: Endpoint; json: boolean; consistent?: true }
  | { cmd: 'inspect'; host: Endpoint; refs: string[]; consistent?: true }
  | { cmd: 'update'; host: Endpoint; ref: string; source: string; labels?: Record<string, string> }
  | { cmd: 'rm'; host: Endpoint; refs: string[] };

const LABEL = { label: { type: 'string', short: 'l', multiple: true } } as const satisfies Options;

const SUBCOMMANDS: Record<string, { cmd: Exclude<ObjectCommand['cmd'], 'help'>; options: Options }> = {
  create: { cmd: 'create', options: LABEL },
  ls: { cmd: 'ls', options: READ },
  list: { cmd: 'ls', options: READ },
  inspect: { cmd: 'inspect', options: READ },
  update: { cmd: 'update', options: LABEL },
  rm: { cmd: 'rm', options: {} },
  remove: { cmd: 'rm', options: {} },
};

/** The words `tsswarm config` takes as a config command (anything else prints the stack). */
export const OBJECT_SUBCOMMANDS: readonly string[] = Object.keys(SUBCOMMANDS);

/** `--label k=v` (repeatable). */
function labelsOf(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list ?? []) {
    const i = l.indexOf('=');
    if (i === 0) invalid(`--label must be KEY=VALUE, got ${JSON.stringify(l)}`);
    out[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  return out;
}

export function parseObject(kind: Kind, argv: string[]): ObjectCommand {
  const [sub, ...rest] = argv;
  if (sub === '-h' || sub === '--help') return { cmd: 'help' };
  const s = sub !== undefined && Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
  if (!s) return usageError(`unknown ${kind} command ${JSON.stringify(sub ?? '')} (create, ls, inspect, update, rm)`);
  const { values: v, positionals: pos } = parseArgs(rest, s.options);
  if (v.help) return { cmd: 'help' };
  const host = hostArg(v.host);
  const json = formatArg(v.format) === 'json';
  switch (s.cmd) {
    case 'create':
    case 'update': {
      if (pos.length !== 2) usageError(`${kind} ${sub} needs NAME and FILE (- : stdin)`);
      const labels = v.label ? labelsOf(v.label as string[]) : undefined;
      return s.cmd === 'create'
        ? { cmd: 'create', host, name: pos[0], source: pos[1], labels: labels ?? {} }
        : { cmd: 'update', host, ref: pos[0], source: pos[1], ...(labels ? { labels } : {}) };
    }
    case 'ls':
      if (pos.length) usageError(`${kind} ${sub} takes no arguments, got ${pos.join(' ')}`);
      return { cmd: 'ls', host, json, ...readOpts(v) };
    case 'inspect':
      if (pos.length === 0) usageError(`${kind} inspect needs a NAME`);
      return { cmd: 'inspect', host, refs: pos, ...readOpts(v) };
    default:
      if (pos.length === 0) usageError(`${kind} ${sub} needs a NAME`);
      return { cmd: 'rm', host, refs: pos };
  }
}

/** A value from a file or stdin (`-`): at most the kind's bound, read no further than one byte past it. */
export async function readValue(kind: Kind, source: string, stdin: NodeJS.ReadableStream): Promise<Buffer> {
  const max = kind === 'secret' ? LIMITS.secretBytes : LIMITS.configBytes;
  const what = source === '-' ? 'stdin' : source;
  let bytes: Buffer;
  if (source === '-') {
    const parts: Buffer[] = [];
    let n = 0;
    for await (const chunk of stdin) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      parts.push(b);
      n += b.length;
      if (n > max) break;
    }
    bytes = Buffer.concat(parts);
  } else {
    let fd: number;
    try {
      fd = openSync(source, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, code === 'ENOENT' ? `${kind} file ${what} not found` : `cannot read ${kind} file ${what} (${code ?? 'error'})`);
    }
    try {
      const buf = Buffer.alloc(max + 1);
      let n = 0;
      for (let got = -1; got !== 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, null);
      bytes = buf.subarray(0, n);
    } catch (e) {
      throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `cannot read ${kind} file ${what} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    } finally {
      closeSync(fd);
    }
  }
  if (bytes.length === 0) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `${what} is empty: a ${kind} holds 1 to ${max} bytes`);
  if (bytes.length > max) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `${what} is over ${max} bytes (${max / 1024} KiB, the bound of a ${kind})`);
  return bytes;
}

export async function runObject(kind: Kind, argv: string[], io: Io, stdin: NodeJS.ReadableStream = process.stdin): Promise<number> {
  const c = parseObject(kind, argv);
  if (c.cmd === 'help') { io.out(USAGE); return 0; }
  const client = clientFor(c.host, io, { consistent: (c.cmd === 'ls' || c.cmd === 'inspect') && c.consistent });
  switch (c.cmd) {
    case 'create': {
      const r = await api.createObject(client, kind, c.name, await readValue(kind, c.source, stdin), c.labels);
      io.out(`${r.id}\n`);
      return 0;
    }
    case 'ls': {
      const list = await api.objects(client, kind);
      if (c.json) printJson(io, list);
      else io.out(objectTable(list));
      return 0;
    }
    case 'inspect':
      printJson(io, await Promise.all(c.refs.map((r) => api.object(client, kind, r))));
      return 0;
    case 'update': {
      const r = await api.updateObject(client, kind, c.ref, await readValue(kind, c.source, stdin), c.labels);
      if (!r.changed) io.out(`${kind} ${r.name} unchanged (revision ${r.revision})\n`);
      else io.out(`${kind} ${r.name} updated to revision ${r.revision}${r.services.length ? `; rolling ${r.services.join(', ')}` : ''}\n`);
      return 0;
    }
    case 'rm': {
      // In the order given; the first refusal (not found, in use) stops the rest.
      for (const ref of c.refs) io.out(`${(await api.removeObject(client, kind, ref)).name}\n`);
      return 0;
    }
  }
}

export const runSecret = (argv: string[], io: Io): Promise<number> => runObject('secret', argv, io);
