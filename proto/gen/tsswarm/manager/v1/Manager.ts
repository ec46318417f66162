// Original file: proto/manager.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { HttpChunk as _tsswarm_manager_v1_HttpChunk, HttpChunk__Output as _tsswarm_manager_v1_HttpChunk__Output } from '../../../tsswarm/manager/v1/HttpChunk.js';
import type { HttpRequest as _tsswarm_manager_v1_HttpRequest, HttpRequest__Output as _tsswarm_manager_v1_HttpRequest__Output } from '../../../tsswarm/manager/v1/HttpRequest.js';
import type { JoinRequest as _tsswarm_manager_v1_JoinRequest, JoinRequest__Output as _tsswarm_manager_v1_JoinRequest__Output } from '../../../tsswarm/manager/v1/JoinRequest.js';
import type { JoinResponse as _tsswarm_manager_v1_JoinResponse, JoinResponse__Output as _tsswarm_manager_v1_JoinResponse__Output } from '../../../tsswarm/manager/v1/JoinResponse.js';
import type { MemberInfo as _tsswarm_manager_v1_MemberInfo, MemberInfo__Output as _tsswarm_manager_v1_MemberInfo__Output } from '../../../tsswarm/manager/v1/MemberInfo.js';
import type { MemberRequest as _tsswarm_manager_v1_MemberRequest, MemberRequest__Output as _tsswarm_manager_v1_MemberRequest__Output } from '../../../tsswarm/manager/v1/MemberRequest.js';
import type { RenewRequest as _tsswarm_manager_v1_RenewRequest, RenewRequest__Output as _tsswarm_manager_v1_RenewRequest__Output } from '../../../tsswarm/manager/v1/RenewRequest.js';
import type { RenewResponse as _tsswarm_manager_v1_RenewResponse, RenewResponse__Output as _tsswarm_manager_v1_RenewResponse__Output } from '../../../tsswarm/manager/v1/RenewResponse.js';

export interface ManagerClient extends grpc.Client {
  ForwardHttp(argument: _tsswarm_manager_v1_HttpRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tsswarm_manager_v1_HttpChunk__Output>;
  ForwardHttp(argument: _tsswarm_manager_v1_HttpRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tsswarm_manager_v1_HttpChunk__Output>;
  forwardHttp(argument: _tsswarm_manager_v1_HttpRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tsswarm_manager_v1_HttpChunk__Output>;
  forwardHttp(argument: _tsswarm_manager_v1_HttpRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tsswarm_manager_v1_HttpChunk__Output>;
  
  Join(argument: _tsswarm_manager_v1_JoinRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_manager_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  Join(argument: _tsswarm_manager_v1_JoinRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsswarm_manager_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  Join(argument: _tsswarm_manager_v1_JoinRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_manager_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  Join(argument: _tsswarm_manager_v1_JoinRequest, callback: grpc.requestCallback<_tsswarm_manager_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  join(argument: _tsswarm_manager_v1_JoinRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_manager_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  join(argument: _tsswarm_manager_v1_JoinRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsswarm_manager_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  join(argument: _tsswarm_manager_v1_JoinRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_manager_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  join(argument: _tsswarm_manager_v1_JoinRequest, callback: grpc.requestCallback<_tsswarm_manager_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  
  Member(argument: _tsswarm_manager_v1_MemberRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_manager_v1_MemberInfo__Output>): grpc.ClientUnaryCall;
  Member(argument: _tsswarm_manager_v1_MemberRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsswarm_manager_v1_MemberInfo__Output>): grpc.ClientUnaryCall;
  Member(argument: _tsswarm_manager_v1_MemberRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_manager_v1_MemberInfo__Output>): grpc.ClientUnaryCall;
  Member(argument: _tsswarm_manager_v1_MemberRequest, callback: grpc.requestCallback<_tsswarm_manager_v1_MemberInfo__Output>): grpc.ClientUnaryCall;
  member(argument: _tsswarm_manager_v1_MemberRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_manager_v1_MemberInfo__Output>): grpc.ClientUnaryCall;
  member(argument: _tsswarm_manager_v1_MemberRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsswarm_manager_v1_MemberInfo__Output>): grpc.ClientUnaryCall;
  member(argument: _tsswarm_manager_v1_MemberRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_manager_v1_MemberInfo__Output>): grpc.ClientUnaryCall;
  member(argument: _tsswarm_manager_v1_MemberRequest, callback: grpc.requestCallback<_tsswarm_manager_v1_MemberInfo__Output>): grpc.ClientUnaryCall;
  
  Renew(argument: _tsswarm_manager_v1_RenewRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_manager_v1_RenewResponse__Output>): grpc.ClientUnaryCall;
  Renew(argument: _tsswarm_manager_v1_RenewRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsswarm_manager_v1_RenewResponse__Output>): grpc.ClientUnaryCall;
  Renew(argument: _tsswarm_manager_v1_RenewRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_manager_v1_RenewResponse__Output>): grpc.ClientUnaryCall;
  Renew(argument: _tsswarm_manager_v1_RenewRequest, callback: grpc.requestCallback<_tsswarm_manager_v1_RenewResponse__Output>): grpc.ClientUnaryCall;
  renew(argument: _tsswarm_manager_v1_RenewRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_manager_v1_RenewResponse__Output>): grpc.ClientUnaryCall;
  renew(argument: _tsswarm_manager_v1_RenewRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsswarm_manager_v1_RenewResponse__Output>): grpc.ClientUnaryCall;
  renew(argument: _tsswarm_manager_v1_RenewRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_manager_v1_RenewResponse__Output>): grpc.ClientUnaryCall;
  renew(argument: _tsswarm_manager_v1_RenewRequest, callback: grpc.requestCallback<_tsswarm_manager_v1_RenewResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface ManagerHandlers extends grpc.UntypedServiceImplementation {
  ForwardHttp: grpc.handleServerStreamingCall<_tsswarm_manager_v1_HttpRequest__Output, _tsswarm_manager_v1_HttpChunk>;
  
  Join: grpc.handleUnaryCall<_tsswarm_manager_v1_JoinRequest__Output, _tsswarm_manager_v1_JoinResponse>;
  
  Member: grpc.handleUnaryCall<_tsswarm_manager_v1_MemberRequest__Output, _tsswarm_manager_v1_MemberInfo>;
  
  Renew: grpc.handleUnaryCall<_tsswarm_manager_v1_RenewRequest__Output, _tsswarm_manager_v1_RenewResponse>;
  
}

export interface ManagerDefinition extends grpc.ServiceDefinition {
  ForwardHttp: MethodDefinition<_tsswarm_manager_v1_HttpRequest, _tsswarm_manager_v1_HttpChunk, _tsswarm_manager_v1_HttpRequest__Output, _tsswarm_manager_v1_HttpChunk__Output>
  Join: MethodDefinition<_tsswarm_manager_v1_JoinRequest, _tsswarm_manager_v1_JoinResponse, _tsswarm_manager_v1_JoinRequest__Output, _tsswarm_manager_v1_JoinResponse__Output>
  Member: MethodDefinition<_tsswarm_manager_v1_MemberRequest, _tsswarm_manager_v1_MemberInfo, _tsswarm_manager_v1_MemberRequest__Output, _tsswarm_manager_v1_MemberInfo__Output>
  Renew: MethodDefinition<_tsswarm_manager_v1_RenewRequest, _tsswarm_manager_v1_RenewResponse, _tsswarm_manager_v1_RenewRequest__Output, _tsswarm_manager_v1_RenewResponse__Output>
}
