import pino, { type Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Structured JSON logs; human-readable when stdout is a terminal. */
export function createLogger(level = 'info', name = 'tsswarm'): Logger {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new Error(`invalid --log-level ${level} (one of ${LOG_LEVELS.join(', ')})`);
  if (process.stdout.isTTY) {
    return pino({ name, level, transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' } } });
  }
  // A log that cannot be written (its disk is full, its reader gone) loses lines; it never
  // stops the daemon that writes it.
  const dest = pino.destination({ dest: 1, sync: false });
  dest.on('error', () => undefined);
  return pino({ name, level }, dest);
}
