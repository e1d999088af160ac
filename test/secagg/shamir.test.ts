import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.ts';
import { bytesToScalar, combine, Q, scalarToBytes, split, uniformScalar, UNIFORM_BYTES } from '../../src/core/secagg/shamir.ts';

const rng = Rng.seed('shamir');
const random = () => uniformScalar(Uint8Array.from({ length: UNIFORM_BYTES }, () => rng.int(256)));

describe('Shamir sharing over GF(q), q the P-256 group order', () => {
  it('any t of n shares give the secret back, in any order', () => {
    for (const [n, t] of [[3, 2], [4, 3], [10, 7], [20, 14], [5, 5], [1, 1]]) {
      const secret = random();
      const coefficients = Array.from({ length: t - 1 }, random);
      const xs = Array.from({ length: n }, (_, i) => i + 1);
      const shares = split(secret, coefficients, xs).map((y, i) => ({ x: xs[i], y }));
      for (let trial = 0; trial < 5; trial++) {
        const pick = rng.sample(shares, t);
        expect(combine(pick)).toBe(secret);
      }
      expect(combine(shares)).toBe(secret);
    }
  });

  it('t − 1 shares do not give it back (they interpolate a lower-degree polynomial, not f)', () => {
    const secret = random();
    const shares = split(secret, [random(), random(), random()], [1, 2, 3, 4, 5]).map((y, i) => ({ x: i + 1, y }));
    expect(combine(shares.slice(0, 3))).not.toBe(secret);
    expect(combine(shares.slice(1, 5))).toBe(secret);
  });

  it('shares a P-256 private key as it is (32 bytes below q), and refuses bytes at or above q', () => {
    const key = scalarToBytes(Q - 1n);
    expect(bytesToScalar(key)).toBe(Q - 1n);
    expect(bytesToScalar(scalarToBytes(0n))).toBe(0n);
    expect(bytesToScalar(new Uint8Array(32).fill(0xff))).toBeNull();
    expect(bytesToScalar(new Uint8Array(31))).toBeNull();
    expect(() => scalarToBytes(Q)).toThrow();
  });

  it('refuses repeated or non-positive share points', () => {
    expect(() => split(1n, [2n], [1, 1])).toThrow();
    expect(() => split(1n, [2n], [0, 1])).toThrow();
    expect(() => combine([{ x: 1, y: 1n }, { x: 1, y: 2n }])).toThrow();
  });
});
