import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Split } from '../../src/core/data/types.ts';
import { useFirstBackend } from '../../src/core/learn/backend.ts';
import { Learner } from '../../src/core/learn/learner.ts';
import { describeModel, initialParams, type ModelName } from '../../src/core/learn/models.ts';
import { Rng } from '../../src/core/rng.ts';
import { relErr } from '../support/relErr.ts';
import { useNodeBackend } from '../../src/sim/nodeBackend.ts';
import { wasmConvGradKernels } from '../../src/sim/wasmConvGrads.ts';

// The wasm backend's Conv2DBackpropFilter and Conv2DBackpropInput are ours
// (src/sim/wasmConvGrads.ts); tfjs's cpu kernels are the reference. The cpu loop sums in float64, ours in float32 (XNNPACK), so
// the tolerance is relative to the gradient's scale.

beforeAll(async () => {
  await useNodeBackend('auto', 'cnn-small');
  expect(tf.getBackend()).toBe('wasm');
});

type Pad = 'same' | 'valid';

interface Case {
  x: number[];
  f: number[];
  s: number;
  p: Pad;
}

/** dW and dX of one convolution on `backend`, from the same x, filter and dy values. */
function grads(backend: 'cpu' | 'wasm', c: Case, xv: Float32Array, fv: Float32Array, dyv: Float32Array, dyShape: number[]): { dW: Float32Array; dX: Float32Array } {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const x = tf.tensor(xv, c.x);
    const filter = tf.tensor(fv, c.f);
    const dy = tf.tensor(dyv, dyShape);
    const attrs = { strides: c.s, pad: c.p, dataFormat: 'NHWC' };
    const dW = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...attrs, filterShape: c.f }) as tf.Tensor;
    const dX = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter }, { ...attrs, inputShape: c.x }) as tf.Tensor;
    expect(dW.shape).toEqual(c.f);
    expect(dX.shape).toEqual(c.x);
    return { dW: dW.dataSync() as Float32Array, dX: dX.dataSync() as Float32Array };
  });
}

describe('wasm convolution gradients (im2col + BatchMatMul)', () => {
  it('are registered for wasm only: the cpu references stay tfjs own', () => {
    for (const kernel of wasmConvGradKernels) expect(tf.getKernel(kernel.kernelName, 'wasm')?.kernelFunc).toBe(kernel.kernelFunc);
    expect(tf.getKernel(tf.Conv2DBackpropFilter, 'cpu')?.kernelFunc.name).toBe('conv2DBackpropFilter');
    expect(tf.getKernel(tf.Conv2DBackpropInput, 'cpu')?.kernelFunc.name).toBe('conv2DBackpropInput');
  });

  it("equal tfjs's cpu kernels on random shapes, strides 1/2, padding same/valid", () => {
    const rng = Rng.seed(11);
    const int = (lo: number, hi: number) => lo + Math.floor(rng.next() * (hi - lo + 1));
    const cases: Case[] = [
      // cnn-small's two layers and the paper CNN's two layers, batch 10 as the simulator trains.
      { x: [10, 28, 28, 1], f: [3, 3, 1, 8], s: 1, p: 'same' },
      { x: [10, 14, 14, 8], f: [3, 3, 8, 16], s: 1, p: 'same' },
      { x: [10, 28, 28, 1], f: [5, 5, 1, 32], s: 1, p: 'same' },
      { x: [1, 14, 14, 32], f: [5, 5, 32, 64], s: 1, p: 'same' }, // one image: the cpu reference takes seconds
    ];
    for (let i = 0; i < 16; i++) {
      const fh = int(1, 5);
      const fw = int(1, 5);
      cases.push({ x: [int(1, 6), int(fh, 13), int(fw, 13), int(1, 6)], f: [fh, fw, 0, int(1, 9)], s: int(1, 2), p: rng.next() < 0.5 ? 'same' : 'valid' });
    }
    const random = (shape: number[]) => Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.next() * 2 - 1);
    for (const raw of cases) {
      const c = { ...raw, f: [raw.f[0], raw.f[1], raw.x[3], raw.f[3]] };
      const info = tf.backend_util.computeConv2DInfo(c.x as [number, number, number, number], c.f as [number, number, number, number], c.s, 1, c.p);
      const [xv, fv, dyv] = [random(c.x), random(c.f), random(info.outShape)];
      const ref = grads('cpu', c, xv, fv, dyv, info.outShape);
      const ours = grads('wasm', c, xv, fv, dyv, info.outShape);
      expect(relErr(ref.dW, ours.dW), `dW ${JSON.stringify(c)}`).toBeLessThan(1e-5);
      expect(relErr(ref.dX, ours.dX), `dX ${JSON.stringify(c)}`).toBeLessThan(1e-5);
    }
  });

  it('leaks no tensors and no wasm heap blocks', () => {
    tf.setBackend('wasm');
    const x = tf.randomNormal([2, 9, 9, 3]);
    const dy = tf.randomNormal([2, 5, 5, 4]);
    const filter = tf.randomNormal([3, 3, 3, 4]);
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC' };
    const run = () => {
      tf.dispose(tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...attrs, filterShape: [3, 3, 3, 4] }) as tf.Tensor);
      tf.dispose(tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter }, { ...attrs, inputShape: [2, 9, 9, 3] }) as tf.Tensor);
    };
    run();
    const before = tf.memory();
    const ids = tf.backend().numDataIds();
    for (let i = 0; i < 5; i++) run();
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(tf.backend().numDataIds()).toBe(ids);
    tf.dispose([x, dy, filter]);
  });
});

describe('CNN training on wasm with our kernel', () => {
  /** `steps` SGD steps of batch 10 from the same params and batches, on `backend`. */
  async function trainOn(backend: 'cpu' | 'wasm', model: ModelName, data: Split, features: number, steps: number): Promise<{ params: Float32Array; loss: number }> {
    await useFirstBackend([backend]);
    const learner = new Learner(model, features, 10);
    const init = initialParams(learner.spec, Rng.seed(5).split('init'));
    const r = learner.trainSync(init, data, { epochs: 1, steps, batch: 10, lr: 0.05 }, Rng.seed(6));
    learner.dispose();
    return { params: r.params, loss: r.loss };
  }

  // The paper's CNN is left out: the cpu reference needs about a minute per step.
  it.each<[ModelName, number]>([['cnn-small', 784]])('%s: a few SGD steps give the params the cpu backend gives', async (model, features) => {
    const rng = Rng.seed(3);
    const n = 40;
    const data: Split = { n, x: Float32Array.from({ length: n * features }, () => rng.next()), y: Uint8Array.from({ length: n }, () => Math.floor(rng.next() * 10)) };
    const ref = await trainOn('cpu', model, data, features, 3);
    const ours = await trainOn('wasm', model, data, features, 3);
    expect(ours.params.length).toBe(ref.params.length);
    const moved = relErr(ref.params, initialParams(describeModel(model, features, 10), Rng.seed(5).split('init')));
    expect(moved).toBeGreaterThan(1e-4); // training changed the params, so the comparison means something
    expect(relErr(ref.params, ours.params)).toBeLessThan(1e-4);
    expect(Math.abs(ours.loss - ref.loss)).toBeLessThan(1e-3 * Math.max(1, Math.abs(ref.loss)));
  });
});
