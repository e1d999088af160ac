import { weightedSum, type Params } from '../vector.ts';

/**
 * Robust aggregation rules on flat parameter vectors (models or updates: every rule here is
 * translation-equivariant, so aggregating models w_k = w + δ_k is aggregating the updates δ_k).
 * Each input is one participant's vector; `weights` are FedAvg-style weights summing to 1.
 * Sums are in float64, inputs taken in the order given (callers sort by id).
 */

function check(vectors: readonly Params[]): number {
  if (vectors.length === 0) throw new Error('robust aggregation of no vectors');
  const d = vectors[0].length;
  for (const v of vectors) if (v.length !== d) throw new Error(`robust aggregation: length ${v.length} != ${d}`);
  return d;
}

/** Sorts a small column in place: insertion sort avoids TypedArray.sort's per-call cost at room sizes. */
function sortColumn(column: Float64Array): void {
  const n = column.length;
  if (n > 32) {
    column.sort();
    return;
  }
  for (let i = 1; i < n; i++) {
    const x = column[i];
    let j = i - 1;
    while (j >= 0 && column[j] > x) {
      column[j + 1] = column[j];
      j--;
    }
    column[j + 1] = x;
  }
}

/**
 * Coordinate-wise median (Yin et al. 2018). Unweighted: with 2f + 1 inputs of which f are
 * arbitrary, each coordinate lies between two honest values. An even count takes the mean of
 * the two middle values.
 */
export function coordinateMedian(vectors: readonly Params[]): Params {
  const d = check(vectors);
  const n = vectors.length;
  const out = new Float32Array(d);
  const column = new Float64Array(n);
  const mid = n >> 1;
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < n; k++) column[k] = vectors[k][i];
    sortColumn(column);
    out[i] = n % 2 === 1 ? column[mid] : (column[mid - 1] + column[mid]) / 2;
  }
  return out;
}

/** How many values a β-trimmed mean drops at each end of n: ⌊βn⌋, leaving at least one. */
export function trimCount(n: number, beta: number): number {
  return Math.min(Math.floor(beta * n), Math.floor((n - 1) / 2));
}

/**
 * Coordinate-wise β-trimmed mean (Yin et al. 2018): per coordinate, drop the ⌊βn⌋ smallest and
 * ⌊βn⌋ largest values and average the rest, unweighted. β = 0 is the plain mean.
 */
export function trimmedMean(vectors: readonly Params[], beta: number): Params {
  const d = check(vectors);
  const n = vectors.length;
  const t = trimCount(n, beta);
  const kept = n - 2 * t;
  const out = new Float32Array(d);
  const column = new Float64Array(n);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < n; k++) column[k] = vectors[k][i];
    sortColumn(column);
    let s = 0;
    for (let k = t; k < n - t; k++) s += column[k];
    out[i] = s / kept;
  }
  return out;
}

function squaredDistance(a: Params, b: Params): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] - b[i];
    s += x * x;
  }
  return s;
}

/**
 * Krum scores (Blanchard et al. 2017): for each input, the sum of squared distances to its
 * n − f − 2 nearest other inputs (at least 1, so small groups still rank).
 */
export function krumScores(vectors: readonly Params[], f: number): number[] {
  check(vectors);
  const n = vectors.length;
  if (n === 1) return [0];
  const near = Math.max(1, Math.min(n - 1, n - f - 2));
  const dist = vectors.map(() => new Float64Array(n));
  for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) dist[a][b] = dist[b][a] = squaredDistance(vectors[a], vectors[b]);
  return dist.map((row, a) => {
    const others = [...row].filter((_, b) => b !== a).sort((x, y) => x - y);
    return others.slice(0, near).reduce((s, x) => s + x, 0);
  });
}

/** The indices of the m best Krum scores, best first; ties go to the earlier input. */
export function krumSelect(vectors: readonly Params[], f: number, m = 1): number[] {
  const scores = krumScores(vectors, f);
  return scores
    .map((s, i) => [s, i] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .slice(0, Math.max(1, Math.min(m, vectors.length)))
    .map(([, i]) => i);
}

/** Krum: the one input with the best score, as it is (weights play no part). */
export function krum(vectors: readonly Params[], f: number): Params {
  return vectors[krumSelect(vectors, f, 1)[0]].slice();
}

/**
 * Multi-Krum (El Mhamdi et al. 2018): the n − f best-scored inputs, averaged with their weights
 * renormalised over the selection.
 */
export function multiKrum(vectors: readonly Params[], weights: readonly number[], f: number): Params {
  const chosen = krumSelect(vectors, f, vectors.length - f);
  const total = chosen.reduce((s, i) => s + weights[i], 0);
  return weightedSum(
    chosen.map((i) => vectors[i]),
    chosen.map((i) => (total > 0 ? weights[i] / total : 1 / chosen.length)),
  );
}

/** Iterations of centered clipping; Karimireddy et al. 2021 find one to three enough. */
export const CCLIP_ITERATIONS = 3;

/**
 * Centered clipping (Karimireddy, He, Jaggi 2021): starting from `center` (the previous
 * aggregate, or the node's own model), repeat v ← v + Σ_k w_k · clip_τ(x_k − v), where
 * clip_τ(z) = z · min(1, τ/‖z‖). Each input moves v by at most w_k · τ per iteration, whatever it sends.
 */
export function centeredClip(vectors: readonly Params[], weights: readonly number[], center: Params, tau: number, iterations = CCLIP_ITERATIONS): Params {
  const d = check(vectors);
  if (center.length !== d) throw new Error(`centered clipping: center length ${center.length} != ${d}`);
  const v = Float64Array.from(center);
  const step = new Float64Array(d);
  for (let it = 0; it < iterations; it++) {
    step.fill(0);
    vectors.forEach((x, k) => {
      let norm = 0;
      for (let i = 0; i < d; i++) norm += (x[i] - v[i]) ** 2;
      norm = Math.sqrt(norm);
      const scale = weights[k] * (norm > tau ? tau / norm : 1);
      if (scale === 0) return;
      for (let i = 0; i < d; i++) step[i] += scale * (x[i] - v[i]);
    });
    for (let i = 0; i < d; i++) v[i] += step[i];
  }
  return Float32Array.from(v);
}
