// Original file: proto/dispatcher.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AgentMessage as _tsswarm_dispatcher_v1_AgentMessage, AgentMessage__Output as _tsswarm_dispatcher_v1_AgentMessage__Output } from '../../../tsswarm/dispatcher/v1/AgentMessage.js';
import type { BuildDown as _tsswarm_dispatcher_v1_BuildDown, BuildDown__Output as _tsswarm_dispatcher_v1_BuildDown__Output } from '../../../tsswarm/dispatcher/v1/BuildDown.js';
import type { BuildUp as _tsswarm_dispatcher_v1_BuildUp, BuildUp__Output as _tsswarm_dispatcher_v1_BuildUp__Output } from '../../../tsswarm/dispatcher/v1/BuildUp.js';
import type { ImageChunk as _tsswarm_dispatcher_v1_ImageChunk, ImageChunk__Output as _tsswarm_dispatcher_v1_ImageChunk__Output } from '../../../tsswarm/dispatcher/v1/ImageChunk.js';
import type { ImageFetchRequest as _tsswarm_dispatcher_v1_ImageFetchRequest, ImageFetchRequest__Output as _tsswarm_dispatcher_v1_ImageFetchRequest__Output } from '../../../tsswarm/dispatcher/v1/ImageFetchRequest.js';
import type { LogChunk as _tsswarm_dispatcher_v1_LogChunk, LogChunk__Output as _tsswarm_dispatcher_v1_LogChunk__Output } from '../../../tsswarm/dispatcher/v1/LogChunk.js';
import type { ManagerMessage as _tsswarm_dispatcher_v1_ManagerMessage, ManagerMessage__Output as _tsswarm_dispatcher_v1_ManagerMessage__Output } from '../../../tsswarm/dispatcher/v1/ManagerMessage.js';
import type { PublishLogsResponse as _tsswarm_dispatcher_v1_PublishLogsResponse, PublishLogsResponse__Output as _tsswarm_dispatcher_v1_PublishLogsResponse__Output } from '../../../tsswarm/dispatcher/v1/PublishLogsResponse.js';
import type { PushImageResponse as _tsswarm_dispatcher_v1_PushImageResponse, PushImageResponse__Output as _tsswarm_dispatcher_v1_PushImageResponse__Output } from '../../../tsswarm/dispatcher/v1/PushImageResponse.js';

