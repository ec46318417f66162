import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { HttpChunk as _tsswarm_manager_v1_HttpChunk, HttpChunk__Output as _tsswarm_manager_v1_HttpChunk__Output } from './tsswarm/manager/v1/HttpChunk.js';
import type { HttpRequest as _tsswarm_manager_v1_HttpRequest, HttpRequest__Output as _tsswarm_manager_v1_HttpRequest__Output } from './tsswarm/manager/v1/HttpRequest.js';
import type { JoinRequest as _tsswarm_manager_v1_JoinRequest, JoinRequest__Output as _tsswarm_manager_v1_JoinRequest__Output } from './tsswarm/manager/v1/JoinRequest.js';
import type { JoinResponse as _tsswarm_manager_v1_JoinResponse, JoinResponse__Output as _tsswarm_manager_v1_JoinResponse__Output } from './tsswarm/manager/v1/JoinResponse.js';
import type { ManagerClient as _tsswarm_manager_v1_ManagerClient, ManagerDefinition as _tsswarm_manager_v1_ManagerDefinition } from './tsswarm/manager/v1/Manager.js';
import type { MemberInfo as _tsswarm_manager_v1_MemberInfo, MemberInfo__Output as _tsswarm_manager_v1_MemberInfo__Output } from './tsswarm/manager/v1/MemberInfo.js';
import type { MemberRequest as _tsswarm_manager_v1_MemberRequest, MemberRequest__Output as _tsswarm_manager_v1_MemberRequest__Output } from './tsswarm/manager/v1/MemberRequest.js';
import type { Peer as _tsswarm_manager_v1_Peer, Peer__Output as _tsswarm_manager_v1_Peer__Output } from './tsswarm/manager/v1/Peer.js';
import type { RenewRequest as _tsswarm_manager_v1_RenewRequest, RenewRequest__Output as _tsswarm_manager_v1_RenewRequest__Output } from './tsswarm/manager/v1/RenewRequest.js';
import type { RenewResponse as _tsswarm_manager_v1_RenewResponse, RenewResponse__Output as _tsswarm_manager_v1_RenewResponse__Output } from './tsswarm/manager/v1/RenewResponse.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tsswarm: {
    manager: {
      v1: {
        HttpChunk: MessageTypeDefinition<_tsswarm_manager_v1_HttpChunk, _tsswarm_manager_v1_HttpChunk__Output>
        HttpRequest: MessageTypeDefinition<_tsswarm_manager_v1_HttpRequest, _tsswarm_manager_v1_HttpRequest__Output>
        JoinRequest: MessageTypeDefinition<_tsswarm_manager_v1_JoinRequest, _tsswarm_manager_v1_JoinRequest__Output>
        JoinResponse: MessageTypeDefinition<_tsswarm_manager_v1_JoinResponse, _tsswarm_manager_v1_JoinResponse__Output>
        Manager: SubtypeConstructor<typeof grpc.Client, _tsswarm_manager_v1_ManagerClient> & { service: _tsswarm_manager_v1_ManagerDefinition }
        MemberInfo: MessageTypeDefinition<_tsswarm_manager_v1_MemberInfo, _tsswarm_manager_v1_MemberInfo__Output>
        MemberRequest: MessageTypeDefinition<_tsswarm_manager_v1_MemberRequest, _tsswarm_manager_v1_MemberRequest__Output>
        Peer: MessageTypeDefinition<_tsswarm_manager_v1_Peer, _tsswarm_manager_v1_Peer__Output>
        RenewRequest: MessageTypeDefinition<_tsswarm_manager_v1_RenewRequest, _tsswarm_manager_v1_RenewRequest__Output>
        RenewResponse: MessageTypeDefinition<_tsswarm_manager_v1_RenewResponse, _tsswarm_manager_v1_RenewResponse__Output>
      }
    }
  }
}

