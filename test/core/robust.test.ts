import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { coordinateMedian, centeredClip, krumSelect, multiKrum, trimCount, trimmedMean } from '../../src/core/robust/rules.ts';
import { parseRobust, robustAverage, validRobust } from '../../src/core/robust/aggregate.ts';
import { Rng } from '../../src/core/rng.ts';

const D = 6;
const vec = (values: number[]) => Float32Array.from(values);
/** Honest vectors near 0 (within ±1 per coordinate), and f arbitrary ones (up to ±1e6). */
const honestArb = fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: D, maxLength: D });
const evilArb = fc.array(fc.float({ min: -1e6, max: 1e6, noNaN: true }), { minLength: D, maxLength: D });

function honestRange(honest: Float32Array[], i: number): [number, number] {
  const column = honest.map((v) => v[i]);
  return [Math.min(...column), Math.max(...column)];
}

const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('coordinate-wise median', () => {
  it('of 2f + 1 vectors, f of them arbitrary, stays within the honest range per coordinate', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(honestArb, { minLength: 9, maxLength: 9 }), fc.array(evilArb, { minLength: 4, maxLength: 4 }), (f, h, e) => {
        const honest = h.slice(0, f + 1).map(vec);
        const all = [...e.slice(0, f).map(vec), ...honest];
        const m = coordinateMedian(all);
        for (let i = 0; i < D; i++) {
          const [lo, hi] = honestRange(honest, i);
          expect(m[i]).toBeGreaterThanOrEqual(lo);
          expect(m[i]).toBeLessThanOrEqual(hi);
        }
      }),
    );
  });

  it('is the middle value, or the mean of the two middle values', () => {
    expect([...coordinateMedian([vec([3]), vec([1]), vec([2])])]).toEqual([2]);
    expect([...coordinateMedian([vec([4]), vec([1]), vec([2]), vec([100])])]).toEqual([3]);
  });
});

describe('trimmed mean', () => {
  it('drops the extremes: f arbitrary vectors among n with ⌊βn⌋ ≥ f leave it inside the honest range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.array(honestArb, { minLength: 8, maxLength: 8 }), fc.array(evilArb, { minLength: 3, maxLength: 3 }), (f, h, e) => {
        const all = [...e.slice(0, f).map(vec), ...h.map(vec)];
        const beta = f / all.length + 1e-9;
        expect(trimCount(all.length, beta)).toBe(f);
        const t = trimmedMean(all, beta);
        const honest = h.map(vec);
        for (let i = 0; i < D; i++) {
          const [lo, hi] = honestRange(honest, i);
          expect(t[i]).toBeGreaterThanOrEqual(lo - 1e-6);
          expect(t[i]).toBeLessThanOrEqual(hi + 1e-6);
        }
      }),
    );
  });

  it('is exactly the mean of what is left', () => {
    // 1, 2, 3, 4, 1000 with β = 0.2 drops 1 and 1000.
    expect(trimmedMean([1, 1000, 2, 3, 4].map((x) => vec([x])), 0.2)[0]).toBe(3);
    expect(trimmedMean([1, 2].map((x) => vec([x])), 0)[0]).toBe(1.5);
  });
});

describe('Krum', () => {
  it('never picks an outlier far from the honest cluster', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.array(honestArb, { minLength: 9, maxLength: 9 }), fc.array(fc.integer({ min: 0, max: 2 ** 31 }), { minLength: 3, maxLength: 3 }), (f, h, seeds) => {
        // n ≥ 2f + 3 as Krum requires; outliers at distance ≥ 100 from the cluster, possibly together.
        const honest = h.slice(0, 2 * f + 3 - f).map(vec);
        const evil = seeds.slice(0, f).map((s) => {
          const r = new Rng(`o${s}`);
          return vec(Array.from({ length: D }, () => 100 + r.next() * 10));
        });
        const all = [...evil, ...honest];
        const [best] = krumSelect(all, f);
        expect(best).toBeGreaterThanOrEqual(f);
        const kept = krumSelect(all, f, all.length - f);
        expect(kept.every((i) => i >= f)).toBe(true);
      }),
    );
  });

  it('multi-Krum averages the selection with renormalised weights', () => {
    const all = [vec([100]), vec([1]), vec([2]), vec([3]), vec([4])];
    const out = multiKrum(all, [0.2, 0.2, 0.2, 0.2, 0.2], 1);
    expect(out[0]).toBeCloseTo(2.5, 5);
  });
});

describe('centered clipping', () => {
  it('bounds each input’s influence by its weight times τ per iteration', () => {
    fc.assert(
      fc.property(fc.array(honestArb, { minLength: 5, maxLength: 5 }), evilArb, fc.float({ min: Math.fround(0.01), max: 2, noNaN: true }), (h, e, tau) => {
        const honest = h.map(vec);
        const center = new Float32Array(D);
        const weights = [0.2, 0.2, 0.2, 0.2, 0.2, 0.2].map((w) => w / 1.2);
        const withEvil = centeredClip([...honest, vec(e)], weights, center, tau, 1);
        const withoutEvil = centeredClip([...honest, center], weights, center, tau, 1);
        const diff = withEvil.map((x, i) => x - withoutEvil[i]);
        expect(norm(diff)).toBeLessThanOrEqual(weights[5] * tau * (1 + 1e-4) + 1e-5);
      }),
    );
  });

  it('is the weighted mean when every input lies within τ of the center', () => {
    const out = centeredClip([vec([1, 0]), vec([0, 1])], [0.25, 0.75], vec([0, 0]), 10, 1);
    expect([...out]).toEqual([0.25, 0.75]);
  });

  it('moves towards a far input by exactly w·τ in one iteration', () => {
    const out = centeredClip([vec([1000, 0])], [1], vec([0, 0]), 2, 1);
    expect(out[0]).toBeCloseTo(2, 4);
  });
});

describe('robust= values', () => {
  it('parses every rule and refuses bad ones', () => {
    expect(parseRobust('krum:4')).toEqual({ kind: 'krum', f: 4 });
    expect(parseRobust('trimmed:0.2')).toEqual({ kind: 'trimmed', beta: 0.2 });
    expect(parseRobust('cclip:1.5')).toEqual({ kind: 'cclip', tau: 1.5 });
    for (const ok of ['mean', 'median', 'trimmed:0.1', 'krum:2', 'mkrum:2', 'cclip:.5']) expect(validRobust(ok)).toBe(true);
    for (const bad of ['', 'avg', 'trimmed:0.5', 'trimmed:1', 'krum:', 'krum:-1', 'cclip:0', 'median:2']) expect(validRobust(bad)).toBe(false);
  });

  it('mean is the weighted mean; median ignores weights', () => {
    const v = [vec([0]), vec([10]), vec([1])];
    expect(robustAverage('mean', v, [0.5, 0.25, 0.25])[0]).toBeCloseTo(2.75, 6);
    expect(robustAverage('median', v, [0.9, 0.05, 0.05])[0]).toBe(1);
  });
});
