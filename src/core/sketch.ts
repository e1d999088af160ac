import { Rng } from './rng.ts';

/**
 * A CountSketch of a parameter vector: each parameter j adds ±x_j to one of K buckets, with the
 * bucket and the sign fixed by a seed every node shares. Squared distances between sketches
 * estimate squared distances between the models (unbiased; relative spread about √(2/K)), so
 * tabs can estimate the swarm's consensus distance from 48 numbers each instead of whole models.
 */
export const SKETCH_SIZE = 48;

interface Plan {
  bucket: Uint8Array;
  sign: Int8Array;
}
const plans = new Map<string, Plan>();

function planFor(length: number, seed: number): Plan {
  const key = `${length}:${seed}`;
  let plan = plans.get(key);
  if (!plan) {
    const rng = Rng.seed(seed).split('consensus-sketch');
    plan = { bucket: new Uint8Array(length), sign: new Int8Array(length) };
    for (let j = 0; j < length; j++) {
      plan.bucket[j] = Math.floor(rng.next() * SKETCH_SIZE);
      plan.sign[j] = rng.next() < 0.5 ? -1 : 1;
    }
    if (plans.size > 4) plans.clear();
    plans.set(key, plan);
  }
  return plan;
}

export function sketch(params: Float32Array, seed: number): Float32Array {
  const { bucket, sign } = planFor(params.length, seed);
  const out = new Float64Array(SKETCH_SIZE);
  for (let j = 0; j < params.length; j++) out[bucket[j]] += sign[j] * params[j];
  return Float32Array.from(out);
}

/** Base64 of the sketch's float32 bytes: 256 characters, small enough for a metrics message. */
export function encodeSketch(s: Float32Array): string {
  let bin = '';
  const bytes = new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** The sketch in a peer's report, or null if it is not one (a claim: checked, never trusted). */
export function decodeSketch(text: unknown): Float32Array | null {
  if (typeof text !== 'string' || text.length !== Math.ceil((SKETCH_SIZE * 4) / 3) * 4) return null;
  let bin: string;
  try {
    bin = atob(text);
  } catch {
    return null;
  }
  if (bin.length !== SKETCH_SIZE * 4) return null;
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const s = new Float32Array(bytes.buffer);
  for (const v of s) if (!Number.isFinite(v) || Math.abs(v) > 1e9) return null;
  return s;
}
