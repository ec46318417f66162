// Original file: proto/dispatcher.proto


export interface ImageFetchRequest {
  'ref'?: (string);
  'have_chains'?: (string)[];
  'exclude_nodes'?: (string)[];
  'upload_id'?: (string);
}

export interface ImageFetchRequest__Output {
  'ref': (string);
  'have_chains': (string)[];
  'exclude_nodes': (string)[];
  'upload_id': (string);
}
