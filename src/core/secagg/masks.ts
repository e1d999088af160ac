import { chacha20 } from '@noble/ciphers/chacha.js';

/**
 * The masks of secure aggregation: a 32-byte seed stretched by ChaCha20 (RFC 8439, zero nonce)
 * into words of Z_{2^32}. Anyone with the seed gets the same words, and without it they are
 * indistinguishable from uniform, so one masked word is too. Words are read little-endian on
 * every host, so tabs on different machines agree.
 */

const ZERO_NONCE = new Uint8Array(12);
const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** `words` words of ChaCha20's keystream under `seed`. */
export function maskWords(seed: Uint8Array, words: number): Uint32Array {
  if (seed.length !== 32) throw new Error('a mask seed is 32 bytes');
  const bytes = chacha20(seed, ZERO_NONCE, new Uint8Array(4 * words));
  if (littleEndian) return new Uint32Array(bytes.buffer, bytes.byteOffset, words);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Uint32Array.from({ length: words }, (_, i) => view.getUint32(4 * i, true));
}

/** into ← into + sign · mask(seed), word by word mod 2^32. */
export function applyMask(into: Uint32Array, seed: Uint8Array, sign: 1 | -1): void {
  const m = maskWords(seed, into.length);
  // A Uint32Array keeps its values mod 2^32, so plain + and − wrap as Z_{2^32} needs.
  if (sign === 1) for (let i = 0; i < into.length; i++) into[i] += m[i];
  else for (let i = 0; i < into.length; i++) into[i] -= m[i];
}

/** a ← a + b mod 2^32. */
export function addWords(a: Uint32Array, b: Uint32Array): void {
  if (a.length !== b.length) throw new Error('vectors of different lengths');
  for (let i = 0; i < a.length; i++) a[i] += b[i];
}

/** Little-endian bytes of words, for the wire. */
export function wordsToBytes(words: Uint32Array): Uint8Array {
  if (littleEndian) return new Uint8Array(words.buffer.slice(words.byteOffset, words.byteOffset + words.byteLength));
  const out = new Uint8Array(4 * words.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < words.length; i++) view.setUint32(4 * i, words[i], true);
  return out;
}

/** Words from little-endian bytes (a copy: received bytes may sit at any offset). */
export function bytesToWords(bytes: Uint8Array): Uint32Array {
  if (bytes.length % 4 !== 0) throw new Error('not a whole number of words');
  if (littleEndian) return new Uint32Array(bytes.slice().buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Uint32Array.from({ length: bytes.length / 4 }, (_, i) => view.getUint32(4 * i, true));
}

const FINGERPRINT_SEED = new TextEncoder().encode('murmuration secagg fingerprint!!');
let fingerprintCoefficients: Uint32Array = new Uint32Array(0);

/**
 * A 32-bit linear fingerprint, Σ r_i·w_i mod 2^32 with public coefficients r (ChaCha20 of a fixed
 * seed), for tests and scripts: linear, so the fingerprint of a sum is the sum of the
 * fingerprints; a uniform vector's fingerprint is uniform, so a masked vector matches a plain one
 * with probability 2^-32.
 */
export function fingerprint(words: Uint32Array): number {
  // A keystream's first n words do not depend on its length: keep the longest one made so far.
  if (fingerprintCoefficients.length < words.length) fingerprintCoefficients = maskWords(FINGERPRINT_SEED, words.length);
  const r = fingerprintCoefficients;
  let acc = 0;
  for (let i = 0; i < words.length; i++) acc = (acc + Math.imul(r[i] | 1, words[i])) >>> 0;
  return acc;
}
