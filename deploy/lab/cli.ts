// `npm run lab -- COMMAND`: the lab's command (docs/lab.md). Parsing is args.ts; the work is lab.ts.

import { LAB_USAGE, LabUsageError, parseLabArgs, type LabCommand } from './args.js';
import * as lab from './lab.js';
import { takeLabLock } from './lock.js';
import { statusJson, statusTable } from './plan.js';

const say = (l: string): void => { process.stderr.write(`[lab] ${l}\n`); };

async function runCommand(c: LabCommand): Promise<void> {
  switch (c.cmd) {
    case 'help': process.stdout.write(LAB_USAGE); return;
    case 'up': {
      const t0 = Date.now();
      const hs = await lab.up({ managers: c.managers, workers: c.workers, tsswarm: c.tsswarm, log: say });
      say(`lab up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${hs.map((h) => `${h.name} ${h.addr}`).join(', ')}`);
      const s = await lab.status();
      process.stdout.write(statusTable(s.hosts, s.tsswarmHost, s.enginesOnly));
      return;
    }
    case 'down': await lab.down({ log: say }); say('lab removed'); return;
    case 'status': {
      const s = await lab.status();
      process.stdout.write(c.json ? statusJson(s.hosts, s.tsswarmHost, s.enginesOnly) : statusTable(s.hosts, s.tsswarmHost, s.enginesOnly));
      return;
    }
    case 'kill': await lab.kill(c.host); say(`${c.host}: killed (engine, containers, tsswarm)`); return;
    case 'start': await lab.start(c.host); say(`${c.host}: engine and tsswarm started`); return;
    case 'stop-tsswarm': await lab.stopTsswarm(c.host); say(`${c.host}: tsswarm killed`); return;
    case 'start-tsswarm': await lab.startTsswarm(c.host); say(`${c.host}: tsswarm started`); return;
    case 'stop-engine': await lab.stopEngine(c.host); say(`${c.host}: engine stopped`); return;
    case 'start-engine': await lab.startEngine(c.host); say(`${c.host}: engine started`); return;
    case 'partition':
      await lab.partition(c.host, c.from ? { from: c.from } : {});
      say(c.from ? `${c.host}: packets from ${c.from} dropped` : `${c.host}: partitioned off the lab network`);
      return;
    case 'heal': await lab.heal(c.host); say(`${c.host}: healed`); return;
    case 'slow':
      await lab.slow(c.host, c.delay);
      say(c.delay === 'off' ? `${c.host}: no delay` : `${c.host}: ${c.delay} delay on what it sends`);
      return;
  }
}

async function main(argv: string[]): Promise<number> {
  let c: LabCommand;
  try {
    c = parseLabArgs(argv);
  } catch (e) {
    if (e instanceof LabUsageError) { process.stderr.write(`lab: ${e.message}\n(npm run lab -- help)\n`); return 2; }
    throw e;
  }
  let release: (() => void) | undefined;
  try {
    // Everything but reading waits for no one: a second command at once is refused.
    if (c.cmd !== 'help' && c.cmd !== 'status') release = takeLabLock(c.cmd);
    await runCommand(c);
    return 0;
  } catch (e) {
    process.stderr.write(`lab: ${(e as Error).message}\n`);
    return 1;
  } finally {
    release?.();
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e: unknown) => { console.error(e); process.exit(1); });
