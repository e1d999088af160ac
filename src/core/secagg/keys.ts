/**
 * What secure aggregation asks of its node's key-agreement port (src/runtime/ports.ts), and the
 * answers: P-256 key pairs, secret seeds, and ECDH agreements stretched by HKDF-SHA256. The
 * protocol is synchronous and sans-I/O; WebCrypto is asynchronous, so, like training, this work is
 * a request with an id answered later by the driver (live: WebCrypto and the OS's CSPRNG;
 * simulated: node:crypto and the node's seeded stream, so a run stays reproducible).
 */

/** An uncompressed P-256 public key: 0x04, x, y. */
export const PUBLIC_KEY_BYTES = 65;
/** A secret seed as the port hands it out: reduced mod q (shamir.ts) by its user. */
export const SEED_BYTES = 48;
/** What an agreement yields per peer. */
export const AGREED_BYTES = 32;

/** HKDF `info` of the two uses of an agreement: the key that seals shares, and the seed of a pairwise mask. */
export const INFO_ENVELOPE = 'murmuration secagg envelope key';
export const INFO_MASK = 'murmuration secagg pairwise mask';

export interface KeyPair {
  /** The private scalar d (1 ≤ d < q), 32 bytes big-endian: what a client secret-shares. */
  secret: Uint8Array;
  publicKey: Uint8Array;
}

export type KeyRequest =
  /** `pairs` fresh key pairs and `seeds` secret seeds of SEED_BYTES. */
  | { op: 'generate'; pairs: number; seeds: number }
  /**
   * For each of `peers`: HKDF-SHA256(ECDH x-coordinate of secret·peer, salt, info), AGREED_BYTES,
   * or null for a peer key that is not a point of P-256. `publicKey` is the secret's own public
   * key; when they do not match (a key rebuilt from bad shares) the answer is an `error`.
   */
  | { op: 'agree'; secret: Uint8Array; publicKey: Uint8Array; peers: Uint8Array[]; salt: Uint8Array; info: string };

export type KeyResult =
  | { op: 'generate'; pairs: KeyPair[]; seeds: Uint8Array[] }
  | { op: 'agree'; keys: (Uint8Array | null)[] }
  /** The request could not be served with these inputs (a secret that is no key, or not the public key's). */
  | { op: 'error'; message: string };

/** A well-formed uncompressed public key's shape (whether it is on the curve, only ECDH tells). */
export function looksLikePublicKey(k: Uint8Array): boolean {
  return k.length === PUBLIC_KEY_BYTES && k[0] === 0x04;
}
