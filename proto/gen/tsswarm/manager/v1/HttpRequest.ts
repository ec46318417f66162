// Original file: proto/manager.proto


export interface HttpRequest {
  'method'?: (string);
  'url'?: (string);
  'headers'?: ({[key: string]: string});
  'body'?: (Buffer | Uint8Array | string);
}

export interface HttpRequest__Output {
  'method': (string);
  'url': (string);
  'headers': ({[key: string]: string});
  'body': (Buffer);
}
