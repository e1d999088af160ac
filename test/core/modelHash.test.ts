import { describe, expect, it } from 'vitest';
import { modelHash } from '../../src/core/modelHash.ts';

describe('modelHash', () => {
  const a = Float32Array.from({ length: 371 }, (_, i) => Math.sin(i) * 0.3);

  it('is a pure function of the raw bytes, as 14 hex digits', () => {
    expect(modelHash(a)).toMatch(/^[0-9a-f]{14}$/);
    expect(modelHash(a.slice())).toBe(modelHash(a));
    // A view at an offset hashes its own values only.
    const big = new Float32Array(400);
    big.set(a, 5);
    expect(modelHash(big.subarray(5, 376))).toBe(modelHash(a));
  });

  it('changes with one bit of one value, with the length, and tells +0 from −0', () => {
    const b = a.slice();
    new Uint32Array(b.buffer)[100] ^= 1;
    expect(modelHash(b)).not.toBe(modelHash(a));
    expect(modelHash(a.subarray(0, 370))).not.toBe(modelHash(a));
    expect(modelHash(Float32Array.of(0))).not.toBe(modelHash(Float32Array.of(-0)));
  });
});
