import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { measureBackend, measureBackends } from '../../src/live/training/probe.ts';
import { makeSynthetic } from '../../src/core/data/synthetic.ts';
import { Rng } from '../../src/core/rng.ts';

const data = makeSynthetic('blobs', { samples: 400, classes: 3, noise: 0.15 }, Rng.seed(3).split('data'));
const target = { model: 'mlp' as const, features: data.features, numClasses: data.numClasses, batch: 10, shard: data.train };

describe('measureBackend (tfjs cpu backend in Node)', () => {
  beforeAll(async () => {
    tf.env().set('IS_TEST', false);
    await tf.setBackend('cpu');
  });

  it('measures a positive rate within its cap and leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    const r = await measureBackend('cpu', target, { capMs: 3000, targetMs: 150, maxSteps: 32 });
    expect(performance.now() - t0).toBeLessThan(3500);
    expect(r.error).toBeUndefined();
    expect(r.samplesPerSecond).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a candidate that does not start gives an error, not a rate', async () => {
    const r = await measureBackend('webgl', target, { capMs: 2000, targetMs: 100, maxSteps: 8 });
    expect(r.samplesPerSecond).toBeNull();
    expect(r.error).toBeTruthy();
  });

  it('a cap too short to warm up gives a timeout, and the tensors are freed once the work settles', async () => {
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const big = { ...target, model: '2nn' as const, features: 784, shard: { x: new Float32Array(784 * 300).fill(0.5), y: new Uint8Array(300), n: 300 }, numClasses: 10 };
    const r = await measureBackend('cpu', big, { capMs: 1, targetMs: 100, maxSteps: 8 });
    expect(r.samplesPerSecond).toBeNull();
    expect(r.error).toBe('no rate within 1 ms');
    await r.settled;
    expect(tf.memory().numTensors).toBe(before);
  });

  it('measures candidates one after another and marks the ones that settled', async () => {
    const { measurements, settled } = await measureBackends(['cpu', 'webgl'], target, { capMs: 2000, targetMs: 100, maxSteps: 16 });
    expect(measurements.map((x) => x.backend)).toEqual(['cpu', 'webgl']);
    expect(measurements[0].samplesPerSecond).toBeGreaterThan(0);
    expect([...settled.keys()]).toEqual(['cpu', 'webgl']);
    await Promise.all(settled.values());
  });
});
