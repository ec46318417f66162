// Original file: proto/manager.proto

import type { Long } from '@grpc/proto-loader';

export interface Peer {
  'raft_id'?: (number | string | Long);
  'addr'?: (string);
  'node_id'?: (string);
}

export interface Peer__Output {
  'raft_id': (number);
  'addr': (string);
  'node_id': (string);
}
