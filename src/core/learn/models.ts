import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';

export type ModelName = 'mlp' | '2nn' | 'cnn' | 'cnn-small';

/** Per-tensor layout of a flat parameter vector, in `model.getWeights()` order. */
export interface TensorSpec {
  name: string;
  shape: number[];
  offset: number;
  size: number;
  /** Kernels get Glorot init and variance correction; biases are zero-initialised. */
  kind: 'kernel' | 'bias';
}

export interface ModelSpec {
  name: ModelName;
  features: number;
  numClasses: number;
  tensors: TensorSpec[];
  size: number;
}

/** Whether a model has convolutions (slow on the cpu backend; the simulator trains them on wasm). */
export function isConvolutional(name: ModelName): boolean {
  return name === 'cnn' || name === 'cnn-small';
}

function imageSide(features: number): number {
  const side = Math.round(Math.sqrt(features));
  if (side * side !== features) throw new Error(`a CNN needs square images; got ${features} features`);
  return side;
}

/**
 * The model zoo. Outputs are logits; the trainer applies softmax cross-entropy.
 * - mlp: small, for 2-D data (TensorFlow Playground scale)
 * - 2nn: 784-200-200-10, the FedAvg paper's MNIST MLP (199,210 parameters)
 * - cnn: the FedAvg paper's CNN (1,663,370 parameters)
 * - cnn-small: a CNN light enough for the CPU backend
 */
export function buildModel(name: ModelName, features: number, numClasses: number): tf.LayersModel {
  const dense = (units: number, activation?: 'relu') => tf.layers.dense({ units, activation, useBias: true });
  const conv = (filters: number, kernelSize: number) =>
    tf.layers.conv2d({ filters, kernelSize, padding: 'same', activation: 'relu' });
  const input = tf.layers.inputLayer({ inputShape: [features] });
  switch (name) {
    case 'mlp':
      return tf.sequential({ layers: [input, dense(16, 'relu'), dense(16, 'relu'), dense(numClasses)] });
    case '2nn':
      return tf.sequential({ layers: [input, dense(200, 'relu'), dense(200, 'relu'), dense(numClasses)] });
    case 'cnn':
    case 'cnn-small': {
      const side = imageSide(features);
      const big = name === 'cnn';
      return tf.sequential({
        layers: [
          input,
          tf.layers.reshape({ targetShape: [side, side, 1] }),
          conv(big ? 32 : 8, big ? 5 : 3),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          conv(big ? 64 : 16, big ? 5 : 3),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.flatten(),
          dense(big ? 512 : 32, 'relu'),
          dense(numClasses),
        ],
      });
    }
  }
}

export function modelSpec(name: ModelName, model: tf.LayersModel, features: number, numClasses: number): ModelSpec {
  let offset = 0;
  const tensors = model.weights.map((w) => {
    const shape = w.shape.map((d) => d ?? 1);
    const size = shape.reduce((a, b) => a * b, 1);
    const spec: TensorSpec = { name: w.name, shape, offset, size, kind: shape.length > 1 ? 'kernel' : 'bias' };
    offset += size;
    return spec;
  });
  return { name, features, numClasses, tensors, size: offset };
}

/** Layout of a model without keeping it: builds, reads shapes, disposes. */
export function describeModel(name: ModelName, features: number, numClasses: number): ModelSpec {
  const model = buildModel(name, features, numClasses);
  const spec = modelSpec(name, model, features, numClasses);
  model.dispose();
  return spec;
}

/**
 * Glorot-uniform kernels and zero biases drawn from our own RNG, not tfjs's, so an
 * initialization is reproducible from the seed on every backend and in every runtime.
 */
export function initialParams(spec: ModelSpec, rng: Rng): Float32Array {
  const out = new Float32Array(spec.size);
  for (const t of spec.tensors) {
    if (t.kind !== 'kernel') continue;
    const receptive = t.shape.slice(0, -2).reduce((a, b) => a * b, 1);
    const fanIn = t.shape[t.shape.length - 2] * receptive;
    const fanOut = t.shape[t.shape.length - 1] * receptive;
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    for (let i = 0; i < t.size; i++) out[t.offset + i] = (2 * rng.next() - 1) * limit;
  }
  return out;
}
