// Original file: proto/dispatcher.proto

import type { Long } from '@grpc/proto-loader';

export interface NodeDescription {
  'hostname'?: (string);
  'os'?: (string);
  'arch'?: (string);
  'nano_cpus'?: (number | string | Long);
  'memory_bytes'?: (number | string | Long);
  'engine_version'?: (string);
  'engine_labels'?: ({[key: string]: string});
  'addr'?: (string);
  'runtimes'?: (string)[];
}

export interface NodeDescription__Output {
  'hostname': (string);
  'os': (string);
  'arch': (string);
  'nano_cpus': (number);
  'memory_bytes': (number);
  'engine_version': (string);
  'engine_labels': ({[key: string]: string});
  'addr': (string);
  'runtimes': (string)[];
}
