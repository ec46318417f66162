// Original file: proto/dispatcher.proto

import type { TaskStatusUpdate as _tsswarm_dispatcher_v1_TaskStatusUpdate, TaskStatusUpdate__Output as _tsswarm_dispatcher_v1_TaskStatusUpdate__Output } from '../../../tsswarm/dispatcher/v1/TaskStatusUpdate.js';

export interface TaskStatusBatch {
  'updates'?: (_tsswarm_dispatcher_v1_TaskStatusUpdate)[];
}

export interface TaskStatusBatch__Output {
  'updates': (_tsswarm_dispatcher_v1_TaskStatusUpdate__Output)[];
}
