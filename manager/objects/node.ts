// What managers know of a node beyond the store's object.

/**
 * A node whose agent reports that its Docker engine does not answer: the agent's error, and
 * since when this manager knows of it (its clock). Kept in memory by the dispatcher, read by
 * the node monitor.
 */
export interface EngineDown {
  error: string;
  since: number;
}
