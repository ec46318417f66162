// The dispatcher keeps agent sessions on the Raft leader only: a Session elsewhere is refused
// with the leader's address, the leader ends its sessions when it steps down, and agents are
// told where the managers are (Welcome, then ManagerList).
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Dispatcher, LEADER_METADATA } from '../../../manager/dispatcher/dispatcher.js';
import { Store } from '../../../manager/store/store.js';
import { dispatcherProto } from '../../../proto/load.js';
import type { AgentMessage } from '../../../proto/gen/tsswarm/dispatcher/v1/AgentMessage.js';
import type { ManagerMessage__Output } from '../../../proto/gen/tsswarm/dispatcher/v1/ManagerMessage.js';
import { service, task } from '../orchestrator/fixtures.js';
import { memoryLog } from '../store/memory-log.js';
import { dispatcherFixture } from './harness.js';

const { cleanup, managers } = dispatcherFixture();

/** `p`, or a failure naming `what` after `ms`. */
function within<T>(p: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms); }),
  ]);
}

/** A raw Session call: what the manager sent, and how the call ended. */
function session(addr: string) {
  const client = new (dispatcherProto().tsswarm.dispatcher.v1.Dispatcher)(addr, grpc.credentials.createInsecure());
  const call = client.Session();
  const messages: ManagerMessage__Output[] = [];
  const ev = new EventEmitter();
  call.on('data', (m: ManagerMessage__Output) => { messages.push(m); ev.emit('message', m); });
  call.on('error', () => undefined);
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  cleanup.push(() => { call.cancel(); client.close(); });
  return {
    messages,
    send: (m: AgentMessage) => call.write(m),
    ended: (what: string) => within(status, what),
    /** The first message (received or to come) that `pred` accepts. */
    next: (what: string, pred: (m: ManagerMessage__Output) => boolean) => within(new Promise<ManagerMessage__Output>((resolve) => {
      const seen = messages.find(pred);
      if (seen) { resolve(seen); return; }
      const on = (m: ManagerMessage__Output) => { if (pred(m)) { ev.off('message', on); resolve(m); } };
      ev.on('message', on);
    }), what),
  };
}

const register = (node: string): AgentMessage => ({ register: { node_id: node, description: { hostname: node }, task_ids: ['t1'] } });

