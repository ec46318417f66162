// The cluster: settings (`cluster inspect|update`), its managers (`cluster status`, `cluster
// recover`), join tokens (`cluster join-token`), backups (`cluster backup`), and the
// certificates of remote CLIs (`cluster client-cert NAME|ls|rm`), and the cluster's keys
// (`cluster update --autolock`, `cluster unlock-key`, `cluster ca [--rotate]`).

import { resolve } from 'node:path';
import type { CaStatusResponse, ClientCertInfo, ClientCertResponse, InfoResponse, UnlockKeyResponse } from '../../common/api/types.js';
import type { ClusterUpdate, JoinRole } from '../api.js';
import * as api from '../api.js';
import {
  apiAddrArg, certNameArg, choiceArg, durationArg, formatArg, historyLimitArg, hostArg, parseArgs, READ, readOpts, usageError, type Endpoint, type Options,
} from '../args.js';
import { checkTarget, writeFileAtomic, writeStream } from '../backup.js';
import { clientFor, type ApiClient } from '../client.js';
import { checkNew, newKeyAndCsr, writeBundle } from './context.js';
import { printJson, type Io } from '../io.js';
import { clusterHealth, recoveryPlan } from '../recover.js';
import { backupSummary, clusterStatusText, joinTokenText } from '../render.js';
import { USAGE } from '../usage.js';

export type ClusterCommand = { cmd: 'help' }
  | { cmd: 'inspect'; host: Endpoint; consistent?: true }
  | { cmd: 'update'; host: Endpoint; spec: ClusterUpdate; autolock?: boolean; json: boolean }
  | { cmd: 'unlock-key'; host: Endpoint; rotate: boolean; quiet: boolean; json: boolean }
  | { cmd: 'ca'; host: Endpoint; rotate: boolean; json: boolean }
  | { cmd: 'status'; host: Endpoint; json: boolean }
  | { cmd: 'join-token'; host: Endpoint; role: JoinRole; quiet: boolean; rotate: boolean; json: boolean }
  | { cmd: 'backup'; host: Endpoint; file: string; force: boolean }
  | { cmd: 'recover'; host: Endpoint; json: boolean }
  | { cmd: 'client-cert'; host: Endpoint; name: string; out: string; expiry?: string; apiAddr?: string }
  | { cmd: 'client-cert-ls'; host: Endpoint; json: boolean }
  | { cmd: 'client-cert-rm'; host: Endpoint; names: string[] };

const SUBCOMMANDS = ['inspect', 'update', 'status', 'join-token', 'backup', 'recover', 'client-cert', 'unlock-key', 'ca'] as const;

const OPTIONS: Record<(typeof SUBCOMMANDS)[number], Options> = {
  inspect: READ,
  update: {
    'task-history-limit': { type: 'string' },
    'bind-allow': { type: 'string', multiple: true },
    'bind-allow-any': { type: 'boolean' },
    'cert-expiry': { type: 'string' },
    autolock: { type: 'string' },
  },
  'unlock-key': { quiet: { type: 'boolean', short: 'q' }, rotate: { type: 'boolean' } },
  ca: { rotate: { type: 'boolean' } },
  status: {},
  'join-token': { quiet: { type: 'boolean', short: 'q' }, rotate: { type: 'boolean' } },
  backup: { force: { type: 'boolean', short: 'f' } },
  recover: {},
  'client-cert': { out: { type: 'string', short: 'o' }, expiry: { type: 'string' }, 'api-addr': { type: 'string' } },
};

