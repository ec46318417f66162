// The .env format Compose reads: KEY=VALUE per line, `export ` allowed, # comments,
// 'single' quotes literal, "double" quotes with \n \t \" \\ escapes, unquoted values lose a
// trailing " # comment".

export interface DotenvError { line: number; message: string }

export function parseDotenv(text: string): { values: Record<string, string>; errors: DotenvError[] } {
  const values: Record<string, string> = {};
  const errors: DotenvError[] = [];
  text.split(/\r?\n/).forEach((raw, idx) => {
    let line = raw.trim();
    if (!line || line.startsWith('#')) return;
    if (line.startsWith('export ')) line = line.slice(7).trimStart();
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) { errors.push({ line: idx + 1, message: `invalid variable name ${JSON.stringify(key)}` }); return; }
    if (eq < 0) return; // a bare KEY: nothing to set
    let v = line.slice(eq + 1).trim();
    if (v.startsWith("'")) {
      const end = v.indexOf("'", 1);
      if (end < 0) { errors.push({ line: idx + 1, message: 'unterminated single quote' }); return; }
      v = v.slice(1, end);
    } else if (v.startsWith('"')) {
      let out = '';
      let j = 1;
      for (; j < v.length && v[j] !== '"'; j++) {
        if (v[j] === '\\' && j + 1 < v.length) {
          const e = v[++j];
          out += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
        } else out += v[j];
      }
      if (j >= v.length) { errors.push({ line: idx + 1, message: 'unterminated double quote' }); return; }
      v = out;
    } else {
      const hash = v.search(/\s#/);
      if (hash >= 0) v = v.slice(0, hash).trimEnd();
    }
    values[key] = v;
  });
  return { values, errors };
}
