// Remote access from the CLI's side: the bundle `cluster client-cert NAME` writes (a key made
// here, which never leaves this machine, and the certificate the cluster signed for it), and
// contexts: bundles kept under ~/.tsswarm/contexts/NAME (`context import|ls|use|rm`), one of
// them current (~/.tsswarm/config.json). cli/args.ts reads them when it resolves --host.

import { randomBytes, webcrypto } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { ClientCertResponse } from '../../common/api/types.js';
import {
  configDir, configFile, contextsDir, CONTEXT_NAME, currentContext, formatArg, invalid, parseArgs, readContext, usageError, type Options,
} from '../args.js';
import { printJson, type Io } from '../io.js';
import { USAGE } from '../usage.js';

/** The files of a bundle and of an imported context. */
export const BUNDLE_FILES = { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem', context: 'context.json' } as const;

// ---- key and CSR ----------------------------------------------------------------------------

/**
 * A new ECDSA P-256 key (PKCS#8 PEM) and a PKCS#10 request for it, subject CN=`name` (the
 * cluster sets the rest). The X.509 library is loaded here only: other commands do not pay
 * for it.
 */
export async function newKeyAndCsr(name: string): Promise<{ keyPem: string; csrPem: string }> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${name}`, keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } }, webcrypto as unknown as Crypto);
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  return { keyPem, csrPem: csr.toString('pem') };
}

// ---- writing a directory of private files, all or nothing -------------------------------------

function writePrivate(path: string, data: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try { writeSync(fd, data); fsyncSync(fd); } finally { closeSync(fd); }
}

/** Refuses a target that exists (a bundle or context is never overwritten). */
export function checkNew(dir: string, what: string): void {
  let exists = false;
  try { lstatSync(dir); exists = true; } catch { /* absent: good */ }
  if (exists) invalid(`${dir} exists: refusing to overwrite it (${what}); remove it or choose another`);
}

/**
 * Writes `files` (name -> content) into a new directory `dir` (0700, files 0600): into a
 * temporary sibling first, renamed into place, so `dir` is never seen half-written.
 */
export function writeNewDir(dir: string, files: Record<string, string>, what: string): void {
  checkNew(dir, what);
  mkdirSync(dirname(dir), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp, { mode: 0o700 });
  try {
    for (const [name, data] of Object.entries(files)) writePrivate(join(tmp, name), data);
    // rename() would replace an empty directory made meanwhile: look once more.
    checkNew(dir, what);
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** The bundle `cluster client-cert` writes: CA, certificate, key, and the context.json naming them. */
export function writeBundle(dir: string, issued: Pick<ClientCertResponse, 'certPem' | 'caPems'>, keyPem: string, host: string | undefined): void {
  const context: Record<string, string> = {};
  if (host) context.host = host;
  Object.assign(context, { ca: BUNDLE_FILES.ca, cert: BUNDLE_FILES.cert, key: BUNDLE_FILES.key });
  writeNewDir(dir, {
    [BUNDLE_FILES.ca]: issued.caPems.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join(''),
    [BUNDLE_FILES.cert]: issued.certPem,
    [BUNDLE_FILES.key]: keyPem,
    [BUNDLE_FILES.context]: JSON.stringify(context, null, 2) + '\n',
  }, 'a client certificate bundle');
}

// ---- contexts ---------------------------------------------------------------------------------

export interface ContextRow { name: string; host: string; current: boolean }

/** `context import NAME DIR`: a copy of the bundle in DIR, under the config dir. */
export function importContext(name: string, from: string, env: NodeJS.ProcessEnv = process.env): string {
  if (name === 'default') invalid('"default" is the local manager\'s socket: choose another context name');
  if (!CONTEXT_NAME.test(name)) invalid(`invalid context name ${JSON.stringify(name)}: 1 to 64 letters, digits, ., _ and - (not starting with .)`);
  const src = readContext(resolve(from), from, 'bundle');
  const missing = (['ca', 'cert', 'key'] as const).filter((k) => !src[k]);
  if (missing.length) invalid(`${join(src.dir, BUNDLE_FILES.context)} names no ${missing.join(', ')} file`);
  const read = (k: 'ca' | 'cert' | 'key') => {
    try { return readFileSync(src[k]!, 'utf8'); } catch (e) { return invalid(`cannot read ${src[k]}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
  };
  const context: Record<string, string> = {};
  if (src.host) context.host = src.host;
  Object.assign(context, { ca: BUNDLE_FILES.ca, cert: BUNDLE_FILES.cert, key: BUNDLE_FILES.key });
  const dest = join(contextsDir(env), name);
  mkdirSync(configDir(env), { recursive: true, mode: 0o700 });
  writeNewDir(dest, {
    [BUNDLE_FILES.ca]: read('ca'), [BUNDLE_FILES.cert]: read('cert'), [BUNDLE_FILES.key]: read('key'),
    [BUNDLE_FILES.context]: JSON.stringify(context, null, 2) + '\n',
  }, `context ${name}`);
  return dest;
}

