// Original file: proto/dispatcher.proto


export interface LogsCancel {
  'request_id'?: (string);
}

export interface LogsCancel__Output {
  'request_id': (string);
}
