// Each command group's arguments, parsed into the command it runs: flags become the API's
// shapes (ServiceUpdateFlags, a cluster spec patch), and bad ones are refused before any request.

import { describe, expect, it } from 'vitest';
import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import type { ServiceUpdateFlags } from '../../../common/api/types.js';
import { parseService, updateFlags, UPDATE_OPTIONS } from '../../../cli/commands/service.js';
import { parseBuild, parseConfig, parseDeploy, parseStack } from '../../../cli/commands/stack.js';
import { parseNode } from '../../../cli/commands/node.js';
import { parseCluster } from '../../../cli/commands/cluster.js';
import { parseArgs } from '../../../cli/args.js';

const H = ['--host', 'unix:///run/t.sock'];
const host = { socketPath: '/run/t.sock', display: 'unix:///run/t.sock' };

async function refusal(fn: () => unknown): Promise<string> {
  try { await fn(); } catch (e) {
    expect(e).toBeInstanceOf(TsswarmError);
    expect((e as TsswarmError).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    return (e as TsswarmError).message;
  }
  throw new Error('expected a refusal');
}

/** Only the flags that were given: what JSON sends. */
const sent = (f: ServiceUpdateFlags) => JSON.parse(JSON.stringify(f));
const flagsOf = async (argv: string[]) => sent(await updateFlags(parseArgs(argv, UPDATE_OPTIONS).values));

describe('service update flags -> ServiceUpdateFlags', () => {
  it.each<[string[], ServiceUpdateFlags]>([
    [[], {}],
    [['--image', 'nginx:1.27'], { image: 'nginx:1.27' }],
    [['--env-add', 'A=1', '--env-add', 'B=x=y', '--env-rm', 'C'], { envAdd: ['A=1', 'B=x=y'], envRm: ['C'] }],
    [['--label-add', 'tier', '--label-rm', 'old'], { labelAdd: ['tier'], labelRm: ['old'] }],
    [['--replicas', '0'], { replicas: 0 }],
    [['--replicas', '1000'], { replicas: 1000 }],
    [['--publish-add', '8080:80', '--publish-add', '53:53/udp', '--publish-rm', '9090', '--publish-rm', '53/udp'],
      { publishAdd: ['8080:80', '53:53/udp'], publishRm: ['9090', '53/udp'] }],
    [['--constraint-add', 'node.role==manager', '--constraint-rm', 'node.labels.x==y'], { constraintAdd: ['node.role==manager'], constraintRm: ['node.labels.x==y'] }],
    [['-u', 'nobody', '--limit-memory', '512M', '--limit-cpu', '0.5'], { user: 'nobody', limitMemory: '512M', limitCpu: '0.5' }],
    [['--update-parallelism', '0', '--update-order', 'stop-first', '--update-delay', '1m30s', '--update-monitor', '5s',
      '--update-failure-action', 'rollback', '--update-max-failure-ratio', '0.2'],
    { update: { parallelism: '0', order: 'stop-first', delay: '1m30s', monitor: '5s', failure_action: 'rollback', max_failure_ratio: '0.2' } }],
    [['--rollback-parallelism', '2', '--rollback-order', 'start-first'], { rollback: { parallelism: '2', order: 'start-first' } }],
    [['--restart-condition', 'on-failure', '--restart-delay', '2s', '--restart-max-attempts', '3', '--restart-window', '1m',
      '--restart-backoff', 'exponential', '--restart-max-delay', '30s'],
    { restartCondition: 'on-failure', restartDelay: '2s', restartMaxAttempts: '3', restartWindow: '1m', restartBackoff: 'exponential', restartMaxDelay: '30s' }],
    [['--force'], { force: true }],
    [['--node-down-grace', '2m'], { nodeDownGrace: '2m' }],
  ])('%j', async (argv, want) => {
    expect(await flagsOf(argv)).toEqual(want);
  });

  it.each([
    [['--replicas', '-1'], /Option '--replicas' argument is ambiguous/],
    [['--replicas=-1'], /--replicas must be an integer >= 0, got "-1"/],
    [['--replicas', '1e3'], /--replicas must be an integer >= 0, got "1e3"/],
    [['--replicas', '1001'], /--replicas must be at most 1000/],
    [['--image', ''], /--image must not be empty/],
    [['--node-down-grace', 'soon'], /--node-down-grace/],
    [['--env-add', 'NOVALUE'], /--env-add "NOVALUE": use KEY=VALUE/],
    [['--env-add', '=x'], /--env-add "=x": use KEY=VALUE/],
    [['--publish-add', '99999:80'], /--publish-add "99999:80"/],
    [['--publish-rm', 'http'], /--publish-rm "http": use PORT or PORT\/udp/],
    [['--publish-rm', '70000'], /--publish-rm "70000"/],
    [['--limit-memory', 'lots'], /--limit-memory must be a size/],
    [['--limit-cpu', '0'], /--limit-cpu must be a number greater than 0/],
    [['--limit-cpu', '-1'], /--limit-cpu/],
    [['--update-parallelism', 'two'], /--update-parallelism must be an integer >= 0, got "two"/],
    [['--update-delay', 'soon'], /--update-delay must be a duration/],
    [['--rollback-monitor', '5 minutes'], /--rollback-monitor must be a duration/],
    [['--update-order', 'random'], /--update-order must be stop-first or start-first/],
    [['--update-failure-action', 'ignore'], /--update-failure-action must be pause, continue or rollback/],
    [['--update-max-failure-ratio', '2'], /--update-max-failure-ratio must be a number between 0 and 1/],
    [['--restart-condition', 'always'], /--restart-condition must be none, on-failure or any/],
    [['--restart-max-attempts', '1.5'], /--restart-max-attempts must be an integer >= 0/],
    [['--restart-backoff', 'linear'], /--restart-backoff must be exponential or none/],
    [['--restart-window', 'x'], /--restart-window must be a duration/],
    [['--colour', 'red'], /Unknown option '--colour'/],
  ])('refuses %j', async (argv, msg) => {
    expect(await refusal(() => flagsOf(argv))).toMatch(msg);
  });
});

describe('service commands', () => {
  it.each([
    [['ls', ...H], { cmd: 'ls', host, stack: undefined, json: false }],
    [['list', '--stack', 's', '--format', 'json', ...H], { cmd: 'ls', host, stack: 's', json: true }],
    [['ps', 'a', 'b', '--no-trunc', '-f', 'desired-state=shutdown', ...H],
      { cmd: 'ps', host, services: ['a', 'b'], view: { json: false, noTrunc: true, filters: [{ desiredState: 'shutdown' }] } }],
    [['inspect', 'web', ...H], { cmd: 'inspect', host, services: ['web'] }],
    [['scale', 'a=1', 'b=0', '-d', ...H], { cmd: 'scale', host, targets: [{ ref: 'a', replicas: 1 }, { ref: 'b', replicas: 0 }], detach: true }],
    [['update', '--image', 'x', '--dry-run', 'web', ...H], { cmd: 'update', host, ref: 'web', flags: expect.objectContaining({ image: 'x' }), dryRun: true, detach: false, json: false, resolveImage: true }],
    [['update', '--image', 'x', '--no-resolve-image', 'web', ...H], { cmd: 'update', host, ref: 'web', flags: expect.objectContaining({ image: 'x' }), dryRun: false, detach: false, json: false, resolveImage: false }],
    [['rollback', 'web', '--detach', ...H], { cmd: 'rollback', host, ref: 'web', detach: true }],
    [['logs', 'web', ...H], { cmd: 'logs', host, ref: 'web', follow: false, tail: 'all', timestamps: false }],
    [['ls', '--consistent', ...H], { cmd: 'ls', host, stack: undefined, json: false, consistent: true }],
    [['ps', 'web', '--consistent', ...H], { cmd: 'ps', host, services: ['web'], view: { json: false, noTrunc: false, filters: [] }, consistent: true }],
    [['inspect', 'web', '--consistent', ...H], { cmd: 'inspect', host, services: ['web'], consistent: true }],
    [['logs', '-f', '-n', '10', '-t', 'web', ...H], { cmd: 'logs', host, ref: 'web', follow: true, tail: 10, timestamps: true }],
    [['ps', '--help'], { cmd: 'help' }],
    [['--help'], { cmd: 'help' }],
  ])('%j', async (argv, want) => {
    expect(await parseService(argv)).toEqual(want);
  });

  it.each([
    [['scale', ...H], /service scale needs SERVICE=REPLICAS/],
    [['scale', 'web=-1', ...H], /invalid scale specifier "web=-1"/],
    [['scale', 'web=ok', 'db=1e12', ...H], /"web=ok"/],
    [['scale', 'web=1', '--follow', ...H], /Unknown option '--follow'/],
    [['ps', ...H], /service ps needs a SERVICE/],
    [['ps', 'web', '--filter', 'colour=red', ...H], /unknown filter colour/],
    [['inspect', ...H], /service inspect needs a SERVICE/],
    [['update', ...H], /service update needs a SERVICE/],
    [['update', 'a', 'b', ...H], /too many arguments: b/],
    [['logs', ...H], /service logs needs a SERVICE/],
    [['logs', 'web', '--tail', 'abc', ...H], /--tail must be an integer >= 0, got "abc"/],
    [['ls', '--format', 'xml', ...H], /--format must be json or table/],
    [['ls', '--host', 'ftp://x'], /invalid --host "ftp:\/\/x"/],
    [['rm', 'web'], /unknown service command "rm"/],
    [['scale', 'web=1', '--consistent', ...H], /Unknown option '--consistent'/],
    [['logs', 'web', '--consistent', ...H], /Unknown option '--consistent'/],
    [[], /unknown service command ""/],
  ])('refuses %j', async (argv, msg) => {
    expect(await refusal(() => parseService(argv))).toMatch(msg);
  });
});

describe('stack commands', () => {
  it.each([
    [parseStack, ['ls', ...H], { cmd: 'ls', host, json: false }],
    [parseStack, ['ps', 'st', '-f', 'name=st_web', ...H], { cmd: 'ps', host, name: 'st', view: { json: false, noTrunc: false, filters: [{ name: 'st_web' }] } }],
    [parseStack, ['rm', 'a', 'b', '--volumes', ...H], { cmd: 'rm', host, names: ['a', 'b'], volumes: true, detach: false, timeoutMs: 300_000 }],
    [parseStack, ['down', 'a', ...H], { cmd: 'rm', host, names: ['a'], volumes: false, detach: false, timeoutMs: 300_000 }],
    [parseStack, ['rm', 'a', '-d', '--timeout', '30s', ...H], { cmd: 'rm', host, names: ['a'], volumes: false, detach: true, timeoutMs: 30_000 }],
    [parseStack, ['ls', '--consistent', ...H], { cmd: 'ls', host, json: false, consistent: true }],
    [parseStack, ['ps', 'st', '--consistent', ...H], { cmd: 'ps', host, name: 'st', view: { json: false, noTrunc: false, filters: [] }, consistent: true }],
    [parseDeploy, ['-c', 'a.yml', '-c', 'b.yml', 'st', ...H],
      { cmd: 'deploy', host, files: ['a.yml', 'b.yml'], name: 'st', detach: false, dryRun: false, timeoutMs: 300_000, json: false, noBuild: false, resolveImage: 'always' }],
    [parseDeploy, ['stack.yml', 'st', '--timeout', '90s', '-d', '--dry-run', '--format', 'json', ...H],
      { cmd: 'deploy', host, files: ['stack.yml'], name: 'st', detach: true, dryRun: true, timeoutMs: 90_000, json: true, noBuild: false, resolveImage: 'always' }],
    [parseDeploy, [...H], { cmd: 'deploy', host, files: [], name: undefined, detach: false, dryRun: false, timeoutMs: 300_000, json: false, noBuild: false, resolveImage: 'always' }],
    [parseConfig, ['-c', 'a.yml', 'b.yml'], { cmd: 'config', files: ['a.yml', 'b.yml'], format: 'yaml' }],
    [parseConfig, ['--format', 'json'], { cmd: 'config', files: [], format: 'json' }],
    [parseConfig, ['--profile', 'debug', '--profile', 'admin'], { cmd: 'config', files: [], format: 'yaml', profiles: ['debug', 'admin'] }],
    [parseDeploy, ['stack.yml', 'st', '--profile', 'debug', ...H],
      { cmd: 'deploy', host, files: ['stack.yml'], name: 'st', detach: false, dryRun: false, timeoutMs: 300_000, json: false, noBuild: false, resolveImage: 'always', profiles: ['debug'] }],
    [parseDeploy, ['stack.yml', '--profile', '*', ...H],
      { cmd: 'deploy', host, files: ['stack.yml'], name: undefined, detach: false, dryRun: false, timeoutMs: 300_000, json: false, noBuild: false, resolveImage: 'always', profiles: ['*'] }],
    [parseConfig, ['--env-file', 'prod.env', '--env-file', 'local.env'], { cmd: 'config', files: [], format: 'yaml', envFiles: ['prod.env', 'local.env'] }],
    [parseDeploy, ['stack.yml', 'st', '--env-file', 'prod.env', ...H],
      { cmd: 'deploy', host, files: ['stack.yml'], name: 'st', detach: false, dryRun: false, timeoutMs: 300_000, json: false, noBuild: false, resolveImage: 'always', envFiles: ['prod.env'] }],
    [parseDeploy, ['stack.yml', '--no-build', ...H],
      { cmd: 'deploy', host, files: ['stack.yml'], name: undefined, detach: false, dryRun: false, timeoutMs: 300_000, json: false, noBuild: true, resolveImage: 'always' }],
    [parseDeploy, ['stack.yml', '--resolve-image', 'never', ...H],
      { cmd: 'deploy', host, files: ['stack.yml'], name: undefined, detach: false, dryRun: false, timeoutMs: 300_000, json: false, noBuild: false, resolveImage: 'never' }],
    [parseBuild, ['-c', 'a.yml', 'web', 'api', '--no-cache'], { cmd: 'build', files: ['a.yml'], services: ['web', 'api'], name: undefined, noCache: true, pull: false }],
    [parseBuild, ['--stack', 'shop', '--pull', '--profile', 'dev', '--env-file', 'x.env'],
      { cmd: 'build', files: [], services: [], name: 'shop', noCache: false, pull: true, profiles: ['dev'], envFiles: ['x.env'] }],
  ] as const)('%#: %j', (parse, argv, want) => {
    expect((parse as (a: readonly string[]) => unknown)([...argv])).toEqual(want);
  });

  it.each([
    [parseStack, ['ps', ...H], /stack ps needs a STACK/],
    [parseStack, ['rm', ...H], /stack rm needs a STACK/],
    [parseStack, ['ls', 'extra', ...H], /stack ls takes no arguments/],
    [parseStack, ['ls', '--volumes', ...H], /Unknown option '--volumes'/],
    [parseStack, ['rm', 'st', '--consistent', ...H], /Unknown option '--consistent'/],
    [parseDeploy, ['a.yml', '--consistent', ...H], /Unknown option '--consistent'/],
    [parseStack, ['up', ...H], /unknown stack command "up" \(ls, ps, rm\)/],
    [parseDeploy, ['-c', 'a.yml', 'st', 'extra', ...H], /too many arguments: st extra/],
    [parseDeploy, ['a.yml', '--timeout', 'nonsense', ...H], /--timeout must be a duration.*"nonsense"/],
    [parseDeploy, ['a.yml', '--host', 'nowhere'], /invalid --host "nowhere"/],
    [parseConfig, ['--format', 'table'], /--format must be json or yaml/],
    [parseDeploy, ['a.yml', '--profile=-bad', ...H], /--profile must be a profile name.*"-bad"/],
    [parseConfig, ['--profile', 'a b'], /--profile must be a profile name/],
    [parseDeploy, ['a.yml', '--resolve-image', 'changed', ...H], /--resolve-image changed is not supported: use always .* or never/],
    [parseDeploy, ['a.yml', '--resolve-image', 'sometimes', ...H], /--resolve-image must be always or never, got "sometimes"/],
  ] as const)('refuses %#: %j', async (parse, argv, msg) => {
    expect(await refusal(() => (parse as (a: readonly string[]) => unknown)([...argv]))).toMatch(msg);
  });
});

describe('node and cluster commands', () => {
  it.each([
    [parseNode, ['ls', ...H], { cmd: 'ls', host, json: false }],
    [parseNode, ['inspect', 'self', 'n2', ...H], { cmd: 'inspect', host, nodes: ['self', 'n2'] }],
    [parseNode, ['ls', '--consistent', ...H], { cmd: 'ls', host, json: false, consistent: true }],
    [parseNode, ['inspect', 'n1', '--consistent', ...H], { cmd: 'inspect', host, nodes: ['n1'], consistent: true }],
    [parseNode, ['promote', 'n1', 'n2', ...H], { cmd: 'promote', host, nodes: ['n1', 'n2'] }],
    [parseNode, ['demote', 'n1', ...H], { cmd: 'demote', host, nodes: ['n1'] }],
    [parseNode, ['rm', 'n1', ...H], { cmd: 'rm', host, nodes: ['n1'], force: false }],
    [parseNode, ['remove', '-f', 'n1', 'n2', ...H], { cmd: 'rm', host, nodes: ['n1', 'n2'], force: true }],
    [parseNode, ['rm', '--force', 'n1', ...H], { cmd: 'rm', host, nodes: ['n1'], force: true }],
    [parseNode, ['demote', '--help'], { cmd: 'help' }],
    [parseNode, ['update', '--availability', 'drain', 'n1', ...H], { cmd: 'update', host, node: 'n1', update: { availability: 'drain' } }],
    [parseNode, ['update', '--label-add', 'zone=a', '--label-add', 'ssd', '--label-rm', 'old', 'n1', ...H],
      { cmd: 'update', host, node: 'n1', update: { labelAdd: ['zone=a', 'ssd'], labelRm: ['old'] } }],
    [parseCluster, ['inspect', ...H], { cmd: 'inspect', host }],
    [parseCluster, ['inspect', '--consistent', ...H], { cmd: 'inspect', host, consistent: true }],
    [parseCluster, ['status', ...H], { cmd: 'status', host, json: false }],
    [parseCluster, ['status', '--format', 'json', ...H], { cmd: 'status', host, json: true }],
    [parseCluster, ['join-token', 'worker', ...H], { cmd: 'join-token', host, role: 'worker', quiet: false, rotate: false, json: false }],
    [parseCluster, ['join-token', '-q', 'manager', ...H], { cmd: 'join-token', host, role: 'manager', quiet: true, rotate: false, json: false }],
    [parseCluster, ['join-token', '--rotate', '--quiet', 'manager', ...H], { cmd: 'join-token', host, role: 'manager', quiet: true, rotate: true, json: false }],
    [parseCluster, ['join-token', 'worker', '--format', 'json', ...H], { cmd: 'join-token', host, role: 'worker', quiet: false, rotate: false, json: true }],
    [parseCluster, ['backup', '/backups/c.bin', ...H], { cmd: 'backup', host, file: '/backups/c.bin', force: false }],
    [parseCluster, ['backup', '-f', 'c.bin', ...H], { cmd: 'backup', host, file: 'c.bin', force: true }],
    [parseCluster, ['backup', '-', ...H], { cmd: 'backup', host, file: '-', force: false }],
    [parseCluster, ['recover', ...H], { cmd: 'recover', host, json: false }],
    [parseCluster, ['recover', '--format', 'json', ...H], { cmd: 'recover', host, json: true }],
    [parseCluster, ['join-token', '--help'], { cmd: 'help' }],
    [parseCluster, ['update', '--task-history-limit', '3', '--format', 'json', ...H], { cmd: 'update', host, spec: { taskHistoryLimit: 3 }, json: true }],
    [parseCluster, ['update', '--help'], { cmd: 'help' }],
    [parseCluster, ['update', '--bind-allow', '/srv', '--bind-allow', '/data/app', ...H], { cmd: 'update', host, spec: { allowedBindPaths: ['/srv', '/data/app'] }, json: false }],
    [parseCluster, ['update', '--bind-allow-any', ...H], { cmd: 'update', host, spec: { allowedBindPaths: null }, json: false }],
  ] as const)('%#: %j', (parse, argv, want) => {
    expect((parse as (a: readonly string[]) => unknown)([...argv])).toEqual(want);
  });

  it.each([
    [parseNode, ['inspect', ...H], /node inspect needs a NODE/],
    [parseNode, ['drain', 'x', ...H], /unknown node command "drain" \(ls, inspect, update, promote, demote, rm\)/],
    [parseNode, ['update', '--availability', 'off', 'n1', ...H], /--availability must be active, pause or drain, got "off"/],
    [parseNode, ['update', '--label-add', '=x', 'n1', ...H], /--label-add "=x": a label key must not be empty/],
    [parseNode, ['update', '--label-add', 'a\tb=1', 'n1', ...H], /--label-add .*control characters/],
    [parseNode, ['update', '--label-rm', 'a=b', 'n1', ...H], /--label-rm takes a label KEY, got "a=b"/],
    [parseNode, ['update', 'n1', ...H], /node update needs --availability, --label-add or --label-rm/],
    [parseNode, ['update', '--availability', 'pause', ...H], /node update needs a NODE/],
    [parseNode, ['update', '--availability', 'pause', 'n1', 'n2', ...H], /node update takes one NODE, got n1 n2/],
    [parseNode, ['promote', ...H], /node promote needs a NODE/],
    [parseNode, ['demote', ...H], /node demote needs a NODE/],
    [parseNode, ['rm', ...H], /node rm needs a NODE/],
    [parseNode, ['demote', 'n1', '--force', ...H], /Unknown option '--force'/],
    [parseNode, ['rm', 'n1', '--consistent', ...H], /Unknown option '--consistent'/],
    [parseNode, ['ls', 'n1', ...H], /node ls takes no arguments, got n1/],
    [parseNode, ['toString', ...H], /unknown node command "toString"/],
    [parseCluster, ['update', ...H], /cluster update needs a setting/],
    [parseCluster, ['update', '--task-history-limit=-1', ...H], /--task-history-limit must be an integer >= 0, got "-1"/],
    [parseCluster, ['update', '--task-history-limit', 'lots', ...H], /--task-history-limit must be an integer >= 0, got "lots"/],
    [parseCluster, ['inspect', '--task-history-limit', '3', ...H], /Unknown option '--task-history-limit'/],
    [parseCluster, ['reset', ...H], /unknown cluster command "reset" \(inspect, update, status, join-token, backup, recover, client-cert, unlock-key, ca\)/],
    [parseCluster, [], /unknown cluster command ""/],
    [parseCluster, ['status', 'now', ...H], /cluster status takes no arguments, got now/],
    [parseCluster, ['status', '--consistent', ...H], /Unknown option '--consistent'/],
    [parseCluster, ['status', '--format', 'yaml', ...H], /--format must be json or table, got "yaml"/],
    [parseCluster, ['join-token', ...H], /cluster join-token needs a ROLE: worker or manager/],
    [parseCluster, ['join-token', 'admin', ...H], /ROLE must be worker or manager, got "admin"/],
    [parseCluster, ['join-token', 'worker', 'manager', ...H], /too many arguments: manager/],
    [parseCluster, ['join-token', '-q', '--format', 'json', 'worker', ...H], /--quiet and --format json exclude each other/],
    [parseCluster, ['join-token', 'worker', '--force', ...H], /Unknown option '--force'/],
    [parseCluster, ['backup', ...H], /cluster backup needs a FILE \(- for stdout\)/],
    [parseCluster, ['backup', 'a', 'b', ...H], /too many arguments: b/],
    [parseCluster, ['backup', 'a', '--format', 'json', ...H], /--format json does not apply/],
    [parseCluster, ['backup', '-', '--force', ...H], /--force replaces a FILE: it does not apply to - \(stdout\)/],
    [parseCluster, ['backup', 'a', '--host', 'ftp://x'], /invalid --host "ftp:\/\/x"/],
    [parseCluster, ['recover', 'now', ...H], /cluster recover takes no arguments, got now/],
    [parseCluster, ['update', '--bind-allow', 'srv', ...H], /--bind-allow takes absolute host paths, got "srv"/],
    [parseCluster, ['update', '--bind-allow', '/srv', '--bind-allow-any', ...H], /exclude each other/],
  ] as const)('refuses %#: %j', async (parse, argv, msg) => {
    expect(await refusal(() => (parse as (a: readonly string[]) => unknown)([...argv]))).toMatch(msg);
  });
});
