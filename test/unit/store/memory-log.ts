// A StoreLog that commits at once, in memory: for unit tests of what sits on the store, not of
// its durability (those use loneBackend, a real one-manager Raft log on disk).
import type { ReplicatedMachine, StoreLog } from '../../../manager/store/store.js';

export function memoryLog(): StoreLog {
  let sm: ReplicatedMachine | undefined;
  let index = 0;
  return {
    open: async (m) => { sm = m; },
    propose: async (data) => sm!.apply(data, ++index),
    readIndex: async () => undefined,
    close: async () => undefined,
  };
}
