// The agent keeps its session with the Raft leader's dispatcher: refused by another manager it
// goes to the leader that manager names; on losing the session it tries the next manager it
// knows (the ones it was started with, then the leader's list), with backoff. Real dispatchers
// on loopback ports share one in-memory store; the worker is a fake that runs nothing.
import { describe, expect, it } from 'vitest';
import { AgentSession } from '../../../agent/session.js';
import type { TaskStatus } from '../../../common/api/objects.js';
import { service, task } from '../orchestrator/fixtures.js';
import { dispatcherFixture, establishedAt, FakeWorker, LogTap, registered, type LogRecord } from '../dispatcher/harness.js';

const { cleanup, managers } = dispatcherFixture();

function agent(manager: string, more?: string[]) {
  const tap = new LogTap();
  const worker = new FakeWorker(['t1', 't2']);
  const session = new AgentSession({ manager, managers: more, nodeId: 'n1', describe: async () => ({ hostname: 'alpha' }), log: tap.log });
  cleanup.push(() => session.close());
  session.start(worker);
  return { session, worker, tap };
}

const lost = (r: LogRecord): boolean => r.msg === 'session lost; trying the next manager';
/** Lower bound of a timer's delay, allowing for Node's millisecond rounding. */
const atLeast = (ms: number): number => ms - 5;

