import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.ts';
import { addNoise, detLn, detSinCos2Pi, gaussianVector } from '../../src/core/learn/perturb.ts';

/** Distance in float64 ulps. */
function ulps(a: number, b: number): number {
  const view = new DataView(new ArrayBuffer(16));
  view.setFloat64(0, a);
  view.setFloat64(8, b);
  return Number(view.getBigInt64(0) - view.getBigInt64(8));
}

describe('deterministic elementary functions', () => {
  it('detLn agrees with Math.log to a few ulps over (0, 1] and beyond', () => {
    const rng = Rng.seed(1);
    let worst = 0;
    for (let i = 0; i < 20000; i++) {
      const x = ((rng.nextU32() + 1) / 4294967296) * 10 ** ((i % 9) - 4);
      worst = Math.max(worst, Math.abs(ulps(detLn(x), Math.log(x))));
    }
    expect(worst).toBeLessThanOrEqual(4);
    expect(detLn(1)).toBe(0);
    expect(detLn(2 ** -32)).toBeCloseTo(-32 * Math.LN2, 13);
  });

  it('detSinCos2Pi agrees with Math.sin / Math.cos of 2πv to 1e-15', () => {
    const rng = Rng.seed(2);
    let worst = 0;
    for (let i = 0; i < 20000; i++) {
      const v = rng.nextU32() / 4294967296;
      const [s, c] = detSinCos2Pi(v);
      worst = Math.max(worst, Math.abs(s - Math.sin(2 * Math.PI * v)), Math.abs(c - Math.cos(2 * Math.PI * v)));
    }
    expect(worst).toBeLessThan(1e-15);
    for (const v of [0, 0.125, 0.25, 0.5, 0.75, 0.875]) {
      const [s, c] = detSinCos2Pi(v);
      expect(s).toBeCloseTo(Math.sin(2 * Math.PI * v), 15);
      expect(c).toBeCloseTo(Math.cos(2 * Math.PI * v), 15);
    }
  });
});

describe('z(seed) ~ N(0, I)', () => {
  it('is a pure function of the seed, pinned to golden values (so every engine must give these bits)', () => {
    const z = gaussianVector('golden', 100000);
    expect(Array.from(gaussianVector('golden', 100000))).toEqual(Array.from(z));
    expect(Array.from(gaussianVector('other', 4))).not.toEqual(Array.from(z.slice(0, 4)));
    // The first values and a checksum over the raw float32 bits of all 100,000.
    expect(Array.from(z.slice(0, 4))).toEqual(GOLDEN_FIRST);
    let h = 0;
    for (const b of new Uint32Array(z.buffer)) h = (Math.imul(h, 31) + b) | 0;
    expect(h).toBe(GOLDEN_HASH);
  });

  it('has mean 0, variance 1, kurtosis 3, and uncorrelated neighbours', () => {
    const z = gaussianVector(7, 200000);
    let s1 = 0;
    let s2 = 0;
    let s4 = 0;
    let lag = 0;
    for (let i = 0; i < z.length; i++) {
      s1 += z[i];
      s2 += z[i] ** 2;
      s4 += z[i] ** 4;
      if (i > 0) lag += z[i] * z[i - 1];
    }
    const n = z.length;
    expect(Math.abs(s1 / n)).toBeLessThan(0.01);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.01);
    expect(Math.abs(s4 / n - 3)).toBeLessThan(0.06);
    expect(Math.abs(lag / n)).toBeLessThan(0.01);
  });
});

describe('SPSA perturbations (oracles 7 and 15)', () => {
  const theta = Float32Array.from(gaussianVector('theta', 5000), (v) => v * 0.3);

  it('+ε, −2ε, +ε in place with one seed restores θ to within a few float32 ulps', () => {
    const p = theta.slice();
    addNoise(p, 42, 1e-3, p);
    expect(p).not.toEqual(theta);
    addNoise(p, 42, -2e-3, p);
    addNoise(p, 42, 1e-3, p);
    let worst = 0;
    for (let i = 0; i < p.length; i++) {
      const ulp = Math.max(2 ** -149, 2 ** (Math.floor(Math.log2(Math.abs(theta[i]))) - 23));
      worst = Math.max(worst, Math.abs(p[i] - theta[i]) / ulp);
    }
    expect(worst).toBeLessThanOrEqual(4);
  });

  it('for L = ½‖θ‖², the two-sided projected gradient equals z·θ', () => {
    const eps = 1e-3;
    const L = (v: Float32Array) => v.reduce((s, x) => s + 0.5 * x * x, 0);
    const g = (L(addNoise(theta, 9, eps)) - L(addNoise(theta, 9, -eps))) / (2 * eps);
    const z = gaussianVector(9, theta.length);
    const zTheta = z.reduce((s, zi, i) => s + zi * theta[i], 0);
    expect(Math.abs(g - zTheta)).toBeLessThan(1e-3 * Math.max(1, Math.abs(zTheta)));
  });

  it('nodes applying the same ordered (seed, ĝ) list from the same θ end bit-identical', () => {
    const updates = Array.from({ length: 30 }, (_, i) => ({ seed: `t${i >> 3}/n${i & 7}`, g: Math.sin(i) * 2 }));
    const a = theta.slice();
    const b = theta.slice();
    for (const u of updates) addNoise(a, u.seed, -0.01 * u.g, a);
    for (const u of updates) addNoise(b, u.seed, -0.01 * u.g, b);
    expect(new Uint8Array(a.buffer)).toEqual(new Uint8Array(b.buffer));
    expect(a).not.toEqual(theta);
  });
});

const GOLDEN_FIRST = [0.4164832532405853, -0.8065652847290039, 0.018399683758616447, 0.9767743945121765];
const GOLDEN_HASH = 1754470026;
