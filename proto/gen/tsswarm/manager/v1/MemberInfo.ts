// Original file: proto/manager.proto

import type { Long } from '@grpc/proto-loader';

export interface MemberInfo {
  'raft_id'?: (number | string | Long);
  'node_id'?: (string);
  'role'?: (string);
  'term'?: (number | string | Long);
  'applied'?: (number | string | Long);
  'commit'?: (number | string | Long);
  'leader'?: (number | string | Long);
  'addr'?: (string);
  'cert_root'?: (string);
}

export interface MemberInfo__Output {
  'raft_id': (number);
  'node_id': (string);
  'role': (string);
  'term': (number);
  'applied': (number);
  'commit': (number);
  'leader': (number);
  'addr': (string);
  'cert_root': (string);
}