describe('agent session: the leader only', () => {
  it('opened on a follower (its unix socket), it is redirected at once to the leader over TCP and welcomed there', async () => {
    const m = await managers(2, 0);
    const svc = service('web');
    await m.store.update((tx) => { tx.create(svc); tx.create(task(svc, { id: 'x1', slot: 1, nodeId: 'n1', state: 'assigned' })); });
    const a = agent(m.sockets[1]);
    // Queued before any session: kept until a manager welcomes the agent, not sent to the refusing one.
    const running: TaskStatus = { state: 'running', timestamp: 2, message: 'started' };
    a.session.report('x1', running);

    await a.tap.waitFor('the session on the leader', establishedAt(m.addrs[0]));
    await m.taps[0].waitFor('n1 registered with its 2 tasks', registered('n1', 2));
    expect(a.session.manager).toBe(m.addrs[0]);
    expect(a.session.id).toBe('n1');
    expect(m.dispatchers[0].connectedNodes()).toEqual(['n1']);
    expect(m.dispatchers[1].connectedNodes()).toEqual([]);
    expect(a.tap.records.find((r) => r.msg === 'not the leader; going to the leader')).toMatchObject({ manager: m.sockets[1], leader: m.addrs[0] });
    // One refused attempt, one welcomed: no backoff, no cycling.
    expect(a.worker.attempts).toHaveLength(2);
    expect(a.tap.count(lost)).toBe(0);
    expect(a.session.knownManagers()).toEqual([m.sockets[1], ...m.addrs]);

    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the queued status never reached the store')), 10_000);
      const check = () => m.store.view((tx) => tx.get('task', 'x1'))?.status.state === 'running';
      if (check()) { clearTimeout(timer); resolve(); return; }
      const stop = m.store.watch(() => { if (check()) { stop(); clearTimeout(timer); resolve(); } });
    });
  });

  it('a status the manager could not record ends the session: the agent comes back and reports it again', async () => {
    const m = await managers(1, 0);
    const svc = service('web');
    await m.store.update((tx) => { tx.create(svc); tx.create(task(svc, { id: 'x1', slot: 1, nodeId: 'n1', state: 'assigned' })); });
    const a = agent(m.addrs[0]);
    await a.tap.waitFor('the session', establishedAt(m.addrs[0]));
    await a.worker.until('the first full set', () => a.worker.fullSets === 1);
    // The next write fails once (a full disk, a lost leadership): the status is not recorded.
    const update = m.store.update.bind(m.store);
    let failures = 1;
    m.store.update = ((fn: Parameters<typeof update>[0]) => (failures-- > 0 ? Promise.reject(new Error('disk full')) : update(fn))) as typeof m.store.update;
    a.session.report('x1', { state: 'running', timestamp: 2, message: 'started' });
    await a.tap.waitFor('the session lost', lost);
    // A new session: the agent registers again and acts on the full set, where the real worker
    // reports every task's status again (agent/worker: statuses follow each full set).
    await a.worker.until('a second full set (a new session)', () => a.worker.fullSets === 2);
    expect(failures).toBeLessThan(1); // the failing write happened
    expect(m.taps[0].records.some((r) => r.msg === 'session message failed')).toBe(true);
  });

  it('when the leader changes, it follows to the new leader and registers there with its node id and local tasks', async () => {
    const m = await managers(3, 0);
    const a = agent(m.addrs[0]);
    await a.tap.waitFor('the session on the first leader', establishedAt(m.addrs[0]));
    await a.worker.until('the first full set', () => a.worker.fullSets === 1);
    expect(a.session.knownManagers()).toEqual(m.addrs);
    a.worker.taskIds.push('t3'); // what it runs now

    m.leader = 1;
    m.dispatchers[1].leadershipChanged(true);
    m.dispatchers[0].leadershipChanged(false);
    await a.tap.waitFor('the session on the new leader', establishedAt(m.addrs[1]));
    await m.taps[1].waitFor('n1 registered with its 3 tasks', registered('n1', 3));
    await a.worker.until('the new leader\'s full set', () => a.worker.fullSets === 2);
    expect(a.tap.records.find((r) => r.msg === 'the manager is no longer the leader; going to the leader')).toMatchObject({ manager: m.addrs[0], leader: m.addrs[1] });
    expect(a.session.manager).toBe(m.addrs[1]);
    expect(a.session.id).toBe('n1');
    expect(m.dispatchers[1].connectedNodes()).toEqual(['n1']);
    expect(m.dispatchers[0].connectedNodes()).toEqual([]);
    expect(m.dispatchers[0].heartbeats().size).toBe(0);
    // Straight there: two attempts in all, none after a backoff.
    expect(a.worker.attempts).toHaveLength(2);
    expect(a.tap.count(lost)).toBe(0);
  });

  it('when the leader dies, it goes on to the next manager of the Welcome list (a follower, which names the new leader)', async () => {
    const m = await managers(3, 0);
    const a = agent(m.addrs[0]); // started knowing the leader only
    await a.tap.waitFor('the session on the leader', establishedAt(m.addrs[0]));
    expect(a.session.knownManagers()).toEqual(m.addrs);

    m.leader = 2;
    await m.kill(0);
    await a.tap.waitFor('the session on the new leader', establishedAt(m.addrs[2]));
    await m.taps[2].waitFor('n1 registered with its 2 tasks', registered('n1', 2));
    expect(a.tap.records.find(lost)).toMatchObject({ manager: m.addrs[0], next: m.addrs[1] });
    expect(a.tap.records.find((r) => r.msg === 'not the leader; going to the leader')).toMatchObject({ manager: m.addrs[1], leader: m.addrs[2] });
    expect(m.dispatchers[2].connectedNodes()).toEqual(['n1']);
  });

  it('falls back on the manager list sent after Welcome (ManagerList)', async () => {
    const m = await managers(3, 0);
    m.managers = [m.addrs[0]];
    const a = agent(m.addrs[0]);
    await a.tap.waitFor('the session on the leader', establishedAt(m.addrs[0]));
    expect(a.session.knownManagers()).toEqual([m.addrs[0]]);

    m.managers = [m.addrs[0], m.addrs[2]];
    m.dispatchers[0].managersChanged();
    await a.tap.waitFor('the new list', (r) => r.msg === 'manager list updated');
    expect(a.session.knownManagers()).toEqual([m.addrs[0], m.addrs[2]]);

    m.leader = 2;
    await m.kill(0);
    await a.tap.waitFor('the session on the new leader', establishedAt(m.addrs[2]));
    expect(a.tap.records.find(lost)).toMatchObject({ manager: m.addrs[0], next: m.addrs[2] });
    expect(a.tap.records.some((r) => r.manager === m.addrs[1])).toBe(false);
  });

  it('with no leader elected it keeps cycling through the managers with growing backoff, and connects once one is', async () => {
    const m = await managers(2, undefined);
    const a = agent(m.addrs[0], [m.addrs[1]]);
    await a.worker.until('5 attempts', () => a.worker.attempts.length >= 5);
    m.leader = 1;
    const t = a.worker.attempts;
    for (let i = 0; i < 4; i++) expect(t[i + 1] - t[i]).toBeGreaterThanOrEqual(atLeast(100 * 2 ** i));
    expect(a.tap.records.filter(lost).slice(0, 4).map((r) => r.manager)).toEqual([m.addrs[0], m.addrs[1], m.addrs[0], m.addrs[1]]);
    expect(a.tap.records.filter(lost).every((r) => r.err === 'no leader elected yet')).toBe(true);

    await a.tap.waitFor('the session on the leader', establishedAt(m.addrs[1]));
    await m.taps[1].waitFor('n1 registered', registered('n1', 2));
    // The attempt under way (maybe redirected once) connected: nothing in between.
    expect(a.worker.attempts.length).toBeLessThanOrEqual(7);
  });

  it('two managers naming each other the leader cannot make it spin: a few redirects at once, then with backoff', async () => {
    const m = await managers(2, undefined);
    m.leaderOf = (i) => ({ isLeader: false, leaderAddr: m.addrs[1 - i] });
    const a = agent(m.addrs[0]);
    await a.worker.until('13 attempts', () => a.worker.attempts.length >= 13);
    m.leaderOf = undefined;
    m.leader = 0;
    const t = a.worker.attempts;
    // Four attempts (three redirects) in a row, then a wait that doubles each round.
    expect(t[4] - t[3]).toBeGreaterThanOrEqual(atLeast(100));
    expect(t[8] - t[7]).toBeGreaterThanOrEqual(atLeast(200));
    expect(t[12] - t[11]).toBeGreaterThanOrEqual(atLeast(400));
    expect(a.tap.count((r) => r.msg === 'redirected too often in a row; backing off')).toBeGreaterThanOrEqual(3);

    await a.tap.waitFor('the session once the managers agree', establishedAt(m.addrs[0]));
  });
});
