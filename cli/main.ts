// The `tsswarm` command: finds the command's group and runs it; an error ends the process
// with "Error: message (TSW_ERR_…)" and exit code 1. (`tsswarm manager` and `tsswarm agent`
// are the launcher's.)

import { formatError } from '../common/errors.js';
import { VERSION } from '../common/version.js';
import { usageError } from './args.js';
import { runCluster } from './commands/cluster.js';
import { runManager } from './commands/manager.js';
import { runContext } from './commands/context.js';
import { runConfigGroup } from './commands/config.js';
import { runNode } from './commands/node.js';
import { runService } from './commands/service.js';
import { runSecret } from './commands/secret.js';
import { runBuild, runDeploy, runStack } from './commands/stack.js';
import { processIo, type Io } from './io.js';
import { USAGE } from './usage.js';

const GROUPS: Record<string, (argv: string[], io: Io) => Promise<number>> = {
  // `config create|ls|inspect|update|rm` are configs; `config [-c FILE]...` prints the stack.
  config: runConfigGroup,
  secret: runSecret,
  deploy: runDeploy,
  build: runBuild,
  stack: runStack,
  service: runService,
  node: runNode,
  cluster: runCluster,
  manager: runManager,
  context: runContext,
};

export async function main(argv: string[], io: Io = processIo()): Promise<void> {
  try {
    process.exitCode = await run(argv, io);
  } catch (err) {
    io.err(formatError(err, !!process.env.TSSWARM_DEBUG));
    process.exitCode = 1;
  }
}

export async function run(argv: string[], io: Io): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined: case '-h': case '--help': case 'help': io.out(USAGE); return 0;
    case 'version': case '--version': io.out(`tsswarm ${VERSION}\n`); return 0;
  }
  const group = Object.hasOwn(GROUPS, cmd) ? GROUPS[cmd] : undefined;
  return group ? group(rest, io) : usageError(`unknown command ${JSON.stringify(cmd)}`);
}
