// The cluster's keys over time (docs/identity.md): autolock (the data key wrapped by an unlock
// key only the operator holds) and the rotation of the root CA.
//
// Autolock: the leader makes the unlock key and keeps it in the cluster object, sealed with
// the data key; every manager, when it sees the change, re-wraps its own data key with it (or
// with a random key in its data dir when autolock goes off). A manager that was down meanwhile
// still opens with the key it had when it went down.
//
// CA rotation, on Swarm's model, with no connection dropped and no task restarted:
//   1. the leader makes a new root and a cross-signed certificate (the new root's key
//      certified by the old root), and records both as `ca.next`;
//   2. every node trusts both roots and gets a certificate of the new root, sent with the
//      cross-signed one, so that nodes still trusting only the old root accept it: managers
//      issue their own, agents renew through the leader (told by their session);
//   3. once every manager and every node that is not down holds a new-root certificate, the
//      leader makes the new root the only one: join tokens carry its digest from then on.
// A node that was down through the whole rotation holds only old-root credentials and must
// join again.

import type { Logger } from 'pino';
import type { CaStatusResponse, UnlockKeyResponse } from '../../common/api/types.js';
import { ErrorCodes, TsswarmError } from '../../common/errors.js';
import { caDigest, pemBlocks, verifyIssued } from '../../common/pki.js';
import { formatJoinToken, parseJoinToken } from '../../common/token.js';
import type { NodeCredentials } from '../../proto/credentials.js';
import { createRootCA, crossSign } from '../ca/x509.js';
import { Keyring } from '../keys/keyring.js';
import type { Store } from '../store/store.js';
import type { ClusterObj } from '../store/types.js';
import { CA_KEY_AAD } from './issuer.js';

/** The additional data the sealed unlock key is bound to. */
export const UNLOCK_KEY_AAD = 'unlock-key';

export interface ClusterKeysOptions {
  store: Store;
  dataDir: string;
  /** The unlock key the keyring was opened with at start (autolock), if any. */
  unlockedWith?: string;
  keyring: () => Keyring;
  credentials: NodeCredentials;
  clusterId: () => string;
  isLeader: () => boolean;
  /** Each reachable manager's node id and the digest of the root its certificate is of. */
  managerRoots: () => Promise<{ nodeId: string; root?: string }[]>;
  /** Called when this manager must get a certificate of another root (it issues its own). */
  renewSelf: () => void;
  log: Logger;
}

export class ClusterKeys {
  private appliedAutolock: string | undefined | null = null;
  private unwatch?: () => void;
  private finishing = false;
  /** The root (and chain shape) this manager last asked its own certificate to be renewed for. */
  private renewedFor?: string;
  private timer?: NodeJS.Timeout;

  constructor(private readonly o: ClusterKeysOptions) {}

  private cluster(): ClusterObj {
    const c = this.o.store.view((tx) => tx.get('cluster', 'default'));
    if (!c?.ca) throw new TsswarmError(ErrorCodes.UNAVAILABLE, 'the cluster has no CA in its store yet');
    return c;
  }

  /** Starts following the store (autolock changes, CA rotations). */
  start(): void {
    this.unwatch = this.o.store.watch(() => this.onChange());
    this.onChange();
    // While a rotation is under way the leader checks its progress now and then too (managers'
    // certificates are not in the store).
    this.timer = setInterval(() => void this.maybeFinishRotation(), 1000);
    this.timer.unref?.();
  }

  close(): void {
    this.unwatch?.();
    if (this.timer) clearInterval(this.timer);
  }

  // ------------------------------------------------------------------ autolock

  async setAutolock(enabled: boolean): Promise<UnlockKeyResponse> {
    if (!enabled) {
      await this.o.store.update((tx) => {
        const c = tx.get('cluster', 'default')!;
        const { autolock: _off, ...rest } = c;
        tx.update(rest as ClusterObj);
      });
      return { enabled: false, message: 'Autolock is off: managers restart without an unlock key' };
    }
    if (this.cluster().autolock) {
      return { ...this.unlockKey(), message: 'Autolock is on already; the unlock key is below (`tsswarm cluster unlock-key --rotate` makes a new one)' };
    }
    return this.newUnlockKey('Autolock is on. Keep this key safe: a manager that restarts waits for it (`tsswarm manager unlock`), and it cannot be recovered');
  }

