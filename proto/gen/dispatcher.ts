import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AgentMessage as _tsswarm_dispatcher_v1_AgentMessage, AgentMessage__Output as _tsswarm_dispatcher_v1_AgentMessage__Output } from './tsswarm/dispatcher/v1/AgentMessage.js';
import type { Assignment as _tsswarm_dispatcher_v1_Assignment, Assignment__Output as _tsswarm_dispatcher_v1_Assignment__Output } from './tsswarm/dispatcher/v1/Assignment.js';
import type { Assignments as _tsswarm_dispatcher_v1_Assignments, Assignments__Output as _tsswarm_dispatcher_v1_Assignments__Output } from './tsswarm/dispatcher/v1/Assignments.js';
import type { BuildDown as _tsswarm_dispatcher_v1_BuildDown, BuildDown__Output as _tsswarm_dispatcher_v1_BuildDown__Output } from './tsswarm/dispatcher/v1/BuildDown.js';
import type { BuildResult as _tsswarm_dispatcher_v1_BuildResult, BuildResult__Output as _tsswarm_dispatcher_v1_BuildResult__Output } from './tsswarm/dispatcher/v1/BuildResult.js';
import type { BuildStart as _tsswarm_dispatcher_v1_BuildStart, BuildStart__Output as _tsswarm_dispatcher_v1_BuildStart__Output } from './tsswarm/dispatcher/v1/BuildStart.js';
import type { BuildUp as _tsswarm_dispatcher_v1_BuildUp, BuildUp__Output as _tsswarm_dispatcher_v1_BuildUp__Output } from './tsswarm/dispatcher/v1/BuildUp.js';
import type { DispatcherClient as _tsswarm_dispatcher_v1_DispatcherClient, DispatcherDefinition as _tsswarm_dispatcher_v1_DispatcherDefinition } from './tsswarm/dispatcher/v1/Dispatcher.js';
import type { Heartbeat as _tsswarm_dispatcher_v1_Heartbeat, Heartbeat__Output as _tsswarm_dispatcher_v1_Heartbeat__Output } from './tsswarm/dispatcher/v1/Heartbeat.js';
import type { ImageChunk as _tsswarm_dispatcher_v1_ImageChunk, ImageChunk__Output as _tsswarm_dispatcher_v1_ImageChunk__Output } from './tsswarm/dispatcher/v1/ImageChunk.js';
import type { ImageFetchRequest as _tsswarm_dispatcher_v1_ImageFetchRequest, ImageFetchRequest__Output as _tsswarm_dispatcher_v1_ImageFetchRequest__Output } from './tsswarm/dispatcher/v1/ImageFetchRequest.js';
import type { ImageHave as _tsswarm_dispatcher_v1_ImageHave, ImageHave__Output as _tsswarm_dispatcher_v1_ImageHave__Output } from './tsswarm/dispatcher/v1/ImageHave.js';
import type { ImagePlan as _tsswarm_dispatcher_v1_ImagePlan, ImagePlan__Output as _tsswarm_dispatcher_v1_ImagePlan__Output } from './tsswarm/dispatcher/v1/ImagePlan.js';
import type { ImageQuery as _tsswarm_dispatcher_v1_ImageQuery, ImageQuery__Output as _tsswarm_dispatcher_v1_ImageQuery__Output } from './tsswarm/dispatcher/v1/ImageQuery.js';
import type { ImageReceive as _tsswarm_dispatcher_v1_ImageReceive, ImageReceive__Output as _tsswarm_dispatcher_v1_ImageReceive__Output } from './tsswarm/dispatcher/v1/ImageReceive.js';
import type { ImageSend as _tsswarm_dispatcher_v1_ImageSend, ImageSend__Output as _tsswarm_dispatcher_v1_ImageSend__Output } from './tsswarm/dispatcher/v1/ImageSend.js';
import type { ImageSource as _tsswarm_dispatcher_v1_ImageSource, ImageSource__Output as _tsswarm_dispatcher_v1_ImageSource__Output } from './tsswarm/dispatcher/v1/ImageSource.js';
import type { LogChunk as _tsswarm_dispatcher_v1_LogChunk, LogChunk__Output as _tsswarm_dispatcher_v1_LogChunk__Output } from './tsswarm/dispatcher/v1/LogChunk.js';
import type { LogsCancel as _tsswarm_dispatcher_v1_LogsCancel, LogsCancel__Output as _tsswarm_dispatcher_v1_LogsCancel__Output } from './tsswarm/dispatcher/v1/LogsCancel.js';
import type { LogsRequest as _tsswarm_dispatcher_v1_LogsRequest, LogsRequest__Output as _tsswarm_dispatcher_v1_LogsRequest__Output } from './tsswarm/dispatcher/v1/LogsRequest.js';
import type { ManagerList as _tsswarm_dispatcher_v1_ManagerList, ManagerList__Output as _tsswarm_dispatcher_v1_ManagerList__Output } from './tsswarm/dispatcher/v1/ManagerList.js';
import type { ManagerMessage as _tsswarm_dispatcher_v1_ManagerMessage, ManagerMessage__Output as _tsswarm_dispatcher_v1_ManagerMessage__Output } from './tsswarm/dispatcher/v1/ManagerMessage.js';
import type { NodeDescription as _tsswarm_dispatcher_v1_NodeDescription, NodeDescription__Output as _tsswarm_dispatcher_v1_NodeDescription__Output } from './tsswarm/dispatcher/v1/NodeDescription.js';
import type { PublishLogsResponse as _tsswarm_dispatcher_v1_PublishLogsResponse, PublishLogsResponse__Output as _tsswarm_dispatcher_v1_PublishLogsResponse__Output } from './tsswarm/dispatcher/v1/PublishLogsResponse.js';
import type { PushImageResponse as _tsswarm_dispatcher_v1_PushImageResponse, PushImageResponse__Output as _tsswarm_dispatcher_v1_PushImageResponse__Output } from './tsswarm/dispatcher/v1/PushImageResponse.js';
import type { Register as _tsswarm_dispatcher_v1_Register, Register__Output as _tsswarm_dispatcher_v1_Register__Output } from './tsswarm/dispatcher/v1/Register.js';
import type { TaskStatusBatch as _tsswarm_dispatcher_v1_TaskStatusBatch, TaskStatusBatch__Output as _tsswarm_dispatcher_v1_TaskStatusBatch__Output } from './tsswarm/dispatcher/v1/TaskStatusBatch.js';
import type { TaskStatusUpdate as _tsswarm_dispatcher_v1_TaskStatusUpdate, TaskStatusUpdate__Output as _tsswarm_dispatcher_v1_TaskStatusUpdate__Output } from './tsswarm/dispatcher/v1/TaskStatusUpdate.js';
import type { Trust as _tsswarm_dispatcher_v1_Trust, Trust__Output as _tsswarm_dispatcher_v1_Trust__Output } from './tsswarm/dispatcher/v1/Trust.js';
import type { Welcome as _tsswarm_dispatcher_v1_Welcome, Welcome__Output as _tsswarm_dispatcher_v1_Welcome__Output } from './tsswarm/dispatcher/v1/Welcome.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tsswarm: {
    dispatcher: {
      v1: {
        AgentMessage: MessageTypeDefinition<_tsswarm_dispatcher_v1_AgentMessage, _tsswarm_dispatcher_v1_AgentMessage__Output>
        Assignment: MessageTypeDefinition<_tsswarm_dispatcher_v1_Assignment, _tsswarm_dispatcher_v1_Assignment__Output>
        Assignments: MessageTypeDefinition<_tsswarm_dispatcher_v1_Assignments, _tsswarm_dispatcher_v1_Assignments__Output>
        BuildDown: MessageTypeDefinition<_tsswarm_dispatcher_v1_BuildDown, _tsswarm_dispatcher_v1_BuildDown__Output>
        BuildResult: MessageTypeDefinition<_tsswarm_dispatcher_v1_BuildResult, _tsswarm_dispatcher_v1_BuildResult__Output>
        BuildStart: MessageTypeDefinition<_tsswarm_dispatcher_v1_BuildStart, _tsswarm_dispatcher_v1_BuildStart__Output>
        BuildUp: MessageTypeDefinition<_tsswarm_dispatcher_v1_BuildUp, _tsswarm_dispatcher_v1_BuildUp__Output>
        Dispatcher: SubtypeConstructor<typeof grpc.Client, _tsswarm_dispatcher_v1_DispatcherClient> & { service: _tsswarm_dispatcher_v1_DispatcherDefinition }
        Heartbeat: MessageTypeDefinition<_tsswarm_dispatcher_v1_Heartbeat, _tsswarm_dispatcher_v1_Heartbeat__Output>
        ImageChunk: MessageTypeDefinition<_tsswarm_dispatcher_v1_ImageChunk, _tsswarm_dispatcher_v1_ImageChunk__Output>
        ImageFetchRequest: MessageTypeDefinition<_tsswarm_dispatcher_v1_ImageFetchRequest, _tsswarm_dispatcher_v1_ImageFetchRequest__Output>
        ImageHave: MessageTypeDefinition<_tsswarm_dispatcher_v1_ImageHave, _tsswarm_dispatcher_v1_ImageHave__Output>
        ImagePlan: MessageTypeDefinition<_tsswarm_dispatcher_v1_ImagePlan, _tsswarm_dispatcher_v1_ImagePlan__Output>
        ImageQuery: MessageTypeDefinition<_tsswarm_dispatcher_v1_ImageQuery, _tsswarm_dispatcher_v1_ImageQuery__Output>
        ImageReceive: MessageTypeDefinition<_tsswarm_dispatcher_v1_ImageReceive, _tsswarm_dispatcher_v1_ImageReceive__Output>
        ImageSend: MessageTypeDefinition<_tsswarm_dispatcher_v1_ImageSend, _tsswarm_dispatcher_v1_ImageSend__Output>
        ImageSource: MessageTypeDefinition<_tsswarm_dispatcher_v1_ImageSource, _tsswarm_dispatcher_v1_ImageSource__Output>
        LogChunk: MessageTypeDefinition<_tsswarm_dispatcher_v1_LogChunk, _tsswarm_dispatcher_v1_LogChunk__Output>
        LogsCancel: MessageTypeDefinition<_tsswarm_dispatcher_v1_LogsCancel, _tsswarm_dispatcher_v1_LogsCancel__Output>
        LogsRequest: MessageTypeDefinition<_tsswarm_dispatcher_v1_LogsRequest, _tsswarm_dispatcher_v1_LogsRequest__Output>
        ManagerList: MessageTypeDefinition<_tsswarm_dispatcher_v1_ManagerList, _tsswarm_dispatcher_v1_ManagerList__Output>
        ManagerMessage: MessageTypeDefinition<_tsswarm_dispatcher_v1_ManagerMessage, _tsswarm_dispatcher_v1_ManagerMessage__Output>
        NodeDescription: MessageTypeDefinition<_tsswarm_dispatcher_v1_NodeDescription, _tsswarm_dispatcher_v1_NodeDescription__Output>
        PublishLogsResponse: MessageTypeDefinition<_tsswarm_dispatcher_v1_PublishLogsResponse, _tsswarm_dispatcher_v1_PublishLogsResponse__Output>
        PushImageResponse: MessageTypeDefinition<_tsswarm_dispatcher_v1_PushImageResponse, _tsswarm_dispatcher_v1_PushImageResponse__Output>
        Register: MessageTypeDefinition<_tsswarm_dispatcher_v1_Register, _tsswarm_dispatcher_v1_Register__Output>
        TaskStatusBatch: MessageTypeDefinition<_tsswarm_dispatcher_v1_TaskStatusBatch, _tsswarm_dispatcher_v1_TaskStatusBatch__Output>
        TaskStatusUpdate: MessageTypeDefinition<_tsswarm_dispatcher_v1_TaskStatusUpdate, _tsswarm_dispatcher_v1_TaskStatusUpdate__Output>
        Trust: MessageTypeDefinition<_tsswarm_dispatcher_v1_Trust, _tsswarm_dispatcher_v1_Trust__Output>
        Welcome: MessageTypeDefinition<_tsswarm_dispatcher_v1_Welcome, _tsswarm_dispatcher_v1_Welcome__Output>
      }
    }
  }
}

