// When a node renews its certificate: at a random point between half and four fifths of its
// validity (as Swarm does), so that the nodes of a cluster made at once do not all renew at the
// same moment; after a failure, again soon, never later than the certificate's end allows.

import { certInfo, pemBlocks } from './pki.js';

/** Validity of the first certificate of `certPem` (a certificate and its chain), ms since the epoch. */
export function validity(certPem: string): { notBefore: number; notAfter: number } {
  const i = certInfo(pemBlocks(certPem)[0]!);
  return { notBefore: i.notBefore.getTime(), notAfter: i.notAfter.getTime() };
}

/** Certificates start an hour before they are issued (clock skew between nodes): see manager/ca. */
export const CERT_BACKDATE_MS = 3600_000;

/** The ms to wait before renewing a certificate valid [notBefore, notAfter], at `now`; `rand` in [0, 1). */
export function renewalDelay(notBefore: number, notAfter: number, now: number, rand: number): number {
  const issued = Math.min(notBefore + CERT_BACKDATE_MS, notAfter);
  const life = Math.max(0, notAfter - issued);
  const at = issued + life * (0.5 + 0.3 * Math.min(Math.max(rand, 0), 1));
  return Math.max(0, at - now);
}

/** The ms to wait before trying again after a failed renewal: a tenth of what is left, between 1 s and 1 min. */
export function retryDelay(notAfter: number, now: number): number {
  return Math.min(60_000, Math.max(1000, (notAfter - now) / 10));
}

/**
 * Runs `renew` when renewalDelay says, then again for the certificate it returns, until
 * stopped. `current` gives the validity of the certificate held now.
 */
export class RenewalTimer {
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly o: {
    current: () => { notBefore: number; notAfter: number };
    renew: () => Promise<void>;
    onError: (e: Error, retryInMs: number) => void;
    now?: () => number;
    rand?: () => number;
  }) {}

  start(): void {
    this.schedule(renewalDelay(this.o.current().notBefore, this.o.current().notAfter, this.now(), (this.o.rand ?? Math.random)()));
  }

  now(): number { return this.o.now?.() ?? Date.now(); }

  /** Renew now (and reschedule): e.g. when the cluster's CA changes. */
  renewSoon(): void { this.schedule(0); }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    // setTimeout holds at most ~24.8 days: longer waits are taken in steps.
    const step = Math.min(ms, 2 ** 31 - 1);
    this.timer = setTimeout(() => {
      if (step < ms) { this.schedule(ms - step); return; }
      void this.run();
    }, step);
    this.timer.unref?.();
  }

  private async run(): Promise<void> {
    try {
      await this.o.renew();
      if (!this.stopped) this.start();
    } catch (e) {
      const wait = retryDelay(this.o.current().notAfter, this.now());
      this.o.onError(e as Error, wait);
      this.schedule(wait);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
