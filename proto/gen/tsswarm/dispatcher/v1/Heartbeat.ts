// Original file: proto/dispatcher.proto


export interface Heartbeat {
  'full_set_applied'?: (boolean);
  'engine_error'?: (string);
}

export interface Heartbeat__Output {
  'full_set_applied': (boolean);
  'engine_error': (string);
}
