// Cluster settings (show, update), status of the managers, join tokens.

import type { ClusterStatus, JoinTokenResponse } from '../../../common/api/types.js';
import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import { defaultClusterSpec, newClusterObj, patchClusterSpec, type ClusterObj } from '../../store/types.js';
import type { RoutePlugin } from '../context.js';
import { ClusterUpdateBody, RoleParams } from '../schemas.js';

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
    return Buffer.from(store.machine.snapshot());
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

  app.post('/v1/cluster/join-token/:role/rotate', { schema: { params: RoleParams } }, async (req): Promise<JoinTokenResponse> => {
    if (!ctx.cluster) throw new TsswarmError(ErrorCodes.UNAVAILABLE, 'this manager runs without cluster membership');
    return tokenAnswer(req.params.role, await ctx.cluster.rotateToken(req.params.role));
  });
};
