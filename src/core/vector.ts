/** Flat parameter vectors: one Float32Array holds every weight of a model. */
export type Params = Float32Array;

export function zeros(n: number): Params {
  return new Float32Array(n);
}

/** Σ w_i · v_i, accumulated in float64 to keep many-model averages exact enough. */
export function weightedSum(vectors: readonly Params[], weights: readonly number[]): Params {
  if (vectors.length === 0) throw new Error('weightedSum of no vectors');
  if (vectors.length !== weights.length) throw new Error('weightedSum: vectors and weights differ in length');
  const n = vectors[0].length;
  const acc = new Float64Array(n);
  vectors.forEach((v, k) => {
    if (v.length !== n) throw new Error(`weightedSum: length ${v.length} != ${n}`);
    const w = weights[k];
    for (let i = 0; i < n; i++) acc[i] += w * v[i];
  });
  return Float32Array.from(acc);
}

export function mean(vectors: readonly Params[]): Params {
  return weightedSum(vectors, vectors.map(() => 1 / vectors.length));
}

/** Weights proportional to `counts`, summing to 1. */
export function normalize(counts: readonly number[]): number[] {
  const total = counts.reduce((s, c) => s + c, 0);
  if (!(total > 0)) throw new Error('normalize: counts must sum to a positive number');
  return counts.map((c) => c / total);
}

export function sub(a: Params, b: Params): Params {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] - b[i];
  return out;
}

export function axpy(alpha: number, x: Params, y: Params): Params {
  const out = new Float32Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = y[i] + alpha * x[i];
  return out;
}

export function allFinite(v: ArrayLike<number>): boolean {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return false;
  return true;
}

export function maxAbsDiff(a: Params, b: Params): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Mean and population variance of a slice, in float64. */
export function moments(v: ArrayLike<number>, start = 0, end = v.length): { mean: number; variance: number } {
  const n = end - start;
  if (n <= 0) return { mean: 0, variance: 0 };
  let s = 0;
  for (let i = start; i < end; i++) s += v[i];
  const m = s / n;
  let q = 0;
  for (let i = start; i < end; i++) q += (v[i] - m) * (v[i] - m);
  return { mean: m, variance: q / n };
}

/**
 * Consensus distance: the mean over models of the squared L2 distance to their average,
 * (1/n) Σ_i ‖x_i − x̄‖². 0 when all models are equal (or there is at most one).
 */
export function consensusDistance(models: readonly Params[]): number {
  if (models.length < 2) return 0;
  const avg = mean(models);
  let total = 0;
  for (const m of models) {
    for (let j = 0; j < m.length; j++) {
      const d = m[j] - avg[j];
      total += d * d;
    }
  }
  return total / models.length;
}