export function parseCluster(argv: string[]): ClusterCommand {
  const [sub, ...rest] = argv;
  if (sub === '-h' || sub === '--help') return { cmd: 'help' };
  if (!(SUBCOMMANDS as readonly string[]).includes(sub ?? '')) usageError(`unknown cluster command ${JSON.stringify(sub ?? '')} (${SUBCOMMANDS.join(', ')})`);
  const s = sub as (typeof SUBCOMMANDS)[number];
  const { values: v, positionals } = parseArgs(rest, OPTIONS[s]);
  if (v.help) return { cmd: 'help' };
  const json = formatArg(v.format) === 'json';
  switch (s) {
    case 'join-token': {
      if (positionals.length === 0) usageError('cluster join-token needs a ROLE: worker or manager');
      if (positionals.length > 1) usageError(`too many arguments: ${positionals.slice(1).join(' ')}`);
      const role = choiceArg('ROLE', positionals[0], ['worker', 'manager'] as const);
      if (v.quiet && json) usageError('--quiet and --format json exclude each other');
      return { cmd: 'join-token', host: hostArg(v.host), role, quiet: !!v.quiet, rotate: !!v.rotate, json };
    }
    case 'backup': {
      if (positionals.length === 0) usageError('cluster backup needs a FILE (- for stdout)');
      if (positionals.length > 1) usageError(`too many arguments: ${positionals.slice(1).join(' ')}`);
      if (json) usageError('cluster backup writes bytes: --format json does not apply');
      if (positionals[0] === '-' && v.force) usageError('--force replaces a FILE: it does not apply to - (stdout)');
      return { cmd: 'backup', host: hostArg(v.host), file: positionals[0], force: !!v.force };
    }
    case 'client-cert': return parseClientCert(v, positionals);
  }
  if (positionals.length) usageError(`cluster ${s} takes no arguments, got ${positionals.join(' ')}`);
  switch (s) {
    case 'inspect': return { cmd: 'inspect', host: hostArg(v.host), ...readOpts(v) };
    case 'status': return { cmd: 'status', host: hostArg(v.host), json };
    case 'recover': return { cmd: 'recover', host: hostArg(v.host), json };
    case 'unlock-key':
      if (v.quiet && json) usageError('--quiet and --format json exclude each other');
      return { cmd: 'unlock-key', host: hostArg(v.host), rotate: !!v.rotate, quiet: !!v.quiet, json };
    case 'ca': return { cmd: 'ca', host: hostArg(v.host), rotate: !!v.rotate, json };
  }
  const spec: ClusterUpdate = {};
  if (v['task-history-limit'] !== undefined) spec.taskHistoryLimit = historyLimitArg(v['task-history-limit']);
  const allow = v['bind-allow'] as string[] | undefined;
  if (allow && v['bind-allow-any']) usageError('--bind-allow and --bind-allow-any exclude each other');
  if (allow) {
    for (const p of allow) if (!p.startsWith('/')) usageError(`--bind-allow takes absolute host paths, got ${JSON.stringify(p)}`);
    spec.allowedBindPaths = allow;
  }
  if (v['bind-allow-any']) spec.allowedBindPaths = null;
  if (v['cert-expiry'] !== undefined) spec.certExpiryMs = durationArg('--cert-expiry', v['cert-expiry'], true);
  const autolock = v.autolock === undefined ? undefined : choiceArg('--autolock', v.autolock, ['true', 'false'] as const) === 'true';
  if (Object.keys(spec).length === 0 && autolock === undefined) usageError('cluster update needs a setting, e.g. --task-history-limit N, --bind-allow PATH, --cert-expiry 30d or --autolock=true');
  return { cmd: 'update', host: hostArg(v.host), spec, ...(autolock !== undefined ? { autolock } : {}), json };
}

function parseClientCert(v: Record<string, any>, p: string[]): ClusterCommand {
  const [first, ...more] = p;
  if (first === undefined) usageError('cluster client-cert needs a NAME (or ls, or rm NAME)');
  const issueOnly = (['out', 'expiry', 'api-addr'] as const).filter((k) => v[k] !== undefined);
  if ((first === 'ls' || first === 'rm') && issueOnly.length) usageError(`--${issueOnly[0]} applies to \`cluster client-cert NAME\`, not ${first}`);
  if (first === 'ls') {
    if (more.length) usageError(`too many arguments: ${more.join(' ')}`);
    return { cmd: 'client-cert-ls', host: hostArg(v.host), json: formatArg(v.format) === 'json' };
  }
  if (first === 'rm') {
    if (!more.length) usageError('cluster client-cert rm needs a NAME');
    return { cmd: 'client-cert-rm', host: hostArg(v.host), names: more.map(certNameArg) };
  }
  if (more.length) usageError(`too many arguments: ${more.join(' ')}`);
  const name = certNameArg(first);
  return {
    cmd: 'client-cert', host: hostArg(v.host), name, out: resolve(v.out ?? `tsswarm-${name}`),
    ...(v.expiry !== undefined ? { expiry: v.expiry as string } : {}),
    ...(v['api-addr'] !== undefined ? { apiAddr: apiAddrArg(v['api-addr']) } : {}),
  };
}

/** Where the bundle's context says the manager is: --api-addr, else the https address in use, else what the manager reports. */
async function bundleHost(c: Extract<ClusterCommand, { cmd: 'client-cert' }>, client: ApiClient): Promise<string | undefined> {
  if (c.apiAddr) return `https://${c.apiAddr}`;
  if (c.host.tls) return c.host.display;
  const info = await client.call<InfoResponse>('GET', '/v1/info');
  // A wildcard listen address is no place to connect to.
  if (!info.apiAddr || /^(0\.0\.0\.0|\[::\]|\[::0\]):/.test(info.apiAddr)) return undefined;
  return `https://${info.apiAddr}`;
}

async function issueClientCert(c: Extract<ClusterCommand, { cmd: 'client-cert' }>, client: ApiClient, io: Io): Promise<number> {
  // Refused before a key is made or anything is asked of the manager.
  checkNew(c.out, 'a client certificate bundle');
  const host = await bundleHost(c, client);
  const { keyPem, csrPem } = await newKeyAndCsr(c.name);
  const issued = await client.call<ClientCertResponse>('POST', '/v1/cluster/client-certs', { name: c.name, csr: csrPem, ...(c.expiry !== undefined ? { expiry: c.expiry } : {}) });
  writeBundle(c.out, issued, keyPem, host);
  io.out(`Client certificate ${JSON.stringify(c.name)} issued: serial ${issued.serial}, valid until ${new Date(issued.notAfter).toISOString()}\n`
    + `Written to ${c.out}: ca.pem, cert.pem, key.pem (made here; it never left this machine), context.json\n`
    + (host
      ? `Use it:  tsswarm service ls --context ${c.out}\n   or:   tsswarm context import ${c.name} ${c.out} && tsswarm context use ${c.name}\n`
      : `Note: the manager did not say where its HTTPS API listens: set "host": "https://HOST:PORT" in ${resolve(c.out, 'context.json')} (or give --api-addr HOST:PORT)\n`));
  return 0;
}

