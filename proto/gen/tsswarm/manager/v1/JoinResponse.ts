// Original file: proto/manager.proto

import type { Peer as _tsswarm_manager_v1_Peer, Peer__Output as _tsswarm_manager_v1_Peer__Output } from '../../../tsswarm/manager/v1/Peer.js';

export interface JoinResponse {
  'cluster_id'?: (string);
  'managers'?: (_tsswarm_manager_v1_Peer)[];
  'ca_cert_pem'?: (string);
  'node_id'?: (string);
  'cert_pem'?: (string);
  'ca_pems'?: (string)[];
  'data_key'?: (Buffer | Uint8Array | string);
}

export interface JoinResponse__Output {
  'cluster_id': (string);
  'managers': (_tsswarm_manager_v1_Peer__Output)[];
  'ca_cert_pem': (string);
  'node_id': (string);
  'cert_pem': (string);
  'ca_pems': (string)[];
  'data_key': (Buffer);
}
