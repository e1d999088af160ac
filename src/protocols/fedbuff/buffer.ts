/**
 * FedBuff's server-side arithmetic, pure (Nguyen et al., AISTATS 2022, Algorithm 1).
 *
 * A client that trained from θ_{t₀} returns Δ = θ_{t₀} − θ_local. When it arrives the server is at
 * version t; its staleness is τ = t − t₀ and it is buffered as s(τ)·Δ with s(τ) = 1/√(1 + τ) (the
 * paper's polynomial staleness weight). After K buffered updates (or, in the fixed-period variant,
 * every T ms with whatever is there): θ ← θ − η_g · mean(buffer), t ← t + 1.
 */

/** The staleness weight s(τ) = 1/√(1 + τ): 1 for a fresh update, ½ at τ = 3. */
export function stalenessWeight(tau: number): number {
  if (!Number.isInteger(tau) || tau < 0) throw new Error(`staleness must be a whole number ≥ 0, got ${tau}`);
  return 1 / Math.sqrt(1 + tau);
}

/** The sum of the scaled updates buffered since the last aggregation, accumulated in float64. */
export class UpdateBuffer {
  private sum: Float64Array;
  private n = 0;

  constructor(readonly size: number) {
    this.sum = new Float64Array(size);
  }

  get count(): number {
    return this.n;
  }

  /** Buffers s(τ)·Δ. */
  add(delta: Float32Array, tau: number): void {
    if (delta.length !== this.size) throw new Error(`update has ${delta.length} values, the model ${this.size}`);
    const w = stalenessWeight(tau);
    const s = this.sum;
    for (let i = 0; i < s.length; i++) s[i] += w * delta[i];
    this.n++;
  }

  /** θ − η_g · mean(buffer); empties the buffer. Throws on an empty buffer (nothing to aggregate). */
  apply(theta: Float32Array, serverLr: number): Float32Array {
    if (this.n === 0) throw new Error('aggregate of an empty buffer');
    if (theta.length !== this.size) throw new Error(`model has ${theta.length} values, the buffer ${this.size}`);
    const out = new Float32Array(this.size);
    const k = serverLr / this.n;
    for (let i = 0; i < out.length; i++) out[i] = theta[i] - k * this.sum[i];
    this.clear();
    return out;
  }

  clear(): void {
    this.sum.fill(0);
    this.n = 0;
  }
}
