// Where a command writes: stdout, stderr, and whether stdout is a terminal (progress redraws in
// place there). Tests pass their own.

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  tty: boolean;
  /** stdout for bytes (`cluster backup -`); default process.stdout. */
  binary?: NodeJS.WritableStream;
}

export const processIo = (): Io => ({
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  tty: !!process.stdout.isTTY,
  binary: process.stdout,
});

/** `--format json` output: indented, one trailing newline. */
export const printJson = (io: Io, x: unknown): void => io.out(JSON.stringify(x, null, 2) + '\n');
