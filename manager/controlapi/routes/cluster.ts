// Cluster settings (show, update), status of the managers, join tokens, and the certificates
// of remote CLIs (issue, list, revoke).

import { Type } from 'typebox';
import type { ClientCertInfo, ClientCertResponse, ClusterStatus, JoinTokenResponse } from '../../../common/api/types.js';
import { DurationError, parseDaysDuration } from '../../../common/duration.js';
import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import { defaultClusterSpec, newClusterObj, patchClusterSpec, type ClusterObj } from '../../store/types.js';
import type { RoutePlugin } from '../context.js';
import { encodeBackup } from '../../cluster/start.js';
import { ClusterUpdateBody, RoleParams } from '../schemas.js';
import { normaliseSerial } from '../tls.js';

/** A client certificate's name: its identity (CN), and the key of its entry in the cluster object. */
export const CLIENT_CERT_NAME = '^[A-Za-z0-9._-]{1,64}$';
/** More than this many client certificates at once is refused (the list lives in the cluster object). */
export const MAX_CLIENT_CERTS = 1000;
const DAY_S = 86_400;
export const CLIENT_CERT_DEFAULT_S = 90 * DAY_S;
export const CLIENT_CERT_MAX_S = 365 * DAY_S;
export const CLIENT_CERT_MIN_S = 3600;

const ClientCertName = Type.String({ minLength: 1, maxLength: 64, pattern: CLIENT_CERT_NAME });
const ClientCertBody = Type.Object({
  name: ClientCertName,
  csr: Type.String({ minLength: 1, maxLength: 16_384 }),
  expiry: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
}, { additionalProperties: false });
const ClientCertParams = Type.Object({ name: ClientCertName }, { additionalProperties: false });

/**
 * A client certificate's validity, in seconds: "90d", "36h", "1d12h" (days, then a Go-style
 * duration); between an hour and a year. Absent: 90 days.
 */
export function clientCertExpiry(s: string | undefined): number {
  if (s === undefined) return CLIENT_CERT_DEFAULT_S;
  const bad = (why: string): never => { throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `expiry ${JSON.stringify(s)}: ${why}`, [{ field: 'expiry', message: why }]); };
  let ms = 0;
  try { ms = parseDaysDuration(s); } catch (e) { if (e instanceof DurationError) bad('use a duration such as 90d, 720h or 30d12h'); throw e; }
  const secs = Math.floor(ms / 1000);
  if (secs < CLIENT_CERT_MIN_S) bad('at least 1h');
  if (secs > CLIENT_CERT_MAX_S) bad('at most 365d');
  return secs;
}

