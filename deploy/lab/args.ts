// `npm run lab -- COMMAND …`: the command line, parsed into one value (pure; cli.ts runs it).

import { checkDelay, MAX_MANAGERS, MAX_WORKERS } from './plan.js';

export type LabCommand =
  | { cmd: 'up'; managers: number; workers: number; tsswarm: boolean }
  | { cmd: 'down' }
  | { cmd: 'status'; json: boolean }
  | { cmd: 'kill' | 'start' | 'heal' | 'stop-tsswarm' | 'start-tsswarm' | 'stop-engine' | 'start-engine'; host: string }
  | { cmd: 'partition'; host: string; from?: string }
  | { cmd: 'slow'; host: string; delay: string }
  | { cmd: 'help' };

export const LAB_USAGE = `Usage: npm run lab -- COMMAND   (as root)

A lab of Docker hosts on this machine: each host a network namespace on the bridge tsswlab0
(10.213.0.0/24) with its own hostname, dockerd and tsswarm manager or agent.

  up [--managers N] [--workers N] [--engines-only]
                       build the lab (default 3 managers lab-m1.., 2 workers lab-w1..), removing
                       what an earlier lab left; --engines-only: dockerds without tsswarm
  down                 remove everything the lab made (idempotent)
  status [--format json]
                       each host: address, engine, tsswarm, faults; and a live manager's socket
  kill HOST            power loss: SIGKILL its dockerd, containerd, containers and tsswarm
  start HOST           power back: its dockerd, then its tsswarm from its data dir
  stop-tsswarm HOST | start-tsswarm HOST
                       only its tsswarm daemon (SIGKILL; start again from its data dir)
  stop-engine HOST | start-engine HOST
                       only its dockerd (SIGTERM: it stops its containers first)
  partition HOST [--from HOST2]
                       cut HOST off the lab network both ways (--from: drop only HOST2 → HOST)
  heal HOST            undo partition
  slow HOST DELAY      delay what HOST sends by DELAY (netem: 200ms, 1s); slow HOST off
  help                 this text

Use a host: eval "$(npm run --silent lab -- status | tail -1)"; DOCKER_HOST per host is
unix:///run/tsswarm-lab/HOST/docker.sock. See docs/lab.md.
`;

export class LabUsageError extends Error {}

const bad = (m: string): never => { throw new LabUsageError(m); };

function count(flag: string, v: string | undefined, min: number, max: number): number {
  if (v === undefined) bad(`${flag} needs a number`);
  if (!/^\d+$/.test(v!) || Number(v) < min || Number(v) > max) bad(`${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return Number(v);
}

const HOST_COMMANDS = ['kill', 'start', 'heal', 'stop-tsswarm', 'start-tsswarm', 'stop-engine', 'start-engine'] as const;

export function parseLabArgs(argv: string[]): LabCommand {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') return { cmd: 'help' };
  if (rest.includes('--help') || rest.includes('-h')) return { cmd: 'help' };
  switch (cmd) {
    case 'up': {
      const out = { cmd: 'up' as const, managers: 3, workers: 2, tsswarm: true };
      for (let i = 0; i < rest.length; i++) {
        const a = rest[i];
        const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
        if (flag === '--managers') out.managers = count('--managers', inline ?? rest[++i], 1, MAX_MANAGERS);
        else if (flag === '--workers') out.workers = count('--workers', inline ?? rest[++i], 0, MAX_WORKERS);
        else if (a === '--engines-only') out.tsswarm = false;
        else bad(`up: unknown argument ${JSON.stringify(a)} (--managers N, --workers N, --engines-only)`);
      }
      return out;
    }
    case 'down':
      if (rest.length) bad(`down takes no arguments, got ${rest.join(' ')}`);
      return { cmd: 'down' };
    case 'status': {
      let json = false;
      for (let i = 0; i < rest.length; i++) {
        const a = rest[i];
        const v = a === '--format' ? rest[++i] : a.startsWith('--format=') ? a.slice(9) : bad(`status: unknown argument ${JSON.stringify(a)} (--format json)`);
        if (v !== 'json' && v !== 'table') bad(`--format must be json or table, got ${JSON.stringify(v ?? '')}`);
        json = v === 'json';
      }
      return { cmd: 'status', json };
    }
    case 'partition': {
      let host: string | undefined;
      let from: string | undefined;
      for (let i = 0; i < rest.length; i++) {
        const a = rest[i];
        if (a === '--from') from = rest[++i] ?? bad('--from needs a HOST');
        else if (a.startsWith('--from=')) from = a.slice(7);
        else if (a.startsWith('-')) bad(`partition: unknown argument ${JSON.stringify(a)} (--from HOST)`);
        else if (host === undefined) host = a;
        else bad(`partition takes one HOST, got also ${JSON.stringify(a)}`);
      }
      if (!host) bad('partition needs a HOST');
      if (from === '') bad('--from needs a HOST');
      return from === undefined ? { cmd: 'partition', host: host! } : { cmd: 'partition', host: host!, from };
    }
    case 'slow': {
      if (rest.length !== 2) bad('slow needs HOST DELAY (e.g. slow lab-w1 200ms, or slow lab-w1 off)');
      const [host, d] = rest;
      if (d !== 'off') {
        try { checkDelay(d); } catch (e) { bad(`slow: ${(e as Error).message}`); }
      }
      return { cmd: 'slow', host, delay: d };
    }
    default:
      if ((HOST_COMMANDS as readonly string[]).includes(cmd)) {
        if (rest.length !== 1 || rest[0].startsWith('-')) bad(`${cmd} needs exactly one HOST (e.g. ${cmd} lab-w1)`);
        return { cmd: cmd as (typeof HOST_COMMANDS)[number], host: rest[0] };
      }
      return bad(`unknown command ${JSON.stringify(cmd)} (up, down, status, kill, start, partition, heal, slow, help)`);
  }
}
