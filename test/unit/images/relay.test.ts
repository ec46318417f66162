import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { checkFetchRequest, ImageRelay, mayFetch, rankSources, type FetchCall, type PushCall } from '../../../manager/dispatcher/images.js';
import type { TaskObj } from '../../../manager/store/types.js';
import type { ManagerMessage } from '../../../proto/gen/tsswarm/dispatcher/v1/ManagerMessage.js';

const log = pino({ level: 'silent' });
const CHAIN = `sha256:${'c'.repeat(64)}`;

const task = (nodeId: string, image: string, desiredState = 'running', image_id?: string): TaskObj =>
  ({ kind: 'task', id: `t-${nodeId}-${image}`, nodeId, desiredState, spec: { image, ...(image_id ? { image_id } : {}) } } as unknown as TaskObj);

/** A FetchImage call: records what is written; `full` makes write() say "wait for drain". */
class FakeFetch extends EventEmitter {
  written: Record<string, unknown>[] = [];
  ended = false;
  error?: { code: number; details: string };
  full = false;
  constructor(readonly request: Record<string, unknown>) { super(); this.on('error', (e: { code: number; details: string }) => { this.error = e; }); }
  write(m: Record<string, unknown>): boolean { this.written.push(m); return !this.full; }
  end(): void { this.ended = true; }
}
class FakePush extends EventEmitter {
  paused = false;
  pause(): void { this.paused = true; }
  resume(): void { this.paused = false; }
}

