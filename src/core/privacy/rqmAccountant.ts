import { rqmDistribution, rqmLevels, rqmProblem, type RqmParams } from './rqm.ts';

/**
 * The exact Rényi-DP cost of RQM (rqm.ts), composed and converted to (ε, δ).
 *
 * What is protected: one client's whole update in one round. Two neighbouring inputs are any two
 * update vectors in the clip box [−c, c]^d (a client could have sent either), so the guarantee
 * holds for every coordinate changing at once, whatever the data behind it.
 *
 * 1. One coordinate, order α: r(α) = max over x, x′ in [−c, c] of D_α(P_x ‖ P_x′), where P_x is the
 *    exact output distribution (rqmDistribution) and D_α(P‖Q) = log(Σ_j P_j^α Q_j^(1−α)) / (α − 1).
 *
 *    Why a finite search is exact. Within a cell B(i) ≤ x < B(i+1) the kept-level probabilities do
 *    not depend on x, and every output probability is affine in x; at a level the two cells' formulas
 *    agree (level B(i+1) kept: the output is B(i+1) either way; dropped: the same lo/hi law), so
 *    x ↦ P_x is continuous and piecewise affine with breakpoints at the levels. For α > 1,
 *    (p, q) ↦ p^α q^(1−α) is jointly convex (the perspective of t^α), so Σ_j P_x(j)^α P_x′(j)^(1−α)
 *    is convex in (x, x′) on each rectangle cell × cell, and a convex function on a rectangle takes
 *    its maximum at a corner. So the maximum over [−c, c]² is attained at a pair of breakpoints:
 *    ±c and the levels strictly inside (−c, c). No grid is needed, and none could miss a peak
 *    (a test checks a fine grid never exceeds this maximum).
 * 2. Coordinates are quantized independently, so the d outputs form a product distribution and
 *    Rényi divergences add: d·r(α) for the whole update (tight: the worst pair per coordinate
 *    combines into a worst pair of vectors). Rounds compose adaptively: k participations cost
 *    k·d·r(α) (Mironov 2017, Prop. 1).
 * 3. (ε, δ): ε = min over α of [k·d·r(α) + log(1/δ)/(α − 1)] (Mironov 2017, Prop. 3), taken over a
 *    fixed grid of orders; each order gives a valid bound, so the grid only costs a little tightness.
 */

/** Orders α: 1 + 2^k for k = −10, −9.5, …, 12 (1.001 to 4097). */
export const ALPHAS: readonly number[] = Array.from({ length: 45 }, (_, i) => 1 + 2 ** (-10 + i / 2));

/** The inputs where the worst pair lies: ±c and the levels strictly inside (−c, c). */
export function breakpoints(p: RqmParams): number[] {
  const inner = [...rqmLevels(p)].filter((b) => b > -p.clip && b < p.clip);
  return [-p.clip, ...inner, p.clip];
}

/** log Σ_j exp(α·lp_j + (1−α)·lq_j), stably; +∞ when some j has P_j > 0 = Q_j. */
function logMoment(lp: Float64Array, lq: Float64Array, alpha: number): number {
  let max = -Infinity;
  for (let j = 0; j < lp.length; j++) {
    if (lp[j] === -Infinity) continue; // P_j = 0 adds nothing (α > 1)
    if (lq[j] === -Infinity) return Infinity;
    const t = alpha * lp[j] + (1 - alpha) * lq[j];
    if (t > max) max = t;
  }
  if (max === -Infinity) return -Infinity;
  let s = 0;
  for (let j = 0; j < lp.length; j++) if (lp[j] !== -Infinity) s += Math.exp(alpha * lp[j] + (1 - alpha) * lq[j] - max);
  return max + Math.log(s);
}

/** D_α(P‖Q) for two distributions given as natural logs. */
export function renyiDivergence(lp: Float64Array, lq: Float64Array, alpha: number): number {
  return logMoment(lp, lq, alpha) / (alpha - 1);
}

const logs = (d: Float64Array) => d.map((v) => Math.log(v));

export interface RdpCurve {
  alphas: readonly number[];
  /** r(α) per coordinate and participation, for each order. */
  rdp: number[];
  /** The pair (x, x′) where each order's maximum was found. */
  worst: [number, number][];
}

const curves = new Map<string, RdpCurve>();

/**
 * r(α) for one coordinate at each order of `alphas` (memoized per parameters). Infinite when some
 * output possible for one input is impossible for another (q = 1 with a level inside [−c, c], or Δ = 0).
 */
export function rqmRdpCurve(p: RqmParams, alphas: readonly number[] = ALPHAS): RdpCurve {
  const problem = rqmProblem(p);
  if (problem) throw new Error(`RQM: ${problem}`);
  const key = `${p.clip}|${p.delta}|${p.levels}|${p.keep}|${alphas.join(',')}`;
  const cached = curves.get(key);
  if (cached) return cached;
  const xs = breakpoints(p);
  const dist = xs.map((x) => logs(rqmDistribution(x, p)));
  const rdp: number[] = [];
  const worst: [number, number][] = [];
  for (const alpha of alphas) {
    let best = -Infinity;
    let pair: [number, number] = [xs[0], xs[xs.length - 1]];
    // The mechanism is symmetric (P_−x(j) = P_x(m−1−j)), so D(x‖x′) = D(−x‖−x′); xs is symmetric
    // too, so the pairs with x ≤ 0 cover every value (the pair for x > 0 is the mirrored one).
    for (let a = 0; a < xs.length && xs[a] <= 0; a++) {
      for (let b = 0; b < xs.length; b++) {
        if (a === b) continue;
        const d = renyiDivergence(dist[a], dist[b], alpha);
        if (d > best) {
          best = d;
          pair = [xs[a], xs[b]];
        }
        if (best === Infinity) break;
      }
      if (best === Infinity) break;
    }
    rdp.push(Math.max(0, best));
    worst.push(pair);
  }
  const curve = { alphas, rdp, worst };
  if (curves.size > 64) curves.clear();
  curves.set(key, curve);
  return curve;
}

export interface DpGuarantee {
  /** ε of (ε, δ)-DP; Infinity when the mechanism gives none (see rqmRdpCurve). */
  epsilon: number;
  delta: number;
  /** The order that gave ε. */
  alpha: number;
  /** Coordinates d and participations k composed. */
  dims: number;
  participations: number;
}

/** Mironov's conversion, minimized over the orders: ε = min_α [R(α) + log(1/δ)/(α − 1)]. */
export function rdpToDp(alphas: readonly number[], total: readonly number[], delta: number): { epsilon: number; alpha: number } {
  let epsilon = Infinity;
  let alpha = NaN;
  alphas.forEach((a, i) => {
    const e = total[i] + Math.log(1 / delta) / (a - 1);
    if (e < epsilon) {
      epsilon = e;
      alpha = a;
    }
  });
  return { epsilon, alpha };
}

/** (ε, δ) for one client that sent `participations` RQM updates of `dims` coordinates each. */
export function rqmEpsilon(p: RqmParams, dims: number, participations: number, delta: number): DpGuarantee {
  if (participations === 0) return { epsilon: 0, delta, alpha: NaN, dims, participations };
  const curve = rqmRdpCurve(p);
  const total = curve.rdp.map((r) => r * dims * participations);
  return { ...rdpToDp(curve.alphas, total, delta), delta, dims, participations };
}
