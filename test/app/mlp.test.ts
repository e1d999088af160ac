import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { buildModel, describeModel, initialParams } from '../../src/core/learn/models.ts';
import { Rng } from '../../src/core/rng.ts';
import { predictProba } from '../../src/app/lib/mlp.ts';

// The decision-boundary heatmap's pure-JS forward pass against tfjs running the same model.
describe('predictProba', () => {
  it("equals tfjs's softmax of the mlp's logits on random points", async () => {
    await tf.setBackend('cpu');
    const spec = describeModel('mlp', 2, 3);
    const params = initialParams(spec, Rng.seed(4).split('init'));
    // Biases start at zero; give them values so the test also checks where they are read.
    for (const t of spec.tensors) if (t.kind === 'bias') for (let i = 0; i < t.size; i++) params[t.offset + i] = Math.sin(i + t.offset);
    const model = buildModel('mlp', 2, 3);
    model.setWeights(spec.tensors.map((t) => tf.tensor(params.subarray(t.offset, t.offset + t.size), t.shape)));
    const n = 200;
    const rng = Rng.seed(9);
    const xs = Float32Array.from({ length: n * 2 }, () => rng.next() * 6 - 3);
    const ref = tf.tidy(() => tf.softmax(model.predict(tf.tensor2d(xs, [n, 2])) as tf.Tensor).dataSync());
    const ours = predictProba(spec, params, xs, n)!;
    expect(ours).not.toBeNull();
    expect(ours.length).toBe(n * 3);
    let maxDiff = 0;
    for (let i = 0; i < ours.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours[i] - ref[i]));
    expect(maxDiff).toBeLessThan(1e-5);
    model.dispose();
  });
});
