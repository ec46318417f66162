// GET /v1/services/:ref/logs: the service's task logs, fetched from the agents through the
// dispatcher, streamed as NDJSON (LogLineView per line).

import type { LogLineView } from '../../../common/api/types.js';
import type { RoutePlugin } from '../context.js';
import { findService } from '../lookup.js';
import { LogsQuery, RefParams } from '../schemas.js';

export const logRoutes: RoutePlugin = async (app, { ctx }) => {
  app.get('/v1/services/:ref/logs', { schema: { params: RefParams, querystring: LogsQuery } }, async (req, reply) => {
    const { tasks } = ctx.store.view((tx) => {
      const svc = findService(tx, req.params.ref);
      return { tasks: tx.list('task', (t) => t.serviceId === svc.id && !!t.nodeId && !!t.status.containerId) };
    });
    const byNode = new Map<string, string[]>();
    for (const t of tasks) byNode.set(t.nodeId!, [...(byNode.get(t.nodeId!) ?? []), t.id]);
    const names = new Map(tasks.map((t) => [t.id, `${t.serviceName}.${t.slot ?? t.nodeId}.${t.id.slice(0, 12)}`]));
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson' });
    if (byNode.size === 0) { reply.raw.end(); return; } // no task has run yet: nothing to ask any agent
    const q = req.query;
    const cancel = ctx.dispatcher.logs(byNode,
      { follow: q.follow ?? false, tail: q.tail ?? -1, timestamps: q.timestamps ?? false },
      (l) => reply.raw.write(JSON.stringify({ task: names.get(l.taskId) ?? l.taskId, stream: l.stream as LogLineView['stream'], data: l.data.toString('utf8'), ts: l.timestampMs } satisfies LogLineView) + '\n'),
      () => reply.raw.end());
    req.raw.on('close', cancel);
  });
};
