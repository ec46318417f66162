// Error codes users can search for. Each error tsswarm reports carries one of these codes;
// tests assert on codes, not on message text.

export const ErrorCodes = {
  STACK_INVALID: 'TSW_ERR_STACK_INVALID', // a stack file failed validation (details list file:line:col)
  STACK_NOT_FOUND: 'TSW_ERR_STACK_NOT_FOUND',
  SERVICE_NOT_FOUND: 'TSW_ERR_SERVICE_NOT_FOUND',
  NODE_NOT_FOUND: 'TSW_ERR_NODE_NOT_FOUND',
  TASK_NOT_FOUND: 'TSW_ERR_TASK_NOT_FOUND',
  INVALID_ARGUMENT: 'TSW_ERR_INVALID_ARGUMENT',
  CONFLICT: 'TSW_ERR_CONFLICT', // compare-and-set failed: the object changed meanwhile
  NOT_LEADER: 'TSW_ERR_NOT_LEADER',
  UNAVAILABLE: 'TSW_ERR_UNAVAILABLE', // the manager cannot be reached
  DATA_DIR: 'TSW_ERR_DATA_DIR', // the data dir is missing, locked, or of another kind
  CORRUPT: 'TSW_ERR_CORRUPT', // on-disk state failed its checksum
  DEPLOY_FAILED: 'TSW_ERR_DEPLOY_FAILED',
  INTERNAL: 'TSW_ERR_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

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
    readonly httpStatus = 400,
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
