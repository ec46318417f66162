// `.env` / env_file format, as Compose reads it:
//   # comment            blank lines skipped
//   export KEY=value     `export ` is optional
//   KEY=value # comment  unquoted: trimmed, " #" starts a comment, ${VAR} interpolated
//   KEY="a\nb $X"        double quotes: escapes (\n \t \r \\ \" \$) and interpolation; may span lines
//   KEY='literal'        single quotes: taken as is; may span lines
//   KEY                  no `=`: the value comes from the environment (undefined here)
// Interpolation sees the variables defined earlier in the same file first, then `lookup`.

import { interpolate, InterpolationError, type Lookup } from './interpolate.js';

export interface DotenvEntry {
  key: string;
  value: string | undefined;
  line: number;
}

export interface DotenvResult {
  entries: DotenvEntry[];
  errors: { line: number; message: string }[];
  /** unset variables referenced by values */
  missing: { name: string; line: number }[];
}

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function parseDotenv(text: string, lookup: Lookup = () => undefined): DotenvResult {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const res: DotenvResult = { entries: [], errors: [], missing: [] };
  const local = new Map<string, string>();
  const look: Lookup = (n) => local.get(n) ?? lookup(n);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    if (/^export\s+/.test(line)) line = line.replace(/^export\s+/, '');
    const eq = line.indexOf('=');
    if (eq === -1) {
      if (!KEY_RE.test(line)) {
        res.errors.push({ line: lineNo, message: `invalid line "${line}": expected KEY=VALUE` });
        continue;
      }
      res.entries.push({ key: line, value: undefined, line: lineNo });
      continue;
    }
    const key = line.slice(0, eq).trim();
    if (!KEY_RE.test(key)) {
      res.errors.push({ line: lineNo, message: `invalid variable name "${key}"` });
      continue;
    }
    let rest = line.slice(eq + 1).trimStart();
    let value: string;
    let interpolateIt = true;
    const q = rest[0];
    if (q === '"' || q === "'") {
      // find the closing quote, possibly on a later line
      let body = rest.slice(1);
      let close = findClose(body, q);
      while (close === -1 && i + 1 < lines.length) {
        i++;
        body += '\n' + lines[i];
        close = findClose(body, q);
      }
      if (close === -1) {
        res.errors.push({ line: lineNo, message: `unterminated ${q === '"' ? 'double' : 'single'}-quoted value for ${key}` });
        continue;
      }
      const raw = body.slice(0, close);
      rest = body.slice(close + 1).trim();
      if (rest !== '' && !rest.startsWith('#')) {
        res.errors.push({ line: lineNo, message: `unexpected text after the quoted value of ${key}` });
        continue;
      }
      if (q === "'") {
        value = raw;
        interpolateIt = false;
      } else {
        value = unescapeDouble(raw);
      }
    } else {
      const hash = rest.search(/\s#/);
      value = (hash === -1 ? rest : rest.slice(0, hash)).trim();
    }
    if (interpolateIt) {
      try {
        const r = interpolate(value, look);
        value = r.value;
        for (const name of r.missing) res.missing.push({ name, line: lineNo });
      } catch (e) {
        if (!(e instanceof InterpolationError)) throw e;
        res.errors.push({ line: lineNo, message: e.message });
        continue;
      }
    }
    local.set(key, value);
    res.entries.push({ key, value, line: lineNo });
  }
  return res;
}

function findClose(body: string, q: string): number {
  for (let k = 0; k < body.length; k++) {
    if (q === '"' && body[k] === '\\') {
      k++;
      continue;
    }
    if (body[k] === q) return k;
  }
  return -1;
}

function unescapeDouble(s: string): string {
  // keep "\$" as "$$" so interpolation turns it into a literal "$"
  return s.replace(/\\(.)/gs, (_m, c: string) => {
    switch (c) {
      case 'n': return '\n';
      case 't': return '\t';
      case 'r': return '\r';
      case '$': return '$$';
      default: return c;
    }
  });
}
