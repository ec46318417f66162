// Original file: proto/dispatcher.proto


export interface Heartbeat {
  'full_set_applied'?: (boolean);
}

export interface Heartbeat__Output {
  'full_set_applied': (boolean);
}
