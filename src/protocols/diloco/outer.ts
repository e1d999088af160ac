import type { ModelSpec } from '../../core/learn/models.ts';
import { dequantize, fromF16, quantize, toF16, type Dtype } from '../../core/wire/quantize.ts';

/** A fragment of the flat parameter vector: values [start, end). */
export interface Range {
  start: number;
  end: number;
}

/** Bits per value on the wire → the codec's dtype (scaled for the integer ones). */
export const QUANT_BITS = [32, 16, 8, 4] as const;
export type QuantBits = (typeof QUANT_BITS)[number];

export function quantDtype(bits: QuantBits): Dtype {
  return bits === 32 ? 'f32' : bits === 16 ? 'f16' : bits === 8 ? 'i8' : 'i4';
}

/**
 * What a receiver decodes from `values` sent at `bits` bits per value, exactly (the same
 * functions the codec uses): a sender applies this to its own copy so that it and every
 * receiver hold the same bits.
 */
export function roundTrip(values: Float32Array, bits: QuantBits): Float32Array {
  if (bits === 32) return values.slice();
  if (bits === 16) return fromF16(toF16(values));
  const { q, scale } = quantize(values, bits);
  return dequantize(q, scale);
}

/**
 * Streaming DiLoCo's P fragments: contiguous ranges that cover [0, size) in order. Cuts fall on
 * tensor boundaries when the model has at least P tensors (each cut at the boundary nearest to
 * its even share, keeping every fragment non-empty); otherwise the vector is cut evenly. So the
 * fragments are whole tensors where possible, and may then differ in size (the 2NN's first
 * kernel holds 79% of its parameters).
 */
export function fragmentRanges(spec: Pick<ModelSpec, 'size' | 'tensors'>, fragments: number): Range[] {
  const size = spec.size;
  const p = Math.max(1, Math.min(fragments, size));
  const bounds = spec.tensors.map((t) => t.offset).filter((o) => o > 0 && o < size);
  const cuts: number[] = [];
  if (bounds.length >= p - 1) {
    let from = 0; // index into bounds
    for (let i = 1; i < p; i++) {
      const ideal = (i * size) / p;
      const last = bounds.length - (p - 1 - i); // leave one boundary for each later cut
      let best = from;
      for (let j = from; j < last; j++) if (Math.abs(bounds[j] - ideal) < Math.abs(bounds[best] - ideal)) best = j;
      cuts.push(bounds[best]);
      from = best + 1;
    }
  } else {
    for (let i = 1; i < p; i++) cuts.push(Math.round((i * size) / p));
  }
  const edges = [0, ...cuts, size];
  return edges.slice(0, -1).map((start, i) => ({ start, end: edges[i + 1] }));
}

/**
 * The schedule. Sync k = 1, 2, … happens after inner step t_k = ⌊k·H/P⌋ and synchronizes
 * fragment k mod P; so fragment p is synchronized every H inner steps, first at p·H/P (fragment
 * 0 at H), and one sync is on the wire at a time. Round r (one outer step of every fragment)
 * ends with sync r·P. P = 1 is DiLoCo: the whole model every H steps.
 */
export interface SyncPlan {
  sync: number;
  fragment: number;
  /** Inner steps between sync k − 1 and sync k. */
  steps: number;
  /** The inner step after which sync k happens. */
  at: number;
}

export function syncPlan(sync: number, innerSteps: number, fragments: number): SyncPlan {
  const at = Math.floor((sync * innerSteps) / fragments);
  return { sync, fragment: sync % fragments, steps: at - Math.floor(((sync - 1) * innerSteps) / fragments), at };
}

/** Mean of fragments (outer gradients Δ_i), in the order given. */
export function meanOf(vectors: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(vectors[0].length);
  for (const v of vectors) for (let i = 0; i < out.length; i++) out[i] += v[i];
  for (let i = 0; i < out.length; i++) out[i] /= vectors.length;
  return out;
}

/**
 * One outer Nesterov SGD step on the fragment `range`, as DiLoCo's outer optimizer
 * (torch.optim.SGD with nesterov=True): v ← μ·v + Δ, and the step s = −η·(Δ + μ·v), which the
 * caller adds to θ (after putting it through the wire's precision). `v` is updated in place;
 * `delta` holds the fragment's values only.
 */
export function nesterovStep(v: Float32Array, range: Range, delta: Float32Array, lr: number, momentum: number): Float32Array {
  const step = new Float32Array(delta.length);
  for (let i = 0; i < delta.length; i++) {
    const vi = momentum * v[range.start + i] + delta[i];
    v[range.start + i] = vi;
    step[i] = -lr * (delta[i] + momentum * vi);
  }
  return step;
}

/** θ[range] += step (in place). */
export function addInto(theta: Float32Array, range: Range, step: Float32Array): void {
  for (let i = 0; i < step.length; i++) theta[range.start + i] += step[i];
}

/** Streaming DiLoCo's merge of an arrived global fragment: local ← α·local + (1 − α)·global, on `range`, in place. */
export function mixInto(local: Float32Array, global: Float32Array, range: Range, alpha: number): void {
  for (let i = range.start; i < range.end; i++) local[i] = alpha === 0 ? global[i] : alpha * local[i] + (1 - alpha) * global[i];
}

/** Δ_i = θ_global − θ_local on `range`. */
export function outerGradient(global: Float32Array, local: Float32Array, range: Range): Float32Array {
  const out = new Float32Array(range.end - range.start);
  for (let i = 0; i < out.length; i++) out[i] = global[range.start + i] - local[range.start + i];
  return out;
}

export function l2(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}
