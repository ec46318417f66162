// Original file: proto/dispatcher.proto


export interface ImageReceive {
  'upload_id'?: (string);
  'ref'?: (string);
}

export interface ImageReceive__Output {
  'upload_id': (string);
  'ref': (string);
}
