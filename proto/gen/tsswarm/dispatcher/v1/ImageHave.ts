// Original file: proto/dispatcher.proto


export interface ImageHave {
  'query_id'?: (string);
  'has'?: (boolean);
  'image_id'?: (string);
  'error'?: (string);
}

export interface ImageHave__Output {
  'query_id': (string);
  'has': (boolean);
  'image_id': (string);
  'error': (string);
}
