import { describe, expect, it } from 'vitest';
import { indexBits, rqmDecode, rqmDistribution, rqmEncode, rqmLevels, type RqmParams } from '../../src/core/privacy/rqm.ts';
import { ALPHAS, breakpoints, rdpToDp, renyiDivergence, rqmEpsilon, rqmRdpCurve } from '../../src/core/privacy/rqmAccountant.ts';
import { Rng } from '../../src/core/rng.ts';

const P: RqmParams = { clip: 1, delta: 1, levels: 5, keep: 0.5 };
const logs = (d: Float64Array) => d.map((v) => Math.log(v));
/** Inputs that cover the cases: both ends, on a level, between levels, the middle, and beyond the clip. */
const INPUTS = [-1, -0.73, -0.5, -0.2, 0, 1e-9, 0.31, 0.5, 0.999, 1];

describe('RQM mechanism', () => {
  it('levels are −X … X in m equal steps, X = c + Δ; ⌈log₂ m⌉ bits per index', () => {
    expect(Array.from(rqmLevels({ clip: 1, delta: 1, levels: 5, keep: 0.5 }))).toEqual([-2, -1, 0, 1, 2]);
    expect([2, 3, 4, 5, 16, 17, 64].map(indexBits)).toEqual([1, 2, 2, 3, 4, 5, 6]);
  });

  it('oracle 8: unbiased — the exact distribution has mean clip(x), for every x', () => {
    for (const p of [P, { clip: 0.05, delta: 0.2, levels: 4, keep: 0.5 }, { clip: 1, delta: 3, levels: 16, keep: 0.1 }, { clip: 2, delta: 0, levels: 9, keep: 0.7 }]) {
      const B = rqmLevels(p);
      for (let t = -1.2; t <= 1.2; t += 0.01) {
        const x = t * p.clip;
        const d = rqmDistribution(x, p);
        const meanOut = d.reduce((s, pj, j) => s + pj * B[j], 0);
        expect(meanOut).toBeCloseTo(Math.max(-p.clip, Math.min(p.clip, x)), 10);
      }
    }
  });

  it('oracle 8: unbiased — the mean of many sampled outputs is the clipped x, within its confidence interval', () => {
    const n = 40000;
    const rng = Rng.seed(3).split('rqm');
    const X = P.clip + P.delta;
    for (const x of [...INPUTS, 1.7, -5]) {
      const decoded = rqmDecode(rqmEncode(new Float32Array(n).fill(x), P, rng), P);
      if (!decoded.ok) throw new Error(decoded.detail);
      const mean = decoded.values.reduce((s, v) => s + v, 0) / n;
      // Each output lies in [−X, X], so its standard deviation is at most X: 5σ/√n bounds the error.
      expect(Math.abs(mean - Math.max(-1, Math.min(1, x)))).toBeLessThan((5 * X) / Math.sqrt(n));
    }
  });

  it('oracle 14: the exact distribution sums to 1, and sampled frequencies match it', () => {
    const n = 40000;
    const rng = Rng.seed(4).split('rqm');
    for (const x of INPUTS) {
      const d = rqmDistribution(x, P);
      expect(d.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(d.every((v) => v >= 0)).toBe(true);
      const counts = new Array(P.levels).fill(0);
      for (const j of rqmEncode(new Float32Array(n).fill(x), P, rng)) counts[j]++;
      for (let j = 0; j < P.levels; j++) expect(Math.abs(counts[j] / n - d[j])).toBeLessThan(5 * Math.sqrt((d[j] * (1 - d[j])) / n) + 1e-9);
    }
  });

  it('oracle 14: every output is one of the m levels; with q = 1 it is plain stochastic rounding onto the grid', () => {
    const rng = Rng.seed(5).split('rqm');
    const x = Float32Array.from({ length: 2000 }, () => rng.uniform(-1.5, 1.5));
    const idx = rqmEncode(x, { ...P, levels: 7 }, rng);
    expect(idx.every((j) => j < 7)).toBe(true);
    const q1 = { ...P, keep: 1 };
    const B = rqmLevels(q1);
    for (const v of [-0.73, 0.31, 0.5, 0.999]) {
      const d = rqmDistribution(v, q1);
      const i = [...B].filter((b) => b <= v).length - 1;
      const up = (v - B[i]) / (B[i + 1] - B[i]);
      const want = Array.from(B, (_, j) => (j === i ? 1 - up : j === i + 1 ? up : 0));
      d.forEach((pj, j) => expect(pj).toBeCloseTo(want[j], 12));
    }
  });

  it('decoding refuses an index that is not a level (≥ m), and names where it is', () => {
    const p = { ...P, levels: 3 };
    expect(rqmDecode(Uint8Array.from([0, 1, 2]), p)).toMatchObject({ ok: true });
    expect(rqmDecode(Uint8Array.from([0, 3, 1]), p)).toEqual({ ok: false, detail: 'level index 3 at 1, only 3 levels' });
  });
});

describe('RQM accountant', () => {
  it('D_α of a distribution from itself is 0; it is positive between two inputs', () => {
    const a = logs(rqmDistribution(-0.5, P));
    const b = logs(rqmDistribution(0.5, P));
    for (const alpha of [1.01, 2, 30]) {
      expect(renyiDivergence(a, a, alpha)).toBeCloseTo(0, 12);
      expect(renyiDivergence(a, b, alpha)).toBeGreaterThan(0);
    }
  });

  it('the breakpoint search is exact: no pair on a fine grid of [−c, c]² exceeds it', () => {
    for (const p of [P, { clip: 1, delta: 0.3, levels: 8, keep: 0.3 }, { clip: 0.05, delta: 0.2, levels: 4, keep: 0.5 }]) {
      const grid = Array.from({ length: 61 }, (_, i) => -p.clip + (2 * p.clip * i) / 60);
      const dist = grid.map((x) => logs(rqmDistribution(x, p)));
      const orders = [ALPHAS[0], 2, 8, 64];
      const curve = rqmRdpCurve(p, orders);
      orders.forEach((alpha, k) => {
        let best = 0;
        for (let a = 0; a < grid.length; a++) for (let b = 0; b < grid.length; b++) best = Math.max(best, renyiDivergence(dist[a], dist[b], alpha));
        expect(best).toBeLessThanOrEqual(curve.rdp[k] * (1 + 1e-9));
        // ...and the grid (which contains ±c) comes close to it.
        expect(best).toBeGreaterThan(curve.rdp[k] * 0.5);
      });
      expect(breakpoints(p)[0]).toBe(-p.clip);
    }
  });

  it('ε is finite for q < 1 and Δ > 0; there is no guarantee with q = 1 or Δ = 0', () => {
    expect(Number.isFinite(rqmEpsilon(P, 100, 10, 1e-5).epsilon)).toBe(true);
    expect(rqmEpsilon({ ...P, keep: 1 }, 100, 10, 1e-5).epsilon).toBe(Infinity);
    expect(rqmEpsilon({ ...P, delta: 0 }, 100, 10, 1e-5).epsilon).toBe(Infinity);
    expect(rqmEpsilon(P, 100, 0, 1e-5).epsilon).toBe(0);
  });

  it('ε falls as q gets smaller and as Δ gets larger (the paper’s trade-off), and grows with coordinates and rounds', () => {
    const eps = (p: Partial<RqmParams>, dims = 371, rounds = 20) => rqmEpsilon({ clip: 0.05, delta: 0.2, levels: 4, keep: 0.5, ...p }, dims, rounds, 1e-5).epsilon;
    const qs = [0.9, 0.7, 0.5, 0.3, 0.1].map((keep) => eps({ keep }));
    for (let i = 1; i < qs.length; i++) expect(qs[i]).toBeLessThan(qs[i - 1]);
    const ds = [0.05, 0.1, 0.2, 0.4, 0.8, 3.2].map((delta) => eps({ delta }));
    for (let i = 1; i < ds.length; i++) expect(ds[i]).toBeLessThan(ds[i - 1]);
    expect(eps({}, 742)).toBeGreaterThan(eps({}));
    expect(eps({}, 371, 40)).toBeGreaterThan(eps({}));
  });

  it('converts RDP to (ε, δ) by Mironov’s bound, minimized over the orders', () => {
    // A Gaussian-like curve R(α) = α·ρ: the minimum of αρ + log(1/δ)/(α − 1) is ρ + 2√(ρ·log(1/δ)) at α = 1 + √(log(1/δ)/ρ).
    const rho = 0.01;
    const alphas = Array.from({ length: 20001 }, (_, i) => 1.001 + i * 0.01);
    const { epsilon, alpha } = rdpToDp(
      alphas,
      alphas.map((a) => a * rho),
      1e-5,
    );
    const L = Math.log(1e5);
    expect(epsilon).toBeCloseTo(rho + 2 * Math.sqrt(rho * L), 4);
    expect(alpha).toBeCloseTo(1 + Math.sqrt(L / rho), 1);
  });
});