export const clusterRoutes: RoutePlugin = async (app, { ctx }) => {
  const { store } = ctx;
  app.get('/v1/cluster', async (): Promise<ClusterObj> => {
    const c = store.view((tx) => tx.get('cluster', 'default')) ?? newClusterObj();
    // The join tokens are shown only by the join-token route; sealed keys never.
    const { joinTokens: _tokens, autolock, ca, ...shown } = c;
    return {
      ...shown,
      ...(ca ? { ca: { certPem: ca.certPem, ...(ca.next ? { next: { certPem: ca.next.certPem } } : {}) } } : {}),
      ...(autolock ? { autolock: {} } : {}),
    } as ClusterObj;
  });

  app.post('/v1/cluster/update', { schema: { body: ClusterUpdateBody } }, async (req) => store.update((tx) => {
    const cur = tx.get('cluster', 'default');
    let spec;
    try {
      spec = patchClusterSpec(cur?.spec ?? defaultClusterSpec(), req.body.spec);
    } catch (e) {
      if (e instanceof TsswarmError) throw e;
      throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, (e as Error).message);
    }
    if (cur) tx.update({ ...cur, spec });
    else tx.create(newClusterObj(spec));
    return { kind: 'cluster' as const, id: 'default' as const, spec };
  }));

  app.get('/v1/cluster/status', async (_req, reply): Promise<ClusterStatus> => {
    const c = ctx.cluster;
    if (!c) throw new TsswarmError(ErrorCodes.UNAVAILABLE, 'this manager runs without cluster membership');
    const st = await c.status();
    if (!c.isLeader) {
      st.stale = true;
      void reply.header('x-tsswarm-stale', 'no leader answered: this manager\'s own view');
    }
    return st;
  });

  // A consistent snapshot of the whole store (through the leader, after a ReadIndex barrier):
  // the bytes `manager --init --restore FILE` starts a cluster from (checksummed).
  app.get('/v1/cluster/backup', async (_req, reply) => {
    await store.barrier();
    void reply.header('content-type', 'application/octet-stream');
    void reply.header('x-tsswarm-index', String(store.index));
    // The data key goes with it (wrapped by the unlock key under autolock): a restore opens the
    // secrets and the CA's key the snapshot holds sealed.
    return ctx.cluster ? encodeBackup(ctx.cluster.backupKeys(), store.machine.snapshot()) : Buffer.from(store.machine.snapshot());
  });

  const tokenAnswer = (role: 'worker' | 'manager', token: string): JoinTokenResponse => {
    const addr = ctx.cluster?.leaderAddr() ?? ctx.cluster?.managerAddrs()[0] ?? 'MANAGER:4242';
    const cmd = role === 'manager' ? `tsswarm manager --join ${addr} --token ${token} --listen-addr HOST:PORT --data-dir DIR` : `tsswarm agent --join ${addr} --token ${token}`;
    return { role, token, command: cmd };
  };

  app.get('/v1/cluster/join-token/:role', { schema: { params: RoleParams } }, async (req): Promise<JoinTokenResponse> => {
    const t = store.view((tx) => tx.get('cluster', 'default'))?.joinTokens?.[req.params.role];
    if (!t) throw new TsswarmError(ErrorCodes.UNAVAILABLE, 'this cluster has no join tokens (it was created by an older release: rotate them with --rotate)');
    return tokenAnswer(req.params.role, t);
  });

  // ---- client certificates --------------------------------------------------------------
  // Issued on the leader (writes are forwarded there): the CSR is signed, then its serial is
  // recorded; a certificate whose serial is not recorded is refused by the HTTPS API, so a
  // failed record leaves nothing usable behind.

  const clientCerts = (): NonNullable<ClusterObj['clientCerts']> => store.view((tx) => tx.get('cluster', 'default'))?.clientCerts ?? [];

  app.post('/v1/cluster/client-certs', { schema: { body: ClientCertBody } }, async (req): Promise<ClientCertResponse> => {
    const { name, csr } = req.body;
    const validSeconds = clientCertExpiry(req.body.expiry);
    if (!/^\s*-----BEGIN (NEW )?CERTIFICATE REQUEST-----[\s\S]+-----END (NEW )?CERTIFICATE REQUEST-----\s*$/.test(csr)) {
      throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'csr must be a PEM certificate signing request (-----BEGIN CERTIFICATE REQUEST-----)', [{ field: 'csr', message: 'not a PEM CSR' }]);
    }
    const now = Date.now();
    const others = (list: NonNullable<ClusterObj['clientCerts']>) => list.filter((c) => c.name !== name && c.notAfter > now);
    const full = () => new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `this cluster already has ${MAX_CLIENT_CERTS} client certificates: revoke some first (tsswarm cluster client-cert rm NAME)`);
    if (others(clientCerts()).length >= MAX_CLIENT_CERTS) throw full();
    if (!ctx.cluster?.signClientCert) throw new TsswarmError(ErrorCodes.UNAVAILABLE, 'this manager cannot sign certificates (it runs without the cluster CA)');
    const issued = await ctx.cluster.signClientCert(name, csr, validSeconds);
    const serial = normaliseSerial(issued.serial);
    await store.update((tx) => {
      const cur = tx.get('cluster', 'default');
      // Expired entries go with the next issue; a name's earlier certificate is replaced.
      const kept = others(cur?.clientCerts ?? []);
      if (kept.length >= MAX_CLIENT_CERTS) throw full();
      const next = { ...(cur ?? newClusterObj()), clientCerts: [...kept, { name, serial, notAfter: issued.notAfter, createdAt: now }] };
      if (cur) tx.update(next);
      else tx.create(next);
    });
    ctx.log.info({ name, serial, notAfter: new Date(issued.notAfter).toISOString() }, 'issued a client certificate');
    return { certPem: issued.certPem, caPems: issued.caPems, serial, notAfter: issued.notAfter };
  });

  app.get('/v1/cluster/client-certs', async (): Promise<ClientCertInfo[]> =>
    clientCerts().map(({ name, serial, notAfter, createdAt }) => ({ name, serial, notAfter, createdAt })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));

  app.delete('/v1/cluster/client-certs/:name', { schema: { params: ClientCertParams } }, async (req): Promise<ClientCertInfo> => {
    const { name } = req.params;
    const removed = await store.update((tx) => {
      const cur = tx.get('cluster', 'default');
      const found = cur?.clientCerts?.find((c) => c.name === name);
      if (!cur || !found) throw new TsswarmError(ErrorCodes.CLIENT_CERT_NOT_FOUND, `no client certificate named ${JSON.stringify(name)} (tsswarm cluster client-cert ls)`);
      tx.update({ ...cur, clientCerts: cur.clientCerts!.filter((c) => c.name !== name) });
      return found;
    });
    ctx.log.info({ name, serial: removed.serial }, 'revoked a client certificate');
    return removed;
  });

  app.post('/v1/cluster/join-token/:role/rotate', { schema: { params: RoleParams } }, async (req): Promise<JoinTokenResponse> => {
    if (!ctx.cluster) throw new TsswarmError(ErrorCodes.UNAVAILABLE, 'this manager runs without cluster membership');
    return tokenAnswer(req.params.role, await ctx.cluster.rotateToken(req.params.role));
  });
};
