// Original file: proto/dispatcher.proto

import type { NodeDescription as _tsswarm_dispatcher_v1_NodeDescription, NodeDescription__Output as _tsswarm_dispatcher_v1_NodeDescription__Output } from '../../../tsswarm/dispatcher/v1/NodeDescription.js';

export interface Register {
  'node_id'?: (string);
  'description'?: (_tsswarm_dispatcher_v1_NodeDescription | null);
  'task_ids'?: (string)[];
  'engine_error'?: (string);
}

export interface Register__Output {
  'node_id': (string);
  'description': (_tsswarm_dispatcher_v1_NodeDescription__Output | null);
  'task_ids': (string)[];
  'engine_error': (string);
}
