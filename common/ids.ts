import { randomBytes } from 'node:crypto';

/** A 25-character lowercase base-36 id, as Swarm's object ids look. */
export function newId(): string {
  const bytes = randomBytes(16);
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n.toString(36).padStart(25, '0').slice(0, 25);
}

export const shortId = (id: string): string => id.slice(0, 12);
