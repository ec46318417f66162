// A Sealer for tests: AES-256-GCM with a random key, additional data bound to the value's
// place, as the cluster's data key seals (manager/keys). Sealed form: base64 of iv|tag|ciphertext.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Sealer } from '../../../manager/keys/sealer.js';

export class TestSealer implements Sealer {
  /** How many values were opened (what the dispatcher opens, and when). */
  opened = 0;

  constructor(private readonly key: Buffer = randomBytes(32)) {}

  seal(plain: Buffer, aad: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(aad));
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64');
  }

  open(sealed: string, aad: string): Buffer {
    const raw = Buffer.from(sealed, 'base64');
    const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(aad));
    d.setAuthTag(raw.subarray(12, 28));
    const out = Buffer.concat([d.update(raw.subarray(28)), d.final()]);
    this.opened++;
    return out;
  }
}
