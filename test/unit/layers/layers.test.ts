// The layering rules (eslint.layers.js, docs/architecture.md) as a specification: for each
// kind of file, which imports lint refuses. `npm test` runs ESLint over the tree too; this
// proves the rule catches what it must, so a silently broken rule cannot pass for a clean tree.

import { ESLint } from 'eslint';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const eslint = new ESLint({ cwd: root });

async function layerErrors(file: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: join(root, file) });
  return r.messages.filter((m) => m.ruleId === 'layers/imports').map((m) => m.message);
}

const cases: { file: string; code: string; refused: RegExp | null }[] = [
  // the Raft core is pure
  { file: 'manager/raft/core.ts', code: "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;", refused: /raft-core-pure/ },
  { file: 'manager/raft/log.ts', code: "import { EventEmitter } from 'events';\nexport const x = EventEmitter;", refused: /raft-core-pure/ },
  { file: 'manager/raft/tracker.ts', code: "import { RaftNode } from './node.js';\nexport const x = RaftNode;", refused: /raft-core-pure/ },
  { file: 'manager/raft/storage.ts', code: "import { DiskStorage } from './wal.js';\nexport const x = DiskStorage;", refused: /raft-core-pure/ },
  { file: 'manager/raft/quorum.ts', code: "import { RaftTransport } from './transport.js';\nexport const x = RaftTransport;", refused: /raft-core-pure/ },
  { file: 'manager/raft/core.ts', code: "import { RaftLog } from './log.js';\nexport const x = RaftLog;", refused: null },
  { file: 'manager/raft/wal.ts', code: "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;", refused: null },
  // agent/ never imports manager/
  { file: 'agent/worker/index.ts', code: "import type { Store } from '../../manager/store/store.js';\nexport type X = Store;", refused: /agent-not-manager/ },
  { file: 'agent/session.ts', code: "export const m = () => import('../manager/main.js');", refused: /agent-not-manager/ },
  { file: 'agent/session.ts', code: "import { isTerminal } from '../common/api/objects.js';\nexport const x = isTerminal;", refused: null },
  // cli/ speaks only the contract
  { file: 'cli/main.ts', code: "import { buildApi } from '../manager/controlapi/server.js';\nexport const x = buildApi;", refused: /cli-speaks-the-api/ },
  { file: 'cli/main.ts', code: "export * from '../agent/main.js';", refused: /cli-speaks-the-api/ },
  { file: 'cli/main.ts', code: "import { dispatcherProto } from '../proto/load.js';\nexport const x = dispatcherProto;", refused: /cli-speaks-the-api/ },
  { file: 'cli/main.ts', code: "import type { ServiceView } from '../common/api/types.js';\nexport type X = ServiceView;", refused: null },
  // manager/ never imports cli/ or agent/
  { file: 'manager/main.ts', code: "import { startAgent } from '../agent/main.js';\nexport const x = startAgent;", refused: /manager-not-cli-or-agent/ },
  { file: 'manager/controlapi/server.ts', code: "import { USAGE } from '../../cli/usage.js';\nexport const x = USAGE;", refused: /manager-not-cli-or-agent/ },
  // deploy/ (the lab) drives tsswarm from outside: common/ only
  { file: 'deploy/lab/lab.ts', code: "import { startManager } from '../../manager/main.js';\nexport const x = startManager;", refused: /lab-uses-common/ },
  { file: 'deploy/lab/lab.ts', code: "import { USAGE } from '../../cli/usage.js';\nexport const x = USAGE;", refused: /lab-uses-common/ },
  { file: 'deploy/lab/lab.ts', code: "import type { NodeObj } from '../../common/api/objects.js';\nexport type X = NodeObj;", refused: null },
  // common/ is the bottom
  { file: 'common/spec.ts', code: "import type { Store } from '../manager/store/store.js';\nexport type X = Store;", refused: /common-is-the-bottom/ },
  // control loops never import each other
  { file: 'manager/orchestrator/global.ts', code: "import { nodeSatisfies } from '../scheduler/index.js';\nexport const x = nodeSatisfies;", refused: /control-loops-apart/ },
  { file: 'manager/dispatcher/dispatcher.ts', code: "import { withStatus } from '../orchestrator/index.js';\nexport const x = withStatus;", refused: /control-loops-apart/ },
  { file: 'manager/scheduler/filters.ts', code: "import { Dispatcher } from '../dispatcher/dispatcher.js';\nexport const x = Dispatcher;", refused: /control-loops-apart/ },
  { file: 'manager/nodemonitor/index.ts', code: "import { schedule } from '../scheduler/index.js';\nexport const x = schedule;", refused: /control-loops-apart/ },
  { file: 'manager/orchestrator/global.ts', code: "import { isLive } from '../objects/task.js';\nexport const x = isLive;", refused: null },
  // what the loops share sits below them
  { file: 'manager/objects/task.ts', code: "import { schedule } from '../scheduler/index.js';\nexport const x = schedule;", refused: /objects-below-loops/ },
];

describe('layers/imports', () => {
  it.each(cases)('$file: $code', async ({ file, code, refused }) => {
    const errors = await layerErrors(file, code);
    if (refused) {
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(refused);
    } else {
      expect(errors).toEqual([]);
    }
  });

  it('the tree as committed has no violation', async () => {
    const results = await eslint.lintFiles(['common', 'manager', 'agent', 'cli', 'proto', 'launcher']);
    const violations = results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'layers/imports').map((m) => `${r.filePath}:${m.line}: ${m.message}`));
    expect(violations).toEqual([]);
  });
});
