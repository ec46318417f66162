// Cluster settings: show (defaults when the store has no cluster object yet), update.

import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import { defaultClusterSpec, newClusterObj, patchClusterSpec, type ClusterObj } from '../../store/types.js';
import type { RoutePlugin } from '../context.js';
import { ClusterUpdateBody } from '../schemas.js';

export const clusterRoutes: RoutePlugin = async (app, { ctx }) => {
  const { store } = ctx;
  app.get('/v1/cluster', async (): Promise<ClusterObj> => store.view((tx) => tx.get('cluster', 'default')) ?? newClusterObj());

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
};
