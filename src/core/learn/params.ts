import * as tf from '@tensorflow/tfjs';
import type { ModelSpec } from './models.ts';

/** All of a model's weights as one flat Float32Array, in `model.weights` order. */
export function readParams(model: tf.LayersModel, spec: ModelSpec): Float32Array {
  const out = new Float32Array(spec.size);
  model.weights.forEach((w, i) => out.set(w.read().dataSync() as Float32Array, spec.tensors[i].offset));
  return out;
}

/** Writes a flat vector into the model's variables (no new variables, no leaks). */
export function writeParams(model: tf.LayersModel, spec: ModelSpec, flat: Float32Array): void {
  if (flat.length !== spec.size) throw new Error(`writeParams: got ${flat.length} values, model has ${spec.size}`);
  tf.tidy(() => {
    model.weights.forEach((w, i) => {
      const t = spec.tensors[i];
      w.write(tf.tensor(flat.subarray(t.offset, t.offset + t.size), t.shape));
    });
  });
}
