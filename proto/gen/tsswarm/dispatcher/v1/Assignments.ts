// Original file: proto/dispatcher.proto

import type { Assignment as _tsswarm_dispatcher_v1_Assignment, Assignment__Output as _tsswarm_dispatcher_v1_Assignment__Output } from '../../../tsswarm/dispatcher/v1/Assignment.js';

export interface Assignments {
  'full'?: (boolean);
  'changes'?: (_tsswarm_dispatcher_v1_Assignment)[];
}

export interface Assignments__Output {
  'full': (boolean);
  'changes': (_tsswarm_dispatcher_v1_Assignment__Output)[];
}
