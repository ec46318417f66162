// Interpolation, .env parsing and command splitting: the text-level building blocks.
import { describe, expect, it } from 'vitest';
import { interpolate, InterpolationError, parseDotenv, parseMemory, shellSplit } from '../../../common/stack/index.js';

const env: Record<string, string> = { SET: 'val', EMPTY: '', PORT: '8080', NESTED: 'n' };
const lookup = (n: string) => env[n];

describe('interpolate', () => {
  it.each([
    ['plain text', 'plain text', []],
    ['${SET}', 'val', []],
    ['$SET', 'val', []],
    ['a-$SET-b', 'a-val-b', []],
    ['$SET_X', '', ['SET_X']],
    ['${UNSET}', '', ['UNSET']],
    ['$UNSET', '', ['UNSET']],
    ['${UNSET:-def}', 'def', []],
    ['${EMPTY:-def}', 'def', []],
    ['${SET:-def}', 'val', []],
    ['${UNSET-def}', 'def', []],
    ['${EMPTY-def}', '', []],
    ['${UNSET:-}', '', []],
    ['${SET:+repl}', 'repl', []],
    ['${EMPTY:+repl}', '', []],
    ['${UNSET:+repl}', '', []],
    ['${EMPTY+repl}', 'repl', []],
    ['${UNSET+repl}', '', []],
    ['${SET?boom}', 'val', []],
    ['${EMPTY?boom}', '', []],
    ['${UNSET:-${NESTED}}', 'n', []],
    ['${UNSET:-${ALSO_UNSET:-deep}}', 'deep', []],
    ['${UNSET:-a}b}', 'ab}', []],
    ['$$', '$', []],
    ['$${SET}', '${SET}', []],
    ['$$SET', '$SET', []],
    ['cost: 5$', 'cost: 5$', []],
    ['$1 and $ alone', '$1 and $ alone', []],
    ['${PORT}:80', '8080:80', []],
    ['${UNSET:-$$literal}', '$literal', []],
  ])('%s', (input, value, missing) => {
    expect(interpolate(input, lookup)).toEqual({ value, missing });
  });

  it.each([
    ['${UNSET:?must be set}', 'required variable UNSET is missing a value: must be set'],
    ['${EMPTY:?no empty}', 'required variable EMPTY is missing a value: no empty'],
    ['${UNSET?gone}', 'required variable UNSET is missing a value: gone'],
    ['${UNSET:?}', 'required variable UNSET is missing a value'],
    ['${', 'invalid interpolation format'],
    ['${SET', 'invalid interpolation format'],
    ['${1abc}', 'invalid interpolation format'],
    ['${SET:-unterminated', 'invalid interpolation format'],
    ['${SET%x}', 'invalid interpolation format'],
  ])('%s fails', (input, message) => {
    expect(() => interpolate(input, lookup)).toThrow(InterpolationError);
    expect(() => interpolate(input, lookup)).toThrow(message);
  });
});

describe('parseDotenv', () => {
  it('reads comments, export, quotes, inline comments and bare keys', () => {
    const text = [
      '# a comment',
      '',
      'A=1',
      'export B = two words ',
      'C="quoted # not a comment" # a comment',
      "D='single $A \\n'",
      'E="line1\\nline2 \\"q\\" \\$A"',
      'F=${A}-$B',
      'G=value # trailing comment',
      'H=',
      'I',
      'J=a#b',
      'K="multi',
      'line"',
      'L=${NOPE}',
    ].join('\n');
    const res = parseDotenv(text, (n) => (n === 'I' ? 'from-shell' : undefined));
    expect(res.errors).toEqual([]);
    expect(Object.fromEntries(res.entries.map((e) => [e.key, e.value]))).toEqual({
      A: '1',
      B: 'two words',
      C: 'quoted # not a comment',
      D: 'single $A \\n',
      E: 'line1\nline2 "q" $A',
      F: '1-two words',
      G: 'value',
      H: '',
      I: undefined,
      J: 'a#b',
      K: 'multi\nline',
      L: '',
    });
    expect(res.entries.find((e) => e.key === 'K')?.line).toBe(13);
    expect(res.missing).toEqual([{ name: 'NOPE', line: 15 }]);
  });

  it('reports bad lines with their numbers', () => {
    const res = parseDotenv('OK=1\n1BAD=2\nQ="open\n');
    expect(res.errors.map((e) => e.line)).toEqual([2, 3]);
    expect(res.entries.map((e) => e.key)).toEqual(['OK']);
  });

  it('handles CRLF and a BOM', () => {
    expect(parseDotenv('\uFEFFA=1\r\nB=2\r\n').entries.map((e) => [e.key, e.value])).toEqual([
      ['A', '1'],
      ['B', '2'],
    ]);
  });
});

describe('shellSplit', () => {
  it.each([
    ['echo hello', ['echo', 'hello']],
    ['  spaced   out  ', ['spaced', 'out']],
    [`sh -c 'echo "$HOME"; exit 1'`, ['sh', '-c', 'echo "$HOME"; exit 1']],
    [`echo "a b" c`, ['echo', 'a b', 'c']],
    [`echo "say \\"hi\\"" \\$X`, ['echo', 'say "hi"', '$X']],
    [`a\\ b`, ['a b']],
    [`x"y"'z'`, ['xyz']],
    [`""`, ['']],
    ['', []],
    ['npm run start -- --port=3000', ['npm', 'run', 'start', '--', '--port=3000']],
  ])('%s', (input, argv) => {
    expect(shellSplit(input)).toEqual(argv);
  });

  it.each([`echo 'open`, `echo "open`, `trailing\\`])('%s fails', (input) => {
    expect(() => shellSplit(input)).toThrow();
  });
});

describe('parseMemory', () => {
  it.each([
    [1024, 1024],
    ['1024', 1024],
    ['100k', 102_400],
    ['100K', 102_400],
    ['512M', 512 * 1024 ** 2],
    ['512mb', 512 * 1024 ** 2],
    ['1g', 1024 ** 3],
    ['1.5GiB', 1.5 * 1024 ** 3],
    ['2 g', 2 * 1024 ** 3],
    ['1t', 1024 ** 4],
  ] as const)('%s', (input, bytes) => {
    expect(parseMemory(input)).toBe(bytes);
  });

  it.each(['', 'lots', '1x', '-1', 1.5, -3])('%s is invalid', (input) => {
    expect(parseMemory(input)).toBeUndefined();
  });
});
