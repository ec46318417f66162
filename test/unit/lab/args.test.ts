// `npm run lab -- …`: every command's arguments, and errors that name the bad one.

import { describe, expect, it } from 'vitest';
import { parseLabArgs } from '../../../deploy/lab/args.js';

describe('lab command line', () => {
  it.each([
    [[], { cmd: 'help' }],
    [['help'], { cmd: 'help' }],
    [['up', '--help'], { cmd: 'help' }],
    [['up'], { cmd: 'up', managers: 3, workers: 2, tsswarm: true }],
    [['up', '--managers', '1', '--workers=0'], { cmd: 'up', managers: 1, workers: 0, tsswarm: true }],
    [['up', '--engines-only', '--workers', '4'], { cmd: 'up', managers: 3, workers: 4, tsswarm: false }],
    [['down'], { cmd: 'down' }],
    [['status'], { cmd: 'status', json: false }],
    [['status', '--format', 'json'], { cmd: 'status', json: true }],
    [['status', '--format=table'], { cmd: 'status', json: false }],
    [['kill', 'lab-w1'], { cmd: 'kill', host: 'lab-w1' }],
    [['start', 'lab-m2'], { cmd: 'start', host: 'lab-m2' }],
    [['stop-engine', 'lab-w1'], { cmd: 'stop-engine', host: 'lab-w1' }],
    [['start-tsswarm', 'lab-w1'], { cmd: 'start-tsswarm', host: 'lab-w1' }],
    [['partition', 'lab-w1'], { cmd: 'partition', host: 'lab-w1' }],
    [['partition', 'lab-w1', '--from', 'lab-m1'], { cmd: 'partition', host: 'lab-w1', from: 'lab-m1' }],
    [['partition', '--from=lab-m1', 'lab-w1'], { cmd: 'partition', host: 'lab-w1', from: 'lab-m1' }],
    [['heal', 'lab-w1'], { cmd: 'heal', host: 'lab-w1' }],
    [['slow', 'lab-w1', '200ms'], { cmd: 'slow', host: 'lab-w1', delay: '200ms' }],
    [['slow', 'lab-w1', 'off'], { cmd: 'slow', host: 'lab-w1', delay: 'off' }],
  ])('%j', (argv, want) => {
    expect(parseLabArgs(argv)).toEqual(want);
  });

  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['up', '--managers', '0'], /--managers must be a whole number from 1 to 9, got "0"/],
    [['up', '--managers'], /--managers needs a number/],
    [['up', '--workers', 'two'], /--workers must be a whole number from 0 to 50, got "two"/],
    [['up', '--nodes', '3'], /up: unknown argument "--nodes"/],
    [['down', 'now'], /down takes no arguments/],
    [['status', '--format', 'yaml'], /--format must be json or table, got "yaml"/],
    [['status', '-q'], /status: unknown argument "-q"/],
    [['kill'], /kill needs exactly one HOST/],
    [['kill', 'lab-w1', 'lab-w2'], /kill needs exactly one HOST/],
    [['partition'], /partition needs a HOST/],
    [['partition', 'lab-w1', '--from'], /--from needs a HOST/],
    [['partition', 'lab-w1', 'lab-w2'], /partition takes one HOST, got also "lab-w2"/],
    [['partition', 'lab-w1', '--to', 'x'], /partition: unknown argument "--to"/],
    [['slow', 'lab-w1'], /slow needs HOST DELAY/],
    [['slow', 'lab-w1', 'fast'], /delay must be like 200ms.*got "fast"/],
  ])('refuses %j', (argv, msg) => {
    expect(() => parseLabArgs(argv)).toThrow(msg);
  });
});
