// Original file: proto/raft.proto

import type { Entry as _tsswarm_raft_v1_Entry, Entry__Output as _tsswarm_raft_v1_Entry__Output } from '../../../tsswarm/raft/v1/Entry.js';
import type { Long } from '@grpc/proto-loader';

export interface Message {
  'type'?: (string);
  'from'?: (number | string | Long);
  'to'?: (number | string | Long);
  'term'?: (number | string | Long);
  'index'?: (number | string | Long);
  'log_term'?: (number | string | Long);
  'entries'?: (_tsswarm_raft_v1_Entry)[];
  'commit'?: (number | string | Long);
  'reject'?: (boolean);
  'reject_hint'?: (number | string | Long);
  'transfer'?: (boolean);
  'context'?: (string);
  'transferee'?: (number | string | Long);
}

export interface Message__Output {
  'type': (string);
  'from': (number);
  'to': (number);
  'term': (number);
  'index': (number);
  'log_term': (number);
  'entries': (_tsswarm_raft_v1_Entry__Output)[];
  'commit': (number);
  'reject': (boolean);
  'reject_hint': (number);
  'transfer': (boolean);
  'context': (string);
  'transferee': (number);
}
