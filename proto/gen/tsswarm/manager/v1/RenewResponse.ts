// Original file: proto/manager.proto


export interface RenewResponse {
  'cert_pem'?: (string);
  'ca_pems'?: (string)[];
}

export interface RenewResponse__Output {
  'cert_pem': (string);
  'ca_pems': (string)[];
}
