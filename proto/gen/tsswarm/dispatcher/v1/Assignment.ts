// Original file: proto/dispatcher.proto


// Original file: proto/dispatcher.proto

export const _tsswarm_dispatcher_v1_Assignment_Action = {
  UPDATE: 'UPDATE',
  REMOVE: 'REMOVE',
} as const;

export type _tsswarm_dispatcher_v1_Assignment_Action =
  | 'UPDATE'
  | 0
  | 'REMOVE'
  | 1

export type _tsswarm_dispatcher_v1_Assignment_Action__Output = typeof _tsswarm_dispatcher_v1_Assignment_Action[keyof typeof _tsswarm_dispatcher_v1_Assignment_Action]

// Original file: proto/dispatcher.proto

export const _tsswarm_dispatcher_v1_Assignment_Kind = {
  TASK: 'TASK',
  NETWORK: 'NETWORK',
  VOLUME: 'VOLUME',
  SECRET: 'SECRET',
  CONFIG: 'CONFIG',
} as const;

export type _tsswarm_dispatcher_v1_Assignment_Kind =
  | 'TASK'
  | 0
  | 'NETWORK'
  | 1
  | 'VOLUME'
  | 2
  | 'SECRET'
  | 3
  | 'CONFIG'
  | 4

export type _tsswarm_dispatcher_v1_Assignment_Kind__Output = typeof _tsswarm_dispatcher_v1_Assignment_Kind[keyof typeof _tsswarm_dispatcher_v1_Assignment_Kind]

export interface Assignment {
  'action'?: (_tsswarm_dispatcher_v1_Assignment_Action);
  'kind'?: (_tsswarm_dispatcher_v1_Assignment_Kind);
  'id'?: (string);
  'object_json'?: (string);
}

export interface Assignment__Output {
  'action': (_tsswarm_dispatcher_v1_Assignment_Action__Output);
  'kind': (_tsswarm_dispatcher_v1_Assignment_Kind__Output);
  'id': (string);
  'object_json': (string);
}
