// Nodes: list (by hostname), inspect by hostname, id or id prefix; update availability and
// labels; promote, demote and remove managers (Raft membership, one change at a time, never
// losing quorum); remove workers.

import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import { removeNode } from '../../objects/task.js';
import type { NodeObj } from '../../store/types.js';
import type { ApiContext, RoutePlugin } from '../context.js';
import { liveHeartbeat } from '../lookup.js';
import { findNode } from '../lookup.js';
import { applyNodeUpdate } from '../node-update.js';
import { NodeRemoveQuery, NodeUpdateBody, RefParams } from '../schemas.js';

export const nodeRoutes: RoutePlugin = async (app, { ctx }) => {
  app.get('/v1/nodes', async (): Promise<NodeObj[]> =>
    ctx.store.view((tx) => tx.list('node')).map((n) => liveHeartbeat(ctx, n)).sort((a, b) => a.description.hostname.localeCompare(b.description.hostname)));
  app.get('/v1/nodes/:ref', { schema: { params: RefParams } }, async (req): Promise<NodeObj> => liveHeartbeat(ctx, ctx.store.view((tx) => findNode(tx, req.params.ref))));

  // Availability and labels: one compare-and-set write of the node; the control loops follow it.
  app.post('/v1/nodes/:ref/update', { schema: { params: RefParams, body: NodeUpdateBody } }, async (req): Promise<NodeObj> => {
    const id = await ctx.store.update((tx) => {
      const node = findNode(tx, req.params.ref);
      const next = applyNodeUpdate(node, req.body, Date.now());
      if (next !== node) tx.update(next);
      return node.id;
    });
    // The node as written (its new version), or as it was when nothing changed.
    return ctx.store.view((tx) => findNode(tx, id));
  });
  app.post('/v1/nodes/:ref/promote', { schema: { params: RefParams } }, async (req) => {
    const { cluster, raftId } = manager(ctx, req.params.ref, 'promote');
    return { message: await cluster.promote(raftId) };
  });
  app.post('/v1/nodes/:ref/demote', { schema: { params: RefParams } }, async (req) => {
    const { cluster, raftId } = manager(ctx, req.params.ref, 'demote');
    return { message: await cluster.demote(raftId) };
  });
  app.delete('/v1/nodes/:ref', { schema: { params: RefParams, querystring: NodeRemoveQuery } }, async (req) => {
    const force = req.query.force ?? false;
    const m = memberOf(ctx, req.params.ref);
    if (m) return { message: await ctx.cluster!.remove(m, force) };
    // A worker: its node object goes; its tasks are rescheduled as for a node that is down.
    const node = ctx.store.view((tx) => findNode(tx, req.params.ref));
    if (node.status.state !== 'down' && !force) {
      throw new TsswarmError(ErrorCodes.CONFLICT, `node ${node.description.hostname} is ${node.status.state}: stop its agent first, or use --force`);
    }
    await ctx.store.update((tx) => removeNode(tx, node.id));
    return { message: `node ${node.description.hostname} removed` };
  });
};

/** The Raft id of the manager a node reference names (by its node object, or its member node id). */
function memberOf(ctx: ApiContext, ref: string): number | undefined {
  const c = ctx.cluster;
  if (!c) return undefined;
  const byMember = c.memberByNode(ref);
  if (byMember) return byMember.raftId;
  const node = ctx.store.view((tx) => { try { return findNode(tx, ref); } catch { return undefined; } });
  return node ? c.members().find((m) => m.nodeId === node.id)?.raftId : undefined;
}

function manager(ctx: ApiContext, ref: string, what: string): { cluster: NonNullable<ApiContext['cluster']>; raftId: number } {
  const raftId = memberOf(ctx, ref);
  if (!ctx.cluster || raftId === undefined) {
    // A worker has no manager to promote: it would need a manager process and data dir.
    ctx.store.view((tx) => findNode(tx, ref));
    throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `node ${ref} is not a manager: ${what} applies to managers (a worker becomes a manager by starting \`tsswarm manager --join\` on its host)`);
  }
  return { cluster: ctx.cluster, raftId };
}
