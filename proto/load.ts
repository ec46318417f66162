// Loads the .proto contracts at run time (from the source tree or next to the compiled output)
// with the same options the generated types in proto/gen/ were made with.

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType as DispatcherProto } from './gen/dispatcher.js';

export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

/** Finds proto/<file> walking up from this module (works from proto/ and from dist/proto/). */
export function protoPath(file: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    for (const candidate of [join(dir, file), join(dir, 'proto', file)]) {
      if (existsSync(candidate)) return candidate;
    }
    dir = dirname(dir);
  }
  throw new Error(`cannot find proto/${file}`);
}

const loaded = new Map<string, unknown>();

/** The gRPC package of proto/<file>, loaded once per process (every caller shares it). */
export function loadProto<T>(file: string): T {
  let pkg = loaded.get(file);
  if (pkg === undefined) {
    pkg = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath(file), LOADER_OPTIONS));
    loaded.set(file, pkg);
  }
  return pkg as T;
}

export const dispatcherProto = (): DispatcherProto => loadProto<DispatcherProto>('dispatcher.proto');
