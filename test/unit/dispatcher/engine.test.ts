// What agents say of their Docker engine: the dispatcher records it per node in memory (down
// since when, why), passes on changes only, and a registration with the engine down shows it.
import { describe, expect, it } from 'vitest';
import { dispatcherFixture, rawSession, until } from './harness.js';

const { cleanup, managers } = dispatcherFixture();
const session = (addr: string) => rawSession(addr, cleanup);

describe('Dispatcher: engine reports', () => {
  it('records a node\'s engine down from its registration, passes on changes only, clears it', async () => {
    const m = await managers(1, 0);
    const d = m.dispatchers[0];
    const changes: string[] = [];
    let heard = 0;
    d.onEngineChange((id) => changes.push(id));
    d.onHeard(() => heard++);
    const s = session(m.sockets[0]);
    s.send({ register: { node_id: 'n1', description: { hostname: 'h1' }, task_ids: [], engine_error: 'connect ENOENT /x.sock' } });
    await s.welcomed;
    expect(changes).toEqual(['n1']);
    expect(d.engines().get('n1')?.error).toBe('connect ENOENT /x.sock');
    const n1 = m.store.view((tx) => tx.get('node', 'n1'))!;
    expect([n1.status.state, n1.status.engine, n1.status.message]).toEqual(['ready', 'down', 'engine down: connect ENOENT /x.sock']);
    const since = d.engines().get('n1')!.since;

    // The same state again: the text is kept up to date, the time it started is not moved, no change passed on.
    const h = heard;
    s.send({ heartbeat: { engine_error: 'connect ECONNREFUSED /x.sock' } });
    await until('the heartbeat', (cb) => d.onHeard(cb), () => heard > h);
    expect(d.engines().get('n1')).toEqual({ error: 'connect ECONNREFUSED /x.sock', since });
    expect(changes).toEqual(['n1']);

    s.send({ heartbeat: {} });
    await until('the engine back', (cb) => d.onEngineChange(cb), () => !d.engines().has('n1'));
    expect(changes).toEqual(['n1', 'n1']);

    // A leader that steps down forgets it, as it forgets heartbeats.
    s.send({ heartbeat: { engine_error: 'timeout' } });
    await until('the engine down again', (cb) => d.onEngineChange(cb), () => d.engines().has('n1'));
    d.leadershipChanged(false);
    expect(d.engines().size).toBe(0);
  });

  it('a down node that registers with its engine down stays down', async () => {
    const m = await managers(1, 0);
    await m.store.update((tx) => tx.create({
      kind: 'node', id: 'n2', meta: { version: 0, createdAt: 0, updatedAt: 0 }, spec: { role: 'worker', availability: 'active', labels: {} },
      description: { hostname: 'h2', platform: { os: 'linux', arch: 'x' }, resources: { nanoCpus: 0, memoryBytes: 0 }, engine: { version: '', labels: {} } },
      status: { state: 'down', addr: '', message: 'Docker engine not answering: x', lastHeartbeat: 1, engine: 'down' },
    }));
    const s = session(m.sockets[0]);
    s.send({ register: { node_id: 'n2', description: { hostname: 'h2' }, task_ids: [], engine_error: 'x' } });
    await s.welcomed;
    const n2 = m.store.view((tx) => tx.get('node', 'n2'))!;
    expect([n2.status.state, n2.status.engine]).toEqual(['down', 'down']);
  });
});
