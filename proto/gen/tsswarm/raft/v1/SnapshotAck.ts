// Original file: proto/raft.proto


export interface SnapshotAck {
  'ok'?: (boolean);
  'error'?: (string);
}

export interface SnapshotAck__Output {
  'ok': (boolean);
  'error': (string);
}
