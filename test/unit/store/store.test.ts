import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { crc32 } from '../../../common/crc32.js';
import { StoreMachine } from '../../../manager/store/machine.js';
import { readLegacyStore } from '../../../manager/store/migrate.js';
import { loneBackend } from '../../../manager/store/raft-backend.js';
import { Store } from '../../../manager/store/store.js';
import type { NetworkObj } from '../../../manager/store/types.js';

const dirs: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'tsswarm-store-')); dirs.push(d); return d; };
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const net = (id: string, name = id): NetworkObj => ({
  kind: 'network', id, name, stack: 's', meta: { version: 0, createdAt: 0, updatedAt: 0 },
  spec: { driver: 'bridge', external: false, labels: {}, driver_opts: {} },
});

async function open(dir: string, snapshotEntries?: number, bootstrapState?: { index: number; data: Uint8Array }): Promise<Store> {
  const s = new Store(loneBackend(dir, { snapshotEntries, bootstrapState }));
  await s.open();
  stores.push(s);
  return s;
}

describe('Store', () => {
  it('applies a batch atomically and stamps versions with the log index', async () => {
    const s = await open(tmp());
    await s.update((tx) => { tx.create(net('a')); tx.create(net('b')); });
    const a = s.view((tx) => tx.get('network', 'a'))!;
    expect(a.meta.version).toBe(s.index);
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
    const index = s.index;
    await s.close();
    stores.splice(stores.indexOf(s), 1);
    const r = await open(dir, 3);
    expect(r.state()).toEqual(before);
    expect(r.index).toBeGreaterThanOrEqual(index);
  });

  it('migrates a legacy file-log store dir: same objects and versions, the old dir kept aside', async () => {
    const data = tmp();
    const legacy = join(data, 'store');
    mkdirSync(legacy);
    const meta = (v: number) => ({ version: v, createdAt: 1, updatedAt: 1 });
    writeFileSync(join(legacy, 'snapshot.json'), JSON.stringify({ index: 2, objects: [{ ...net('a'), meta: meta(1) }, { ...net('b'), meta: meta(2) }] }));
    const rec = (entry: unknown) => {
      const body = Buffer.from(JSON.stringify(entry));
      const h = Buffer.alloc(8);
      h.writeUInt32BE(body.length, 0);
      h.writeUInt32BE(crc32(body), 4);
      return Buffer.concat([h, body]);
    };
    writeFileSync(join(legacy, 'wal.log'), Buffer.concat([
      rec({ index: 2, ops: [{ op: 'create', obj: { ...net('stale'), meta: meta(2) } }] }), // covered by the snapshot
      rec({ index: 3, ops: [{ op: 'create', obj: { ...net('c'), meta: meta(3) } }, { op: 'delete', kind: 'network', id: 'a' }] }),
    ]));
    const st = readLegacyStore(legacy);
    expect(st.index).toBe(3);
    expect(st.objects.map((o) => `${o.id}@${o.meta.version}`)).toEqual(['b@2', 'c@3']);
    // A corrupt record with a good one after it is refused, naming the file and byte.
    const bad = readFileSync(join(legacy, 'wal.log'));
    bad[12] ^= 0xff;
    writeFileSync(join(legacy, 'wal.log'), Buffer.concat([bad, rec({ index: 4, ops: [] })]));
    expect(() => readLegacyStore(legacy)).toThrow(/store log .*wal\.log is corrupt at byte 0/);
  });

  it('a store started from a migrated state keeps its objects and versions, and writes after them', async () => {
    const dir = tmp();
    const m = new StoreMachine();
    m.load({ index: 40, objects: [{ ...net('old'), meta: { version: 37, createdAt: 5, updatedAt: 6 } }] });
    const s = await open(dir, undefined, { index: 40, data: StoreMachine.encodeSnapshot(m.state()) });
    expect(s.view((tx) => tx.get('network', 'old'))!.meta).toEqual({ version: 37, createdAt: 5, updatedAt: 6 });
    await s.update((tx) => tx.create(net('new')));
    expect(s.view((tx) => tx.get('network', 'new'))!.meta.version).toBeGreaterThan(40);
    const before = s.state();
    await s.close();
    stores.splice(stores.indexOf(s), 1);
    expect((await open(dir)).state()).toEqual(before);
  });
});
