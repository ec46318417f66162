// Original file: proto/dispatcher.proto

import type { BuildResult as _tsswarm_dispatcher_v1_BuildResult, BuildResult__Output as _tsswarm_dispatcher_v1_BuildResult__Output } from '../../../tsswarm/dispatcher/v1/BuildResult.js';

export interface BuildUp {
  'request_id'?: (string);
  'event_json'?: (string);
  'result'?: (_tsswarm_dispatcher_v1_BuildResult | null);
}

export interface BuildUp__Output {
  'request_id': (string);
  'event_json': (string);
  'result': (_tsswarm_dispatcher_v1_BuildResult__Output | null);
}
