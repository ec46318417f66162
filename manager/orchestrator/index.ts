export { reconcileReplicated, type Reconcile } from './replicated.js';
export { reconcileGlobal, globalNodeFit, type GlobalNodeFit } from './global.js';
export { restartDecision, restartDelay, deathReason, isFailure, attemptsInWindow, type RestartDecision } from './restart.js';
export { planUpdate, outdatedSlots, inFlightSlots, type UpdateContext } from './update.js';
export { rollbackService } from '../objects/service.js';
export { reconcileSlots, stopTask, type SlotKey, type SlotRules, type SlotView, type SlotContext } from './slots.js';
export { reapTasks } from './reaper.js';
export { Plan, isLive, isDead, isUp, isStarted, hasHealthcheck, newTask, type NewTaskOptions } from '../objects/task.js';
export { reconcileService, reconcileServices, isMarkedFailed, ORCHESTRATION_FAILED, type ReconcileAll, type ServiceFailure } from './services.js';
