import { describe, expect, it } from 'vitest';
import { addWords, applyMask, bytesToWords, fingerprint, maskWords, wordsToBytes } from '../../src/core/secagg/masks.ts';

const seed = (b: number) => new Uint8Array(32).fill(b);

describe('masks over Z_{2^32}', () => {
  it('the same seed gives the same words, a longer stream starts with the shorter one, and +mask −mask is the identity', () => {
    expect(maskWords(seed(1), 8)).toEqual(maskWords(seed(1), 8));
    expect(maskWords(seed(1), 20).subarray(0, 8)).toEqual(maskWords(seed(1), 8));
    expect(maskWords(seed(2), 8)).not.toEqual(maskWords(seed(1), 8));
    const x = Uint32Array.from([0, 1, 2 ** 32 - 1, 12345, 7]);
    const y = x.slice();
    applyMask(y, seed(3), 1);
    expect(y).not.toEqual(x);
    applyMask(y, seed(3), -1);
    expect(y).toEqual(x);
  });

  it('pairwise masks with opposite signs cancel in a sum', () => {
    const a = Uint32Array.from([5, 6, 7]);
    const b = Uint32Array.from([1, 2 ** 32 - 2, 3]);
    const ya = a.slice();
    const yb = b.slice();
    applyMask(ya, seed(9), 1);
    applyMask(yb, seed(9), -1);
    addWords(ya, yb);
    expect(Array.from(ya)).toEqual([6, 4, 10]);
  });

  it('the fingerprint is linear mod 2^32 (the test hook relies on it) and tells vectors apart', () => {
    const a = maskWords(seed(4), 1000);
    const b = maskWords(seed(5), 1000);
    const sum = a.slice();
    addWords(sum, b);
    expect(fingerprint(sum)).toBe((fingerprint(a) + fingerprint(b)) >>> 0);
    const c = a.slice();
    c[999] ^= 1;
    expect(fingerprint(c)).not.toBe(fingerprint(a));
    // shorter vectors after longer ones use the cached coefficients' prefix
    expect(fingerprint(a.subarray(0, 10))).toBe(fingerprint(a.slice(0, 10)));
  });

  it('words travel little-endian and come back from any byte offset', () => {
    const w = Uint32Array.from([1, 0x01020304, 2 ** 32 - 1]);
    const bytes = wordsToBytes(w);
    expect(Array.from(bytes.subarray(4, 8))).toEqual([4, 3, 2, 1]);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(bytesToWords(shifted.subarray(1))).toEqual(w);
  });
});
