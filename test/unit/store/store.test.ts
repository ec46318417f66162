import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileLog } from '../../../manager/store/file-log.js';
import { Store } from '../../../manager/store/store.js';
import type { NetworkObj } from '../../../manager/store/types.js';

const dirs: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'tsswarm-store-')); dirs.push(d); return d; };
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

const net = (id: string, name = id): NetworkObj => ({
  kind: 'network', id, name, stack: 's', meta: { version: 0, createdAt: 0, updatedAt: 0 },
  spec: { driver: 'bridge', external: false, labels: {}, driver_opts: {} },
});

async function open(dir: string, snapshotEvery?: number): Promise<Store> {
  const s = new Store(new FileLog(dir), { snapshotEvery });
  await s.open();
  return s;
}

describe('Store', () => {
  it('applies a batch atomically and stamps versions with the log index', async () => {
    const s = await open(tmp());
    await s.update((tx) => { tx.create(net('a')); tx.create(net('b')); });
    const a = s.view((tx) => tx.get('network', 'a'))!;
    expect(a.meta.version).toBe(1);
    expect(s.view((tx) => tx.list('network')).length).toBe(2);
  });

  it('rejects a stale compare-and-set and applies nothing of that batch', async () => {
    const s = await open(tmp());
    await s.update((tx) => tx.create(net('a')));
    const stale = s.view((tx) => tx.get('network', 'a'))!;
    await s.update((tx) => tx.update({ ...stale, name: 'changed' }));
    await expect(s.update((tx) => { tx.create(net('c')); tx.update({ ...stale, name: 'again' }); })).rejects.toMatchObject({ code: 'TSW_ERR_CONFLICT' });
    expect(s.view((tx) => tx.get('network', 'c'))).toBeUndefined();
    expect(s.view((tx) => tx.get('network', 'a'))!.name).toBe('changed');
  });

  it('reads its own writes inside a transaction', async () => {
    const s = await open(tmp());
    const seen = await s.update((tx) => { tx.create(net('a')); return tx.list('network').length; });
    expect(seen).toBe(1);
  });

  it('emits events after apply', async () => {
    const s = await open(tmp());
    const got: string[] = [];
    s.watch((evs) => got.push(...evs.map((e) => `${e.op}:${e.obj.id}`)));
    await s.update((tx) => tx.create(net('a')));
    await s.update((tx) => tx.delete('network', 'a'));
    expect(got).toEqual(['create:a', 'delete:a']);
  });

  it('recovers the same state after reopen, across snapshots', async () => {
    const dir = tmp();
    const s = await open(dir, 3);
    for (let i = 0; i < 10; i++) await s.update((tx) => tx.create(net(`n${i}`)));
    await s.update((tx) => tx.delete('network', 'n4'));
    const before = s.state();
    await s.close();
    const r = await open(dir, 3);
    expect(r.state()).toEqual(before);
    expect(r.index).toBe(11);
  });

  it('cuts a torn last record (never acknowledged) and keeps the rest', async () => {
    const dir = tmp();
    const s = await open(dir);
    for (let i = 0; i < 3; i++) await s.update((tx) => tx.create(net(`n${i}`)));
    await s.close();
    const wal = join(dir, 'wal.log');
    const size = statSync(wal).size;
    for (let cut = 1; cut < 40; cut++) {
      const copy = tmp();
      writeFileSync(join(copy, 'wal.log'), readFileSync(wal).subarray(0, size - cut));
      const r = await open(copy);
      expect(r.view((tx) => tx.list('network')).map((n) => n.id).sort()).toEqual(['n0', 'n1']);
      await r.close();
    }
    appendFileSync(wal, Buffer.from([0, 0, 0]));
    const r = await open(dir);
    expect(r.view((tx) => tx.list('network')).length).toBe(3);
    await r.update((tx) => tx.create(net('after')));
    await r.close();
    expect((await open(dir)).view((tx) => tx.list('network')).length).toBe(4);
  });

  it('refuses to start when a middle record is corrupt', async () => {
    const dir = tmp();
    const s = await open(dir);
    for (let i = 0; i < 3; i++) await s.update((tx) => tx.create(net(`n${i}`)));
    await s.close();
    const wal = join(dir, 'wal.log');
    const buf = readFileSync(wal);
    buf[20] ^= 0xff; // inside the first record's body
    writeFileSync(wal, buf);
    await expect(open(dir)).rejects.toMatchObject({ code: 'TSW_ERR_CORRUPT' });
    truncateSync(wal, 0);
  });
});
