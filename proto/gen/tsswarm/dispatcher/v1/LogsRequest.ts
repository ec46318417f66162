// Original file: proto/dispatcher.proto


export interface LogsRequest {
  'request_id'?: (string);
  'task_ids'?: (string)[];
  'follow'?: (boolean);
  'tail'?: (number);
  'timestamps'?: (boolean);
}

export interface LogsRequest__Output {
  'request_id': (string);
  'task_ids': (string)[];
  'follow': (boolean);
  'tail': (number);
  'timestamps': (boolean);
}
