// Task statuses arrive from agents as JSON documents: nothing in them is trusted. Each one is
// checked field by field and rebuilt from what is known, so the store never holds a status an
// agent made up (an unknown state, a huge string, a non-finite number, a stray field).

import { LIMITS } from '../../common/api/limits.js';
import { TASK_STATES, type HealthState, type TaskState, type TaskStatus } from '../store/types.js';

/** Short identifiers in a status (error codes, container ids, host IPs). */
const SHORT = 256;
const HEALTH: readonly HealthState[] = ['none', 'starting', 'healthy', 'unhealthy'];
/** States only an agent reports; the manager's own (pending, assigned, orphaned, ...) are refused. */
const AGENT_STATES: ReadonlySet<TaskState> = new Set<TaskState>(['accepted', 'preparing', 'starting', 'running', 'complete', 'shutdown', 'failed', 'rejected']);

export type ParsedStatus = { ok: true; status: TaskStatus } | { ok: false; error: string };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

class Invalid extends Error {}

/** A field's value; undefined (or null) when absent, which only a required field refuses. */
function field(o: Record<string, unknown>, key: string, required: boolean, at: string): unknown {
  const v = o[key];
  if ((v === undefined || v === null) && required) throw new Invalid(`${at}${key} is missing`);
  return v ?? undefined;
}

/** A string field (`at` names where the object is, for the message). */
function str(o: Record<string, unknown>, key: string, max: number, required = false, at = ''): string | undefined {
  const v = field(o, key, required, at);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new Invalid(`${at}${key} is not a string`);
  if (v.length > max) throw new Invalid(`${at}${key} is longer than ${max} characters`);
  return v;
}

function int(o: Record<string, unknown>, key: string, min: number, max: number, required = false, at = ''): number | undefined {
  const v = field(o, key, required, at);
  if (v === undefined) return undefined;
  if (!isInt(v) || v < min || v > max) throw new Invalid(`${at}${key} is not an integer in ${min}..${max}`);
  return v;
}

/** A TaskStatus from an agent's `status_json`, or why it is refused. */
export function parseTaskStatus(json: string): ParsedStatus {
  if (json.length > 4 * LIMITS.stringLength) return { ok: false, error: `status is larger than ${4 * LIMITS.stringLength} bytes` };
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return { ok: false, error: 'status is not JSON' };
  }
  try {
    if (!isObj(raw)) throw new Invalid('status is not an object');
    const state = raw.state;
    if (typeof state !== 'string' || !(TASK_STATES as readonly string[]).includes(state)) throw new Invalid(`unknown state ${JSON.stringify(state)?.slice(0, 64)}`);
    if (!AGENT_STATES.has(state as TaskState)) throw new Invalid(`state ${state} is not one an agent reports`);
    const timestamp = raw.timestamp;
    if (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || timestamp < 0) throw new Invalid('timestamp is not a finite time');
    const status: TaskStatus = { state: state as TaskState, timestamp, message: str(raw, 'message', LIMITS.stringLength, true)! };
    const err = str(raw, 'err', LIMITS.stringLength);
    if (err !== undefined) status.err = err;
    const errCode = str(raw, 'errCode', SHORT);
    if (errCode !== undefined) status.errCode = errCode;
    const containerId = str(raw, 'containerId', SHORT);
    if (containerId !== undefined) status.containerId = containerId;
    const pid = int(raw, 'pid', 0, 2 ** 31 - 1);
    if (pid !== undefined) status.pid = pid;
    const exitCode = int(raw, 'exitCode', -(2 ** 31), 2 ** 32);
    if (exitCode !== undefined) status.exitCode = exitCode;
    if (raw.health !== undefined && raw.health !== null) {
      if (!HEALTH.includes(raw.health as HealthState)) throw new Invalid(`unknown health ${JSON.stringify(raw.health)?.slice(0, 64)}`);
      status.health = raw.health as HealthState;
    }
    if (raw.portBindings !== undefined && raw.portBindings !== null) {
      const pb = raw.portBindings;
      if (!Array.isArray(pb) || pb.length > LIMITS.portsPerService) throw new Invalid(`portBindings is not a list of at most ${LIMITS.portsPerService}`);
      status.portBindings = pb.map((b: unknown, i) => {
        const at = `portBindings[${i}].`;
        if (!isObj(b)) throw new Invalid(`portBindings[${i}] is not an object`);
        if (b.protocol !== 'tcp' && b.protocol !== 'udp') throw new Invalid(`${at}protocol is not tcp or udp`);
        return {
          target: int(b, 'target', 1, 65535, true, at)!,
          protocol: b.protocol,
          hostIp: str(b, 'hostIp', SHORT, true, at)!,
          hostPort: int(b, 'hostPort', 1, 65535, true, at)!,
        };
      });
    }
    return { ok: true, status };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, error: err.message };
    throw err;
  }
}
