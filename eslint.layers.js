// tsswarm's layering rules as one ESLint rule: `layers/imports`.
//
// Every import (static, `export … from`, and `import()` with a literal) is resolved to a path
// relative to the repository root, then checked against the rules below: a rule names the
// files it applies to and the import targets they may not use. The rules and the picture
// they draw are explained in docs/architecture.md; change both together.

import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinModules } from 'node:module';

const ROOT = dirname(fileURLToPath(import.meta.url));

/** Node's built-in modules, with and without the `node:` prefix. */
const BUILTIN = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

const RAFT_CORE = ['core', 'log', 'tracker', 'quorum', 'confchange', 'readonly', 'storage', 'types'].map((f) => `manager/raft/${f}.ts`);
const CONTROL_LOOPS = ['manager/orchestrator/', 'manager/scheduler/', 'manager/dispatcher/', 'manager/nodemonitor/'];

/**
 * Each rule: `files` (path prefixes or exact paths, from the repository root), `forbid`
 * (prefixes of resolved targets; `node:` = Node's built-ins; `package:` = any npm package),
 * `allow` (exceptions to forbid), and the message a violation prints.
 */
export const LAYER_RULES = [
  {
    name: 'raft-core-pure',
    files: RAFT_CORE,
    forbid: ['node:', 'package:', 'manager/raft/'],
    allow: RAFT_CORE,
    message: 'the Raft core is pure: it imports only other core modules (no node:*, packages, runner, WAL or transport)',
  },
  {
    name: 'common-is-the-bottom',
    files: ['common/'],
    forbid: ['manager/', 'agent/', 'cli/', 'launcher/', 'proto/', 'test/'],
    message: 'common/ is the shared contract: it imports nothing from manager/, agent/, cli/, proto/ or the launcher',
  },
  {
    name: 'proto-below-daemons',
    files: ['proto/'],
    forbid: ['manager/', 'agent/', 'cli/', 'launcher/', 'test/'],
    message: 'proto/ holds wire contracts only: it imports nothing from the daemons or the CLI',
  },
  {
    name: 'agent-not-manager',
    files: ['agent/'],
    forbid: ['manager/', 'cli/', 'launcher/', 'test/'],
    message: 'agent/ never imports manager/ or cli/: what both need belongs in common/ (the contract) or proto/',
  },
  {
    name: 'cli-speaks-the-api',
    files: ['cli/'],
    forbid: ['manager/', 'agent/', 'proto/', 'launcher/', 'test/'],
    message: 'cli/ imports only the shared contract (common/) and its own files: it speaks to managers through the HTTP API',
  },
  {
    name: 'manager-not-cli-or-agent',
    files: ['manager/'],
    forbid: ['cli/', 'agent/', 'launcher/', 'test/'],
    message: 'manager/ never imports cli/ or agent/: the launcher wires a manager with its embedded agent',
  },
  ...CONTROL_LOOPS.map((loop) => ({
    name: 'control-loops-apart',
    files: [loop],
    forbid: [...CONTROL_LOOPS.filter((l) => l !== loop), 'manager/controlapi/', 'manager/control/'],
    message: 'control loops (orchestrator, scheduler, dispatcher, node monitor) never import each other: move what they share to manager/objects/',
  })),
  {
    name: 'objects-below-loops',
    files: ['manager/objects/', 'manager/store/'],
    forbid: [...CONTROL_LOOPS, 'manager/controlapi/', 'manager/control/'],
    message: 'manager/objects/ and manager/store/ sit below the control loops and the API: they import neither',
  },
  {
    name: 'lab-uses-common',
    files: ['deploy/'],
    forbid: ['manager/', 'agent/', 'cli/', 'launcher/', 'proto/', 'test/'],
    message: 'deploy/ (the lab) drives tsswarm from outside: it imports only common/ and runs the built tsswarm command',
  },
];

const startsWithAny = (p, prefixes) => prefixes.some((x) => (x.endsWith('/') ? p.startsWith(x) : p === x));

/** The import's target as a repository path (`manager/store/types.ts`), `node:x`, or `package:name`. */
function target(spec, fromFile) {
  if (BUILTIN.has(spec)) return spec.startsWith('node:') ? spec : `node:${spec}`;
  if (!spec.startsWith('.') && !spec.startsWith('/')) return `package:${spec}`;
  const abs = resolve(dirname(fromFile), spec);
  return relative(ROOT, abs).replace(/\.js$/, '.ts');
}

function violation(rel, tgt) {
  for (const r of LAYER_RULES) {
    if (!startsWithAny(rel, r.files)) continue;
    const forbidden = r.forbid.some((f) => (f === 'node:' || f === 'package:' ? tgt.startsWith(f) : tgt.startsWith(f) || tgt === f));
    if (forbidden && !(r.allow && startsWithAny(tgt, r.allow))) return r;
  }
  return undefined;
}

const importsRule = {
  meta: {
    type: 'problem',
    docs: { description: "tsswarm's layering: which folders may import which (docs/architecture.md)" },
    schema: [],
    messages: { layer: '{{target}} may not be imported here ({{rule}}): {{message}}' },
  },
  create(context) {
    const file = context.filename ?? context.getFilename();
    const rel = relative(ROOT, file);
    if (rel.startsWith('..')) return {};
    const check = (node, source) => {
      if (!source || typeof source.value !== 'string') return;
      const tgt = target(source.value, file);
      const r = violation(rel, tgt);
      if (r) context.report({ node, messageId: 'layer', data: { target: tgt, rule: r.name, message: r.message } });
    };
    return {
      ImportDeclaration: (n) => check(n, n.source),
      ExportNamedDeclaration: (n) => n.source && check(n, n.source),
      ExportAllDeclaration: (n) => check(n, n.source),
      ImportExpression: (n) => n.source.type === 'Literal' && check(n, n.source),
    };
  },
};

export default { rules: { imports: importsRule } };
