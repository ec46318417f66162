// Original file: proto/dispatcher.proto


export interface Welcome {
  'node_id'?: (string);
  'heartbeat_period_ms'?: (number);
  'managers'?: (string)[];
}

export interface Welcome__Output {
  'node_id': (string);
  'heartbeat_period_ms': (number);
  'managers': (string)[];
}
