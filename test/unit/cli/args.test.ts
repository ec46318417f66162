// The command line's value parsers: what they accept, and what they refuse (with the flag named
// and TSW_ERR_INVALID_ARGUMENT).

import { describe, expect, it } from 'vitest';
import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import { LIMITS } from '../../../common/api/limits.js';
import {
  choiceArg, durationArg, filterArgs, formatArg, historyLimitArg, hostArg, intArg, numberArg, parseArgs, scaleArg, sizeArg, tailArg,
} from '../../../cli/args.js';

/** The TsswarmError `fn` throws (sync or async). */
async function refusal(fn: () => unknown): Promise<TsswarmError> {
  try { await fn(); } catch (e) {
    expect(e).toBeInstanceOf(TsswarmError);
    expect((e as TsswarmError).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    return e as TsswarmError;
  }
  throw new Error('expected a refusal');
}

describe('scaleArg', () => {
  it.each([
    ['web=0', { ref: 'web', replicas: 0 }],
    ['web=3', { ref: 'web', replicas: 3 }],
    ['st_web=1000', { ref: 'st_web', replicas: LIMITS.replicas }],
  ])('%s', (arg, want) => {
    expect(scaleArg(arg)).toEqual(want);
  });

  it.each([
    ['web=-1', /"web=-1": replicas must be an integer >= 0, got "-1"/],
    ['web=1e12', /"web=1e12": replicas must be an integer >= 0, got "1e12"/],
    ['web=abc', /"web=abc".*got "abc"/],
    ['web=', /"web=".*got ""/],
    ['web=1.5', /got "1.5"/],
    ['web= 2', /got " 2"/],
    ['web=0x10', /got "0x10"/],
    [`web=${LIMITS.replicas + 1}`, new RegExp(`at most ${LIMITS.replicas} \\(the replicas limit\\), got ${LIMITS.replicas + 1}`)],
    ['web=99999999999999999999', /must be an integer >= 0/],
    ['a=b=2', /"a=b=2".*got "b=2"/],
    ['web', /invalid scale specifier "web": use SERVICE=REPLICAS/],
    ['=3', /invalid scale specifier "=3": use SERVICE=REPLICAS/],
  ])('refuses %s', async (arg, msg) => {
    expect((await refusal(() => scaleArg(arg))).message).toMatch(msg);
  });
});

describe('number, duration and size arguments', () => {
  it.each([
    [() => intArg('--n', '0'), 0],
    [() => intArg('--n', '42', { max: 42 }), 42],
    [() => numberArg('--r', '0.5', { max: 1 }), 0.5],
    [() => numberArg('--r', '.25', { max: 1 }), 0.25],
    [() => numberArg('--cpu', '1.5', { exclusiveMin: true }), 1.5],
    [() => durationArg('--timeout', '1m30s'), 90_000],
    [() => durationArg('--timeout', '500ms'), 500],
    [() => durationArg('--timeout', '5'), 5000],
    [() => tailArg('all'), 'all'],
    [() => tailArg('20'), 20],
    [() => historyLimitArg('0'), 0],
    [() => choiceArg('--order', 'start-first', ['stop-first', 'start-first']), 'start-first'],
  ])('accepts %#', (fn, want) => {
    expect(fn()).toEqual(want);
  });

  it.each([
    [() => intArg('--n', '-1'), /--n must be an integer >= 0, got "-1"/],
    [() => intArg('--n', '43', { max: 42 }), /--n must be at most 42, got 43/],
    [() => numberArg('--r', '1.5', { max: 1 }), /--r must be a number between 0 and 1, got "1.5"/],
    [() => numberArg('--r', 'NaN', { max: 1 }), /--r must be a number/],
    [() => numberArg('--cpu', '0', { exclusiveMin: true }), /--cpu must be a number greater than 0, got "0"/],
    [() => numberArg('--cpu', 'Infinity', { exclusiveMin: true }), /--cpu/],
    [() => durationArg('--timeout', 'nonsense'), /--timeout must be a duration such as 30s.*got "nonsense"/],
    [() => durationArg('--timeout', '-5s'), /--timeout must be a duration/],
    [() => durationArg('--timeout', `${'9'.repeat(400)}h`), /--timeout is too long a duration/],
    [() => tailArg('abc'), /--tail must be an integer >= 0, got "abc"/],
    [() => tailArg('-3'), /--tail must be an integer >= 0/],
    [() => historyLimitArg('-1'), /--task-history-limit must be an integer >= 0, got "-1"/],
    [() => historyLimitArg('2.5'), /--task-history-limit must be an integer >= 0, got "2.5"/],
    [() => choiceArg('--order', 'random', ['stop-first', 'start-first']), /--order must be stop-first or start-first, got "random"/],
    [() => formatArg('xml'), /--format must be json or table, got "xml"/],
    [() => formatArg('table', 'yaml'), /--format must be json or yaml, got "table"/],
  ])('refuses %#', async (fn, msg) => {
    expect((await refusal(fn)).message).toMatch(msg);
  });

  it('reads sizes as the stack files do, and refuses what does not fit in a number of bytes', async () => {
    expect(await sizeArg('--limit-memory', '512m')).toBe(512 * 1024 ** 2);
    expect(await sizeArg('--limit-memory', '1GiB')).toBe(1024 ** 3);
    expect((await refusal(() => sizeArg('--limit-memory', 'lots'))).message).toMatch(/--limit-memory must be a size such as 512M or 1G, got "lots"/);
    expect((await refusal(() => sizeArg('--limit-memory', `${'9'.repeat(30)}p`))).message).toMatch(/--limit-memory is too large a size/);
  });
});

describe('filterArgs', () => {
  it.each([
    [undefined, []],
    [['desired-state=running'], [{ desiredState: 'running' }]],
    [['name=web.1', 'node=abc'], [{ name: 'web.1' }, { node: 'abc' }]],
  ])('%j', (list, want) => {
    expect(filterArgs(list)).toEqual(want);
  });

  it.each([
    [['colour=red'], /unknown filter colour \(desired-state, name, node\)/],
    [['desired-state=sleeping'], /--filter desired-state must be .* got "sleeping"/],
    [['name='], /--filter "name=": use name=VALUE/],
    [['node'], /--filter "node": use node=VALUE/],
  ])('refuses %j', async (list, msg) => {
    expect((await refusal(() => filterArgs(list))).message).toMatch(msg);
  });
});

describe('hostArg', () => {
  it.each([
    ['unix:///run/tsswarm.sock', {}, { socketPath: '/run/tsswarm.sock', display: 'unix:///run/tsswarm.sock' }],
    ['/run/tsswarm.sock', {}, { socketPath: '/run/tsswarm.sock', display: 'unix:///run/tsswarm.sock' }],
    ['http://127.0.0.1:2377', {}, { host: '127.0.0.1', port: 2377, display: 'http://127.0.0.1:2377' }],
    ['http://manager', {}, { host: 'manager', port: 80, display: 'http://manager' }],
    [undefined, { TSSWARM_HOST: 'unix:///from/env.sock' }, { socketPath: '/from/env.sock', display: 'unix:///from/env.sock' }],
  ] as const)('%s', (flag, env, want) => {
    expect(hostArg(flag, env)).toEqual(want);
  });

  it('falls back to the socket of the default data dir', () => {
    expect(hostArg(undefined, {}).socketPath).toMatch(/tsswarm\.sock$/);
  });

  it.each([
    ['tcp://manager:2377', {}, /invalid --host "tcp:\/\/manager:2377": use unix:\/\/\/path/],
    ['unix://relative.sock', {}, /invalid --host .*absolute path/],
    ['unix:///run/', {}, /names a folder/],
    ['unix:///run/a\nb.sock', {}, /control characters/],
    ['http://a:99999', {}, /invalid --host "http:\/\/a:99999": not a URL/],
    ['http://u:p@a:1', {}, /credentials/],
    ['http://a:1/v1', {}, /without a path/],
    ['https://a:1', {}, /https:\/\/a:1: an https:\/\/ manager is reached with a client certificate .*missing --tlscacert, --tlscert, --tlskey/],
    ['', {}, /invalid --host ""/],
    [undefined, { TSSWARM_HOST: 'nonsense' }, /invalid TSSWARM_HOST "nonsense"/],
  ] as const)('refuses %j', async (flag, env, msg) => {
    expect((await refusal(() => hostArg(flag, env))).message).toMatch(msg);
  });
});

describe('parseArgs', () => {
  it('adds the common options and keeps positionals', () => {
    expect(parseArgs(['-H', '/s', 'a', '--format', 'json', 'b'], {})).toEqual({ values: { host: '/s', format: 'json' }, positionals: ['a', 'b'] });
  });

  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['--format'], /--format/],
    [['--help=yes'], /--help/],
    [['--format', 'x'.repeat(LIMITS.stringLength + 1)], /--format is longer than/],
    [['y'.repeat(LIMITS.stringLength + 1)], /is longer than/],
  ])('refuses %#', async (argv, msg) => {
    expect((await refusal(() => parseArgs(argv, {}))).message).toMatch(msg);
  });
});
