// Original file: proto/manager.proto


export interface HttpChunk {
  'status'?: (number);
  'headers'?: ({[key: string]: string});
  'data'?: (Buffer | Uint8Array | string);
}

export interface HttpChunk__Output {
  'status': (number);
  'headers': ({[key: string]: string});
  'data': (Buffer);
}
