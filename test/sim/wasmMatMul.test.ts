import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.ts';
import { relErr } from '../support/relErr.ts';
import { useNodeBackend } from '../../src/sim/nodeBackend.ts';
import { ownWasmMatMul, wasmMatMulKernel } from '../../src/sim/wasmMatMul.ts';

// The wasm backend's BatchMatMul is ours (src/sim/wasmMatMul.ts): it reorients thin products
// and writes out transposes. tfjs's cpu kernel is the reference.

beforeAll(async () => {
  await useNodeBackend('auto', 'cnn');
  expect(tf.getBackend()).toBe('wasm');
});

function product(backend: 'cpu' | 'wasm', a: tf.Tensor, b: tf.Tensor, tA: boolean, tB: boolean): { shape: number[]; values: Float32Array } {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const r = tf.matMul(tf.tensor(a.dataSync(), a.shape), tf.tensor(b.dataSync(), b.shape), tA, tB);
    return { shape: r.shape, values: r.dataSync() as Float32Array };
  });
}

describe('wasm BatchMatMul (thin products reoriented, flags written out)', () => {
  it('wraps wasm own kernel, on wasm only', () => {
    expect(tf.getKernel(tf.BatchMatMul, 'wasm')?.kernelFunc).toBe(wasmMatMulKernel.kernelFunc);
    expect(ownWasmMatMul()?.kernelFunc).not.toBe(wasmMatMulKernel.kernelFunc);
    expect(tf.getKernel(tf.BatchMatMul, 'cpu')?.kernelFunc).not.toBe(wasmMatMulKernel.kernelFunc);
  });

  it('equals the cpu product for every flag pair, thin and wide, rank 2 and batch-1 rank 3', () => {
    const rng = Rng.seed(21);
    const random = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((p, d) => p * d) }, () => rng.next() * 2 - 1), shape);
    // [M, K, N]: the paper CNN's dense layer forward and input gradient (thin: reoriented),
    // its kernel gradient (tall), a product under the packing threshold, and random shapes.
    const dims: [number, number, number][] = [[10, 3136, 512], [10, 512, 3136], [3136, 10, 512], [10, 784, 200], [1, 300, 400]];
    for (let i = 0; i < 6; i++) dims.push([1 + Math.floor(rng.next() * 40), 1 + Math.floor(rng.next() * 300), 100 + Math.floor(rng.next() * 900)]);
    let checked = 0;
    for (const [M, K, N] of dims) {
      for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        // The big shapes run once (the cpu reference is slow); the rest also as [1, M, K].
        for (const rank3 of M * K * N > 1e6 ? [false] : [false, true]) {
          const lead = rank3 ? [1] : [];
          const a = random([...lead, ...(tA ? [K, M] : [M, K])]);
          const b = random([...lead, ...(tB ? [N, K] : [K, N])]);
          const ref = product('cpu', a, b, tA, tB);
          const ours = product('wasm', a, b, tA, tB);
          tf.dispose([a, b]);
          const label = JSON.stringify({ M, K, N, tA, tB, rank3 });
          expect(ours.shape, label).toEqual(ref.shape);
          expect(relErr(ref.values, ours.values), label).toBeLessThan(1e-5);
          checked++;
        }
      }
    }
    expect(checked).toBe(dims.reduce((sum, [M, K, N]) => sum + (M * K * N > 1e6 ? 4 : 8), 0));
  });

  it('leaves batched products to wasm own kernel, and leaks no tensors or heap blocks', () => {
    tf.setBackend('wasm');
    const a = tf.randomNormal([3, 10, 400]);
    const b = tf.randomNormal([3, 400, 300]);
    const batched = tf.matMul(a, b);
    tf.setBackend('cpu');
    const ref = tf.matMul(tf.tensor(a.dataSync(), a.shape), tf.tensor(b.dataSync(), b.shape));
    expect(relErr(ref.dataSync() as Float32Array, batched.dataSync() as Float32Array)).toBeLessThan(1e-5);
    tf.setBackend('wasm');
    const x = tf.randomNormal([10, 3136]);
    const w = tf.randomNormal([3136, 512]);
    const dy = tf.randomNormal([10, 512]);
    // The dense layer's forward, kernel gradient and input gradient.
    const run = () => tf.dispose([tf.matMul(x, w), tf.matMul(x, dy, true, false), tf.matMul(dy, w, false, true)]);
    run();
    const tensors = tf.memory().numTensors;
    const ids = tf.backend().numDataIds();
    for (let i = 0; i < 4; i++) run();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.backend().numDataIds()).toBe(ids);
    tf.dispose([a, b, batched, x, w, dy]);
  });
});
