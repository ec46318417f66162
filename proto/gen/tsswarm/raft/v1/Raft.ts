// Original file: proto/raft.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { MessageBatch as _tsswarm_raft_v1_MessageBatch, MessageBatch__Output as _tsswarm_raft_v1_MessageBatch__Output } from '../../../tsswarm/raft/v1/MessageBatch.js';
import type { SnapshotAck as _tsswarm_raft_v1_SnapshotAck, SnapshotAck__Output as _tsswarm_raft_v1_SnapshotAck__Output } from '../../../tsswarm/raft/v1/SnapshotAck.js';
import type { SnapshotChunk as _tsswarm_raft_v1_SnapshotChunk, SnapshotChunk__Output as _tsswarm_raft_v1_SnapshotChunk__Output } from '../../../tsswarm/raft/v1/SnapshotChunk.js';
import type { StreamAck as _tsswarm_raft_v1_StreamAck, StreamAck__Output as _tsswarm_raft_v1_StreamAck__Output } from '../../../tsswarm/raft/v1/StreamAck.js';

export interface RaftClient extends grpc.Client {
  Snapshot(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_raft_v1_SnapshotAck__Output>): grpc.ClientWritableStream<_tsswarm_raft_v1_SnapshotChunk>;
  Snapshot(metadata: grpc.Metadata, callback: grpc.requestCallback<_tsswarm_raft_v1_SnapshotAck__Output>): grpc.ClientWritableStream<_tsswarm_raft_v1_SnapshotChunk>;
  Snapshot(options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_raft_v1_SnapshotAck__Output>): grpc.ClientWritableStream<_tsswarm_raft_v1_SnapshotChunk>;
  Snapshot(callback: grpc.requestCallback<_tsswarm_raft_v1_SnapshotAck__Output>): grpc.ClientWritableStream<_tsswarm_raft_v1_SnapshotChunk>;
  snapshot(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_raft_v1_SnapshotAck__Output>): grpc.ClientWritableStream<_tsswarm_raft_v1_SnapshotChunk>;
  snapshot(metadata: grpc.Metadata, callback: grpc.requestCallback<_tsswarm_raft_v1_SnapshotAck__Output>): grpc.ClientWritableStream<_tsswarm_raft_v1_SnapshotChunk>;
  snapshot(options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_raft_v1_SnapshotAck__Output>): grpc.ClientWritableStream<_tsswarm_raft_v1_SnapshotChunk>;
  snapshot(callback: grpc.requestCallback<_tsswarm_raft_v1_SnapshotAck__Output>): grpc.ClientWritableStream<_tsswarm_raft_v1_SnapshotChunk>;
  
  Stream(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_raft_v1_StreamAck__Output>): grpc.ClientWritableStream<_tsswarm_raft_v1_MessageBatch>;
  Stream(metadata: grpc.Metadata, callback: grpc.requestCallback<_tsswarm_raft_v1_StreamAck__Output>): grpc.ClientWritableStream<_tsswarm_raft_v1_MessageBatch>;
  Stream(options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_raft_v1_StreamAck__Output>): grpc.ClientWritableStream<_tsswarm_raft_v1_MessageBatch>;
  Stream(callback: grpc.requestCallback<_tsswarm_raft_v1_StreamAck__Output>): grpc.ClientWritableStream<_tsswarm_raft_v1_MessageBatch>;
  stream(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_raft_v1_StreamAck__Output>): grpc.ClientWritableStream<_tsswarm_raft_v1_MessageBatch>;
  stream(metadata: grpc.Metadata, callback: grpc.requestCallback<_tsswarm_raft_v1_StreamAck__Output>): grpc.ClientWritableStream<_tsswarm_raft_v1_MessageBatch>;
  stream(options: grpc.CallOptions, callback: grpc.requestCallback<_tsswarm_raft_v1_StreamAck__Output>): grpc.ClientWritableStream<_tsswarm_raft_v1_MessageBatch>;
  stream(callback: grpc.requestCallback<_tsswarm_raft_v1_StreamAck__Output>): grpc.ClientWritableStream<_tsswarm_raft_v1_MessageBatch>;
  
}

export interface RaftHandlers extends grpc.UntypedServiceImplementation {
  Snapshot: grpc.handleClientStreamingCall<_tsswarm_raft_v1_SnapshotChunk__Output, _tsswarm_raft_v1_SnapshotAck>;
  
  Stream: grpc.handleClientStreamingCall<_tsswarm_raft_v1_MessageBatch__Output, _tsswarm_raft_v1_StreamAck>;
  
}

export interface RaftDefinition extends grpc.ServiceDefinition {
  Snapshot: MethodDefinition<_tsswarm_raft_v1_SnapshotChunk, _tsswarm_raft_v1_SnapshotAck, _tsswarm_raft_v1_SnapshotChunk__Output, _tsswarm_raft_v1_SnapshotAck__Output>
  Stream: MethodDefinition<_tsswarm_raft_v1_MessageBatch, _tsswarm_raft_v1_StreamAck, _tsswarm_raft_v1_MessageBatch__Output, _tsswarm_raft_v1_StreamAck__Output>
}
