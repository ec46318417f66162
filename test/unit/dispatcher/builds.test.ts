import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { BUILD_CONTEXT_MAX_BYTES, type BuildEngineEvent } from '../../../common/api/builds.js';
import { BuildRelay, type BuildCall, type BuildOutcome } from '../../../manager/dispatcher/builds.js';
import type { ManagerMessage } from '../../../proto/gen/tsswarm/dispatcher/v1/ManagerMessage.js';

class FakeCall extends EventEmitter {
  written: Record<string, unknown>[] = [];
  ended = false;
  cancelled = false;
  writable = true;
  write(m: Record<string, unknown>): boolean { this.written.push(m); return true; }
  end(): void { this.ended = true; this.writable = false; }
}

const options = { service: 'web', image: 'shop-web', dockerfile: 'Dockerfile' };

function setup(connected = ['n1']) {
  const sent: { node: string; msg: ManagerMessage }[] = [];
  const relay = new BuildRelay({
    log: pino({ level: 'silent' }),
    send: (node, msg) => { if (!connected.includes(node)) return false; sent.push({ node, msg }); return true; },
    hostname: (n) => `host-${n}`,
  });
  /** The node opens its call for the last BuildStart. */
  const open = (node = 'n1'): FakeCall => {
    const call = new FakeCall();
    relay.onCall(call as unknown as BuildCall, node);
    call.emit('data', { request_id: sent.at(-1)!.msg.build_start!.request_id, event_json: '', result: null });
    return call;
  };
  return { relay, sent, open };
}

function sink() {
  const events: BuildEngineEvent[] = [];
  let outcome: BuildOutcome | undefined;
  return { events, get outcome() { return outcome; }, sink: { event: (e: BuildEngineEvent) => events.push(e), end: (o: BuildOutcome) => { outcome = o; } } };
}

const up = (call: FakeCall, m: { event?: BuildEngineEvent; result?: { image_id: string; error: string } }) =>
  call.emit('data', { request_id: '', event_json: m.event ? JSON.stringify(m.event) : '', result: m.result ?? null });

describe('build relay', () => {
  it('starts the build on the node, relays the context, then the output and the image ID', async () => {
    const { relay, sent, open } = setup();
    const begun = relay.begin('n1', options);
    expect(sent[0].node).toBe('n1');
    const call = open();
    const id = await begun;
    expect(JSON.parse(call.written[0].options_json as string)).toEqual(options);
    expect(await relay.chunk(id, Buffer.from('abc'))).toBe(3);
    expect(await relay.chunk(id, Buffer.from('de'))).toBe(5);
    expect(call.written.slice(1).map((m) => String(m.data))).toEqual(['abc', 'de']);
    const s = sink();
    relay.finish(id, s.sink);
    expect(call.written.at(-1)).toEqual({ eof: true });
    up(call, { event: { stream: 'Step 1/2 : FROM x\n' } });
    up(call, { result: { image_id: 'sha256:' + 'a'.repeat(64), error: '' } });
    expect(s.events).toEqual([{ stream: 'Step 1/2 : FROM x\n' }]);
    expect(s.outcome).toEqual({ imageId: 'sha256:' + 'a'.repeat(64) });
    expect(call.ended).toBe(true);
    expect(relay.size).toBe(0);
  });

  it('a node without a session: refused at once', async () => {
    const { relay } = setup([]);
    await expect(relay.begin('n2', options)).rejects.toThrow('node host-n2 has no agent session');
    expect(relay.size).toBe(0);
  });

  it('another node cannot take the build', async () => {
    const { relay, sent } = setup(['n1', 'n2']);
    const begun = relay.begin('n1', options, 50);
    const intruder = new FakeCall();
    const errors: Error[] = [];
    intruder.on('error', (e) => errors.push(e));
    relay.onCall(intruder as unknown as BuildCall, 'n2');
    intruder.emit('data', { request_id: sent[0].msg.build_start!.request_id, event_json: '', result: null });
    expect(errors.map((e) => e.message)).toEqual(['no build was asked of this node under that request id']);
    expect(intruder.written).toEqual([]);
    await expect(begun).rejects.toThrow('node host-n1 did not start the build within 0.05 s');
  });

  it('the build error reaches the reader; the node going away fails the build naming it', async () => {
    const { relay, open } = setup();
    const b1 = relay.begin('n1', options);
    const c1 = open();
    const id1 = await b1;
    const s1 = sink();
    relay.finish(id1, s1.sink);
    up(c1, { result: { image_id: '', error: 'The command returned a non-zero code: 7' } });
    expect(s1.outcome).toEqual({ error: 'The command returned a non-zero code: 7' });

    const b2 = relay.begin('n1', options);
    open();
    const id2 = await b2;
    const s2 = sink();
    relay.finish(id2, s2.sink);
    relay.sessionEnded('n1');
    expect(s2.outcome).toEqual({ error: 'node host-n1 went away during the build' });
    expect(relay.size).toBe(0);
  });

  it('a context over the limit fails with a clear error', async () => {
    const { relay, open } = setup();
    const b = relay.begin('n1', options);
    const call = open();
    call.on('error', () => undefined);
    const id = await b;
    await expect(relay.chunk(id, Buffer.alloc(0))).resolves.toBe(0);
    (relay as unknown as { builds: Map<string, { received: number }> }).builds.get(id)!.received = BUILD_CONTEXT_MAX_BYTES;
    await expect(relay.chunk(id, Buffer.from('x'))).rejects.toThrow(/context is larger than the 512 MiB/);
  });

  it('an unknown build id: a clear error', async () => {
    const { relay } = setup();
    await expect(relay.chunk('nope', Buffer.from('x'))).rejects.toThrow('no build nope in progress');
    expect(() => relay.finish('nope', sink().sink)).toThrow('no build nope in progress');
  });
});
