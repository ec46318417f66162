// The cluster's keys: autolock and its unlock key, and the root CA's rotation (docs/identity.md).

import { Type } from 'typebox';
import type { CaStatusResponse, UnlockKeyResponse } from '../../../common/api/types.js';
import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import type { ClusterApi, RoutePlugin } from '../context.js';

const AutolockBody = Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false });

export const identityRoutes: RoutePlugin = async (app, { ctx }) => {
  const cluster = (): ClusterApi => {
    if (!ctx.cluster) throw new TsswarmError(ErrorCodes.UNAVAILABLE, 'this API serves no cluster');
    return ctx.cluster;
  };
  app.post('/v1/cluster/autolock', { schema: { body: AutolockBody } }, async (req): Promise<UnlockKeyResponse> => cluster().setAutolock(req.body.enabled));
  app.get('/v1/cluster/unlock-key', async (): Promise<UnlockKeyResponse> => cluster().unlockKey());
  app.post('/v1/cluster/unlock-key/rotate', async (): Promise<UnlockKeyResponse> => cluster().rotateUnlockKey());
  app.get('/v1/cluster/ca', async (): Promise<CaStatusResponse> => cluster().caStatus());
  app.post('/v1/cluster/ca/rotate', async (): Promise<CaStatusResponse> => cluster().rotateCA());
  // `tsswarm manager unlock` on a manager that runs: say so (a locked one answers this itself).
  app.post('/v1/unlock', async () => {
    throw new TsswarmError(ErrorCodes.CONFLICT, 'this manager is not locked: it is running');
  });
};
