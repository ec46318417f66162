import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { indexTar, indexTarFile, parsePax, tarHeader } from '../../../common/images/tar.js';
import { archive, bufReader } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'tsswarm-tar-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));



describe('tar', () => {
  it('reads back what it writes, with contents at the offsets it gives', async () => {
    const b = archive([{ name: 'd/', type: 'dir' }, { name: 'd/a.txt', data: 'hello' }, { name: 'empty' }, { name: 'l', type: 'symlink', linkname: 'd/a.txt' }, { name: 'big', data: 'x'.repeat(1500) }]);
    const es = await indexTar(bufReader(b), b.length);
    expect(es.map((e) => [e.name, e.type, e.size])).toEqual([['d/', 'dir', 0], ['d/a.txt', 'file', 5], ['empty', 'file', 0], ['l', 'symlink', 0], ['big', 'file', 1500]]);
    expect(b.toString('utf8', es[1].offset, es[1].offset + 5)).toBe('hello');
    expect(es[3].linkname).toBe('d/a.txt');
    expect(b.length % 512).toBe(0);
  });

  it('writes archives the system tar reads, long names through PAX headers', () => {
    const long = `${'x'.repeat(120)}/layer.tar`;
    const b = archive([{ name: 'manifest.json', data: '[]' }, { name: long, data: 'abc' }]);
    const f = join(dir, 'a.tar');
    writeFileSync(f, b);
    expect(execFileSync('tar', ['-tf', f], { encoding: 'utf8' }).trim().split('\n')).toEqual(['manifest.json', long]);
    const out = join(dir, 'out');
    execFileSync('mkdir', ['-p', out]);
    execFileSync('tar', ['-xf', f, '-C', out]);
    expect(readFileSync(join(out, long), 'utf8')).toBe('abc');
  });

  it('reads archives the system tar writes (GNU and PAX formats, long names)', async () => {
    const src = join(dir, 'src');
    const long = 'y'.repeat(150);
    execFileSync('mkdir', ['-p', join(src, 'sub')]);
    writeFileSync(join(src, 'sub', long), 'long one');
    writeFileSync(join(src, 'short'), 'short one');
    for (const format of ['gnu', 'pax', 'ustar']) {
      const f = join(dir, `${format}.tar`);
      try {
        execFileSync('tar', ['--format', format, '-cf', f, '-C', src, 'short', `sub/${long}`], { stdio: 'pipe' });
      } catch {
        expect(format).toBe('ustar'); // ustar cannot hold a 150-byte file name: tar refuses
        continue;
      }
      const es = await indexTarFile(f);
      const byName = new Map(es.map((e) => [e.name, e]));
      const e = byName.get(`sub/${long}`)!;
      expect(e.size).toBe(8);
      expect(readFileSync(f).toString('utf8', e.offset, e.offset + e.size)).toBe('long one');
      expect(byName.get('short')!.size).toBe(9);
    }
  });

  it('refuses a damaged header and an entry that runs past the end', async () => {
    const b = archive([{ name: 'a', data: 'hello' }]);
    const bad = Buffer.from(b);
    bad[10] ^= 0xff;
    await expect(indexTar(bufReader(bad), bad.length)).rejects.toThrow(/checksum/);
    const cut = b.subarray(0, 512 + 2);
    await expect(indexTar(bufReader(cut), cut.length)).rejects.toThrow(/past the end/);
  });

  it('parses PAX records, and sizes in base-256', async () => {
    expect(parsePax(Buffer.from('19 path=some/thing\n15 size=123456\n'))).toEqual({ path: 'some/thing', size: '123456' });
    const h = tarHeader({ name: 'huge', type: 'file', size: 9 * 1024 ** 3 });
    expect(h[124] & 0x80).toBe(0x80);
    const es = await indexTar(async (pos, len) => (pos < 512 ? h.subarray(pos, pos + len) : Buffer.alloc(len)), 10 * 1024 ** 3);
    expect(es[0].size).toBe(9 * 1024 ** 3);
  });
});
