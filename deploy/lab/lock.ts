// One lab command at a time: the lab has fixed names (one lab per machine), and two commands at
// once (an `up` while a `down` runs) would tear each other's hosts apart. The lock is a
// directory (mkdir is atomic) holding the owner's pid; a lock whose owner is gone is taken over.
// Tests and benchmarks that drive the lab through lab.ts serialize on their own
// (`flock /tmp/tsswarm-lab.lock`); this guards the command line.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LAB_LOCK_DIR = '/run/tsswarm-lab.lock';

/** Is process `pid` alive? (EPERM: it is, and not ours.) */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function owner(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dir, 'pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Take the lab's lock for `what` (e.g. "up"); returns its release. Throws, naming the other
 * command's pid, when a live one holds it.
 */
export function takeLabLock(what: string, dir = LAB_LOCK_DIR): () => void {
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'pid'), `${process.pid}\n`);
      writeFileSync(join(dir, 'command'), `${what}\n`);
      return () => { if (owner(dir) === process.pid) rmSync(dir, { recursive: true, force: true }); };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = owner(dir);
      if (pid !== undefined && alive(pid)) {
        let cmd = '';
        try { cmd = readFileSync(join(dir, 'command'), 'utf8').trim(); } catch { /* gone meanwhile */ }
        throw new Error(`another lab command${cmd ? ` (${cmd})` : ''} is running (pid ${pid}); wait for it to end`);
      }
      // Its owner died (or is just writing its pid: give it a moment once).
      if (pid === undefined && attempt === 0) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
        continue;
      }
      if (attempt > 2) throw new Error(`cannot take the lab's lock ${dir}`);
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
