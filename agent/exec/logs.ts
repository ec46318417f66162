// Container logs: the engine's multiplexed (non-tty) stream split into stdout/stderr chunks.
// Timestamps are always requested from the engine so every chunk carries `timestampMs`; the
// RFC 3339 prefix stays in `data` only when the caller asked for timestamps (as `docker logs -t`).

import type Dockerode from 'dockerode';
import type { LogLine, LogRequest } from '../../common/api/logs.js';

/** A line of one container: the agent↔manager log line (common/api/logs.ts) before it is tagged with its task. */
export type LogChunk = Omit<LogLine, 'taskId'>;

/** Incremental parser of the engine's stream framing: [kind, 0, 0, 0, len(4, BE)] payload. */
export class Demuxer {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (stream: 'stdout' | 'stderr', payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 8) {
      const kind = this.buf[0];
      const len = this.buf.readUInt32BE(4);
      if (kind > 2 || this.buf[1] !== 0 || this.buf[2] !== 0 || this.buf[3] !== 0) {
        // Not multiplexed (tty container): pass through as stdout.
        this.onFrame('stdout', this.buf);
        this.buf = Buffer.alloc(0);
        return;
      }
      if (this.buf.length < 8 + len) return;
      const payload = this.buf.subarray(8, 8 + len);
      this.buf = this.buf.subarray(8 + len);
      this.onFrame(kind === 2 ? 'stderr' : 'stdout', payload);
    }
  }
}

const TS = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d) /;

/** Split "<RFC3339Nano> <line>" into the time and the line. */
export function splitTimestamp(payload: Buffer): { ms: number; rest: Buffer; prefixLen: number } {
  const head = payload.subarray(0, 40).toString('latin1');
  const m = TS.exec(head);
  if (!m) return { ms: Date.now(), rest: payload, prefixLen: 0 };
  const frac = m[2] ? m[2].slice(0, 4) : '';
  const ms = Date.parse(`${m[1]}${frac}${m[3]}`);
  return { ms: Number.isNaN(ms) ? Date.now() : ms, rest: payload.subarray(m[0].length), prefixLen: m[0].length };
}

export type LogOptions = Omit<LogRequest, 'taskIds'>;

/** Stream one container's logs. Returns a cancel function; `onEnd` fires exactly once. */
export function containerLogs(
  container: Dockerode.Container,
  opts: LogOptions,
  onChunk: (c: LogChunk) => void,
  onEnd: (err?: Error) => void,
): () => void {
  let ended = false;
  let stream: (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
  const end = (err?: Error) => {
    if (ended) return;
    ended = true;
    onEnd(err);
  };
  const demux = new Demuxer((s, payload) => {
    if (ended) return;
    const { ms, rest } = splitTimestamp(payload);
    onChunk({ stream: s, data: opts.timestamps ? Buffer.from(payload) : Buffer.from(rest), timestampMs: ms });
  });
  const base = { stdout: true, stderr: true, timestamps: true, ...(opts.tail > 0 ? { tail: opts.tail } : {}) };
  if (opts.follow) {
    container.logs({ ...base, follow: true as const }).then((s) => {
      stream = s as typeof stream;
      if (ended) { stream?.destroy?.(); return; }
      s.on('data', (c: Buffer) => demux.push(c));
      s.on('end', () => end());
      s.on('close', () => end());
      s.on('error', (e: Error) => end(e));
    }, (e: Error) => end(e));
  } else {
    container.logs({ ...base, follow: false as const }).then((b) => {
      demux.push(Buffer.isBuffer(b) ? b : Buffer.from(String(b)));
      end();
    }, (e: Error) => end(e));
  }
  return () => {
    stream?.destroy?.();
    end();
  };
}
