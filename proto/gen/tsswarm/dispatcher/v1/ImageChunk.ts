// Original file: proto/dispatcher.proto

import type { ImageSource as _tsswarm_dispatcher_v1_ImageSource, ImageSource__Output as _tsswarm_dispatcher_v1_ImageSource__Output } from '../../../tsswarm/dispatcher/v1/ImageSource.js';
import type { ImagePlan as _tsswarm_dispatcher_v1_ImagePlan, ImagePlan__Output as _tsswarm_dispatcher_v1_ImagePlan__Output } from '../../../tsswarm/dispatcher/v1/ImagePlan.js';

export interface ImageChunk {
  'request_id'?: (string);
  'data'?: (Buffer | Uint8Array | string);
  'source'?: (_tsswarm_dispatcher_v1_ImageSource | null);
  'plan'?: (_tsswarm_dispatcher_v1_ImagePlan | null);
  'error'?: (string);
}

export interface ImageChunk__Output {
  'request_id': (string);
  'data': (Buffer);
  'source': (_tsswarm_dispatcher_v1_ImageSource__Output | null);
  'plan': (_tsswarm_dispatcher_v1_ImagePlan__Output | null);
  'error': (string);
}
