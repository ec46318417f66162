// .dockerignore as `docker build` reads it: patterns, `**`, `!` exceptions, folders, comments.
import { describe, expect, it } from 'vitest';
import { DockerignoreError, IgnoreMatcher, parseDockerignore } from '../../../cli/dockerignore.js';

const m = (text: string) => new IgnoreMatcher(parseDockerignore(text));

describe('.dockerignore patterns', () => {
  it.each([
    // pattern, path, excluded
    ['secret.txt', 'secret.txt', true],
    ['secret.txt', 'sub/secret.txt', false],
    ['/secret.txt', 'secret.txt', true],
    ['./secret.txt', 'secret.txt', true],
    ['*.log', 'a.log', true],
    ['*.log', 'logs/a.log', false],
    ['*/*.log', 'logs/a.log', true],
    ['**/*.log', 'a.log', true],
    ['**/*.log', 'x/y/z/a.log', true],
    ['logs/**', 'logs/a/b', true],
    ['logs/**', 'logsx/a', false],
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['a/**/b', 'a/x/y/c', false],
    ['node_modules', 'node_modules/pkg/index.js', true],
    ['node_modules/', 'node_modules/pkg/index.js', true],
    ['build', 'src/build', false],
    ['fil?.txt', 'file.txt', true],
    ['fil?.txt', 'fil/.txt', false],
    ['[a-c].txt', 'b.txt', true],
    ['[!a-c].txt', 'b.txt', false],
    ['[!a-c].txt', 'd.txt', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['a.b', 'axb', false],
    ['a+(b)', 'a+(b)', true],
    ['*', 'anything/below', true],
    ['x/../secret', 'secret', true],
  ])('%s vs %s -> %s', (pattern, path, excluded) => {
    expect(m(pattern).excluded(path)).toBe(excluded);
  });

  it('! takes paths back in; the last matching pattern decides', () => {
    const ig = m('*.md\n!README.md\nREADME*.md\n!README-keep.md');
    expect(ig.excluded('CHANGES.md')).toBe(true);
    expect(ig.excluded('README.md')).toBe(true);
    expect(ig.excluded('README-keep.md')).toBe(false);
    expect(ig.excluded('main.ts')).toBe(false);
  });

  it('an exception below an excluded folder: the folder is searched, only the exception comes back', () => {
    const ig = m('docs\n!docs/keep.txt');
    expect(ig.excluded('docs/drop.txt')).toBe(true);
    expect(ig.excluded('docs/keep.txt')).toBe(false);
    expect(ig.mayReinclude('docs')).toBe(true);
    expect(ig.mayReinclude('other')).toBe(false);
    expect(m('docs').mayReinclude('docs')).toBe(false);
    expect(m('docs\n!**/*.txt').mayReinclude('docs')).toBe(true);
  });

  it('comments, blank lines, spaces, CRLF and a byte order mark', () => {
    const ig = m('\uFEFF# a comment\r\n\r\n   tmp   \r\n #not a comment\r\n');
    expect(ig.patterns.map((p) => p.text)).toEqual(['tmp', '#not a comment']);
    expect(ig.excluded('tmp/x')).toBe(true);
    expect(ig.excluded('# a comment')).toBe(false);
  });

  it('a bad pattern names its line', () => {
    expect(() => parseDockerignore('ok\n[abc')).toThrow(DockerignoreError);
    expect(() => parseDockerignore('ok\n[abc')).toThrow('.dockerignore line 2');
    expect(() => parseDockerignore('a\\')).toThrow('line 1');
  });
});
