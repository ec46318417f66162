import { describe, expect, it } from 'vitest';
import { crc32, crc32Table } from '../../../common/crc32.js';

describe('crc32', () => {
  it('is CRC-32/IEEE: the check value of "123456789" is 0xcbf43926', () => {
    const check = new TextEncoder().encode('123456789');
    expect(crc32(check)).toBe(0xcbf43926);
    expect(crc32Table(check)).toBe(0xcbf43926);
  });

  it('native and table-driven agree on every range, so logs written by either read back', () => {
    let seed = 7;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    const data = Uint8Array.from({ length: 4096 }, rand);
    for (const [s, e] of [[0, 0], [0, 1], [3, 17], [4, 4096], [100, 3000], [0, 4096]] as const) {
      expect(crc32(data, s, e)).toBe(crc32Table(data, s, e));
    }
  });

  it('continues over pieces: the checksum of a whole equals that of its parts chained', () => {
    const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff);
    const whole = crc32(data);
    expect(crc32(data, 600, 1000, crc32(data, 0, 600))).toBe(whole);
    expect(crc32Table(data, 600, 1000, crc32Table(data, 0, 600))).toBe(whole);
    expect(crc32(data, 0, 1000, 0)).toBe(whole);
  });
});
