// Stacks: deploy (a normalised stack, checked by the shared validator), list, remove.

import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import { newId } from '../../../common/ids.js';
import { validateDeployObjects, validateStack } from '../../../common/api/validate.js';
import type { DeployResponse, StackRemoveResponse, StackSummary } from '../../../common/api/types.js';
import type { ClusterState } from '../../store/types.js';
import type { ReadTx } from '../../store/store.js';
import type { RoutePlugin } from '../context.js';
import { applyDeploy, removeStack, scratchTx, validateDeploy, type DeployObjectsInput } from '../deploy.js';
import { DeployBody, StackParams, StackRemoveQuery } from '../schemas.js';

const stateOf = (tx: ReadTx): ClusterState => ({
  nodes: tx.list('node'), services: tx.list('service'), tasks: tx.list('task'), networks: tx.list('network'), volumes: tx.list('volume'), cluster: tx.get('cluster', 'default'),
});

export const stackRoutes: RoutePlugin = async (app, { ctx }) => {
  const { store, log, sealer } = ctx;

  app.post('/v1/stacks/deploy', { schema: { body: DeployBody } }, async (req): Promise<DeployResponse> => {
    const checked = validateStack(req.body.stack);
    const secrets = validateDeployObjects('secret', req.body.secrets);
    const configs = validateDeployObjects('config', req.body.configs);
    const errors = [...checked.errors, ...secrets.errors, ...configs.errors];
    if (errors.length || !checked.value || !secrets.value || !configs.value) {
      const name = (req.body.stack as { name?: unknown } | null)?.name;
      throw new TsswarmError(ErrorCodes.STACK_INVALID, `${typeof name === 'string' ? `stack ${name.slice(0, 64)}` : 'the stack'} is invalid; nothing was deployed`, errors);
    }
    const stack = checked.value;
    const objects: DeployObjectsInput = { secrets: secrets.value, configs: configs.value, sealer };
    if (req.body.dryRun) {
      // Exactly what a deploy does, on writes kept in memory.
      return store.view((tx) => {
        validateDeploy(stack, stateOf(tx));
        return { plan: applyDeploy(scratchTx(tx), stack, newId, objects), applied: false };
      });
    }
    // Checked and written in one batch (services, networks, volumes, secrets, configs): what was checked is what is written.
    const plan = await store.update((tx) => {
      validateDeploy(stack, stateOf(tx));
      return applyDeploy(tx, stack, newId, objects);
    });
    log.info({
      stack: stack.name,
      changes: [...plan.services, ...(plan.secrets ?? []).map((c) => ({ ...c, name: `secret ${c.name}` })), ...(plan.configs ?? []).map((c) => ({ ...c, name: `config ${c.name}` }))]
        .filter((s) => s.action !== 'unchanged').map((s) => `${s.action} ${s.name}`),
    }, 'stack deployed');
    return { plan, applied: true };
  });

  app.get('/v1/stacks', async (): Promise<StackSummary[]> => {
    const stacks = new Map<string, StackSummary>();
    for (const s of store.view((tx) => tx.list('service'))) {
      if (!s.stack) continue;
      const e = stacks.get(s.stack) ?? { name: s.stack, services: 0 };
      e.services++;
      stacks.set(s.stack, e);
    }
    return [...stacks.values()].sort((a, b) => a.name.localeCompare(b.name));
  });

  app.delete('/v1/stacks/:name', { schema: { params: StackParams, querystring: StackRemoveQuery } }, async (req): Promise<StackRemoveResponse> => {
    const { name } = req.params;
    const volumes = req.query.volumes ?? false;
    const r = await store.update((tx) => {
      const known = tx.list('service', (s) => s.stack === name).length + tx.list('network', (n) => n.stack === name && !n.released).length;
      if (!known) throw new TsswarmError(ErrorCodes.STACK_NOT_FOUND, `stack ${name} not found`);
      return removeStack(tx, name, volumes);
    });
    log.info({ stack: name, volumes }, 'stack removed');
    return r;
  });
};
