// The `tsswarm` binary's thin launcher: `tsswarm manager …` and `tsswarm agent …` start a
// daemon; every other command is the CLI's (cli/main.ts), which speaks only the HTTP API.
// This is the one place that wires a manager with its embedded agent, so that manager/,
// agent/ and cli/ never import each other (docs/architecture.md).

import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Logger } from 'pino';
import { defaultDataDir } from '../common/api/datadir.js';
import { ErrorCodes, TsswarmError, formatError } from '../common/errors.js';

export async function launch(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  // `tsswarm manager unlock` is a CLI command (it speaks to a running, locked manager).
  if ((cmd !== 'manager' && cmd !== 'agent') || (cmd === 'manager' && rest[0] === 'unlock')) {
    const { main } = await import('../cli/main.js');
    return main(argv);
  }
  try {
    process.exitCode = cmd === 'manager' ? await runManager(rest) : await runAgent(rest);
  } catch (err) {
    process.stderr.write(formatError(err, !!process.env.TSSWARM_DEBUG));
    // A daemon that failed half way may hold sockets and timers: do not linger.
    process.exit(1);
  }
}

const COMMON = { 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

function args(argv: string[], options: ParseArgsConfig['options']): Record<string, any> {
  try {
    return parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: false, strict: true }).values as Record<string, any>;
  } catch (err) {
    throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `${(err as Error).message}\nSee 'tsswarm --help'.`);
  }
}

async function createLogger(level: string): Promise<Logger> {
  return (await import('../common/log.js')).createLogger(level);
}

/** Runs until SIGINT/SIGTERM, then closes what `start` opened. */
async function daemon(start: () => Promise<{ close(): Promise<void> }>, log: Logger): Promise<number> {
  const running = await start();
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => { log.info({ signal: sig }, 'shutting down (containers keep running)'); resolve(); };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await running.close();
  return 0;
}


async function runManager(argv: string[]): Promise<number> {
  const v = args(argv, {
    init: { type: 'boolean' }, 'data-dir': { type: 'string' }, 'no-agent': { type: 'boolean' },
    listen: { type: 'string', multiple: true }, 'listen-addr': { type: 'string' }, 'advertise-addr': { type: 'string' }, 'api-addr': { type: 'string' }, 'unlock-key-file': { type: 'string' },
    'heartbeat-period': { type: 'string' }, 'ingress-bind': { type: 'string' },
    join: { type: 'string' }, token: { type: 'string' }, restore: { type: 'string' }, 'force-new-cluster': { type: 'boolean' },
    'task-history-limit': { type: 'string' }, 'image-keep': { type: 'string' },
  });
  if (v.help) { process.stdout.write((await import('../cli/usage.js')).USAGE); return 0; }
  if (v['task-history-limit'] !== undefined && !v.init) {
    throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, '--task-history-limit applies with --init; later use `tsswarm cluster update --task-history-limit N`');
  }
  const token = joinToken(v);
  if (v.join && !token) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, '--join HOST:PORT needs --token TOKEN or $TSSWARM_JOIN_TOKEN (print one on a manager with `tsswarm cluster join-token manager`)');
  if (v.token && !v.join) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, '--token goes with --join HOST:PORT');
  const historyLimit = v['task-history-limit'] === undefined ? undefined : (await import('../cli/args.js')).historyLimitArg(v['task-history-limit']);
  const imageKeep = imageKeepArg(v['image-keep']);
  const log = await createLogger(v['log-level'] ?? 'info');
  const [{ startManager }, { parseDuration }] = await Promise.all([import('../manager/main.js'), import('../common/duration.js')]);
  const embedded = !v['no-agent'];
  const startAgent = embedded ? (await import('../agent/main.js')).startAgent : undefined;
  return daemon(() => startManager({
    dataDir: v['data-dir'] ?? defaultDataDir(), init: !!v.init, log, listen: v.listen,
    listenAddr: v['listen-addr'] && hostPort(v['listen-addr'], '--listen-addr'),
    advertiseAddr: v['advertise-addr'] && hostPort(v['advertise-addr'], '--advertise-addr'),
    apiAddr: v['api-addr'] && hostPort(v['api-addr'], '--api-addr'),
    // Autolock: the key from a file (restoring a backup taken under autolock; unattended starts).
    unlockKey: v['unlock-key-file'] ? readKeyFile(v['unlock-key-file']) : undefined,
    join: v.join && token ? { addr: hostPort(v.join, '--join'), token } : undefined,
    restore: v.restore, forceNewCluster: !!v['force-new-cluster'],
    heartbeatPeriodMs: v['heartbeat-period'] ? parseDuration(v['heartbeat-period']) : undefined,
    cluster: historyLimit === undefined ? undefined : { taskHistoryLimit: historyLimit },
    embeddedAgent: startAgent && ((a) => startAgent({ ...a, log, ingressBind: v['ingress-bind'], imageKeep })),
  }), log);
}

