// An agent's identity on disk (docs/identity.md): `<state dir>/certs/node.key` (0600),
// `node.crt`, `ca.crt`, and `<state dir>/identity.json` (cluster and node id). Written by
// `tsswarm agent --join`, renewed by the agent itself (RenewalTimer), read at every start.
// Files go to a temporary name, are fsynced and renamed: a crash leaves the old or the new.

import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pemBlocks } from '../common/pki.js';
import { writeFileDurable } from '../common/durable.js';
import { ErrorCodes, TsswarmError } from '../common/errors.js';
import type { TlsMaterial } from '../proto/credentials.js';

export interface AgentIdentity {
  clusterId: string;
  nodeId: string;
  material: TlsMaterial;
  /** The managers it joined through (more are learned from the leader). */
  managers: string[];
}

const paths = (stateDir: string) => {
  const dir = join(stateDir, 'certs');
  return { dir, key: join(dir, 'node.key'), cert: join(dir, 'node.crt'), ca: join(dir, 'ca.crt'), id: join(stateDir, 'identity.json') };
};

export function loadAgentIdentity(stateDir: string): AgentIdentity | undefined {
  const p = paths(stateDir);
  if (!existsSync(p.id)) return undefined;
  try {
    const id = JSON.parse(readFileSync(p.id, 'utf8')) as { clusterId: string; nodeId: string; managers?: string[] };
    return {
      clusterId: id.clusterId, nodeId: id.nodeId, managers: id.managers ?? [],
      material: { keyPem: readFileSync(p.key, 'utf8'), certPem: readFileSync(p.cert, 'utf8'), caPems: pemBlocks(readFileSync(p.ca, 'utf8')) },
    };
  } catch (e) {
    throw new TsswarmError(ErrorCodes.DATA_DIR, `the agent identity in ${stateDir} cannot be read (${(e as Error).message}): join again with a new --data-dir`);
  }
}

/** Saves what a join (or a renewal: `material` only) gave. */
export function saveAgentIdentity(stateDir: string, id: AgentIdentity): void {
  const p = paths(stateDir);
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  chmodSync(stateDir, 0o700);
  chmodSync(p.dir, 0o700);
  writeFileDurable(p.key, id.material.keyPem);
  writeFileDurable(p.cert, id.material.certPem);
  writeFileDurable(p.ca, id.material.caPems.map((c) => c.trimEnd()).join('\n') + '\n');
  writeFileDurable(p.id, JSON.stringify({ clusterId: id.clusterId, nodeId: id.nodeId, managers: id.managers }) + '\n');
  // Older agents kept only their node id here.
  writeFileDurable(join(stateDir, 'node_id'), id.nodeId + '\n');
}