function setup(opts: { nodes?: string[]; tasks?: TaskObj[] } = {}) {
  const sent: { nodeId: string; msg: ManagerMessage }[] = [];
  const nodes = opts.nodes ?? ['a', 'b', 'c'];
  const relay = new ImageRelay({
    log,
    connected: () => nodes,
    send: (nodeId, msg) => { sent.push({ nodeId, msg }); return nodes.includes(nodeId); },
    hostname: (n) => `host-${n}`,
    tasks: () => opts.tasks ?? [task('a', 'app:1')],
  });
  return { relay, sent };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('choosing a source', () => {
  it('ranks nodes that hold the image, never the asking node nor one that failed', () => {
    const answers = [{ nodeId: 'c', has: true }, { nodeId: 'a', has: true }, { nodeId: 'b', has: false }, { nodeId: 'd', has: true }];
    expect(rankSources(answers)).toEqual(['a', 'c', 'd']);
    expect(rankSources(answers, { requester: 'a', exclude: ['d'] })).toEqual(['c']);
    expect(rankSources([{ nodeId: 'b', has: false }])).toEqual([]);
  });

  it('a node may fetch only an image a task assigned to it runs (by name or pinned ID)', () => {
    const id = `sha256:${'e'.repeat(64)}`;
    const tasks = [task('a', 'app:1'), task('b', 'app:2', 'shutdown'), task('c', 'app:3', 'running', id)];
    expect(mayFetch(tasks, 'a', 'app:1')).toBe(true);
    expect(mayFetch(tasks, 'a', 'app:2')).toBe(false);
    expect(mayFetch(tasks, 'b', 'app:2')).toBe(false); // no longer meant to run
    expect(mayFetch(tasks, 'c', id)).toBe(true);
    expect(mayFetch(tasks, 'x', 'app:1')).toBe(false);
  });

  it('checks requests, naming the field', () => {
    expect(checkFetchRequest({ ref: 'app:1', have_chains: [CHAIN], exclude_nodes: [], upload_id: '' })).toEqual({ ref: 'app:1', have: [CHAIN], exclude: [], uploadId: '' });
    expect(checkFetchRequest({ ref: '-x', have_chains: [], exclude_nodes: [], upload_id: '' })).toMatchObject({ error: expect.stringMatching(/^ref:/) });
    expect(checkFetchRequest({ ref: 'a', have_chains: ['nope'], exclude_nodes: [], upload_id: '' })).toMatchObject({ error: expect.stringMatching(/^have_chains:/) });
    expect(checkFetchRequest({ ref: 'a', have_chains: [], exclude_nodes: Array(100).fill('n'), upload_id: '' })).toMatchObject({ error: expect.stringMatching(/^exclude_nodes:/) });
  });
});

describe('the relay', () => {
  it('asks every connected node at once; a node that does not answer counts as not holding it', async () => {
    const { relay, sent } = setup();
    const p = relay.query('app:1', ['a'], 50);
    expect(sent.map((s) => s.nodeId)).toEqual(['b', 'c']);
    const id = sent[0].msg.image_query!.query_id!;
    relay.onHave('b', { query_id: id, has: true, image_id: 'sha256:x', error: '' });
    relay.onHave('x', { query_id: id, has: true, image_id: '', error: '' }); // not asked: ignored
    const answers = await p;
    expect(answers).toEqual([{ nodeId: 'b', has: true, imageId: 'sha256:x', error: undefined }, { nodeId: 'c', has: false, error: 'no answer in time' }]);
  });

  it('refuses a node whose tasks do not use the image', async () => {
    const { relay } = setup();
    const call = new FakeFetch({ ref: 'secret:1', have_chains: [], exclude_nodes: [], upload_id: '' });
    await relay.onFetch(call as unknown as FetchCall, 'a');
    expect(call.error?.code).toBe(7);
  });

  it('relays a source\'s stream to the asking node, pausing the source while the asker is full', async () => {
    const { relay, sent } = setup();
    const call = new FakeFetch({ ref: 'app:1', have_chains: [CHAIN], exclude_nodes: [], upload_id: '' });
    const done = relay.onFetch(call as unknown as FetchCall, 'a');
    await tick();
    const q = sent.find((s) => s.msg.image_query)!.msg.image_query!.query_id!;
    relay.onHave('b', { query_id: q, has: false, image_id: '', error: '' });
    relay.onHave('c', { query_id: q, has: true, image_id: 'sha256:id', error: '' });
    await done;
    expect(call.written[0]).toEqual({ source: { node_id: 'c', hostname: 'host-c', image_id: 'sha256:id' } });
    const ask = sent.find((s) => s.msg.image_send)!;
    expect(ask.nodeId).toBe('c');
    expect(ask.msg.image_send).toMatchObject({ ref: 'app:1', have_chains: [CHAIN] });
    const reqId = ask.msg.image_send!.request_id!;

    // Another node cannot answer for c.
    const intruder = new FakePush();
    let intruderStatus: unknown;
    relay.onPush(intruder as unknown as PushCall, (err) => { intruderStatus = err; }, 'b');
    intruder.emit('data', { request_id: reqId, data: Buffer.from('x') });
    expect((intruderStatus as { code: number }).code).toBe(7);

    const push = new FakePush();
    let status: unknown = 'open';
    relay.onPush(push as unknown as PushCall, (err) => { status = err; }, 'c');
    push.emit('data', { request_id: reqId, plan: { layers_sent: 1, layers_skipped: 2 } });
    call.full = true;
    push.emit('data', { request_id: reqId, data: Buffer.from('abc') });
    expect(push.paused).toBe(true);
    call.full = false;
    call.emit('drain');
    expect(push.paused).toBe(false);
    push.emit('data', { request_id: reqId, data: Buffer.from('def') });
    push.emit('end');
    expect(call.written.slice(1)).toEqual([{ plan: { layers_sent: 1, layers_skipped: 2 } }, { data: Buffer.from('abc') }, { data: Buffer.from('def') }]);
    expect(call.ended).toBe(true);
    expect(call.error).toBeUndefined();
    expect(status).toBeNull();
  });

  it('nodes fetching the same image holding the same chains share one stream from the source', async () => {
    const { relay, sent } = setup({ tasks: [task('a', 'app:1'), task('b', 'app:1'), task('d', 'app:1')], nodes: ['a', 'b', 'c', 'd'] });
    const req = { ref: 'app:1', have_chains: [CHAIN], exclude_nodes: [], upload_id: '' };
    const ca = new FakeFetch(req);
    const cb = new FakeFetch(req);
    const cd = new FakeFetch({ ...req, have_chains: [] }); // holds other chains: its own stream
    const first = relay.onFetch(ca as unknown as FetchCall, 'a');
    await tick();
    for (const s of sent.filter((x) => x.msg.image_query)) relay.onHave('c', { query_id: s.msg.image_query!.query_id!, has: true, image_id: 'sha256:id', error: '' });
    for (const n of ['b', 'd']) for (const s of sent.filter((x) => x.msg.image_query)) relay.onHave(n, { query_id: s.msg.image_query!.query_id!, has: false, image_id: '', error: '' });
    await first;
    await relay.onFetch(cb as unknown as FetchCall, 'b'); // joins: no query, no second send
    expect(sent.filter((s) => s.msg.image_send)).toHaveLength(1);
    expect(cb.written[0]).toEqual({ source: { node_id: 'c', hostname: 'host-c', image_id: 'sha256:id' } });
    const reqId = sent.find((s) => s.msg.image_send)!.msg.image_send!.request_id!;
    const push = new FakePush();
    let status: unknown = 'open';
    relay.onPush(push as unknown as PushCall, (err) => { status = err; }, 'c');
    // The slowest holds the source back.
    cb.full = true;
    push.emit('data', { request_id: reqId, data: Buffer.from('abc') });
    expect(push.paused).toBe(true);
    cb.full = false;
    cb.emit('drain');
    expect(push.paused).toBe(false);
    // Once a byte has gone, a later fetch does not join.
    const late = relay.onFetch(cd as unknown as FetchCall, 'd');
    await tick();
    const queries = () => [...new Set(sent.filter((s) => s.msg.image_query).map((s) => s.msg.image_query!.query_id!))];
    expect(queries()).toHaveLength(2);
    // One that goes away leaves the other's stream going.
    ca.emit('cancelled');
    expect(status).toBe('open');
    push.emit('data', { request_id: reqId, data: Buffer.from('def') });
    push.emit('end');
    expect(cb.written.slice(1)).toEqual([{ data: Buffer.from('abc') }, { data: Buffer.from('def') }]);
    expect(cb.ended).toBe(true);
    expect(ca.written.slice(1)).toEqual([{ data: Buffer.from('abc') }]);
    expect(status).toBeNull();
    const q2 = queries()[1];
    for (const n of ['a', 'b', 'c']) relay.onHave(n, { query_id: q2, has: false, image_id: '', error: '' });
    await late;
    expect(cd.error?.code).toBe(5);
  });

  it('a source that goes away mid-stream ends the asker\'s call with an error naming it', async () => {
    const { relay, sent } = setup({ nodes: ['a', 'b'] });
    const call = new FakeFetch({ ref: 'app:1', have_chains: [], exclude_nodes: [], upload_id: '' });
    const done = relay.onFetch(call as unknown as FetchCall, 'a');
    await tick();
    relay.onHave('b', { query_id: sent[0].msg.image_query!.query_id!, has: true, image_id: '', error: '' });
    await done;
    const reqId = sent.find((s) => s.msg.image_send)!.msg.image_send!.request_id!;
    const push = new FakePush();
    relay.onPush(push as unknown as PushCall, () => undefined, 'b');
    push.emit('data', { request_id: reqId, data: Buffer.from('abc') });
    relay.sessionEnded('b');
    expect(call.error?.code).toBe(14);
    expect(call.error?.details).toMatch(/host-b went away/);
    expect(call.ended).toBe(false);
  });

  it('no node holding it: NOT_FOUND naming who was asked and who failed already', async () => {
    const { relay, sent } = setup();
    const call = new FakeFetch({ ref: 'app:1', have_chains: [], exclude_nodes: ['c'], upload_id: '' });
    const done = relay.onFetch(call as unknown as FetchCall, 'a');
    await tick();
    relay.onHave('b', { query_id: sent[0].msg.image_query!.query_id!, has: false, image_id: '', error: '' });
    await done;
    expect(call.error?.code).toBe(5);
    expect(call.error?.details).toBe('no other node of the cluster holds image app:1 (asked: host-b; failed already: host-c)');
  });

  it('an upload lands on its node: the node says which chains it holds, gets the body, says it loaded it', async () => {
    const { relay, sent } = setup();
    const begun = relay.beginUpload('app:9', 'b');
    const id = sent.find((s) => s.msg.image_receive)!.msg.image_receive!.upload_id!;
    // Only the node it was sent to may take it.
    const wrong = new FakeFetch({ ref: 'app:9', have_chains: [], exclude_nodes: [], upload_id: id });
    await relay.onFetch(wrong as unknown as FetchCall, 'c');
    expect(wrong.error?.code).toBe(7);
    const call = new FakeFetch({ ref: 'app:9', have_chains: [CHAIN], exclude_nodes: [], upload_id: id });
    await relay.onFetch(call as unknown as FetchCall, 'b');
    expect(await begun).toEqual({ id, haveChains: [CHAIN] });
    const put = relay.putUpload(id, (async function* () { yield Buffer.from('tar'); yield Buffer.from('ball'); })());
    await tick();
    expect(call.ended).toBe(true);
    call.emit('cancelled'); // grpc-js says so after a call the server ended, too
    relay.onHave('b', { query_id: id, has: true, image_id: 'sha256:up', error: '' });
    expect(await put).toEqual({ nodeId: 'b', bytes: 7, imageId: 'sha256:up', error: undefined });
  });
});
