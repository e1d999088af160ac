import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.ts';
import { decodeSum, encodeContribution, fixedScale, SECAGG_RANGE } from '../../src/core/secagg/fixedPoint.ts';
import { addWords } from '../../src/core/secagg/masks.ts';

const rng = Rng.seed('fixed');

describe('fixed-point contributions in Z_{2^32}', () => {
  it('the scale is the largest power of two whose worst-case sum of m contributions stays below 2^31', () => {
    for (const m of [1, 2, 3, 4, 10, 20, 100, 1000]) {
      const s = fixedScale(m);
      expect(Math.log2(s) % 1).toBe(0);
      expect(m * (s * SECAGG_RANGE + 0.5)).toBeLessThan(2 ** 31);
      expect(m * (2 * s * SECAGG_RANGE + 0.5)).toBeGreaterThanOrEqual(2 ** 31 - m);
    }
  });

  it("decoding the sum gives FedAvg's weighted mean change, within the rounding bound m/(2S)·M/Σn", () => {
    const d = 500;
    const m = 7;
    const maxSamples = 900;
    const scale = fixedScale(m);
    const clients = Array.from({ length: m }, () => ({ n: 1 + rng.int(maxSamples), change: Float32Array.from({ length: d }, () => rng.uniform(-2, 2)) }));
    const sum = new Uint32Array(d + 1);
    for (const c of clients) addWords(sum, encodeContribution(c.change, c.n, maxSamples, scale).words);
    const decoded = decodeSum(sum, m, maxSamples, scale);
    if (!decoded.ok) throw new Error(decoded.reason);
    const total = clients.reduce((s, c) => s + c.n, 0);
    expect(decoded.samples).toBe(total);
    const bound = ((m / (2 * scale)) * maxSamples) / total;
    let worst = 0;
    for (let i = 0; i < d; i++) {
      const exact = clients.reduce((s, c) => s + c.n * c.change[i], 0) / total;
      worst = Math.max(worst, Math.abs(decoded.change[i] - exact));
    }
    expect(worst).toBeLessThanOrEqual(bound * 1.0001 + 1e-7);
    expect(worst).toBeGreaterThan(0);
  });

  it('the worst case does not wrap: m contributions at ±R with full weight', () => {
    const m = 20;
    const scale = fixedScale(m);
    for (const sign of [1, -1]) {
      const sum = new Uint32Array(4);
      for (let k = 0; k < m; k++) addWords(sum, encodeContribution(Float32Array.from([sign * SECAGG_RANGE, sign * 100, 0]), 50, 50, scale).words);
      const decoded = decodeSum(sum, m, 50, scale);
      if (!decoded.ok) throw new Error(decoded.reason);
      expect(decoded.change[0]).toBeCloseTo(sign * SECAGG_RANGE, 5);
      // Beyond ±R a change is cut to ±R, which is what keeps the bound.
      expect(decoded.change[1]).toBeCloseTo(sign * SECAGG_RANGE, 5);
    }
  });

  it('counts cut coordinates, and refuses a sum whose sample count no honest clients could have', () => {
    const e = encodeContribution(Float32Array.from([20, -17, 3]), 5, 10, fixedScale(2));
    expect(e.clipped).toBe(2);
    const sum = new Uint32Array(4);
    sum[3] = 0;
    expect(decodeSum(sum, 2, 10, fixedScale(2)).ok).toBe(false);
    sum[3] = 21;
    expect(decodeSum(sum, 2, 10, fixedScale(2)).ok).toBe(false);
    expect(() => encodeContribution(Float32Array.from([NaN]), 1, 10, 1)).toThrow();
    expect(() => encodeContribution(Float32Array.from([1]), 11, 10, 1)).toThrow();
  });
});
