// The build context as the engine gets it (files .dockerignore leaves, the Dockerfile and
// .dockerignore always, an inline or outside Dockerfile added and listed), the tar it is sent
// as, and the spec a deploy sends (pinned, no build sections).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { buildContext, buildTargets, pinImages } from '../../../cli/build.js';
import { entryHeader, tarStream } from '../../../cli/tar.js';
import { parse } from '../stack/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tsswarm-ctx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(dir, 'c-'));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return root;
}

const names = (root: string, extra: object = {}) => buildContext({ context: root, ...extra }, 'web').entries!.map((e) => e.name);

describe('build context', () => {
  it('.dockerignore leaves files and folders out; Dockerfile and .dockerignore are always sent', () => {
    const root = tree({
      Dockerfile: 'FROM x', '.dockerignore': 'Dockerfile\n.dockerignore\nsecret.txt\nnode_modules\n**/*.log\ndocs\n!docs/keep.md\n',
      'secret.txt': 's', 'app.js': 'a', 'node_modules/x/index.js': 'x', 'src/a.log': 'l', 'src/main.js': 'm', 'docs/drop.md': 'd', 'docs/keep.md': 'k',
    });
    expect(names(root)).toEqual(['.dockerignore', 'Dockerfile', 'app.js', 'docs/keep.md', 'src', 'src/main.js']);
  });

  it('symlinks are sent as links, not followed', () => {
    const root = tree({ Dockerfile: 'FROM x', 'a.txt': 'a' });
    symlinkSync('a.txt', join(root, 'link'));
    const e = buildContext({ context: root }, 'web').entries!.find((x) => x.name === 'link');
    expect(e).toMatchObject({ type: 'symlink', linkname: 'a.txt' });
  });

  it('dockerfile: a path in the context is used as is; one outside is added under a listed name', () => {
    const root = tree({ 'docker/Dockerfile.prod': 'FROM x', 'a.txt': 'a' });
    expect(buildContext({ context: root, dockerfile: 'docker/Dockerfile.prod' }, 'web').dockerfile).toBe('docker/Dockerfile.prod');
    const outside = tree({ Dockerfile: 'FROM y' });
    const c = buildContext({ context: root, dockerfile: join(outside, 'Dockerfile') }, 'web');
    expect(c.dockerfile).toMatch(/^\.dockerfile\.[0-9a-f]{12}$/);
    const ignore = c.entries!.find((e) => e.name === '.dockerignore')!;
    expect(String(ignore.source)).toBe(`${c.dockerfile}\n`);
    expect(c.entries!.find((e) => e.name === c.dockerfile)?.source?.toString()).toBe('FROM y');
  });

  it('dockerfile_inline: added, and appended to the context\'s own .dockerignore', () => {
    const root = tree({ '.dockerignore': 'tmp', 'tmp/x': '1', 'a.txt': 'a' });
    const c = buildContext({ context: root, dockerfile_inline: 'FROM z\n' }, 'web');
    expect(c.entries!.map((e) => e.name)).toEqual(['a.txt', '.dockerignore', c.dockerfile]);
    expect(String(c.entries![1].source)).toBe(`tmp\n${c.dockerfile}\n`);
  });

  it('a missing context or Dockerfile, a bad .dockerignore: errors naming the service', () => {
    expect(() => buildContext({ context: join(dir, 'nope') }, 'web')).toThrow('service web: build context');
    expect(() => buildContext({ context: tree({ 'a.txt': 'a' }) }, 'web')).toThrow(/service web: no Dockerfile at .*Dockerfile/);
    expect(() => buildContext({ context: tree({ Dockerfile: 'FROM x', '.dockerignore': '[oops' }) }, 'web')).toThrow('.dockerignore line 1');
  });

  it('a URL context is the engine\'s to fetch', () => {
    expect(buildContext({ context: 'https://example.com/app.git' }, 'web')).toEqual({ remote: 'https://example.com/app.git', dockerfile: 'Dockerfile' });
  });
});

describe('tar', () => {
  const checksumOk = (h: Buffer) => {
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    return parseInt(h.subarray(148, 154).toString('ascii'), 8) === sum;
  };

  it('ustar headers: name, mode, size, checksum; pax for a long name', () => {
    const h = entryHeader({ name: 'a/b.txt', type: 'file', mode: 0o100644, mtime: 1_700_000_000, size: 5 });
    expect(h.length).toBe(512);
    expect(h.subarray(0, 7).toString()).toBe('a/b.txt');
    expect(h.subarray(100, 107).toString()).toBe('0000644');
    expect(parseInt(h.subarray(124, 135).toString(), 8)).toBe(5);
    expect(h.subarray(257, 263).toString()).toBe('ustar\0');
    expect(checksumOk(h)).toBe(true);
    const long = `${'d'.repeat(120)}/f.txt`;
    const p = entryHeader({ name: long, type: 'file', mode: 0o644, mtime: 0, size: 1 });
    expect(p.length).toBe(512 * 3);
    expect(p[156]).toBe('x'.charCodeAt(0));
    expect(p.subarray(512, 1024).toString()).toContain(`path=${long}\n`);
    expect(checksumOk(p.subarray(1024))).toBe(true);
  });

  it('the archive lists back with tar(1), bytes and long names intact', async () => {
    const root = tree({ Dockerfile: 'FROM x', [`${'n'.repeat(110)}/deep.txt`]: 'deep', 'b.bin': 'x'.repeat(1000) });
    const chunks: Buffer[] = [];
    for await (const b of tarStream(buildContext({ context: root }, 'web').entries!)) chunks.push(b);
    const all = Buffer.concat(chunks);
    expect(all.length % 512).toBe(0);
    const r = spawnSync('tar', ['-tvf', '-'], { input: all, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${'n'.repeat(110)}/deep.txt`);
    expect(r.stdout).toMatch(/1000 .* b\.bin/);
  });
});

describe('what a deploy sends', () => {
  const { stack } = parse('services:\n  web:\n    build: .\n  db:\n    image: postgres:16\n', { projectName: 'shop' });

  it('build services: all, or those named; a named one without build, or unknown, is an error', () => {
    expect(buildTargets(stack)).toEqual([{ stack: 'shop', service: 'web', image: 'shop-web', build: { context: '/proj/app' } }]);
    expect(() => buildTargets(stack, ['db'])).toThrow('service db has no build section');
    expect(() => buildTargets(stack, ['nope'])).toThrow('no service nope in stack shop');
  });

  it('pinned to the built IDs, build sections dropped', () => {
    const id = `sha256:${'b'.repeat(64)}`;
    const sent = pinImages(stack, { web: id });
    expect(sent.services.web).not.toHaveProperty('build');
    expect(sent.services.web.image_id).toBe(id);
    expect(sent.services.db).not.toHaveProperty('image_id');
    expect(stack.services.web.build).toBeDefined(); // the loaded stack is left as it was
  });
});
