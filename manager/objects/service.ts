// Pure transitions of a service object, shared by the API (`service rollback`) and the updater
// (failure_action: rollback).

import type { ServiceObj } from '../store/types.js';

/**
 * The service rolled back to its previous spec (as `service rollback` and failure_action
 * rollback do): a new spec version, so the same machinery replaces the tasks, paced by
 * rollback_config. Undefined when there is nothing to roll back to.
 */
export function rollbackService(service: ServiceObj, now: number, reason: string): ServiceObj | undefined {
  if (!service.previousSpec) return undefined;
  return {
    ...service,
    spec: service.previousSpec,
    previousSpec: service.spec,
    specVersion: service.specVersion + 1,
    updateStatus: { state: 'rollback_started', startedAt: now, message: reason },
  };
}
