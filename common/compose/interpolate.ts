// Compose variable interpolation on string values:
//   $$ -> $   $VAR   ${VAR}   ${VAR:-default} ${VAR-default}   ${VAR:?err} ${VAR?err}
//   ${VAR:+replacement} ${VAR+replacement}; defaults and replacements may nest.

export interface InterpolationResult {
  value: string;
  /** variables used without a value and without a default */
  missing: string[];
  /** ${VAR:?message} failures */
  errors: string[];
}

export type Lookup = (name: string) => string | undefined;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

export function interpolate(input: string, lookup: Lookup): InterpolationResult {
  const res: InterpolationResult = { value: '', missing: [], errors: [] };
  let out = '';
  let i = 0;
  while (i < input.length) {
    const ch = input[i];
    if (ch !== '$') { out += ch; i++; continue; }
    const next = input[i + 1];
    if (next === '$') { out += '$'; i += 2; continue; }
    if (next === '{') {
      const end = matchingBrace(input, i + 1);
      if (end < 0) { res.errors.push(`unterminated "\${" in ${JSON.stringify(input)}`); out += input.slice(i); break; }
      out += expand(input.slice(i + 2, end), lookup, res);
      i = end + 1;
      continue;
    }
    const m = NAME.exec(input.slice(i + 1));
    if (!m) { out += '$'; i++; continue; }
    const v = lookup(m[0]);
    if (v === undefined) res.missing.push(m[0]);
    out += v ?? '';
    i += 1 + m[0].length;
  }
  res.value = out;
  return res;
}

function matchingBrace(s: string, open: number): number {
  let depth = 0;
  for (let j = open; j < s.length; j++) {
    if (s[j] === '{') depth++;
    else if (s[j] === '}') { depth--; if (depth === 0) return j; }
  }
  return -1;
}

function expand(body: string, lookup: Lookup, res: InterpolationResult): string {
  const m = NAME.exec(body);
  if (!m) { res.errors.push(`invalid interpolation "\${${body}}": expected a variable name`); return ''; }
  const name = m[0];
  const rest = body.slice(name.length);
  const value = lookup(name);
  if (rest === '') {
    if (value === undefined) res.missing.push(name);
    return value ?? '';
  }
  const op = /^(:-|-|:\?|\?|:\+|\+)/.exec(rest);
  if (!op) { res.errors.push(`invalid interpolation "\${${body}}"`); return ''; }
  const arg = () => {
    const inner = interpolate(rest.slice(op[0].length), lookup);
    res.missing.push(...inner.missing);
    res.errors.push(...inner.errors);
    return inner.value;
  };
  const unsetOrEmpty = value === undefined || value === '';
  switch (op[0]) {
    case ':-': return unsetOrEmpty ? arg() : value;
    case '-': return value === undefined ? arg() : value;
    case ':?': if (unsetOrEmpty) { res.errors.push(`required variable ${name} is ${value === undefined ? 'missing' : 'empty'}: ${arg() || `set ${name}`}`); return ''; } return value;
    case '?': if (value === undefined) { res.errors.push(`required variable ${name} is missing: ${arg() || `set ${name}`}`); return ''; } return value;
    case ':+': return unsetOrEmpty ? '' : arg();
    default: return value === undefined ? '' : arg();
  }
}
