// GET /v1/info: the manager's identity and its store index.

import type { InfoResponse } from '../../../common/api/types.js';
import type { RoutePlugin } from '../context.js';

export const infoRoutes: RoutePlugin = async (app, { ctx }) => {
  app.get('/v1/info', async (): Promise<InfoResponse> => ({ ...ctx.info(), storeIndex: ctx.store.index }));
};
