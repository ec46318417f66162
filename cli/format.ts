// Output helpers: docker-style tables, relative times, port lists.

import type { PortSpec } from '../common/spec.js';
import type { TaskObj, TaskState } from '../common/api/objects.js';

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 1) return 'less than a second ago';
  if (s < 60) return `${s} second${s === 1 ? '' : 's'} ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'} ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} hour${h === 1 ? '' : 's'} ago`;
  return `${Math.round(h / 24)} days ago`;
}

export const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

export function taskState(t: TaskObj, now = Date.now()): string {
  const st: TaskState = t.status.state;
  const health = st === 'running' && t.status.health && t.status.health !== 'none' ? ` (${t.status.health})` : '';
  return `${cap(st)}${health} ${ago(t.status.timestamp || t.meta.updatedAt, now)}`;
}

export function ports(ps: PortSpec[]): string {
  return ps.filter((p) => p.published !== undefined)
    .map((p) => `${p.mode === 'host' ? '' : '*'}${p.host_ip ? `${p.host_ip}:` : ':'}${p.published}->${p.target}/${p.protocol}`.replace(/^\*:/, '*:'))
    .join(', ');
}

export const trunc = (s: string, n: number, noTrunc: boolean): string => (noTrunc || s.length <= n ? s : s.slice(0, n - 1) + '…');
