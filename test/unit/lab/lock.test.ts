// The lab's command lock (deploy/lab/lock.ts): one lab command at a time, a dead owner's lock
// taken over.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { takeLabLock } from '../../../deploy/lab/lock.js';

describe('the lab lock', () => {
  const root = mkdtempSync(join(tmpdir(), 'tsw-lablock-'));
  const dir = join(root, 'lock');
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is taken once; a second command is refused naming the first; released, it is free again', () => {
    const release = takeLabLock('up', dir);
    expect(readFileSync(join(dir, 'pid'), 'utf8').trim()).toBe(String(process.pid));
    expect(() => takeLabLock('down', dir)).toThrow(`another lab command (up) is running (pid ${process.pid}); wait for it to end`);
    release();
    expect(existsSync(dir)).toBe(false);
    takeLabLock('down', dir)();
  });

  it('a lock whose owner is gone is taken over', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid!;
    await new Promise((r) => child.once('exit', r));
    mkdirSync(dir);
    writeFileSync(join(dir, 'pid'), `${pid}\n`);
    const release = takeLabLock('up', dir);
    expect(readFileSync(join(dir, 'pid'), 'utf8').trim()).toBe(String(process.pid));
    release();
  });

  it('a lock without a pid (its owner died between mkdir and writing it) is taken over after a moment', () => {
    mkdirSync(dir);
    const release = takeLabLock('up', dir);
    expect(readFileSync(join(dir, 'command'), 'utf8').trim()).toBe('up');
    release();
  });

  it('a release does not remove a lock another process took over', () => {
    const release = takeLabLock('up', dir);
    writeFileSync(join(dir, 'pid'), '1\n');
    release();
    expect(existsSync(dir)).toBe(true);
  });
});
