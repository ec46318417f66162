// Original file: proto/dispatcher.proto


export interface TaskStatusUpdate {
  'task_id'?: (string);
  'status_json'?: (string);
}

export interface TaskStatusUpdate__Output {
  'task_id': (string);
  'status_json': (string);
}
