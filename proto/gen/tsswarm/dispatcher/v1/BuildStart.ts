// Original file: proto/dispatcher.proto


export interface BuildStart {
  'request_id'?: (string);
}

export interface BuildStart__Output {
  'request_id': (string);
}