describe('Dispatcher: sessions on the leader only', () => {
  it('refuses a Session on a follower at once: FAILED_PRECONDITION, the leader in the details and the trailing metadata (TCP and unix socket)', async () => {
    const m = await managers(2, 0);
    for (const addr of [m.addrs[1], m.sockets[1]]) {
      const s = session(addr);
      s.send(register('n1'));
      const st = await s.ended(`the refusal on ${addr}`);
      expect(st.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(st.details).toBe(`not the leader; the leader is at ${m.addrs[0]}`);
      expect(st.metadata.get(LEADER_METADATA)).toEqual([m.addrs[0]]);
      expect(s.messages).toEqual([]);
    }
    // The follower wrote nothing and keeps nothing.
    expect(m.store.view((tx) => tx.get('node', 'n1'))).toBeUndefined();
    expect(m.dispatchers[1].connectedNodes()).toEqual([]);
    expect(m.dispatchers[1].heartbeats().size).toBe(0);
  });

  it('says so when no leader is known, without the metadata', async () => {
    const m = await managers(1, undefined);
    const s = session(m.addrs[0]);
    s.send(register('n1'));
    const st = await s.ended('the refusal');
    expect(st.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(st.details).toBe('no leader elected yet');
    expect(st.metadata.get(LEADER_METADATA)).toEqual([]);
  });

  it('leadershipChanged(false) ends every open session with the new leader\'s address and forgets the heartbeats', async () => {
    const m = await managers(2, 0);
    const [d0, d1] = m.dispatchers;
    const a = session(m.addrs[0]);
    a.send(register('n1'));
    const welcome = await a.next('the welcome', (x) => !!x.welcome);
    expect(welcome.welcome!.managers).toEqual(m.addrs);
    await a.next('the full set', (x) => !!x.assignments?.full);
    await m.taps[0].waitFor('n1 registered', (r) => r.msg === 'agent registered' && r.node === 'n1' && r.tasks === 1);
    expect(d0.heartbeats().has('n1')).toBe(true);

    m.leader = 1;
    d1.leadershipChanged(true); // nothing to do on the new leader
    d0.leadershipChanged(false);
    const st = await a.ended('the end of the session');
    expect(st.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(st.details).toBe(`not the leader; the leader is at ${m.addrs[1]}`);
    expect(st.metadata.get(LEADER_METADATA)).toEqual([m.addrs[1]]);
    expect(d0.connectedNodes()).toEqual([]);
    expect(d0.heartbeats().size).toBe(0);
    expect(m.taps[0].records.find((r) => r.msg === 'no longer the leader: agent sessions ended')).toMatchObject({ sessions: 1, leader: m.addrs[1] });

    // The old leader refuses from now on; the new one welcomes.
    const again = session(m.addrs[0]);
    again.send(register('n1'));
    expect((await again.ended('the refusal')).code).toBe(grpc.status.FAILED_PRECONDITION);
    const b = session(m.addrs[1]);
    b.send(register('n1'));
    await b.next('the welcome on the new leader', (x) => !!x.welcome);
    expect(d1.connectedNodes()).toEqual(['n1']);
  });

  it('a registration still being written when leadership is lost ends refused and leaves no session nor heartbeat', async () => {
    // A store whose writes wait for the test: the registration is caught in the middle.
    const log = memoryLog();
    let proposed!: () => void;
    const inFlight = new Promise<void>((resolve) => { proposed = resolve; });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const store = new Store({ ...log, propose: async (data) => { proposed(); await gate; return log.propose(data); } });
    await store.open();
    cleanup.push(() => store.close());
    let leading = true;
    const d = new Dispatcher({ store, log: pino({ level: 'silent' }), leader: () => ({ isLeader: leading, leaderAddr: leading ? undefined : '10.0.0.9:4243' }) });
    const [port] = await d.listen(['127.0.0.1:0']);
    cleanup.push(() => d.close());
    const s = session(`127.0.0.1:${port}`);
    s.send(register('n1'));
    await within(inFlight, 'the registration\'s write');
    leading = false;
    d.leadershipChanged(false);
    const st = await s.ended('the refusal');
    expect(st.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(st.metadata.get(LEADER_METADATA)).toEqual(['10.0.0.9:4243']);
    release();
    // Updates run in turn: once a later one is done, the registration has seen its write land.
    await within(store.update(() => undefined), 'the registration to finish');
    expect(store.view((tx) => tx.get('node', 'n1'))).toBeDefined();
    expect(d.connectedNodes()).toEqual([]);
    expect(d.heartbeats().size).toBe(0);
    expect(s.messages).toEqual([]);
  });

  it('sends the manager list in Welcome, then once per change as ManagerList (managersChanged() or a store change)', async () => {
    const m = await managers(1, 0);
    m.managers = ['10.0.0.1:4243'];
    const s = session(m.addrs[0]);
    s.send(register('n1'));
    expect((await s.next('the welcome', (x) => !!x.welcome)).welcome!.managers).toEqual(['10.0.0.1:4243']);
    await s.next('the full set', (x) => !!x.assignments?.full);

    m.managers = ['10.0.0.1:4243', '10.0.0.2:4243'];
    m.dispatchers[0].managersChanged();
    m.dispatchers[0].managersChanged(); // unchanged: not sent again
    expect((await s.next('the first list', (x) => !!x.managers)).managers!.managers).toEqual(['10.0.0.1:4243', '10.0.0.2:4243']);

    // A store change: a list that changed goes before the assignments it triggers.
    m.managers = ['10.0.0.2:4243'];
    const svc = service('web');
    await m.store.update((tx) => { tx.create(svc); tx.create(task(svc, { id: 'x1', slot: 1, nodeId: 'n1', state: 'assigned' })); });
    await s.next('the new task', (x) => !!x.assignments?.changes.some((c) => c.id === 'x1'));
    const lists = s.messages.filter((x) => x.managers).map((x) => x.managers!.managers);
    expect(lists).toEqual([['10.0.0.1:4243', '10.0.0.2:4243'], ['10.0.0.2:4243']]);
    const order = s.messages.map((x) => (x.managers ? 'list' : x.assignments ? 'assignments' : x.welcome ? 'welcome' : '?'));
    expect(order).toEqual(['welcome', 'assignments', 'list', 'list', 'assignments']);
  });

  it('without the options it always leads and sends an empty manager list (one manager, as before)', async () => {
    const store = new Store(memoryLog());
    await store.open();
    cleanup.push(() => store.close());
    const d = new Dispatcher({ store, log: pino({ level: 'silent' }) });
    const [port] = await d.listen(['127.0.0.1:0']);
    cleanup.push(() => d.close());
    const s = session(`127.0.0.1:${port}`);
    s.send(register('n1'));
    expect((await s.next('the welcome', (x) => !!x.welcome)).welcome!.managers).toEqual([]);
    d.leadershipChanged(true);
    expect(d.connectedNodes()).toEqual(['n1']);
  });
});
