import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { secureDataDir } from '../../../manager/datadir.js';
import { startManager } from '../../../manager/main.js';

const dirs: string[] = [];
const tmp = (): string => { const d = mkdtempSync(join(tmpdir(), 'tsswarm-datadir-')); dirs.push(d); return d; };
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);

/** What an operator may have left: a world-readable dir with a world-readable file in it. */
function loosen(dir: string): void {
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'notes.txt'), 'x');
  chmodSync(join(dir, 'notes.txt'), 0o644);
}

function recordingLog(): { log: pino.Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { records.push(JSON.parse(String(chunk)) as Record<string, unknown>); cb(); } });
  return { log: pino({ level: 'info' }, stream), records };
}

describe('data dir permissions', () => {
  it('secureDataDir makes dirs 0700 and files 0600, below too, without following links', () => {
    const d = tmp();
    const outside = tmp();
    chmodSync(outside, 0o755);
    loosen(d);
    mkdirSync(join(d, 'store'), { mode: 0o755 });
    writeFileSync(join(d, 'store', 'wal.log'), '', { mode: 0o644 });
    symlinkSync(outside, join(d, 'link'));
    const changed = secureDataDir(d).map((t) => [t.path.slice(d.length), t.from.toString(8), t.to.toString(8)]);
    expect(changed).toEqual([['', '755', '700'], ['/notes.txt', '644', '600'], ['/store', '755', '700'], ['/store/wal.log', '644', '600']]);
    expect(mode(outside)).toBe('755');
    expect(secureDataDir(d)).toEqual([]);
  });

  it('manager --init on an existing 0755 dir, and every start after, leave everything private', async () => {
    const d = tmp();
    loosen(d);
    const first = recordingLog();
    let m = await startManager({ dataDir: d, init: true, log: first.log, listenAddr: '127.0.0.1:0' });
    const expectPrivate = () => {
      const wal = readdirSync(join(d, 'raft', 'wal')).filter((f) => f.endsWith('.wal')).map((f) => `raft/wal/${f}`);
      expect(wal.length).toBeGreaterThan(0);
      expect([d, join(d, 'raft'), join(d, 'raft', 'wal'), join(d, 'raft', 'snap')].map(mode)).toEqual(['700', '700', '700', '700']);
      const files = ['notes.txt', 'cluster.json', 'manager.pid', ...wal, 'dispatcher.sock', 'tsswarm.sock'];
      expect(files.map((f) => [f, mode(join(d, f))])).toEqual(files.map((f) => [f, '600']));
    };
    try { expectPrivate(); } finally { await m.close(); }
    expect(first.records.filter((r) => r.msg === 'data dir permissions tightened').map((r) => [String(r.path).slice(d.length), r.from, r.to]))
      .toEqual([['', '755', '700'], ['/notes.txt', '644', '600']]);

    // Restored from a backup with loose modes: the next start tightens them again.
    loosen(d);
    chmodSync(join(d, 'raft'), 0o755);
    const seg = join('raft', 'wal', readdirSync(join(d, 'raft', 'wal')).find((f) => f.endsWith('.wal'))!);
    chmodSync(join(d, seg), 0o644);
    const second = recordingLog();
    m = await startManager({ dataDir: d, init: false, log: second.log });
    try { expectPrivate(); } finally { await m.close(); }
    expect(second.records.filter((r) => r.msg === 'data dir permissions tightened').map((r) => String(r.path).slice(d.length)))
      .toEqual(['', '/notes.txt', '/raft', `/${seg}`]);
  });
});