function clientCertTable(rows: ClientCertInfo[]): string {
  const w = Math.max(4, ...rows.map((r) => r.name.length));
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
  return `${'NAME'.padEnd(w)}  ${'EXPIRES (UTC)'.padEnd(16)}  ${'CREATED (UTC)'.padEnd(16)}  SERIAL\n`
    + rows.map((r) => `${r.name.padEnd(w)}  ${day(r.notAfter)}  ${day(r.createdAt)}  ${r.serial}\n`).join('');
}

export async function runCluster(argv: string[], io: Io): Promise<number> {
  const c = parseCluster(argv);
  if (c.cmd === 'help') { io.out(USAGE); return 0; }
  const client = clientFor(c.host, io, { consistent: c.cmd === 'inspect' && c.consistent });
  switch (c.cmd) {
    case 'inspect': printJson(io, await api.cluster(client)); return 0;
    case 'update': {
      const r = Object.keys(c.spec).length ? await api.clusterUpdate(client, c.spec) : undefined;
      const lock = c.autolock === undefined ? undefined : await client.call<UnlockKeyResponse>('POST', '/v1/cluster/autolock', { enabled: c.autolock });
      if (c.json) printJson(io, { ...(r ?? {}), ...(lock ? { autolock: lock } : {}) });
      else io.out(`Cluster updated\n${lock ? unlockKeyText(lock, false) : ''}`);
      return 0;
    }
    case 'unlock-key': {
      const k = c.rotate ? await client.call<UnlockKeyResponse>('POST', '/v1/cluster/unlock-key/rotate') : await client.call<UnlockKeyResponse>('GET', '/v1/cluster/unlock-key');
      if (c.json) printJson(io, k); else io.out(unlockKeyText(k, c.quiet));
      return k.enabled ? 0 : 1;
    }
    case 'ca': {
      const st = c.rotate ? await client.call<CaStatusResponse>('POST', '/v1/cluster/ca/rotate') : await client.call<CaStatusResponse>('GET', '/v1/cluster/ca');
      if (c.json) printJson(io, st);
      else io.out(`Root CA: ${st.digest}\n${st.next ? `Rotating to: ${st.next.digest}\n${st.next.pending.length ? `Nodes still on the old root: ${st.next.pending.join(', ')}\n` : ''}` : ''}${st.message}\n`);
      return 0;
    }
    case 'status': {
      const st = await api.clusterStatus(client);
      if (c.json) printJson(io, st); else io.out(clusterStatusText(st));
      return 0;
    }
    case 'join-token': {
      const t = c.rotate ? await api.rotateJoinToken(client, c.role) : await api.joinToken(client, c.role);
      if (c.json) printJson(io, t); else io.out(joinTokenText(t, { quiet: c.quiet, rotated: c.rotate }));
      return 0;
    }
    case 'backup': {
      const toStdout = c.file === '-';
      if (toStdout && io.tty) usageError('refusing to write the backup to a terminal: redirect stdout, or give a FILE');
      if (!toStdout) await checkTarget(c.file, c.force);
      const b = await api.backup(client);
      const bytes = toStdout
        ? await writeStream(b.stream, io.binary ?? process.stdout, b.length)
        : await writeFileAtomic(c.file, b.stream, { force: c.force, expectedBytes: b.length });
      (toStdout ? io.err : io.out)(backupSummary(b.index, c.file, bytes));
      return 0;
    }
    case 'client-cert': return issueClientCert(c, client, io);
    case 'client-cert-ls': {
      const rows = await client.call<ClientCertInfo[]>('GET', '/v1/cluster/client-certs');
      if (c.json) printJson(io, rows); else io.out(clientCertTable(rows));
      return 0;
    }
    case 'client-cert-rm': {
      for (const n of c.names) {
        await client.call('DELETE', `/v1/cluster/client-certs/${encodeURIComponent(n)}`);
        io.out(`${n}\n`);
      }
      return 0;
    }
    case 'recover': {
      const st = await api.clusterStatus(client);
      const health = clusterHealth(st);
      const plan = recoveryPlan(st);
      if (c.json) printJson(io, { health, plan });
      else io.out(plan.join('\n') + '\n');
      return health === 'healthy' ? 0 : 1;
    }
  }
}

/** An unlock key answer as a person reads it (or the bare key with --quiet). */
function unlockKeyText(k: UnlockKeyResponse, quiet: boolean): string {
  if (quiet) return k.unlockKey ? `${k.unlockKey}\n` : '';
  if (!k.unlockKey) return `${k.message}\n`;
  return `${k.message}.\n\n    ${k.unlockKey}\n\nGive it to a restarted manager with \`tsswarm manager unlock\`.\n`;
}
