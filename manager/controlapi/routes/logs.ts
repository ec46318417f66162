// GET /v1/services/:ref/logs: the service's task logs, fetched from the agents through the
// dispatcher, streamed as NDJSON (LogLineView per line). A node that cannot be asked (no agent
// session: down, or cut off) does not fail the request: the other nodes' logs stream, and one
// notice per such node names it and how many tasks' logs are missing.

import type { LogLineView } from '../../../common/api/types.js';
import type { RoutePlugin } from '../context.js';
import { findService } from '../lookup.js';
import { LogsQuery, RefParams } from '../schemas.js';

export const logRoutes: RoutePlugin = async (app, { ctx }) => {
  app.get('/v1/services/:ref/logs', { schema: { params: RefParams, querystring: LogsQuery } }, async (req, reply) => {
    const { tasks, nodes } = ctx.store.view((tx) => {
      const svc = findService(tx, req.params.ref);
      return { tasks: tx.list('task', (t) => t.serviceId === svc.id && !!t.nodeId && !!t.status.containerId), nodes: tx.list('node') };
    });
    const byNode = new Map<string, string[]>();
    for (const t of tasks) byNode.set(t.nodeId!, [...(byNode.get(t.nodeId!) ?? []), t.id]);
    const names = new Map(tasks.map((t) => [t.id, `${t.serviceName}.${t.slot ?? t.nodeId}.${t.id.slice(0, 12)}`]));
    const hosts = new Map(nodes.map((n) => [n.id, n]));
    const write = (v: LogLineView) => reply.raw.write(JSON.stringify(v) + '\n');
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson' });
    if (byNode.size === 0) { reply.raw.end(); return; } // no task has run yet: nothing to ask any agent
    const q = req.query;
    const said = new Set<string>();
    const cancel = ctx.dispatcher.logs(byNode,
      { follow: q.follow ?? false, tail: q.tail ?? -1, timestamps: q.timestamps ?? false },
      (l) => write({ task: names.get(l.taskId) ?? l.taskId, stream: l.stream as LogLineView['stream'], data: l.data.toString('utf8'), ts: l.timestampMs }),
      () => reply.raw.end(),
      (nodeId, taskIds) => {
        if (said.has(nodeId)) return;
        said.add(nodeId);
        const n = hosts.get(nodeId);
        const who = n ? `node ${n.description.hostname} (${nodeId.slice(0, 12)}, ${n.status.state})` : `node ${nodeId.slice(0, 12)} (removed)`;
        const many = taskIds.length === 1 ? '1 task' : `${taskIds.length} tasks`;
        write({ task: '', stream: 'stderr', data: `${who} has no agent session: the logs of its ${many} cannot be read\n`, ts: Date.now(), notice: true });
      });
    req.raw.on('close', cancel);
  });
};
