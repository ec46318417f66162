// Error codes users can search for. Each error tsswarm reports carries one of these codes;
// tests assert on codes, not on message text.

export const ErrorCodes = {
  STACK_INVALID: 'TSW_ERR_STACK_INVALID', // a stack (file or request) failed validation (details name file:line:col or the field)
  STACK_NOT_FOUND: 'TSW_ERR_STACK_NOT_FOUND',
  SERVICE_NOT_FOUND: 'TSW_ERR_SERVICE_NOT_FOUND',
  NODE_NOT_FOUND: 'TSW_ERR_NODE_NOT_FOUND',
  NOT_FOUND: 'TSW_ERR_NOT_FOUND', // no such API route
  INVALID_ARGUMENT: 'TSW_ERR_INVALID_ARGUMENT', // a flag, parameter, query or body field is not what it must be
  INVALID_JSON: 'TSW_ERR_INVALID_JSON', // a request body is not JSON, or nests deeper than LIMITS.depth
  REQUEST_TOO_LARGE: 'TSW_ERR_REQUEST_TOO_LARGE', // a request body is over LIMITS.requestBodyBytes
  UNSUPPORTED_MEDIA_TYPE: 'TSW_ERR_UNSUPPORTED_MEDIA_TYPE', // a request body that is not application/json
  BIND_NOT_ALLOWED: 'TSW_ERR_BIND_NOT_ALLOWED', // a bind mount outside the cluster's allowedBindPaths
  CONFLICT: 'TSW_ERR_CONFLICT', // compare-and-set failed: the object changed meanwhile
  UNAVAILABLE: 'TSW_ERR_UNAVAILABLE', // the manager cannot be reached
  DATA_DIR: 'TSW_ERR_DATA_DIR', // the data dir is missing, locked, or of another kind
  CORRUPT: 'TSW_ERR_CORRUPT', // on-disk state failed its checksum
  NO_QUORUM: 'TSW_ERR_NO_QUORUM', // too few managers reachable to commit a change (the message says how many)
  DISK_FULL: 'TSW_ERR_DISK_FULL', // the manager's data dir is full: the change was not made durable
  OUTCOME_UNKNOWN: 'TSW_ERR_OUTCOME_UNKNOWN', // leadership was lost while a change was being committed: it may or may not have been applied
  TOKEN_INVALID: 'TSW_ERR_TOKEN_INVALID', // a join token that is malformed, rotated away, or of the wrong role
  QUORUM_AT_RISK: 'TSW_ERR_QUORUM_AT_RISK', // a membership change refused because it would lose (or risk) quorum
  UNAUTHENTICATED: 'TSW_ERR_UNAUTHENTICATED', // no credentials, or a certificate the cluster's CA does not vouch for (none, expired, forged, another CA's)
  PERMISSION_DENIED: 'TSW_ERR_PERMISSION_DENIED', // a verified certificate whose holder may not do this (another cluster, wrong role, another node, revoked)
  CLUSTER_LOCKED: 'TSW_ERR_CLUSTER_LOCKED', // autolock is on and this manager has not been given the unlock key
  UNLOCK_KEY_INVALID: 'TSW_ERR_UNLOCK_KEY_INVALID', // the unlock key given does not open this manager's data key
  CLIENT_CERT_NOT_FOUND: 'TSW_ERR_CLIENT_CERT_NOT_FOUND', // no client certificate of that name
  SECRET_NOT_FOUND: 'TSW_ERR_SECRET_NOT_FOUND',
  CONFIG_NOT_FOUND: 'TSW_ERR_CONFIG_NOT_FOUND',
  IN_USE: 'TSW_ERR_IN_USE', // an object services still use (a secret or config): the message names them
  BUILD_FAILED: 'TSW_ERR_BUILD_FAILED', // building a service's image failed (the message names the service and the step)
  IMAGE_NOT_BUILT: 'TSW_ERR_IMAGE_NOT_BUILT', // deploy --no-build: a service's image is not on the engine the CLI uses
  INTERNAL: 'TSW_ERR_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * The HTTP status each code is answered with (the API's error handler and the CLI's client
 * use it; a TsswarmError takes it unless told otherwise). Codes that never cross the API
 * (DATA_DIR, CORRUPT: a manager that cannot start) still have one, so the table is total.
 */
