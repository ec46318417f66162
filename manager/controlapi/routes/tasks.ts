// GET /v1/tasks, filtered by service (a reference), stack and node id.

import type { TaskObj } from '../../store/types.js';
import type { RoutePlugin } from '../context.js';
import { findService } from '../lookup.js';
import { TasksQuery } from '../schemas.js';

export const taskRoutes: RoutePlugin = async (app, { ctx }) => {
  app.get('/v1/tasks', { schema: { querystring: TasksQuery } }, async (req): Promise<TaskObj[]> => {
    const q = req.query;
    return ctx.store.view((tx) => {
      const svc = q.service ? findService(tx, q.service) : undefined;
      return tx.list('task', (t) => (!svc || t.serviceId === svc.id) && (q.stack === undefined || t.stack === q.stack) && (!q.node || t.nodeId === q.node));
    });
  });
};
