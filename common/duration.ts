// Go-style durations as Compose and Docker write them: "1h2m3s", "1m30s", "500ms", "10us", "2.5s".
// A bare number is read as seconds (compose accepts integer seconds for some fields).

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export class DurationError extends Error {}

/**
 * The longest duration any string may say: the engine keeps durations as int64 nanoseconds
 * (about 292 years). Fields bound their durations far lower (a year: common/api/schema.ts).
 */
export const MAX_DURATION_MS = 9_223_372_036_854;

const bounded = (ms: number, input: string | number): number => {
  if (!(ms <= MAX_DURATION_MS)) throw new DurationError(`duration ${JSON.stringify(input)} is too long`);
  return ms;
};

/** Milliseconds in a duration string; throws DurationError on bad syntax. */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new DurationError(`invalid duration ${input}`);
    return bounded(input * 1000, input);
  }
  const s = input.trim();
  if (s === '0') return 0;
  if (s.length > 64) throw new DurationError(`invalid duration "${s.slice(0, 40)}...": longer than 64 characters`);
  if (/^\d+(\.\d+)?$/.test(s)) return bounded(Number(s) * 1000, input);
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while (pos < s.length && (m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNITS[m[2]];
    pos = re.lastIndex;
  }
  if (pos !== s.length || s.length === 0) throw new DurationError(`invalid duration "${input}" (use e.g. 30s, 1m30s, 500ms)`);
  return bounded(total, input);
}

/** Canonical string for a number of milliseconds: 90000 -> "1m30s", 500 -> "500ms", 0 -> "0s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${+ms.toFixed(3)}ms`;
  let rest = ms;
  let out = '';
  const h = Math.floor(rest / 3_600_000);
  if (h) { out += `${h}h`; rest -= h * 3_600_000; }
  const m = Math.floor(rest / 60_000);
  if (m) { out += `${m}m`; rest -= m * 60_000; }
  if (rest) out += `${+(rest / 1000).toFixed(3)}s`;
  return out;
}

/** Parse then format: the canonical spelling of a user's duration. */
export const normaliseDuration = (input: string | number): string => formatDuration(parseDuration(input));

/** The longest delay setTimeout honours (about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/** A delay for setTimeout: never negative, never past MAX_TIMER_MS (a timer for later than that is re-armed when it fires). */
export const timerDelay = (ms: number): number => Math.min(Math.max(0, ms), MAX_TIMER_MS);

/**
 * A duration that may start with days ("90d", "30d12h", "36h", "10s"), in milliseconds: for
 * validities counted in days (certificates). Throws DurationError as parseDuration does.
 */
export function parseDaysDuration(s: string): number {
  const m = /^(?:(\d{1,4})d)?(.*)$/.exec(s.trim())!;
  let ms = Number(m[1] ?? 0) * 86_400_000;
  if (m[2] !== '' || m[1] === undefined) ms += parseDuration(m[2]!);
  return ms;
}
