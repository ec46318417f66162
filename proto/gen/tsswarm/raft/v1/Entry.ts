// Original file: proto/raft.proto

import type { Long } from '@grpc/proto-loader';

export interface Entry {
  'term'?: (number | string | Long);
  'index'?: (number | string | Long);
  'conf_change'?: (boolean);
  'data'?: (Buffer | Uint8Array | string);
}

export interface Entry__Output {
  'term': (number);
  'index': (number);
  'conf_change': (boolean);
  'data': (Buffer);
}
