// Original file: proto/dispatcher.proto


export interface ImageSend {
  'request_id'?: (string);
  'ref'?: (string);
  'have_chains'?: (string)[];
}

export interface ImageSend__Output {
  'request_id': (string);
  'ref': (string);
  'have_chains': (string)[];
}
