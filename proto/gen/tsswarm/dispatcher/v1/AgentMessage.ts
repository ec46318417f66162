// Original file: proto/dispatcher.proto

import type { Register as _tsswarm_dispatcher_v1_Register, Register__Output as _tsswarm_dispatcher_v1_Register__Output } from '../../../tsswarm/dispatcher/v1/Register.js';
import type { Heartbeat as _tsswarm_dispatcher_v1_Heartbeat, Heartbeat__Output as _tsswarm_dispatcher_v1_Heartbeat__Output } from '../../../tsswarm/dispatcher/v1/Heartbeat.js';
import type { TaskStatusBatch as _tsswarm_dispatcher_v1_TaskStatusBatch, TaskStatusBatch__Output as _tsswarm_dispatcher_v1_TaskStatusBatch__Output } from '../../../tsswarm/dispatcher/v1/TaskStatusBatch.js';
import type { ImageHave as _tsswarm_dispatcher_v1_ImageHave, ImageHave__Output as _tsswarm_dispatcher_v1_ImageHave__Output } from '../../../tsswarm/dispatcher/v1/ImageHave.js';

export interface AgentMessage {
  'register'?: (_tsswarm_dispatcher_v1_Register | null);
  'heartbeat'?: (_tsswarm_dispatcher_v1_Heartbeat | null);
  'statuses'?: (_tsswarm_dispatcher_v1_TaskStatusBatch | null);
  'image_have'?: (_tsswarm_dispatcher_v1_ImageHave | null);
  'msg'?: "register"|"heartbeat"|"statuses"|"image_have";
}

export interface AgentMessage__Output {
  'register'?: (_tsswarm_dispatcher_v1_Register__Output | null);
  'heartbeat'?: (_tsswarm_dispatcher_v1_Heartbeat__Output | null);
  'statuses'?: (_tsswarm_dispatcher_v1_TaskStatusBatch__Output | null);
  'image_have'?: (_tsswarm_dispatcher_v1_ImageHave__Output | null);
  'msg'?: "register"|"heartbeat"|"statuses"|"image_have";
}
