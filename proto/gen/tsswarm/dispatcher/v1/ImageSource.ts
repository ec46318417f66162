// Original file: proto/dispatcher.proto


export interface ImageSource {
  'node_id'?: (string);
  'hostname'?: (string);
  'image_id'?: (string);
}

export interface ImageSource__Output {
  'node_id': (string);
  'hostname': (string);
  'image_id': (string);
}
