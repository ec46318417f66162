// A real AES-256-GCM Sealer for tests (the cluster's own is wired by the manager): a random key
// per instance, a random 96-bit nonce per value, the additional data bound to the tag.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Sealer } from '../../../manager/keys/sealer.js';

export class TestSealer implements Sealer {
  /** How many values were sealed and opened (a test can tell the API used it). */
  sealed = 0;
  opened = 0;

  constructor(private readonly key: Buffer = randomBytes(32)) {}

  seal(plain: Buffer, aad: string): string {
    this.sealed++;
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([c.update(plain), c.final()]);
    return `t1:${Buffer.concat([iv, c.getAuthTag(), body]).toString('base64')}`;
  }

  open(sealed: string, aad: string): Buffer {
    if (!sealed.startsWith('t1:')) throw new Error('not a sealed value');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(raw.subarray(12, 28));
    const out = Buffer.concat([d.update(raw.subarray(28)), d.final()]);
    this.opened++;
    return out;
  }
}
