// Signs node and client certificates with the cluster CA kept in the store (its key sealed
// with the data key: any manager can sign once it leads). During a CA rotation new
// certificates come from the new root and carry the cross-signed intermediate, so peers that
// still trust only the old root accept them (docs/identity.md).

import { caDigest, certInfo, type CertRole } from '../../common/pki.js';
import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import { DEFAULT_CERT_EXPIRY_MS } from '../../common/api/objects.js';
import { signCsr } from '../ca/x509.js';
import type { Sealer } from '../keys/sealer.js';
import type { Store } from '../store/store.js';
import type { ClusterObj } from '../store/types.js';

/** The additional data the CA's sealed key is bound to. */
export const CA_KEY_AAD = 'ca-key';

export interface Issued {
  /** The certificate, then the cross-signed intermediate during a CA rotation. */
  certPem: string;
  caPems: string[];
  serial: string;
  notAfter: number;
  /** Digest of the root that signed it. */
  root: string;
}

export class Issuer {
  constructor(private readonly o: { store: Store; sealer: () => Sealer; clusterId: () => string; now?: () => number }) {}

  private cluster(): ClusterObj {
    const c = this.o.store.view((tx) => tx.get('cluster', 'default'));
    if (!c?.ca) throw new TsswarmError(ErrorCodes.UNAVAILABLE, 'this cluster has no CA in its store yet');
    return c;
  }

  /** The roots nodes trust now: the CA, and during a rotation the new one too. */
  trust(c: ClusterObj = this.cluster()): string[] {
    return c.ca!.next ? [c.ca!.certPem, c.ca!.next.certPem] : [c.ca!.certPem];
  }

  /** A certificate for `commonName` as `role`, for the key of `csrPem`. */
  async sign(csrPem: string, commonName: string, role: CertRole, validMs?: number): Promise<Issued> {
    const c = this.cluster();
    const ca = c.ca!;
    const signing = ca.next ?? ca;
    const keyPem = this.o.sealer().open(signing.keySealed, CA_KEY_AAD).toString('utf8');
    const now = new Date(this.o.now?.() ?? Date.now());
    const validSeconds = Math.max(1, Math.round((validMs ?? c.spec.certExpiryMs ?? DEFAULT_CERT_EXPIRY_MS) / 1000));
    const leaf = await signCsr({ certPem: signing.certPem, keyPem }, csrPem, { commonName, role, clusterId: this.o.clusterId(), validSeconds, now, dnsNames: role === 'manager' ? [] : undefined });
    const info = certInfo(leaf);
    return {
      certPem: ca.next ? `${leaf.trimEnd()}\n${ca.next.crossSignedPem.trimEnd()}\n` : leaf,
      caPems: this.trust(c),
      serial: info.serial,
      notAfter: info.notAfter.getTime(),
      root: caDigest(signing.certPem),
    };
  }
}
