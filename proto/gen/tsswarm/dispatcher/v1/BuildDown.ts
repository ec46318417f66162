// Original file: proto/dispatcher.proto


export interface BuildDown {
  'options_json'?: (string);
  'data'?: (Buffer | Uint8Array | string);
  'eof'?: (boolean);
}

export interface BuildDown__Output {
  'options_json': (string);
  'data': (Buffer);
  'eof': (boolean);
}
