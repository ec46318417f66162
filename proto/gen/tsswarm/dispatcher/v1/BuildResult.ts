// Original file: proto/dispatcher.proto


export interface BuildResult {
  'image_id'?: (string);
  'error'?: (string);
}

export interface BuildResult__Output {
  'image_id': (string);
  'error': (string);
}