  unlockKey(): UnlockKeyResponse {
    const c = this.cluster();
    if (!c.autolock) return { enabled: false, message: 'Autolock is off: there is no unlock key (`tsswarm cluster update --autolock=true` turns it on)' };
    return { enabled: true, unlockKey: this.o.keyring().open(c.autolock.keySealed, UNLOCK_KEY_AAD).toString('utf8'), message: 'The unlock key' };
  }

  async rotateUnlockKey(): Promise<UnlockKeyResponse> {
    if (!this.cluster().autolock) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'autolock is off: there is no unlock key to rotate');
    return this.newUnlockKey('A new unlock key. Managers that are down now still open with the one they had');
  }

  private async newUnlockKey(message: string): Promise<UnlockKeyResponse> {
    const key = Keyring.newUnlockKey();
    const sealed = this.o.keyring().seal(Buffer.from(key), UNLOCK_KEY_AAD);
    await this.o.store.update((tx) => {
      const c = tx.get('cluster', 'default')!;
      tx.update({ ...c, autolock: { keySealed: sealed } });
    });
    return { enabled: true, unlockKey: key, message };
  }

  /** This manager's keyring follows the cluster's autolock setting. */
  private applyAutolock(c: ClusterObj): void {
    const sealed = c.autolock?.keySealed;
    if (sealed === this.appliedAutolock) return;
    try {
      const keyring = this.o.keyring();
      const key = sealed ? keyring.open(sealed, UNLOCK_KEY_AAD).toString('utf8') : undefined;
      // At start, a keyring already as the cluster says is left alone.
      if (this.appliedAutolock === null && (key ? key === this.o.unlockedWith : !Keyring.isLocked(this.o.dataDir))) { this.appliedAutolock = sealed; return; }
      keyring.setAutolock(key);
      this.appliedAutolock = sealed;
      this.o.log.info({ autolock: !!key }, key ? 'autolock on: this manager\'s data key is now wrapped by the unlock key' : 'autolock off');
    } catch (e) {
      this.o.log.error({ err: (e as Error).message }, 'could not apply the cluster\'s autolock setting to this manager\'s keyring');
    }
  }

  /** The data key for a backup: wrapped by the unlock key when autolock is on. */
  backupKeys(): string {
    const c = this.o.store.view((tx) => tx.get('cluster', 'default'));
    const key = c?.autolock ? this.o.keyring().open(c.autolock.keySealed, UNLOCK_KEY_AAD).toString('utf8') : undefined;
    return this.o.keyring().exportDataKey(key);
  }

  // ------------------------------------------------------------------ CA rotation

  caStatus(): CaStatusResponse {
    const c = this.cluster();
    const digest = caDigest(c.ca!.certPem);
    if (!c.ca!.next) return { digest, message: 'No CA rotation under way' };
    const next = caDigest(c.ca!.next.certPem);
    const pending = this.pendingWorkers(c, next);
    return { digest, next: { digest: next, pending }, message: `Rotating to root ${next.slice(0, 12)}: ${pending.length ? `${pending.length} node(s) still hold an old-root certificate` : 'waiting for the managers'}` };
  }

  async rotateCA(): Promise<CaStatusResponse> {
    const c = this.cluster();
    if (c.ca!.next) throw new TsswarmError(ErrorCodes.CONFLICT, 'a CA rotation is under way already: `tsswarm cluster ca` shows its progress');
    const keyring = this.o.keyring();
    const old = { certPem: c.ca!.certPem, keyPem: keyring.open(c.ca!.keySealed, CA_KEY_AAD).toString('utf8') };
    const fresh = await createRootCA({ clusterId: this.o.clusterId(), validDays: 7300 });
    const crossSignedPem = await crossSign(old, fresh.certPem);
    await this.o.store.update((tx) => {
      const cur = tx.get('cluster', 'default')!;
      if (cur.ca?.next) throw new TsswarmError(ErrorCodes.CONFLICT, 'a CA rotation is under way already');
      tx.update({ ...cur, ca: { ...cur.ca!, next: { certPem: fresh.certPem, keySealed: keyring.seal(Buffer.from(fresh.keyPem), CA_KEY_AAD), crossSignedPem } } });
    });
    this.o.log.info({ next: caDigest(fresh.certPem) }, 'root CA rotation started');
    return { ...this.caStatus(), message: 'CA rotation started: every node gets a certificate of the new root, then the old root is dropped (`tsswarm cluster ca` shows the progress)' };
  }

  /** Workers not down whose newest certificate is not of the root `next`. */
  private pendingWorkers(c: ClusterObj, next: string): string[] {
    const managers = new Set((c.managers ?? []).map((m) => m.nodeId));
    return this.o.store.view((tx) => tx.list('node'))
      .filter((n) => !managers.has(n.id) && n.status.state === 'ready' && n.certs?.[0]?.root !== next)
      .map((n) => n.id);
  }

  private async maybeFinishRotation(): Promise<void> {
    if (this.finishing || !this.o.isLeader()) return;
    const c = this.o.store.view((tx) => tx.get('cluster', 'default'));
    if (!c?.ca?.next) return;
    const next = caDigest(c.ca.next.certPem);
    if (this.pendingWorkers(c, next).length) return;
    this.finishing = true;
    try {
      const roots = await this.o.managerRoots();
      const members = c.managers ?? [];
      if (roots.length < members.length || roots.some((r) => r.root !== next)) return;
      await this.o.store.update((tx) => {
        const cur = tx.get('cluster', 'default')!;
        if (!cur.ca?.next || caDigest(cur.ca.next.certPem) !== next) return;
        const tokens = cur.joinTokens && {
          worker: formatJoinToken({ caDigest: next, secret: parseJoinToken(cur.joinTokens.worker).secret }),
          manager: formatJoinToken({ caDigest: next, secret: parseJoinToken(cur.joinTokens.manager).secret }),
        };
        tx.update({ ...cur, ca: { certPem: cur.ca.next.certPem, keySealed: cur.ca.next.keySealed }, caDigest: next, ...(tokens ? { joinTokens: tokens } : {}) });
      });
      this.o.log.info({ root: next }, 'root CA rotation complete: the old root is no longer trusted; join tokens carry the new digest');
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message }, 'could not complete the CA rotation; will retry');
    } finally {
      this.finishing = false;
    }
  }

  /** The digest of the root `certPem` (a leaf, maybe with its chain) was issued by, among the cluster's. */
  static rootOf(certPem: string, c: ClusterObj): string | undefined {
    const leaf = pemBlocks(certPem)[0]!;
    for (const root of [c.ca?.next?.certPem, c.ca?.certPem]) if (root && verifyIssued(leaf, root)) return caDigest(root);
    return undefined;
  }

  private onChange(): void {
    const c = this.o.store.view((tx) => tx.get('cluster', 'default'));
    if (!c?.ca) return;
    this.applyAutolock(c);
    // Trust and this manager's own certificate follow the cluster's CA.
    const trust = c.ca.next ? [c.ca.certPem, c.ca.next.certPem] : [c.ca.certPem];
    if (!this.o.credentials.ready) return;
    const m = this.o.credentials.material;
    const sameTrust = m.caPems.length === trust.length && m.caPems.every((p, i) => samePem(p, trust[i]!));
    const signing = c.ca.next ?? c.ca;
    const mine = ClusterKeys.rootOf(m.certPem, c);
    if (!sameTrust) this.o.credentials.update({ ...m, caPems: trust });
    const want = `${caDigest(signing.certPem)}/${c.ca.next ? 'rotating' : 'settled'}`;
    const stale = mine !== caDigest(signing.certPem) || (!c.ca.next && pemBlocks(m.certPem).length > 1);
    if (stale && this.renewedFor !== want) {
      this.renewedFor = want;
      this.o.renewSelf();
    }
    if (c.ca.next && this.o.isLeader()) void this.maybeFinishRotation();
  }
}

function samePem(a: string, b: string): boolean {
  return a.replace(/\s+/g, '') === b.replace(/\s+/g, '');
}
