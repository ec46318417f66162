// Original file: proto/raft.proto

import type { Message as _tsswarm_raft_v1_Message, Message__Output as _tsswarm_raft_v1_Message__Output } from '../../../tsswarm/raft/v1/Message.js';

export interface MessageBatch {
  'messages'?: (_tsswarm_raft_v1_Message)[];
}

export interface MessageBatch__Output {
  'messages': (_tsswarm_raft_v1_Message__Output)[];
}
