// Original file: proto/manager.proto

import type { Peer as _tsswarm_manager_v1_Peer, Peer__Output as _tsswarm_manager_v1_Peer__Output } from '../../../tsswarm/manager/v1/Peer.js';

export interface JoinResponse {
  'cluster_id'?: (string);
  'managers'?: (_tsswarm_manager_v1_Peer)[];
  'ca_cert_pem'?: (string);
}

export interface JoinResponse__Output {
  'cluster_id': (string);
  'managers': (_tsswarm_manager_v1_Peer__Output)[];
  'ca_cert_pem': (string);
}
