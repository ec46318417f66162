// A manager's own identity on disk (docs/identity.md):
//
//   <data dir>/keys/        the keyring: the cluster's data key, wrapped (manager/keys)
//   <data dir>/certs/ca.crt the roots this manager trusts (PEM; two during a CA rotation)
//   <data dir>/certs/node.crt  its certificate (and intermediate), O=<cluster> OU=manager CN=<node id>
//   <data dir>/certs/node.key  its private key, sealed with the data key (so autolock covers it)
//
// Files are written to a temporary name, fsynced and renamed: a crash leaves the old or the
// new file. Managers hold the CA's key (in the store, sealed), so a manager renews its own
// certificate without asking anyone, and one whose certificate expired while the cluster was
// off issues itself a new one when it starts.

import { createPublicKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFileDurable } from '../common/durable.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { newKeyPem, pemBlocks } from '../common/pki.js';
import { ErrorCodes, TsswarmError, statusOf } from '../common/errors.js';
import type { TlsMaterial } from '../proto/credentials.js';
import { issueCert } from './ca/x509.js';
import { Keyring } from './keys/keyring.js';

/** The additional data a manager's sealed private key is bound to. */
export const NODE_KEY_AAD = 'node-key';

export const certPaths = (dataDir: string): { dir: string; ca: string; cert: string; key: string } => {
  const dir = join(dataDir, 'certs');
  return { dir, ca: join(dir, 'ca.crt'), cert: join(dir, 'node.crt'), key: join(dir, 'node.key') };
};

/** Writes this manager's material (key sealed). */
export function saveManagerCerts(dataDir: string, keyring: Keyring, m: TlsMaterial): void {
  const p = certPaths(dataDir);
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  chmodSync(p.dir, 0o700);
  writeFileDurable(p.key, keyring.seal(Buffer.from(m.keyPem), NODE_KEY_AAD));
  writeFileDurable(p.cert, m.certPem);
  writeFileDurable(p.ca, m.caPems.map((c) => c.trimEnd()).join('\n') + '\n');
}

/** This manager's material, if it has some (a data dir of an older release has none). */
export function loadManagerCerts(dataDir: string, keyring: Keyring): TlsMaterial | undefined {
  const p = certPaths(dataDir);
  if (!existsSync(p.cert) || !existsSync(p.key) || !existsSync(p.ca)) return undefined;
  let keyPem: string;
  try {
    keyPem = keyring.open(readFileSync(p.key, 'utf8').trim(), NODE_KEY_AAD).toString('utf8');
  } catch (e) {
    throw new TsswarmError(ErrorCodes.CORRUPT, `${p.key} cannot be opened with this manager's data key: ${(e as Error).message}`);
  }
  return { keyPem, certPem: readFileSync(p.cert, 'utf8'), caPems: pemBlocks(readFileSync(p.ca, 'utf8')) };
}

/** A manager certificate for a fresh key, signed here with the CA (a founder, or a manager renewing itself). */
export async function selfIssue(ca: { certPem: string; keyPem: string }, o: { nodeId: string; clusterId: string; validMs: number; caPems: string[]; intermediatePem?: string }): Promise<TlsMaterial> {
  const keyPem = newKeyPem();
  const publicKeyPem = createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }).toString();
  const leaf = await issueCert(ca, publicKeyPem, { commonName: o.nodeId, role: 'manager', clusterId: o.clusterId, validSeconds: Math.max(1, Math.round(o.validMs / 1000)) });
  return { keyPem, certPem: o.intermediatePem ? `${leaf.trimEnd()}\n${o.intermediatePem.trimEnd()}\n` : leaf, caPems: o.caPems };
}

/**
 * Autolock: this manager's data key is wrapped by the unlock key, which only the operator
 * holds. Until it is given, the manager runs nothing but a small API on its socket: `GET
 * /v1/info` says it is locked, `POST /v1/unlock` `{ "key": "TSWKEY-1-…" }` opens the keyring
 * (`tsswarm manager unlock`), everything else is answered 423. Resolves with the keyring and the key.
 */
export function waitForUnlock(dataDir: string, socket: string, log: Logger): Promise<{ keyring: Keyring; key: string }> {
  log.warn({ socket }, 'this manager is locked (autolock): run `tsswarm manager unlock` on this host to give it the unlock key');
  return new Promise((resolve, reject) => {
    const reply = (res: ServerResponse, status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const refuse = (res: ServerResponse, code: TsswarmError['code'], message: string): void => reply(res, statusOf(code), { code, message, details: [] });
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.method === 'GET' && req.url?.split('?')[0] === '/v1/info') return reply(res, 200, { locked: true, dataDir, pid: process.pid });
      if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/unlock') {
        return refuse(res, ErrorCodes.CLUSTER_LOCKED, 'this manager is locked (autolock): run `tsswarm manager unlock` first');
      }
      let body = '';
      let tooBig = false;
      req.setEncoding('utf8');
      req.on('data', (d: string) => { body += d; if (body.length > 4096) { tooBig = true; req.destroy(); } });
      req.on('end', () => {
        if (tooBig) return;
        let key: unknown;
        try { key = (JSON.parse(body) as { key?: unknown }).key; } catch { return refuse(res, ErrorCodes.INVALID_JSON, 'the body must be JSON: { "key": "TSWKEY-1-…" }'); }
        if (typeof key !== 'string') return refuse(res, ErrorCodes.INVALID_ARGUMENT, 'key must be the unlock key (a string)');
        let keyring: Keyring;
        try {
          keyring = Keyring.open(dataDir, key.trim());
        } catch (e) {
          const err = e instanceof TsswarmError ? e : new TsswarmError(ErrorCodes.UNLOCK_KEY_INVALID, 'the unlock key does not open this manager');
          log.warn({ code: err.code }, 'unlock refused');
          return refuse(res, err.code, err.message);
        }
        log.info('unlocked: starting');
        reply(res, 200, { message: 'Manager unlocked: starting' });
        server.close();
        resolve({ keyring, key: key.trim() });
      });
    });
    server.on('error', reject);
    rmSync(socket, { force: true });
    server.listen(socket, () => chmodSync(socket, 0o600));
  });
}
