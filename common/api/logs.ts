// Task logs between an agent and a manager: what a manager asks a node for, and the line the
// agent streams back (on PublishLogs) for the manager to hand on to `service logs`.

/** A manager's request for the logs of some of a node's tasks. */
export interface LogRequest {
  taskIds: string[];
  follow: boolean;
  /** Last lines per task; <= 0 (or 0 with follow): all of them. */
  tail: number;
  /** Keep the engine's RFC 3339 prefix in `data`, as `docker logs -t` prints it. */
  timestamps: boolean;
}

/** One chunk of a task's output, as an agent sends it to a manager. */
export interface LogLine {
  taskId: string;
  stream: 'stdout' | 'stderr';
  data: Buffer;
  /** When the engine received it, ms since epoch. */
  timestampMs: number;
}
