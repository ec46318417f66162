// `service logs` with a node away: the dispatcher asks the nodes it has a session with and
// reports each node it cannot ask (no session, or its session ended before its streams did)
// with the tasks whose logs are missing; the request still ends.

import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { dispatcherProto } from '../../../proto/load.js';
import type { ManagerMessage__Output } from '../../../proto/gen/tsswarm/dispatcher/v1/ManagerMessage.js';
import { dispatcherFixture } from './harness.js';

const { cleanup, managers } = dispatcherFixture();

function within<T>(p: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms); }),
  ]);
}

describe('Dispatcher.logs with a node away', () => {
  it('names the node without a session at once, the one whose session ends later, and ends the request', async () => {
    const m = await managers(1, 0);
    const d = m.dispatchers[0]!;
    const client = new (dispatcherProto().tsswarm.dispatcher.v1.Dispatcher)(m.addrs[0]!, grpc.credentials.createInsecure());
    const call = client.Session();
    const ev = new EventEmitter();
    const seen: ManagerMessage__Output[] = [];
    call.on('data', (x: ManagerMessage__Output) => { seen.push(x); ev.emit('m'); });
    call.on('error', () => undefined);
    cleanup.push(() => { call.cancel(); client.close(); });
    const next = (what: string, pred: (x: ManagerMessage__Output) => boolean) => within(new Promise<ManagerMessage__Output>((resolve) => {
      const check = () => { const x = seen.find(pred); if (x) { ev.off('m', check); resolve(x); } };
      ev.on('m', check);
      check();
    }), what);
    call.write({ register: { node_id: 'live', description: { hostname: 'live' }, task_ids: ['t1'] } });
    await next('the full set', (x) => !!x.assignments?.full);

    const unreachable: [string, string[]][] = [];
    let ended = false;
    const end = new Promise<void>((resolve) => {
      d.logs(new Map([['live', ['t1']], ['gone', ['t2', 't3']]]), { follow: true, tail: -1, timestamps: false }, () => undefined,
        () => { ended = true; resolve(); }, (node, tasks) => unreachable.push([node, tasks]));
    });
    expect(unreachable).toEqual([['gone', ['t2', 't3']]]);
    await next('the log request to the live node', (x) => !!x.logs);
    expect(ended).toBe(false); // the live node's stream follows
    call.cancel(); // its session ends
    await within(end, 'the request to end');
    expect(unreachable).toEqual([['gone', ['t2', 't3']], ['live', ['t1']]]);
  });
});
