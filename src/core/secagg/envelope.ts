import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { bytesToScalar, scalarToBytes, SCALAR_BYTES } from './shamir.ts';

/**
 * The shares one client deals another travel through the coordinator, so they are sealed with
 * ChaCha20-Poly1305 under the key the two agreed on (ECDH, then HKDF): the coordinator relays
 * them but can neither read nor alter them. The additional data names the round, the attempt,
 * the dealer and the holder, so a relayed envelope cannot be replayed elsewhere. Both directions
 * of a pair share the key, so the nonce says which direction this is (a key is made per attempt,
 * so each (key, nonce) seals one message).
 */

/** The plaintext: the holder's share of the dealer's self-mask seed b, then of its mask key. */
const PLAIN_BYTES = 2 * SCALAR_BYTES;
/** Plaintext plus Poly1305's 16-byte tag. */
export const ENVELOPE_BYTES = PLAIN_BYTES + 16;

export interface SharePair {
  /** The holder's share of the dealer's self-mask seed b. */
  seed: bigint;
  /** The holder's share of the dealer's mask private key. */
  key: bigint;
}

export interface EnvelopeLabel {
  round: number;
  attempt: number;
  dealer: string;
  holder: string;
}

const encoder = new TextEncoder();

function cipher(key: Uint8Array, l: EnvelopeLabel) {
  const nonce = new Uint8Array(12);
  nonce[0] = l.dealer < l.holder ? 1 : 2;
  return chacha20poly1305(key, nonce, encoder.encode(`murmuration secagg shares|${l.round}|${l.attempt}|${l.dealer}|${l.holder}`));
}

export function sealShares(key: Uint8Array, label: EnvelopeLabel, shares: SharePair): Uint8Array {
  const plain = new Uint8Array(PLAIN_BYTES);
  plain.set(scalarToBytes(shares.seed), 0);
  plain.set(scalarToBytes(shares.key), SCALAR_BYTES);
  return cipher(key, label).encrypt(plain);
}

/** The shares, or null when the envelope was not sealed under this key and label (or holds no field elements). */
export function openShares(key: Uint8Array, label: EnvelopeLabel, envelope: Uint8Array): SharePair | null {
  if (envelope.length !== ENVELOPE_BYTES) return null;
  let plain: Uint8Array;
  try {
    plain = cipher(key, label).decrypt(envelope);
  } catch {
    return null;
  }
  const seed = bytesToScalar(plain.subarray(0, SCALAR_BYTES));
  const k = bytesToScalar(plain.subarray(SCALAR_BYTES));
  return seed === null || k === null ? null : { seed, key: k };
}