/**
 * The join token: --token, else $TSSWARM_JOIN_TOKEN (which `ps` does not show). A token given
 * on the command line is hidden from `ps` as soon as it is read (the process title no longer
 * holds it): it stays a secret for as long as the daemon runs.
 */
function joinToken(v: Record<string, any>): string | undefined {
  const token = typeof v.token === 'string' && v.token ? v.token : undefined;
  if (token) process.title = process.argv.map((a) => a.split(token).join('***')).join(' ');
  return token ?? (process.env.TSSWARM_JOIN_TOKEN || undefined);
}

function readKeyFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `--unlock-key-file ${path}: ${(e as Error).message}`);
  }
}

/** --image-keep N: revisions of each built image a node keeps (at least 2; 0: never remove). */
function imageKeepArg(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = /^\d{1,4}$/.test(v) ? Number(v) : NaN;
  if (!(n === 0 || n >= 2)) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `--image-keep must be a whole number of at least 2 (the current and the previous image), or 0 to never remove built images; got ${JSON.stringify(v.slice(0, 100))}`);
  return n;
}

/** HOST:PORT with a port in 0..65535 (IPv6 hosts in brackets). */
function hostPort(v: string, flag: string): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `${flag} must be HOST:PORT (e.g. 0.0.0.0:4242), got ${JSON.stringify(v.slice(0, 100))}`);
  return v;
}

async function runAgent(argv: string[]): Promise<number> {
  const v = args(argv, { manager: { type: 'string' }, join: { type: 'string' }, token: { type: 'string' }, 'data-dir': { type: 'string' }, addr: { type: 'string' }, 'image-keep': { type: 'string' } });
  if (v.help) { process.stdout.write((await import('../cli/usage.js')).USAGE); return 0; }
  if (!v.manager && !v.join) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'agent needs --join HOST:PORT --token TOKEN (or --manager ADDR: host:port or unix:///path/dispatcher.sock)');
  const token = joinToken(v);
  if (v.join && !token) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, '--join HOST:PORT needs --token TOKEN or $TSSWARM_JOIN_TOKEN (print one on a manager with `tsswarm cluster join-token worker`)');
  const imageKeep = imageKeepArg(v['image-keep']);
  const log = await createLogger(v['log-level'] ?? 'info');
  const [{ startAgent }, { join }, { loadAgentIdentity, saveAgentIdentity }] = await Promise.all([import('../agent/main.js'), import('node:path'), import('../agent/identity.js')]);
  const stateDir = join(v['data-dir'] ?? defaultDataDir(), 'agent');
  let managers: string[] = [];
  let manager: string = v.manager;
  if (v.join) {
    manager = hostPort(v.join, '--join');
    const known = loadAgentIdentity(stateDir);
    if (known) {
      log.info({ node: known.nodeId, cluster: known.clusterId }, 'this agent joined already: its certificate is used, not the token');
    } else {
      // The token pins the cluster CA; the cluster answers with this node's certificate.
      const [{ joinCluster }, { newId }, { hostname }] = await Promise.all([import('../proto/identity-client.js'), import('../common/ids.js'), import('node:os')]);
      const r = await joinCluster(manager, { token: token!, role: 'worker', nodeId: newId(), hostname: hostname() });
      managers = r.managers.map((m) => m.addr);
      saveAgentIdentity(stateDir, { clusterId: r.clusterId, nodeId: r.nodeId, material: r, managers: [manager, ...managers] });
      log.info({ cluster: r.clusterId, node: r.nodeId, managers }, 'joined the cluster');
    }
  }
  // Over the network an agent needs the certificate a join gave it.
  if (!manager.startsWith('unix:') && !loadAgentIdentity(stateDir)) {
    throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `this agent has not joined a cluster (no certificate in ${stateDir}): start it with --join HOST:PORT --token TOKEN`);
  }
  return daemon(() => startAgent({ manager, managers, log, stateDir, addr: v.addr, imageKeep }), log);
}
