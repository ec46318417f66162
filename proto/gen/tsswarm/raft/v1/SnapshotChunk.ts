// Original file: proto/raft.proto

import type { Message as _tsswarm_raft_v1_Message, Message__Output as _tsswarm_raft_v1_Message__Output } from '../../../tsswarm/raft/v1/Message.js';
import type { Long } from '@grpc/proto-loader';

export interface SnapshotChunk {
  'header'?: (_tsswarm_raft_v1_Message | null);
  'snap_index'?: (number | string | Long);
  'snap_term'?: (number | string | Long);
  'conf_state_json'?: (string);
  'data'?: (Buffer | Uint8Array | string);
  'last'?: (boolean);
}

export interface SnapshotChunk__Output {
  'header': (_tsswarm_raft_v1_Message__Output | null);
  'snap_index': (number);
  'snap_term': (number);
  'conf_state_json': (string);
  'data': (Buffer);
  'last': (boolean);
}
