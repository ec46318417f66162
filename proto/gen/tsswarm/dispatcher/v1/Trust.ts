// Original file: proto/dispatcher.proto


export interface Trust {
  'issuer_digest'?: (string);
  'ca_pems'?: (string)[];
}

export interface Trust__Output {
  'issuer_digest': (string);
  'ca_pems': (string)[];
}
