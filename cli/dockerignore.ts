// `.dockerignore`: which files of a build context are not sent to the engine, as `docker build`
// reads it. One pattern a line (blank lines and lines starting with # are skipped; spaces around
// a line are trimmed); a path is relative to the context, `/` separated, a leading `/` ignored,
// cleaned (`./a//b/` is `a/b`). Wildcards: `*` any run of characters but `/`, `?` one character
// but `/`, `[a-z]` / `[!a-z]` a class, `\` quotes the next character, `**` any number of
// folders (none too). A pattern that matches a folder excludes everything below it. `!PATTERN`
// takes matching paths back in; the last pattern that matches a path decides. Pure.

import { posix } from 'node:path';

export interface IgnorePattern {
  /** the pattern as cleaned (without its `!`) */
  text: string;
  /** `!PATTERN`: takes paths back in */
  negate: boolean;
  re: RegExp;
  /** line in the file, for messages */
  line: number;
}

export class DockerignoreError extends Error {
  constructor(readonly line: number, message: string) {
    super(message);
    this.name = 'DockerignoreError';
  }
}

/** The patterns of a .dockerignore text; throws DockerignoreError naming the line of a bad pattern. */
export function parseDockerignore(text: string): IgnorePattern[] {
  const out: IgnorePattern[] = [];
  text.replace(/^\uFEFF/, '').split(/\r?\n/).forEach((raw, i) => {
    let p = raw.trim();
    if (p === '' || raw.startsWith('#')) return;
    const negate = p.startsWith('!');
    if (negate) p = p.slice(1).trim();
    if (p === '') return;
    p = posix.normalize(p);
    if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
    if (p.length > 1 && p.startsWith('/')) p = p.replace(/^\/+/, '');
    out.push({ text: p, negate, re: compile(p, i + 1), line: i + 1 });
  });
  return out;
}

const REGEX_SPECIAL = /[\\^$.|+(){}]/;

/** A pattern as a regular expression over whole `/`-separated paths. */
function compile(p: string, line: number): RegExp {
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const ch = p[i];
    if (ch === '*') {
      if (p[i + 1] === '*') {
        i++;
        if (p[i + 1] === '/') i++;
        // `**` at the end: anything below; elsewhere: any number of folders, none too
        re += i + 1 >= p.length ? '.*' : '(?:.*/)?';
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else if (ch === '\\') {
      if (i + 1 >= p.length) throw new DockerignoreError(line, `.dockerignore line ${line}: "${p}" ends with an escaping \\`);
      i++;
      re += escapeChar(p[i]);
    } else if (ch === '[') {
      const end = p.indexOf(']', i + 2);
      if (end === -1) throw new DockerignoreError(line, `.dockerignore line ${line}: "${p}" has a [ without its ]`);
      let cls = p.slice(i + 1, end);
      const neg = cls.startsWith('!') || cls.startsWith('^');
      if (neg) cls = cls.slice(1);
      re += `[${neg ? '^' : ''}${cls.replace(/\\/g, '\\\\').replace(/\//g, '')}]`;
      i = end;
    } else re += escapeChar(ch);
  }
  try {
    return new RegExp(`^${re}$`, 's');
  } catch {
    throw new DockerignoreError(line, `.dockerignore line ${line}: "${p}" is not a valid pattern`);
  }
}

const escapeChar = (c: string): string => (REGEX_SPECIAL.test(c) || c === '[' || c === ']' || c === '*' || c === '?' ? `\\${c}` : c);

/** The part of a pattern before its first wildcard: what every path it matches starts with. */
function literalPrefix(text: string): string {
  const m = /[*?[\\]/.exec(text);
  return m ? text.slice(0, m.index) : text;
}

export class IgnoreMatcher {
  private readonly negations: IgnorePattern[];

  constructor(readonly patterns: IgnorePattern[]) {
    this.negations = patterns.filter((p) => p.negate);
  }

  /** Whether a path of the context (relative, `/`-separated) is left out. */
  excluded(path: string): boolean {
    const parts = path.split('/');
    let out = false;
    for (const p of this.patterns) {
      // a pattern can only change the verdict: skip those that would leave it as it is
      if (p.negate !== out) continue;
      let hit = p.re.test(path);
      // a pattern that matches a folder above the path covers the path too
      for (let i = 1; !hit && i < parts.length; i++) hit = p.re.test(parts.slice(0, i).join('/'));
      if (hit) out = !p.negate;
    }
    return out;
  }

  /** Whether a `!` pattern may take back a path below an excluded folder (else the folder is skipped whole). */
  mayReinclude(dir: string): boolean {
    const d = `${dir}/`;
    return this.negations.some((p) => {
      const lit = literalPrefix(p.text);
      return lit.startsWith(d) || d.startsWith(lit.slice(0, lit.lastIndexOf('/') + 1));
    });
  }
}
