// Wires an agent: Docker client, worker (executor + ingress), session to a manager.
// Used by `tsswarm agent` and, in-process, by a manager's embedded agent: both reach the
// manager over gRPC, the same code path.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Worker } from './worker/index.js';
import { AgentSession } from './session.js';
import { describeNode, dockerFromEnv } from './docker.js';
import type { NodeDescription } from '../proto/gen/tsswarm/dispatcher/v1/NodeDescription.js';
import { NodeCredentials, type TlsMaterial } from '../proto/credentials.js';
import { renewCertificate } from '../proto/identity-client.js';
import { RenewalTimer, validity } from '../common/renewal.js';
import { caDigest, pemBlocks, verifyIssued } from '../common/pki.js';
import { loadAgentIdentity, saveAgentIdentity } from './identity.js';
import { NodeBuilder } from './exec/build.js';
import { ImageShipper } from './exec/images.js';

export interface AgentOptions {
  manager: string; // unix:///path or host:port: the manager tried first
  /** More managers to fall back to (unix:///path or host:port); the leader's list is learned on top. */
  managers?: string[];
  log: Logger;
  nodeId?: string; // the embedded agent is told its node id; a standalone one keeps it in stateDir
  stateDir?: string;
  addr?: string;
  ingressBind?: string;
  /** Revisions of each service's built image kept on this node (Worker's imageKeep). */
  imageKeep?: number;
  /**
   * The certificate sessions to managers over the network present: the embedded agent's is
   * its manager's; a standalone agent's is read from (and renewed into) stateDir.
   */
  credentials?: NodeCredentials;
  /** The cluster's roots as the leader sends them (a standalone agent follows CA rotations with it). */
  onTrust?: (t: { issuer: string; caPems: string[] }) => void;
}

export interface RunningAgent {
  session: AgentSession;
  worker: Worker;
  close(): Promise<void>;
}

export async function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  const docker = dockerFromEnv();
  const log = opts.log.child({ component: 'agent' });
  // A standalone agent that joined holds its own certificate, and renews it through the leader.
  if (!opts.credentials && opts.stateDir) {
    const id = loadAgentIdentity(opts.stateDir);
    if (id) {
      const credentials = new NodeCredentials(id.material, id.clusterId);
      const late: { renewer?: RenewalTimer; save?: (m: TlsMaterial) => void } = {};
      // A CA rotation: trust what the leader says now; renew when this certificate is not of the issuing root.
      const onTrust = (t: { issuer: string; caPems: string[] }): void => {
        if (!t.caPems.length) return;
        const m = credentials.material;
        if (t.caPems.join('\n') !== m.caPems.join('\n')) {
          const next = { ...m, caPems: t.caPems };
          credentials.update(next);
          late.save?.(next);
          log.info({ roots: t.caPems.length }, 'trusted roots updated');
        }
        const issuer = t.caPems.find((p) => caDigest(p) === t.issuer);
        if (issuer && !verifyIssued(pemBlocks(m.certPem)[0]!, issuer)) late.renewer?.renewSoon();
      };
      const running = await startAgent({ ...opts, credentials, onTrust, nodeId: id.nodeId, managers: [...(opts.managers ?? []), ...id.managers] });
      late.save = (m) => saveAgentIdentity(opts.stateDir!, { ...id, material: m, managers: running.session.knownManagers().filter((a) => !a.startsWith('unix:')) });
      const renewer = agentRenewer(running.session, credentials, late.save, log);
      late.renewer = renewer;
      renewer.start();
      return { ...running, async close() { renewer.stop(); await running.close(); } };
    }
  }
  let nodeId = opts.nodeId;
  const idFile = opts.stateDir ? join(opts.stateDir, 'node_id') : undefined;
  if (!nodeId && idFile && existsSync(idFile)) nodeId = readFileSync(idFile, 'utf8').trim() || undefined;
  // While the engine does not answer, a new session registers with what it said last.
  let described: NodeDescription | undefined;
  const describe = async (): Promise<NodeDescription> => {
    try {
      described = await describeNode(docker, opts.addr);
    } catch (err) {
      if (!described) throw err;
    }
    return described;
  };
  const images = new ImageShipper(docker, log);
  const session = new AgentSession({
    images,
    builds: new NodeBuilder(docker, log),
    manager: opts.manager,
    managers: opts.managers,
    nodeId,
    log,
    credentials: opts.credentials,
    onTrust: opts.onTrust,
    describe,
    onNodeId: (id) => {
      if (idFile && id !== nodeId) { mkdirSync(opts.stateDir!, { recursive: true }); writeFileSync(idFile, id + '\n'); }
      nodeId = id;
    },
  });
  if (!nodeId) {
    // A new node learns its id from the manager before its worker can label containers.
    const bootstrap = { localTaskIds: async () => [], assign: () => undefined, applied: async () => undefined, logs: (_r: unknown, _c: unknown, end: () => void) => { end(); return () => undefined; } };
    session.start(bootstrap);
    await session.connected;
    nodeId = session.id!;
    const managers = session.knownManagers();
    session.close();
    return startAgent({ ...opts, nodeId, managers });
  }
  // A renewed certificate or new roots: sessions reconnect with them.
  const unwatchCredentials = opts.credentials?.onUpdate(() => session.credentialsChanged());
  images.setWire(session);
  const worker = new Worker({ docker, nodeId, log, report: (taskId, status) => session.report(taskId, status), ingressBind: opts.ingressBind, images, imageKeep: opts.imageKeep });
  const unwatchEngine = worker.onEngineChange(() => session.engineChanged());
  await worker.start();
  session.start(worker);
  return {
    session,
    worker,
    async close() {
      unwatchCredentials?.();
      unwatchEngine();
      session.close();
      await worker.stop();
    },
  };
}

/** Renews a standalone agent's certificate through the leader, from the managers its session knows. */
function agentRenewer(session: AgentSession, credentials: NodeCredentials, save: (m: TlsMaterial) => void, log: Logger): RenewalTimer {
  const valid = () => validity(credentials.material.certPem);
  return new RenewalTimer({
    current: valid,
    renew: async () => {
      const m = await renewCertificate(credentials, session.knownManagers().filter((a) => !a.startsWith('unix:')));
      save(m);
      credentials.update(m);
      log.info({ notAfter: new Date(valid().notAfter).toISOString() }, 'certificate renewed');
    },
    onError: (e, wait) => log.warn({ err: e.message, retryInMs: wait }, 'could not renew this node\'s certificate; retrying'),
  });
}