/** The contexts: "default" (the local socket) first, then the imported ones by name. */
export function listContexts(env: NodeJS.ProcessEnv = process.env): ContextRow[] {
  const cur = currentContext(env);
  let names: string[] = [];
  try { names = readdirSync(contextsDir(env)).filter((n) => CONTEXT_NAME.test(n)).sort(); } catch { /* none yet */ }
  const rows: ContextRow[] = [{ name: 'default', host: 'the local manager (unix socket)', current: cur === undefined }];
  for (const name of names) {
    let host: string;
    try { host = readContext(join(contextsDir(env), name), name).host ?? '(no host)'; } catch (e) { host = `(unreadable: ${(e as Error).message.split('\n')[0]})`; }
    rows.push({ name, host, current: cur === name });
  }
  return rows;
}

/** Writes config.json (other keys kept) through a temporary file. */
function writeConfig(env: NodeJS.ProcessEnv, currentContextName: string | undefined): void {
  const file = configFile(env);
  let cfg: Record<string, unknown> = {};
  try { cfg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>; } catch { /* absent or broken: replaced */ }
  if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) cfg = {};
  if (currentContextName === undefined) delete cfg.currentContext;
  else cfg.currentContext = currentContextName;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  writePrivate(tmp, JSON.stringify(cfg, null, 2) + '\n');
  renameSync(tmp, file);
}

/** `context use NAME` ("default": the local socket again). */
export function useContext(name: string, env: NodeJS.ProcessEnv = process.env): void {
  if (name === 'default') { writeConfig(env, undefined); return; }
  if (!CONTEXT_NAME.test(name)) invalid(`invalid context name ${JSON.stringify(name)}`);
  readContext(join(contextsDir(env), name), name);
  writeConfig(env, name);
}

/** `context rm NAME`: the current context only with `force` (the default is current again). */
export function removeContext(name: string, force: boolean, env: NodeJS.ProcessEnv = process.env): void {
  if (name === 'default') invalid('the default context cannot be removed');
  if (!CONTEXT_NAME.test(name)) invalid(`invalid context name ${JSON.stringify(name)}`);
  const dir = join(contextsDir(env), name);
  if (!existsSync(dir)) invalid(`no context named ${JSON.stringify(name)} (tsswarm context ls)`);
  const current = currentContext(env) === name;
  if (current && !force) invalid(`context ${name} is the current one: \`tsswarm context use default\` first, or --force`);
  if (current) writeConfig(env, undefined);
  rmSync(dir, { recursive: true, force: true });
}

// ---- the command ------------------------------------------------------------------------------

export type ContextCommand = { cmd: 'help' }
  | { cmd: 'import'; name: string; dir: string }
  | { cmd: 'ls'; json: boolean }
  | { cmd: 'use'; name: string }
  | { cmd: 'rm'; names: string[]; force: boolean };

const SUBCOMMANDS = ['import', 'ls', 'use', 'rm'] as const;
const OPTIONS: Record<(typeof SUBCOMMANDS)[number], Options> = { import: {}, ls: {}, use: {}, rm: { force: { type: 'boolean', short: 'f' } } };

export function parseContext(argv: string[]): ContextCommand {
  const [sub0, ...rest] = argv;
  if (sub0 === '-h' || sub0 === '--help') return { cmd: 'help' };
  const sub = sub0 === 'list' ? 'ls' : sub0 === 'remove' ? 'rm' : sub0;
  if (!(SUBCOMMANDS as readonly string[]).includes(sub ?? '')) usageError(`unknown context command ${JSON.stringify(sub ?? '')} (${SUBCOMMANDS.join(', ')})`);
  const s = sub as (typeof SUBCOMMANDS)[number];
  const { values: v, positionals: p } = parseArgs(rest, OPTIONS[s]);
  if (v.help) return { cmd: 'help' };
  const json = formatArg(v.format) === 'json';
  const count = (n: number, what: string) => {
    if (p.length < n) usageError(`context ${s} needs ${what}`);
    if (p.length > n) usageError(`too many arguments: ${p.slice(n).join(' ')}`);
  };
  switch (s) {
    case 'import': count(2, 'a NAME and the DIR of a bundle'); return { cmd: 'import', name: p[0], dir: p[1] };
    case 'ls': count(0, ''); return { cmd: 'ls', json };
    case 'use': count(1, 'a NAME (default: the local socket)'); return { cmd: 'use', name: p[0] };
    case 'rm': if (p.length === 0) usageError('context rm needs a NAME'); return { cmd: 'rm', names: p, force: !!v.force };
  }
}

export async function runContext(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const c = parseContext(argv);
  switch (c.cmd) {
    case 'help': io.out(USAGE); return 0;
    case 'import': {
      const dest = importContext(c.name, c.dir, env);
      io.out(`Context ${c.name} imported into ${dest}\nUse it: tsswarm context use ${c.name}  (or --context ${c.name} on one command)\n`);
      return 0;
    }
    case 'ls': {
      const rows = listContexts(env);
      if (c.json) { printJson(io, rows); return 0; }
      const w = Math.max(4, ...rows.map((r) => r.name.length + 2));
      io.out(`${'NAME'.padEnd(w)}  HOST\n` + rows.map((r) => `${(r.name + (r.current ? ' *' : '')).padEnd(w)}  ${r.host}\n`).join(''));
      return 0;
    }
    case 'use': useContext(c.name, env); io.out(`Current context: ${c.name}\n`); return 0;
    case 'rm': for (const n of c.names) { removeContext(n, c.force, env); io.out(`${n}\n`); } return 0;
  }
}