export const ERROR_STATUS: Readonly<Record<ErrorCode, number>> = {
  TSW_ERR_STACK_INVALID: 400,
  TSW_ERR_STACK_NOT_FOUND: 404,
  TSW_ERR_SERVICE_NOT_FOUND: 404,
  TSW_ERR_NODE_NOT_FOUND: 404,
  TSW_ERR_NOT_FOUND: 404,
  TSW_ERR_INVALID_ARGUMENT: 400,
  TSW_ERR_INVALID_JSON: 400,
  TSW_ERR_REQUEST_TOO_LARGE: 413,
  TSW_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  TSW_ERR_BIND_NOT_ALLOWED: 403,
  TSW_ERR_CONFLICT: 409,
  TSW_ERR_UNAVAILABLE: 503,
  TSW_ERR_DATA_DIR: 500,
  TSW_ERR_CORRUPT: 500,
  TSW_ERR_NO_QUORUM: 503,
  TSW_ERR_DISK_FULL: 507,
  TSW_ERR_OUTCOME_UNKNOWN: 503,
  TSW_ERR_TOKEN_INVALID: 403,
  TSW_ERR_QUORUM_AT_RISK: 409,
  TSW_ERR_UNAUTHENTICATED: 401,
  TSW_ERR_PERMISSION_DENIED: 403,
  TSW_ERR_CLUSTER_LOCKED: 423,
  TSW_ERR_UNLOCK_KEY_INVALID: 403,
  TSW_ERR_CLIENT_CERT_NOT_FOUND: 404,
  TSW_ERR_SECRET_NOT_FOUND: 404,
  TSW_ERR_CONFIG_NOT_FOUND: 404,
  TSW_ERR_IN_USE: 409,
  TSW_ERR_BUILD_FAILED: 422,
  TSW_ERR_IMAGE_NOT_BUILT: 404,
  TSW_ERR_INTERNAL: 500,
};

/** The status of a code; codes from elsewhere (e.g. an older manager) count as internal. */
export const statusOf = (code: string): number => ERROR_STATUS[code as ErrorCode] ?? 500;

export interface ErrorDetail {
  /** file:line:col when the error points into a file */
  file?: string;
  line?: number;
  col?: number;
  /** dotted path of the field, e.g. services.web.ports[0].published */
  field?: string;
  message: string;
}

export class TsswarmError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetail[] = [],
    readonly httpStatus: number = statusOf(code),
  ) {
    super(message);
    this.name = 'TsswarmError';
  }

  toJSON(): { code: ErrorCode; message: string; details: ErrorDetail[] } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** "file:line:col: field: message" — the one way a detail is printed. */
export function formatDetail(d: ErrorDetail): string {
  const where = d.file ? `${d.file}${d.line ? `:${d.line}${d.col ? `:${d.col}` : ''}` : ''}: ` : '';
  const field = d.field ? `${d.field}: ` : '';
  return `${where}${field}${d.message}`;
}

/**
 * How a command-line tool prints an error: "Error: message (TSW_ERR_…)" and one line per
 * detail; anything that is not a TsswarmError prints its message (and its stack with `debug`).
 */
export function formatError(err: unknown, debug = false): string {
  if (err instanceof TsswarmError) {
    return `Error: ${err.message} (${err.code})\n` + err.details.map((d) => `  ${formatDetail(d)}\n`).join('');
  }
  const e = err as Error;
  return `Error: ${e?.message ?? String(err)}\n` + (debug && e?.stack ? `${e.stack}\n` : '');
}
