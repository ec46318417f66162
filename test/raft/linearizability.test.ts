import { describe, expect, it } from 'vitest';
import { checkLinearizable, type KvOp } from './linearizability.js';

let id = 0;
const put = (client: number, key: string, value: string, call: number, ret: number): KvOp => ({ id: id++, client, kind: 'put', key, value, call, ret });
const get = (client: number, key: string, value: string | null, call: number, ret: number): KvOp => ({ id: id++, client, kind: 'get', key, value, call, ret });

describe('linearizability checker', () => {
  it('accepts a sequential history', () => {
    expect(checkLinearizable([put(1, 'x', 'a', 0, 1), get(2, 'x', 'a', 2, 3)]).ok).toBe(true);
  });
  it('accepts concurrent operations in either order', () => {
    expect(checkLinearizable([put(1, 'x', 'a', 0, 10), get(2, 'x', null, 1, 2), get(3, 'x', 'a', 3, 4)]).ok).toBe(true);
  });
  it('rejects a stale read after a completed write', () => {
    expect(checkLinearizable([put(1, 'x', 'a', 0, 1), get(2, 'x', null, 2, 3)]).ok).toBe(false);
  });
  it('rejects reads that go back in time', () => {
    const h = [put(1, 'x', 'a', 0, 1), put(1, 'x', 'b', 2, 10), get(2, 'x', 'b', 3, 4), get(3, 'x', 'a', 5, 6)];
    expect(checkLinearizable(h).ok).toBe(false);
  });
  it('an unanswered write may or may not have happened', () => {
    expect(checkLinearizable([put(1, 'x', 'a', 0, Infinity), get(2, 'x', null, 1, 2), get(2, 'x', 'a', 3, 4)]).ok).toBe(true);
    expect(checkLinearizable([put(1, 'x', 'a', 0, Infinity), get(2, 'x', null, 1, 2)]).ok).toBe(true);
    expect(checkLinearizable([put(1, 'x', 'a', 0, Infinity), get(2, 'x', 'a', 1, 2), get(2, 'x', null, 3, 4)]).ok).toBe(false);
  });
  it('keys are independent', () => {
    expect(checkLinearizable([put(1, 'x', 'a', 0, 1), put(1, 'y', 'b', 0, 1), get(2, 'y', 'b', 2, 3), get(2, 'x', 'b', 2, 3)]).ok).toBe(false);
  });
});
