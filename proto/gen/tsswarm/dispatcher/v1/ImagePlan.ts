// Original file: proto/dispatcher.proto

import type { Long } from '@grpc/proto-loader';

export interface ImagePlan {
  'layers_sent'?: (number);
  'layers_skipped'?: (number);
  'layer_bytes_sent'?: (number | string | Long);
  'layer_bytes_skipped'?: (number | string | Long);
}

export interface ImagePlan__Output {
  'layers_sent': (number);
  'layers_skipped': (number);
  'layer_bytes_sent': (number);
  'layer_bytes_skipped': (number);
}
