// Original file: proto/dispatcher.proto


export interface ImageQuery {
  'query_id'?: (string);
  'ref'?: (string);
}

export interface ImageQuery__Output {
  'query_id': (string);
  'ref': (string);
}
