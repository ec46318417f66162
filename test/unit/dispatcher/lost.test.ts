// Sessions that end: the dispatcher (on the leader) remembers since when a node's session is
// gone until it is heard from again, so the node monitor can mark it down sooner than silence
// alone would; a session replaced by the node's newer one does not count.
import { describe, expect, it } from 'vitest';
import { dispatcherFixture, rawSession, until } from './harness.js';

const { cleanup, managers } = dispatcherFixture();

describe('Dispatcher: lost sessions', () => {
  it('records a node whose session ended, forgets it once the node registers again', async () => {
    const m = await managers(1, 0);
    const d = m.dispatchers[0];
    const lost: string[] = [];
    d.onLost((id) => lost.push(id));
    const s = rawSession(m.sockets[0], cleanup);
    s.send({ register: { node_id: 'n1', description: { hostname: 'h1' }, task_ids: [] } });
    await s.welcomed;
    expect(d.lost().size).toBe(0);
    s.end();
    await until('the session lost', (cb) => d.onLost(cb), () => d.lost().has('n1'));
    expect(lost).toEqual(['n1']);
    expect(d.lost().get('n1')).toBeGreaterThanOrEqual(d.heartbeats().get('n1')!);

    const again = rawSession(m.sockets[0], cleanup);
    again.send({ register: { node_id: 'n1', description: { hostname: 'h1' }, task_ids: [] } });
    await again.welcomed;
    expect(d.lost().has('n1')).toBe(false);
  });

  it('a session replaced by the node\'s newer one is not lost; a leader that steps down forgets', async () => {
    const m = await managers(1, 0);
    const d = m.dispatchers[0];
    const first = rawSession(m.sockets[0], cleanup);
    first.send({ register: { node_id: 'n2', description: { hostname: 'h2' }, task_ids: [] } });
    await first.welcomed;
    const second = rawSession(m.sockets[0], cleanup);
    second.send({ register: { node_id: 'n2', description: { hostname: 'h2' }, task_ids: [] } });
    await second.welcomed;
    first.end();
    // The heartbeat on the newer session proves the dispatcher has seen the older one end first.
    let heard = 0;
    d.onHeard(() => heard++);
    second.send({ heartbeat: {} });
    await until('the heartbeat', (cb) => d.onHeard(cb), () => heard > 0);
    expect(d.lost().has('n2')).toBe(false);

    second.end();
    await until('the session lost', (cb) => d.onLost(cb), () => d.lost().has('n2'));
    d.leadershipChanged(false);
    expect(d.lost().size).toBe(0);
  });
});
