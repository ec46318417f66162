import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Entry as _tsswarm_raft_v1_Entry, Entry__Output as _tsswarm_raft_v1_Entry__Output } from './tsswarm/raft/v1/Entry.js';
import type { Message as _tsswarm_raft_v1_Message, Message__Output as _tsswarm_raft_v1_Message__Output } from './tsswarm/raft/v1/Message.js';
import type { MessageBatch as _tsswarm_raft_v1_MessageBatch, MessageBatch__Output as _tsswarm_raft_v1_MessageBatch__Output } from './tsswarm/raft/v1/MessageBatch.js';
import type { RaftClient as _tsswarm_raft_v1_RaftClient, RaftDefinition as _tsswarm_raft_v1_RaftDefinition } from './tsswarm/raft/v1/Raft.js';
import type { SnapshotAck as _tsswarm_raft_v1_SnapshotAck, SnapshotAck__Output as _tsswarm_raft_v1_SnapshotAck__Output } from './tsswarm/raft/v1/SnapshotAck.js';
import type { SnapshotChunk as _tsswarm_raft_v1_SnapshotChunk, SnapshotChunk__Output as _tsswarm_raft_v1_SnapshotChunk__Output } from './tsswarm/raft/v1/SnapshotChunk.js';
import type { StreamAck as _tsswarm_raft_v1_StreamAck, StreamAck__Output as _tsswarm_raft_v1_StreamAck__Output } from './tsswarm/raft/v1/StreamAck.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tsswarm: {
    raft: {
      v1: {
        Entry: MessageTypeDefinition<_tsswarm_raft_v1_Entry, _tsswarm_raft_v1_Entry__Output>
        Message: MessageTypeDefinition<_tsswarm_raft_v1_Message, _tsswarm_raft_v1_Message__Output>
        MessageBatch: MessageTypeDefinition<_tsswarm_raft_v1_MessageBatch, _tsswarm_raft_v1_MessageBatch__Output>
        Raft: SubtypeConstructor<typeof grpc.Client, _tsswarm_raft_v1_RaftClient> & { service: _tsswarm_raft_v1_RaftDefinition }
        SnapshotAck: MessageTypeDefinition<_tsswarm_raft_v1_SnapshotAck, _tsswarm_raft_v1_SnapshotAck__Output>
        SnapshotChunk: MessageTypeDefinition<_tsswarm_raft_v1_SnapshotChunk, _tsswarm_raft_v1_SnapshotChunk__Output>
        StreamAck: MessageTypeDefinition<_tsswarm_raft_v1_StreamAck, _tsswarm_raft_v1_StreamAck__Output>
      }
    }
  }
}

