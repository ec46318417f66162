// Why a task fails on a node. Every failed or rejected status the agent reports carries one of
// these codes in `errCode`, next to the human `err`, so a user can search for it and tests can
// assert on it instead of on the text.

export const AgentErrorCodes = {
  /** The image is not on the node and could not be pulled. */
  IMAGE_NOT_FOUND: 'TSW_ERR_IMAGE_NOT_FOUND',
  /** A published port is held by another service or process on the node. */
  PORT_IN_USE: 'TSW_ERR_PORT_IN_USE',
  /** The Docker engine could not be reached, or failed in a way that is not the task's fault. */
  ENGINE_UNAVAILABLE: 'TSW_ERR_ENGINE_UNAVAILABLE',
  /** A bind source does not exist, or the engine refused a mount. */
  MOUNT_INVALID: 'TSW_ERR_MOUNT_INVALID',
  /** A network of the task is external and missing, or could not be created or joined. */
  NETWORK_UNAVAILABLE: 'TSW_ERR_NETWORK_UNAVAILABLE',
  /** A volume of the task is external and missing, or could not be created. */
  VOLUME_UNAVAILABLE: 'TSW_ERR_VOLUME_UNAVAILABLE',
  /** The engine refused to create the container. */
  CONTAINER_CREATE_FAILED: 'TSW_ERR_CONTAINER_CREATE_FAILED',
  /** The engine refused to start the container. */
  CONTAINER_START_FAILED: 'TSW_ERR_CONTAINER_START_FAILED',
  /** The task's process exited with a non-zero code. */
  EXIT_NON_ZERO: 'TSW_ERR_EXIT_NON_ZERO',
  /** The kernel killed the task's process for exceeding its memory limit. */
  OOM_KILLED: 'TSW_ERR_OOM_KILLED',
  /** The container's healthcheck failed. */
  UNHEALTHY: 'TSW_ERR_UNHEALTHY',
  /** The task's container was removed outside tsswarm. */
  CONTAINER_REMOVED: 'TSW_ERR_CONTAINER_REMOVED',
  /** A secret the task uses was not delivered to this node (not in its assignment set, or the manager could not open it). */
  SECRET_UNAVAILABLE: 'TSW_ERR_SECRET_UNAVAILABLE',
  /** A config the task uses was not delivered to this node. */
  CONFIG_UNAVAILABLE: 'TSW_ERR_CONFIG_UNAVAILABLE',
  /**
   * The tmpfs that holds the node's secret and config files could not be mounted or written
   * (the agent is not root, or lacks the permission): they are never written to a disk instead.
   */
  SECRETS_TMPFS_UNAVAILABLE: 'TSW_ERR_SECRETS_TMPFS_UNAVAILABLE',
} as const;

export type AgentErrorCode = (typeof AgentErrorCodes)[keyof typeof AgentErrorCodes];

/** An error that fails a task, with the code its status carries. */
export class TaskError extends Error {
  constructor(readonly code: AgentErrorCode, message: string) {
    super(message);
    this.name = 'TaskError';
  }
}

/** The engine's socket is gone or refuses connections (not an answer from the engine). */
export function isEngineUnavailable(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'ECONNRESET' || code === 'EPIPE'
    || code === 'ETIMEDOUT' || code === 'EACCES' || code === 'EHOSTUNREACH';
}
