// Five manager processes (no agent): they tolerate two failures. With two killed (the leader
// among them) writes go on; with a third gone there is no quorum; one back, writes go on, and
// every acknowledged write is on every manager once all are back.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './harness.js';
import { ManagerProc, leaderOf, waitStatus } from './managers.js';

describe('five managers', () => {
  const ms = Array.from({ length: 5 }, (_, i) => new ManagerProc(`five${i}`));
  const acknowledged: number[] = [];
  const write = async (m: ManagerProc, limit: number): Promise<boolean> => {
    const r = await m.api('POST', '/v1/cluster/update', { spec: { taskHistoryLimit: limit } });
    if (r.status === 200) acknowledged.push(limit);
    return r.status === 200;
  };

  beforeAll(async () => {
    await ms[0]!.init('127.0.0.2');
    const token = await ms[0]!.token('manager');
    await Promise.all(ms.slice(1).map((m, i) => m.join(ms[0]!.addr, token, `127.0.0.${3 + i}`)));
    await waitStatus(ms, 'five voters', (st) => st.voters === 5 && st.managers.every((m) => m.reachable && m.voter), 60_000);
  }, 120_000);

  afterAll(async () => {
    for (const m of ms) await m.kill9();
    for (const m of ms) m.remove();
  });

  it('tolerates two failures, not three', async () => {
    const st = await ms[0]!.status();
    expect([st.quorum, st.tolerates]).toEqual([3, 2]);
    const leader = await leaderOf(ms);
    const others = ms.filter((m) => m !== leader);
    await leader.kill9();
    await others[0]!.kill9();
    const live = others.slice(1);
    await waitFor('a write accepted with two managers down', () => write(live[0]!, 11), 20_000, 100);
    await others[1]!.kill9();
    // Once the survivors see it (the status shows 3 unreachable), writes are refused at once.
    await waitFor('3 managers unreachable', async () => (await live[1]!.status()).managers.filter((m) => !m.reachable).length === 3, 20_000);
    const refused = await live[1]!.api<{ code: string; message: string }>('POST', '/v1/cluster/update', { spec: { taskHistoryLimit: 12 } });
    expect(refused.body.code).toBe('TSW_ERR_NO_QUORUM');
    expect(refused.body.message).toMatch(/2 of 5 voting managers reachable, 3 needed/);
    await others[1]!.restart();
    await others[1]!.answering();
    await waitFor('a write accepted with a quorum back', () => write(live[1]!, 13), 20_000, 100);
    await leader.restart();
    await others[0]!.restart();
    for (const m of ms) await m.answering();
    await waitStatus(ms, 'five reachable voters', (s) => s.voters === 5 && s.managers.every((m) => m.reachable));
    // Every manager applied the last acknowledged write.
    const last = acknowledged[acknowledged.length - 1];
    for (const m of ms) {
      await waitFor(`${m.name} to apply the last write`, async () => (await m.api<{ spec: { taskHistoryLimit: number } }>('GET', '/v1/cluster')).body.spec.taskHistoryLimit === last, 20_000);
    }
  });
});
