// Original file: proto/manager.proto

import type { Long } from '@grpc/proto-loader';

export interface JoinRequest {
  'token'?: (string);
  'role'?: (string);
  'node_id'?: (string);
  'raft_id'?: (number | string | Long);
  'addr'?: (string);
  'csr'?: (string);
  'hostname'?: (string);
}

export interface JoinRequest__Output {
  'token': (string);
  'role': (string);
  'node_id': (string);
  'raft_id': (number);
  'addr': (string);
  'csr': (string);
  'hostname': (string);
}
