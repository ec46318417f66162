#!/usr/bin/env node
// Generates TypeScript types for proto/*.proto into proto/gen/ (proto-loader-gen-types, no protoc).
// --check: regenerate into a temp dir and fail if proto/gen/ differs (the types are kept in the repo).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

export const LOADER_OPTIONS = ['--keepCase', '--longs=Number', '--enums=String', '--defaults', '--oneofs', '--grpcLib=@grpc/grpc-js'];
const check = process.argv.includes('--check');
const root = new URL('..', import.meta.url).pathname;
const protos = readdirSync(join(root, 'proto')).filter((f) => f.endsWith('.proto')).map((f) => join('proto', f));
const out = check ? mkdtempSync(join(tmpdir(), 'tsswarm-proto-')) : join(root, 'proto', 'gen');
if (!check) rmSync(out, { recursive: true, force: true });
execFileSync(join(root, 'node_modules', '.bin', 'proto-loader-gen-types'), [...LOADER_OPTIONS, '--outDir', out, ...protos], { cwd: root, stdio: 'inherit' });

// NodeNext resolution wants explicit .js extensions on relative imports; the generator omits them.
for (const f of walk(out)) {
  const src = readFileSync(f, 'utf8');
  const fixed = src.replace(/(from\s+'\.{1,2}\/[^']*?)(?<!\.js)'/g, "$1.js'");
  if (fixed !== src) writeFileSync(f, fixed);
}

function walk(dir) {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)]));
}
if (check) {
  const want = walk(out).map((f) => relative(out, f)).sort();
  const have = walk(join(root, 'proto', 'gen')).map((f) => relative(join(root, 'proto', 'gen'), f)).sort();
  const stale = want.filter((f) => !have.includes(f) || readFileSync(join(out, f), 'utf8') !== readFileSync(join(root, 'proto', 'gen', f), 'utf8'));
  const extra = have.filter((f) => !want.includes(f));
  rmSync(out, { recursive: true, force: true });
  if (stale.length || extra.length) {
    console.error(`proto/gen is out of date (${[...stale, ...extra].join(', ')}): run npm run proto:gen`);
    process.exit(1);
  }
  console.log('proto/gen is current');
}
