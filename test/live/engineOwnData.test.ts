import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { withOwnData } from '../../src/core/data/ownData.ts';
import { makeSynthetic } from '../../src/core/data/synthetic.ts';
import type { Split } from '../../src/core/data/types.ts';
import { SGD } from '../../src/core/learn/compute.ts';
import { initialParams } from '../../src/core/learn/models.ts';
import { Rng } from '../../src/core/rng.ts';
import { Engine } from '../../src/live/training/engine.ts';

/** A tab's training engine (tfjs cpu backend in Node) trains on the shard it was last given. */
describe('the training engine and own data', () => {
  const data = makeSynthetic('blobs', { samples: 300, classes: 3, noise: 0.15 }, Rng.seed(4).split('data'));
  // Four points the student placed, labelled against the blobs they sit in: only training on them teaches this.
  const own: Split = { x: Float32Array.of(1, 0, 1.1, 0.1, -0.5, 0.87, -0.45, 0.8), y: Uint8Array.of(2, 2, 0, 0), n: 4 };

  beforeAll(() => {
    tf.env().set('IS_TEST', false);
  });

  async function trainOn(engine: Engine, steps: number): Promise<{ params: Float32Array; samplesSeen: number }> {
    const params = initialParams(engine.spec, Rng.seed(1).split('init'));
    const r = await engine.compute({ kind: 'train', params, epochs: 1, steps, batch: 0, lr: 0.5, optimizer: SGD }, 'k');
    if (r.result.kind !== 'train') throw new Error('not a training result');
    return r.result;
  }

  it('after setShard, training runs on the new rows: their count, and their labels learned', async () => {
    const ownSet = await Engine.create({ model: 'mlp', features: 2, numClasses: 3, backend: 'cpu', batch: 0, shard: data.train, evalSet: own });
    const before = await trainOn(ownSet, 1);
    expect(before.samplesSeen).toBe(300);
    ownSet.setShard(withOwnData(data.train, own, 'only'));
    const after = await trainOn(ownSet, 200);
    expect(after.samplesSeen).toBe(200 * 4);
    expect((await ownSet.evaluate(after.params)).accuracy).toBe(1);
    ownSet.setShard(withOwnData(data.train, own, 'add'));
    expect((await trainOn(ownSet, 1)).samplesSeen).toBe(304);
    ownSet.dispose();
  });

  it('refuses a shard of the wrong shape', async () => {
    const engine = await Engine.create({ model: 'mlp', features: 2, numClasses: 3, backend: 'cpu', batch: 0, shard: data.train, evalSet: data.test });
    expect(() => engine.setShard({ x: new Float32Array(3), y: new Uint8Array(2), n: 2 })).toThrow(RangeError);
    engine.dispose();
  });
});
