// Services: list, inspect, scale, update (docker service update's flags), rollback. Every spec
// change goes through writeServiceSpec (write-spec.ts).

import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import type { RollbackResponse, ScaleResponse, ServiceUpdateResponse, ServiceView } from '../../../common/api/types.js';
import { rollbackService } from '../../objects/service.js';
import type { RoutePlugin } from '../context.js';
import { diffPaths, validateDeploy } from '../deploy.js';
import { findService, serviceView } from '../lookup.js';
import { RefParams, RollbackBody, ScaleBody, ServiceUpdateBody, ServicesQuery } from '../schemas.js';
import { applyServiceUpdate } from '../service-update.js';
import { commitServiceSpec, prepareServiceSpec, writeServiceSpec } from '../write-spec.js';
import type { ReadTx, WriteTx } from '../../store/store.js';
import type { ServiceObj } from '../../store/types.js';
import { isGlobalMode, type ServiceSpec } from '../../../common/spec.js';

/** The published-port checks a deploy makes against other services, for one service's new spec. */
function checkAgainstOthers(tx: ReadTx, svc: ServiceObj, spec: ServiceSpec): void {
  validateDeploy({ name: '\u0000update', services: { [svc.shortName]: spec }, networks: {}, volumes: {} },
    { nodes: [], services: tx.list('service', (x) => x.id !== svc.id), tasks: [], networks: [], volumes: [] });
}

export const serviceRoutes: RoutePlugin = async (app, { ctx }) => {
  const { store, log } = ctx;

  app.get('/v1/services', { schema: { querystring: ServicesQuery } }, async (req): Promise<ServiceView[]> => {
    const { services, tasks, nodes } = store.view((tx) => ({ services: tx.list('service'), tasks: tx.list('task'), nodes: tx.list('node') }));
    return services.filter((s) => req.query.stack === undefined || s.stack === req.query.stack)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((s) => serviceView(s, tasks, nodes, services));
  });

  app.get('/v1/services/:ref', { schema: { params: RefParams } }, async (req): Promise<ServiceView> =>
    store.view((tx) => serviceView(findService(tx, req.params.ref), tx.list('task'), tx.list('node'), tx.list('service'))));

  app.post('/v1/services/:ref/scale', { schema: { params: RefParams, body: ScaleBody } }, async (req): Promise<ScaleResponse> => {
    const { replicas } = req.body;
    return store.update((tx) => {
      const s = findService(tx, req.params.ref);
      if (isGlobalMode(s.spec.deploy.mode)) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `${s.name}: scale can only be used with replicated or replicated-job mode`, [{ field: 'replicas', message: `a ${s.spec.deploy.mode} service has no replicas` }]);
      writeServiceSpec(tx, s, { ...s.spec, deploy: { ...s.spec.deploy, replicas } });
      return { service: s.name, replicas };
    });
  });

  app.post('/v1/services/:ref/update', { schema: { params: RefParams, body: ServiceUpdateBody } }, async (req): Promise<ServiceUpdateResponse> => {
    const { flags, dryRun } = req.body;
    const run = (tx: ReadTx, write?: WriteTx): ServiceUpdateResponse => {
      const svc = findService(tx, req.params.ref);
      const spec = applyServiceUpdate(svc.spec, flags);
      checkAgainstOthers(tx, svc, spec);
      const w = prepareServiceSpec(svc, spec, tx.get('cluster', 'default')?.spec, { force: flags.force });
      if (write) commitServiceSpec(write, svc, w);
      return { service: svc.name, fields: diffPaths(svc.spec, spec), replaced: w.replaced, applied: !!write };
    };
    if (dryRun) return store.view((tx) => run(tx));
    const r = await store.update((tx) => run(tx, tx));
    log.info({ service: r.service, fields: r.fields, replaced: r.replaced }, 'service updated');
    return r;
  });

  app.post('/v1/services/:ref/rollback', { schema: { params: RefParams, body: RollbackBody } }, async (req): Promise<RollbackResponse> =>
    store.update((tx) => {
      const svc = findService(tx, req.params.ref);
      const back = rollbackService(svc, Date.now(), 'manually requested rollback');
      if (!back) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `service ${svc.name} has no previous spec to roll back to`);
      tx.update(back);
      return { service: svc.name };
    }));
};
