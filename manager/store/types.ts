// The store's own types: the objects are the shared contract's (common/api/objects.ts); what
// the store adds is how control loops read it (ClusterState) and what they write (StoreOp).

import type { ClusterObj, ConfigObj, NetworkObj, NodeObj, ObjKind, SecretObj, ServiceObj, StoreObj, TaskObj, VolumeObj } from '../../common/api/objects.js';

export * from '../../common/api/objects.js';

/** A change a control loop wants written. Updates are compare-and-set on `obj.meta.version`. */
export type StoreOp =
  | { op: 'create'; obj: StoreObj }
  | { op: 'update'; obj: StoreObj }
  | { op: 'delete'; kind: ObjKind; id: string };

/** A consistent read-only view of the store, as pure control-loop functions receive it. */
export interface ClusterState {
  nodes: NodeObj[];
  services: ServiceObj[];
  tasks: TaskObj[];
  networks: NetworkObj[];
  volumes: VolumeObj[];
  cluster?: ClusterObj;
  /** Secrets (values sealed) and configs; absent in states built by older tests. */
  secrets?: SecretObj[];
  configs?: ConfigObj[];
}
