import { describe, it, expect } from 'vitest';
import { parseConfig } from '../../src/core/config.ts';
import { evalIndices, evalRng, loadDataset, loadNodeShard, nodeShard, numClassesFor, partitionFor, testSubset } from '../../src/core/data/index.ts';
import { makeSynthetic } from '../../src/core/data/synthetic.ts';
import { Rng } from '../../src/core/rng.ts';
import { firstDiff } from './util.ts';

describe('data façade', () => {
  const config = parseConfig({ dataset: 'spirals', classes: 3, samples: 900, nodes: 6, partition: 'dirichlet:0.5', seed: 11, evalSize: 200 });

  it('synthetic data comes from Rng.seed(seed).split("data")', async () => {
    const d = await loadDataset(config);
    const ref = makeSynthetic('spirals', config, Rng.seed(11).split('data'));
    expect(firstDiff(d.train.x, ref.train.x)).toBe(-1);
    expect(firstDiff(d.test.y, ref.test.y)).toBe(-1);
    expect(firstDiff((await loadDataset({ ...config, seed: 12 })).train.x, ref.train.x)).not.toBe(-1);
  });

  it('numClassesFor: mnist 10, moons 2, else config.classes', () => {
    expect(numClassesFor({ dataset: 'mnist', classes: 3 })).toBe(10);
    expect(numClassesFor({ dataset: 'moons', classes: 5 })).toBe(2);
    expect(numClassesFor({ dataset: 'blobs', classes: 5 })).toBe(5);
  });

  it('node shards of a synthetic set cover the training split exactly once', async () => {
    const seen = new Uint8Array(900);
    for (let i = 0; i < 6; i++) {
      const s = await loadNodeShard(config, i, 'node');
      expect(s.dataset.train.n).toBe(s.indices.length);
      expect(s.dataset.test.n).toBe(200);
      for (const r of s.indices) seen[r]++;
    }
    expect(seen.every((c) => c === 1)).toBe(true);
  });

  it('nodeShard is one row of partitionFor, and checks the node index', async () => {
    const d = await loadDataset(config);
    expect(firstDiff(nodeShard(config, d.train.y, 4).indices, partitionFor(config, d.train.y)[4])).toBe(-1);
    expect(nodeShard(config, d.train.y, 4).maxShard).toBe(Math.max(...partitionFor(config, d.train.y).map((s) => s.length)));
    expect(() => nodeShard(config, d.train.y, 6)).toThrow(RangeError);
    expect(() => nodeShard(config, d.train.y, -1)).toThrow(RangeError);
  });

  it('evaluation subset: fixed for a seed, distinct rows, capped at the test size', async () => {
    const d = await loadDataset(config);
    const a = testSubset(d, 200, evalRng(11));
    expect(a.n).toBe(200);
    expect(firstDiff(a.x, testSubset(d, 200, evalRng(11)).x)).toBe(-1);
    expect(firstDiff(a.x, testSubset(d, 200, evalRng(12)).x)).not.toBe(-1);
    const idx = evalIndices(d.test.n, 200, evalRng(11));
    expect(new Set(idx).size).toBe(200);
    expect(evalIndices(50, 1000, Rng.seed(1)).length).toBe(50);
    // a prefix of the same permutation: a larger evalSize extends the subset
    expect(firstDiff(evalIndices(500, 100, evalRng(3)), evalIndices(500, 300, evalRng(3)).subarray(0, 100))).toBe(-1);
  });
});
