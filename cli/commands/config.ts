// Configs: `config create|ls|inspect|update|rm`, the secrets' commands (secret.ts) for a value
// that is not confidential (`config inspect` shows its content, base64). `tsswarm config`
// without one of these words prints the normalised stack, as before (stack.ts).

import type { Io } from '../io.js';
import { OBJECT_SUBCOMMANDS, runObject } from './secret.js';
import { runConfig as runStackConfig } from './stack.js';

export async function runConfigGroup(argv: string[], io: Io): Promise<number> {
  if (argv[0] !== undefined && OBJECT_SUBCOMMANDS.includes(argv[0])) return runObject('config', argv, io);
  return runStackConfig(argv, io);
}
