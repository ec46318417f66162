// Original file: proto/dispatcher.proto

import type { Welcome as _tsswarm_dispatcher_v1_Welcome, Welcome__Output as _tsswarm_dispatcher_v1_Welcome__Output } from '../../../tsswarm/dispatcher/v1/Welcome.js';
import type { Assignments as _tsswarm_dispatcher_v1_Assignments, Assignments__Output as _tsswarm_dispatcher_v1_Assignments__Output } from '../../../tsswarm/dispatcher/v1/Assignments.js';
import type { LogsRequest as _tsswarm_dispatcher_v1_LogsRequest, LogsRequest__Output as _tsswarm_dispatcher_v1_LogsRequest__Output } from '../../../tsswarm/dispatcher/v1/LogsRequest.js';
import type { LogsCancel as _tsswarm_dispatcher_v1_LogsCancel, LogsCancel__Output as _tsswarm_dispatcher_v1_LogsCancel__Output } from '../../../tsswarm/dispatcher/v1/LogsCancel.js';
import type { ManagerList as _tsswarm_dispatcher_v1_ManagerList, ManagerList__Output as _tsswarm_dispatcher_v1_ManagerList__Output } from '../../../tsswarm/dispatcher/v1/ManagerList.js';
import type { Trust as _tsswarm_dispatcher_v1_Trust, Trust__Output as _tsswarm_dispatcher_v1_Trust__Output } from '../../../tsswarm/dispatcher/v1/Trust.js';
import type { ImageQuery as _tsswarm_dispatcher_v1_ImageQuery, ImageQuery__Output as _tsswarm_dispatcher_v1_ImageQuery__Output } from '../../../tsswarm/dispatcher/v1/ImageQuery.js';
import type { ImageSend as _tsswarm_dispatcher_v1_ImageSend, ImageSend__Output as _tsswarm_dispatcher_v1_ImageSend__Output } from '../../../tsswarm/dispatcher/v1/ImageSend.js';
import type { ImageReceive as _tsswarm_dispatcher_v1_ImageReceive, ImageReceive__Output as _tsswarm_dispatcher_v1_ImageReceive__Output } from '../../../tsswarm/dispatcher/v1/ImageReceive.js';
import type { BuildStart as _tsswarm_dispatcher_v1_BuildStart, BuildStart__Output as _tsswarm_dispatcher_v1_BuildStart__Output } from '../../../tsswarm/dispatcher/v1/BuildStart.js';

export interface ManagerMessage {
  'welcome'?: (_tsswarm_dispatcher_v1_Welcome | null);
  'assignments'?: (_tsswarm_dispatcher_v1_Assignments | null);
  'logs'?: (_tsswarm_dispatcher_v1_LogsRequest | null);
  'logs_cancel'?: (_tsswarm_dispatcher_v1_LogsCancel | null);
  'managers'?: (_tsswarm_dispatcher_v1_ManagerList | null);
  'trust'?: (_tsswarm_dispatcher_v1_Trust | null);
  'image_query'?: (_tsswarm_dispatcher_v1_ImageQuery | null);
  'image_send'?: (_tsswarm_dispatcher_v1_ImageSend | null);
  'image_receive'?: (_tsswarm_dispatcher_v1_ImageReceive | null);
  'build_start'?: (_tsswarm_dispatcher_v1_BuildStart | null);
  'msg'?: "welcome"|"assignments"|"logs"|"logs_cancel"|"managers"|"trust"|"image_query"|"image_send"|"image_receive"|"build_start";
}

export interface ManagerMessage__Output {
  'welcome'?: (_tsswarm_dispatcher_v1_Welcome__Output | null);
  'assignments'?: (_tsswarm_dispatcher_v1_Assignments__Output | null);
  'logs'?: (_tsswarm_dispatcher_v1_LogsRequest__Output | null);
  'logs_cancel'?: (_tsswarm_dispatcher_v1_LogsCancel__Output | null);
  'managers'?: (_tsswarm_dispatcher_v1_ManagerList__Output | null);
  'trust'?: (_tsswarm_dispatcher_v1_Trust__Output | null);
  'image_query'?: (_tsswarm_dispatcher_v1_ImageQuery__Output | null);
  'image_send'?: (_tsswarm_dispatcher_v1_ImageSend__Output | null);
  'image_receive'?: (_tsswarm_dispatcher_v1_ImageReceive__Output | null);
  'build_start'?: (_tsswarm_dispatcher_v1_BuildStart__Output | null);
  'msg'?: "welcome"|"assignments"|"logs"|"logs_cancel"|"managers"|"trust"|"image_query"|"image_send"|"image_receive"|"build_start";
}
