// Nodes: list (by hostname), inspect by hostname, id or id prefix.

import type { NodeObj } from '../../store/types.js';
import type { RoutePlugin } from '../context.js';
import { findNode } from '../lookup.js';
import { RefParams } from '../schemas.js';

export const nodeRoutes: RoutePlugin = async (app, { ctx }) => {
  app.get('/v1/nodes', async (): Promise<NodeObj[]> =>
    ctx.store.view((tx) => tx.list('node')).sort((a, b) => a.description.hostname.localeCompare(b.description.hostname)));
  app.get('/v1/nodes/:ref', { schema: { params: RefParams } }, async (req): Promise<NodeObj> => ctx.store.view((tx) => findNode(tx, req.params.ref)));
};