export interface DispatcherClient extends grpc.Client {
  Build(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tsswarm_dispatcher_v1_BuildUp, _tsswarm_dispatcher_v1_BuildDown__Output>;
  Build(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tsswarm_dispatcher_v1_BuildUp, _tsswarm_dispatcher_v1_BuildDown__Output>;
  build(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tsswarm_dispatcher_v1_BuildUp, _tsswarm_dispatcher_v1_BuildDown__Output>;
  build(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tsswarm_dispatcher_v1_BuildUp, _tsswarm_dispatcher_v1_BuildDown__Output>;
  
  FetchImage(argument: _tsswarm_dispatcher_v1_ImageFetchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tsswarm_dispatcher_v1_ImageChunk__Output>;
  FetchImage(argument: _tsswarm_dispatcher_v1_ImageFetchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tsswarm_dispatcher_v1_ImageChunk__Output>;
  fetchImage(argument: _tsswarm_dispatcher_v1_ImageFetchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tsswarm_dispatcher_v1_ImageChunk__Output>;
  fetchImage(argument: _tsswarm_dispatcher_v1_ImageFetchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tsswarm_dispatcher_v1_ImageChunk__Output>;
  
  PublishLogs(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_dispatcher_v1_PublishLogsResponse__Output>): grpc.ClientWritableStream<_tsswarm_dispatcher_v1_LogChunk>;
  PublishLogs(metadata: grpc.Metadata, callback: grpc.requestCallback<_tsswarm_dispatcher_v1_PublishLogsResponse__Output>): grpc.ClientWritableStream<_tsswarm_dispatcher_v1_LogChunk>;
  PublishLogs(options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_dispatcher_v1_PublishLogsResponse__Output>): grpc.ClientWritableStream<_tsswarm_dispatcher_v1_LogChunk>;
  PublishLogs(callback: grpc.requestCallback<_tsswarm_dispatcher_v1_PublishLogsResponse__Output>): grpc.ClientWritableStream<_tsswarm_dispatcher_v1_LogChunk>;
  publishLogs(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_dispatcher_v1_PublishLogsResponse__Output>): grpc.ClientWritableStream<_tsswarm_dispatcher_v1_LogChunk>;
  publishLogs(metadata: grpc.Metadata, callback: grpc.requestCallback<_tsswarm_dispatcher_v1_PublishLogsResponse__Output>): grpc.ClientWritableStream<_tsswarm_dispatcher_v1_LogChunk>;
  publishLogs(options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_dispatcher_v1_PublishLogsResponse__Output>): grpc.ClientWritableStream<_tsswarm_dispatcher_v1_LogChunk>;
  publishLogs(callback: grpc.requestCallback<_tsswarm_dispatcher_v1_PublishLogsResponse__Output>): grpc.ClientWritableStream<_tsswarm_dispatcher_v1_LogChunk>;
  
  PushImage(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_dispatcher_v1_PushImageResponse__Output>): grpc.ClientWritableStream<_tsswarm_dispatcher_v1_ImageChunk>;
  PushImage(metadata: grpc.Metadata, callback: grpc.requestCallback<_tsswarm_dispatcher_v1_PushImageResponse__Output>): grpc.ClientWritableStream<_tsswarm_dispatcher_v1_ImageChunk>;
  PushImage(options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_dispatcher_v1_PushImageResponse__Output>): grpc.ClientWritableStream<_tsswarm_dispatcher_v1_ImageChunk>;
  PushImage(callback: grpc.requestCallback<_tsswarm_dispatcher_v1_PushImageResponse__Output>): grpc.ClientWritableStream<_tsswarm_dispatcher_v1_ImageChunk>;
  pushImage(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_dispatcher_v1_PushImageResponse__Output>): grpc.ClientWritableStream<_tsswarm_dispatcher_v1_ImageChunk>;
  pushImage(metadata: grpc.Metadata, callback: grpc.requestCallback<_tsswarm_dispatcher_v1_PushImageResponse__Output>): grpc.ClientWritableStream<_tsswarm_dispatcher_v1_ImageChunk>;
  pushImage(options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_dispatcher_v1_PushImageResponse__Output>): grpc.ClientWritableStream<_tsswarm_dispatcher_v1_ImageChunk>;
  pushImage(callback: grpc.requestCallback<_tsswarm_dispatcher_v1_PushImageResponse__Output>): grpc.ClientWritableStream<_tsswarm_dispatcher_v1_ImageChunk>;
  
  Session(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tsswarm_dispatcher_v1_AgentMessage, _tsswarm_dispatcher_v1_ManagerMessage__Output>;
  Session(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tsswarm_dispatcher_v1_AgentMessage, _tsswarm_dispatcher_v1_ManagerMessage__Output>;
  session(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tsswarm_dispatcher_v1_AgentMessage, _tsswarm_dispatcher_v1_ManagerMessage__Output>;
  session(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tsswarm_dispatcher_v1_AgentMessage, _tsswarm_dispatcher_v1_ManagerMessage__Output>;
  
}

export interface DispatcherHandlers extends grpc.UntypedServiceImplementation {
  Build: grpc.handleBidiStreamingCall<_tsswarm_dispatcher_v1_BuildUp__Output, _tsswarm_dispatcher_v1_BuildDown>;
  
  FetchImage: grpc.handleServerStreamingCall<_tsswarm_dispatcher_v1_ImageFetchRequest__Output, _tsswarm_dispatcher_v1_ImageChunk>;
  
  PublishLogs: grpc.handleClientStreamingCall<_tsswarm_dispatcher_v1_LogChunk__Output, _tsswarm_dispatcher_v1_PublishLogsResponse>;
  
  PushImage: grpc.handleClientStreamingCall<_tsswarm_dispatcher_v1_ImageChunk__Output, _tsswarm_dispatcher_v1_PushImageResponse>;
  
  Session: grpc.handleBidiStreamingCall<_tsswarm_dispatcher_v1_AgentMessage__Output, _tsswarm_dispatcher_v1_ManagerMessage>;
  
}

export interface DispatcherDefinition extends grpc.ServiceDefinition {
  Build: MethodDefinition<_tsswarm_dispatcher_v1_BuildUp, _tsswarm_dispatcher_v1_BuildDown, _tsswarm_dispatcher_v1_BuildUp__Output, _tsswarm_dispatcher_v1_BuildDown__Output>
  FetchImage: MethodDefinition<_tsswarm_dispatcher_v1_ImageFetchRequest, _tsswarm_dispatcher_v1_ImageChunk, _tsswarm_dispatcher_v1_ImageFetchRequest__Output, _tsswarm_dispatcher_v1_ImageChunk__Output>
  PublishLogs: MethodDefinition<_tsswarm_dispatcher_v1_LogChunk, _tsswarm_dispatcher_v1_PublishLogsResponse, _tsswarm_dispatcher_v1_LogChunk__Output, _tsswarm_dispatcher_v1_PublishLogsResponse__Output>
  PushImage: MethodDefinition<_tsswarm_dispatcher_v1_ImageChunk, _tsswarm_dispatcher_v1_PushImageResponse, _tsswarm_dispatcher_v1_ImageChunk__Output, _tsswarm_dispatcher_v1_PushImageResponse__Output>
  Session: MethodDefinition<_tsswarm_dispatcher_v1_AgentMessage, _tsswarm_dispatcher_v1_ManagerMessage, _tsswarm_dispatcher_v1_AgentMessage__Output, _tsswarm_dispatcher_v1_ManagerMessage__Output>
}
