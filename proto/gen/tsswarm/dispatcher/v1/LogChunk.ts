// Original file: proto/dispatcher.proto

import type { Long } from '@grpc/proto-loader';

export interface LogChunk {
  'request_id'?: (string);
  'task_id'?: (string);
  'stream'?: (string);
  'data'?: (Buffer | Uint8Array | string);
  'timestamp_ms'?: (number | string | Long);
  'eof'?: (boolean);
}

export interface LogChunk__Output {
  'request_id': (string);
  'task_id': (string);
  'stream': (string);
  'data': (Buffer);
  'timestamp_ms': (number);
  'eof': (boolean);
}
