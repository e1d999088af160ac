import type { Rng } from '../rng.ts';

/**
 * The Randomized Quantization Mechanism (Youn, Hu, Ziani, Abernethy, arXiv 2306.11913), one
 * coordinate at a time. With X = c + Δ, the m levels are B(j) = −X + 2X·j/(m − 1), j = 0..m−1.
 * For each coordinate: clip x to [−c, c]; keep B(0) and B(m−1) always and every other level
 * independently with probability q; with B_lo ≤ x < B_hi the nearest kept levels around x,
 * output B_hi with probability (x − B_lo)/(B_hi − B_lo), else B_lo. The output is unbiased for
 * the clipped x, and it is one of m levels: its index travels in ⌈log₂ m⌉ bits.
 *
 * The privacy comes from the two random choices (which levels exist, then which neighbour):
 * Δ > 0 puts the outermost levels beyond every input, so any output has a positive probability
 * for every x when q < 1. With q = 1 this is plain stochastic rounding: an input sitting on a level
 * inside [−c, c] always comes out as that level, so there is no guarantee (unless no level lies
 * in [−c, c], when it is a randomized response between the two levels around it).
 */
export interface RqmParams {
  /** c: every coordinate is clipped to [−c, c]. */
  clip: number;
  /** Δ: how far the outermost levels lie beyond ±c. */
  delta: number;
  /** m: how many levels (2..256). */
  levels: number;
  /** q: the probability that an inner level is kept. */
  keep: number;
}

export const MIN_LEVELS = 2;
export const MAX_LEVELS = 256;

/** ⌈log₂ m⌉: the bits one level index takes (1 for m = 2). */
export function indexBits(levels: number): number {
  return Math.max(1, Math.ceil(Math.log2(levels)));
}

/** The m levels B(0..m−1), in double precision. */
export function rqmLevels(p: RqmParams): Float64Array {
  const X = p.clip + p.delta;
  const out = new Float64Array(p.levels);
  for (let j = 0; j < p.levels; j++) out[j] = -X + (2 * X * j) / (p.levels - 1);
  return out;
}

/** Why these parameters cannot run the mechanism, or null. */
export function rqmProblem(p: RqmParams): string | null {
  if (!Number.isInteger(p.levels) || p.levels < MIN_LEVELS || p.levels > MAX_LEVELS) return `levels must be a whole number from ${MIN_LEVELS} to ${MAX_LEVELS}`;
  if (!(p.clip > 0) || !Number.isFinite(p.clip)) return 'clip must be positive';
  if (!(p.delta >= 0) || !Number.isFinite(p.delta)) return 'delta must be at least 0';
  if (!(p.keep >= 0 && p.keep <= 1)) return 'keep must be from 0 to 1';
  return null;
}

/** The cell of x: the i with B(i) ≤ x < B(i+1), i in 0..m−2 (x = X, only when Δ = 0, falls in the last cell). */
function cellOf(x: number, X: number, m: number): number {
  const i = Math.floor(((x + X) * (m - 1)) / (2 * X));
  return i < 0 ? 0 : i > m - 2 ? m - 2 : i;
}

const clamp = (x: number, c: number) => (x > c ? c : x < -c ? -c : x);

/**
 * Quantizes every coordinate of `x` (clipped to [−c, c] first) to a level index. A NaN coordinate
 * is treated as 0: the mechanism's guarantee is for any input in [−c, c], so a broken local
 * update is not sent as something that could fail the receiver's checks.
 */
export function rqmEncode(x: ArrayLike<number>, p: RqmParams, rng: Rng): Uint8Array {
  const B = rqmLevels(p);
  const m = p.levels;
  const X = p.clip + p.delta;
  const q = p.keep;
  const out = new Uint8Array(x.length);
  for (let n = 0; n < x.length; n++) {
    const v = Number.isNaN(x[n]) ? 0 : clamp(x[n], p.clip);
    const i = cellOf(v, X, m);
    // The nearest kept level at or below v: B(0) is always kept, inner ones with probability q.
    let lo = i;
    while (lo > 0 && rng.next() >= q) lo--;
    // The nearest kept level above v: B(m−1) is always kept.
    let hi = i + 1;
    while (hi < m - 1 && rng.next() >= q) hi++;
    const up = (v - B[lo]) / (B[hi] - B[lo]);
    out[n] = rng.next() < up ? hi : lo;
  }
  return out;
}

/** The levels of the indices, or the first bad index (≥ m): a peer's claim, checked before use. */
export function rqmDecode(indices: Uint8Array, p: RqmParams): { ok: true; values: Float32Array } | { ok: false; detail: string } {
  const B = rqmLevels(p);
  const out = new Float32Array(indices.length);
  for (let n = 0; n < indices.length; n++) {
    const j = indices[n];
    if (j >= p.levels) return { ok: false, detail: `level index ${j} at ${n}, only ${p.levels} levels` };
    out[n] = B[j];
  }
  return { ok: true, values: out };
}

/**
 * The exact output distribution for input x (clipped): P(output = B(j)) for j = 0..m−1.
 * With i the cell of x, lo and hi are independent: P(lo = j) = q_j·(1−q)^(i−j) for j ≤ i and
 * P(hi = k) = q_k·(1−q)^(k−i−1) for k > i, where q_j = 1 for the two end levels and q otherwise
 * (every level strictly between j and x was dropped, and j itself kept). Given (lo, hi) the
 * output is hi with probability (x − B_lo)/(B_hi − B_lo).
 */
export function rqmDistribution(x: number, p: RqmParams): Float64Array {
  const B = rqmLevels(p);
  const m = p.levels;
  const q = p.keep;
  const v = clamp(x, p.clip);
  const i = cellOf(v, p.clip + p.delta, m);
  const kept = (j: number) => (j === 0 || j === m - 1 ? 1 : q);
  const pLo = new Float64Array(i + 1);
  for (let j = 0; j <= i; j++) pLo[j] = kept(j) * (1 - q) ** (i - j);
  const pHi = new Float64Array(m);
  for (let k = i + 1; k < m; k++) pHi[k] = kept(k) * (1 - q) ** (k - i - 1);
  const out = new Float64Array(m);
  for (let j = 0; j <= i; j++) {
    if (pLo[j] === 0) continue;
    for (let k = i + 1; k < m; k++) {
      const pair = pLo[j] * pHi[k];
      if (pair === 0) continue;
      const up = (v - B[j]) / (B[k] - B[j]);
      out[k] += pair * up;
      out[j] += pair * (1 - up);
    }
  }
  return out;
}
