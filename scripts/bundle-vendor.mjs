// After `tsc`: bundles the schema library (typebox, ~700 small ES modules) into one file,
// dist/vendor/typebox.mjs, and points the compiled imports at it. Node's loader links each
// module separately, so loading typebox cost every `tsswarm deploy`/`config` ~450 ms on these
// machines; the bundle loads in ~40 ms. Only dist/ changes: sources and tests import the
// package as usual, and an unbundled dist/ still works (just slower to start), which is what
// happens if the bundler is missing (this script warns and leaves dist/ as tsc wrote it).

import { readdirSync, readFileSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const out = join(dist, 'vendor', 'typebox.mjs');
// Every typebox entry point the compiled code imports, re-exported from the one bundle.
const ENTRIES = { typebox: ['*'], 'typebox/compile': ['Compile', 'Code'] };

let esbuild;
try {
  esbuild = await import('esbuild');
} catch (e) {
  console.warn(`bundle-vendor: esbuild unavailable (${e.message}); dist/ keeps importing typebox module by module (slower CLI start)`);
  process.exit(0);
}

const entry = Object.entries(ENTRIES)
  .map(([mod, names]) => (names[0] === '*' ? `export * from '${mod}';` : `export { ${names.join(', ')} } from '${mod}';`))
  .join('\n');
mkdirSync(dirname(out), { recursive: true });
await esbuild.build({
  stdin: { contents: entry, resolveDir: root, sourcefile: 'typebox-entry.mjs', loader: 'js' },
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outfile: out,
  logLevel: 'warning',
  legalComments: 'inline',
});

const IMPORT = /(\bfrom\s*|\bimport\s*\(\s*)(['"])(typebox(?:\/compile)?)\2/g;
let files = 0;
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) { if (p !== dirname(out)) walk(p); continue; }
    if (!name.endsWith('.js')) continue;
    const text = readFileSync(p, 'utf8');
    if (!text.includes('typebox')) continue;
    let rel = relative(dirname(p), out).split(sep).join('/');
    if (!rel.startsWith('.')) rel = `./${rel}`;
    const next = text.replace(IMPORT, (_m, pre, q) => `${pre}${q}${rel}${q}`);
    if (next !== text) { writeFileSync(p, next); files++; }
  }
};
walk(dist);
console.log(`bundle-vendor: typebox bundled into ${relative(root, out)}; ${files} compiled file(s) import it`);
