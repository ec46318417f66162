// What seals values the cluster must never keep in clear (secrets, the CA's key): AES-256-GCM
// with the cluster's data key (the Keyring in this directory implements it; docs/identity.md).

/** Seals and opens values with the cluster's data key; `aad` binds a sealed value to its place (e.g. `secret/<id>`). */
export interface Sealer {
  /** The sealed form of `plain`: printable, safe to store in the Raft log. */
  seal(plain: Buffer, aad: string): string;
  /** The value back; throws if `sealed` was not sealed by this cluster's key for `aad`, or was altered. */
  open(sealed: string, aad: string): Buffer;
}
