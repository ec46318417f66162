// Compose-style variable interpolation on string values:
//   $$ -> $        $VAR  ${VAR}         unset -> "" (reported as missing)
//   ${VAR:-default} unset or empty -> default      ${VAR-default} unset -> default
//   ${VAR:?message} unset or empty -> error         ${VAR?message} unset -> error
//   ${VAR:+replacement} set and non-empty -> replacement, else ""   ${VAR+replacement} set -> replacement
// Defaults, messages and replacements may themselves contain interpolations.
// A `$` not followed by `$`, `{` or a name is kept literally, as Compose does.

export type Lookup = (name: string) => string | undefined;

export class InterpolationError extends Error {}

export interface InterpolationResult {
  value: string;
  /** variables that were unset and had no default */
  missing: string[];
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

export function interpolate(input: string, lookup: Lookup): InterpolationResult {
  const missing: string[] = [];
  const value = expand(input, lookup, missing);
  return { value, missing };
}

function expand(s: string, lookup: Lookup, missing: string[]): string {
  if (!s.includes('$')) return s;
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const { text, end } = braced(s, i, lookup, missing);
      out += text;
      i = end;
      continue;
    }
    if (next !== undefined && NAME_START.test(next)) {
      let j = i + 1;
      while (j < s.length && NAME_CHAR.test(s[j])) j++;
      const name = s.slice(i + 1, j);
      const v = lookup(name);
      if (v === undefined) missing.push(name);
      out += v ?? '';
      i = j;
      continue;
    }
    out += '$';
    i++;
  }
  return out;
}

/** `${...}` starting at s[start] === '$'; returns the substituted text and the index after `}`. */
function braced(s: string, start: number, lookup: Lookup, missing: string[]): { text: string; end: number } {
  let j = start + 2;
  const invalid = (): never => {
    const close = s.indexOf('}', start);
    const shown = close === -1 ? s.slice(start) : s.slice(start, close + 1);
    throw new InterpolationError(`invalid interpolation format in "${s}": "${shown}"; use $$ for a literal $`);
  };
  if (j >= s.length || !NAME_START.test(s[j])) invalid();
  while (j < s.length && NAME_CHAR.test(s[j])) j++;
  const name = s.slice(start + 2, j);
  if (s[j] === '}') {
    const v = lookup(name);
    if (v === undefined) missing.push(name);
    return { text: v ?? '', end: j + 1 };
  }
  let op: string;
  if (s[j] === ':' && (s[j + 1] === '-' || s[j + 1] === '?' || s[j + 1] === '+')) op = s.slice(j, j + 2);
  else if (s[j] === '-' || s[j] === '?' || s[j] === '+') op = s[j];
  else return invalid();
  const argStart = j + op.length;
  // find the matching close brace, allowing nested ${...} and $$
  let depth = 0;
  let k = argStart;
  for (; k < s.length; k++) {
    if (s[k] === '$' && s[k + 1] === '$') {
      k++;
      continue;
    }
    if (s[k] === '$' && s[k + 1] === '{') {
      depth++;
      k++;
      continue;
    }
    if (s[k] === '}') {
      if (depth === 0) break;
      depth--;
    }
  }
  if (k >= s.length) invalid();
  const arg = s.slice(argStart, k);
  const end = k + 1;
  const v = lookup(name);
  const unset = v === undefined;
  const empty = unset || v === '';
  const sub = () => expand(arg, lookup, missing);
  switch (op) {
    case ':-':
      return { text: empty ? sub() : v!, end };
    case '-':
      return { text: unset ? sub() : v!, end };
    case ':?':
    case '?':
      if (op === ':?' ? empty : unset) {
        const msg = sub();
        throw new InterpolationError(`required variable ${name} is missing a value${msg ? `: ${msg}` : ''}`);
      }
      return { text: v!, end };
    case ':+':
      return { text: empty ? '' : sub(), end };
    default: // '+'
      return { text: unset ? '' : sub(), end };
  }
}
