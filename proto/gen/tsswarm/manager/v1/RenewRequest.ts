// Original file: proto/manager.proto


export interface RenewRequest {
  'csr'?: (string);
}

export interface RenewRequest__Output {
  'csr': (string);
}
