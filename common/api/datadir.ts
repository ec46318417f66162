// Where a node keeps its state unless told otherwise, and the files in it that a client needs
// to find: shared by the daemons (which create them) and the CLI (which connects to them).

import { homedir } from 'node:os';
import { join } from 'node:path';

/** /var/lib/tsswarm as root, $XDG_DATA_HOME/tsswarm (~/.local/share/tsswarm) otherwise. */
export function defaultDataDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/tsswarm' : join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'tsswarm');
}

/** The manager's HTTP API socket (0600) inside a data dir. */
export const apiSocketPath = (dataDir: string): string => join(dataDir, 'tsswarm.sock');
/** The manager's gRPC socket for its embedded agent inside a data dir. */
export const dispatcherSocketPath = (dataDir: string): string => join(dataDir, 'dispatcher.sock');
