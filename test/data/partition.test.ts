import { describe, it, expect } from 'vitest';
import { parsePartition } from '../../src/core/config.ts';
import { labelHistogram, partition } from '../../src/core/data/partition.ts';
import { parseIdxLabels } from '../../src/core/data/idx.ts';
import { readMnistFiles } from '../../src/core/data/mnistNode.ts';
import { Rng } from '../../src/core/rng.ts';
import { firstDiffAll } from './util.ts';

/** Balanced toy labels: i mod k, so the global distribution is known exactly. */
function toyLabels(n: number, k: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => i % k);
}

function expectExactCover(parts: Int32Array[], n: number): void {
  const seen = new Uint8Array(n);
  let total = 0;
  for (const p of parts) {
    for (const i of p) {
      if (!(i >= 0 && i < n)) throw new Error(`index ${i} out of [0, ${n})`);
      seen[i]++;
    }
    total += p.length;
  }
  expect(total).toBe(n);
  expect(seen.findIndex((c) => c !== 1)).toBe(-1);
}

function meanTv(labels: Uint8Array, parts: Int32Array[], k: number): number {
  const global = labelHistogram(labels, Int32Array.from(labels.keys()), k).map((c) => c / labels.length);
  let sum = 0;
  for (const p of parts) {
    const h = labelHistogram(labels, p, k);
    sum += 0.5 * h.reduce((s, c, j) => s + Math.abs(c / p.length - global[j]), 0);
  }
  return sum / parts.length;
}

const rng = (seed = 1) => Rng.seed(seed).split('partition');
const specs = ['iid', 'dirichlet:0.1', 'dirichlet:0.5', 'dirichlet:100', 'shards:2'];

describe('partition on toy labels', () => {
  const labels = toyLabels(10007, 10); // prime count: nothing divides evenly
  for (const spec of specs) {
    it(`${spec}: every index exactly once, sorted, no empty node`, () => {
      const parts = partition(labels, 10, 13, parsePartition(spec), rng());
      expect(parts).toHaveLength(13);
      expectExactCover(parts, labels.length);
      for (const p of parts) {
        expect(p.length).toBeGreaterThan(0);
        for (let i = 1; i < p.length; i++) expect(p[i]).toBeGreaterThan(p[i - 1]);
      }
    });

    it(`${spec}: deterministic per seed`, () => {
      const a = partition(labels, 10, 13, parsePartition(spec), rng(5));
      const b = partition(labels, 10, 13, parsePartition(spec), rng(5));
      const c = partition(labels, 10, 13, parsePartition(spec), rng(6));
      expect(firstDiffAll(a, b)).toBe(-1);
      expect(firstDiffAll(a, c)).not.toBe(-1);
    });
  }

  it('iid: sizes differ by at most 1 and each shard looks like the whole', () => {
    const parts = partition(labels, 10, 13, { kind: 'iid' }, rng());
    const sizes = parts.map((p) => p.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(meanTv(labels, parts, 10)).toBeLessThan(0.06);
  });

  it('shards: equal shard sizes give node sizes k·n/(N·k) ± k', () => {
    const parts = partition(labels, 10, 13, { kind: 'shards', perNode: 3 }, rng());
    const ideal = labels.length / 13;
    for (const p of parts) expect(Math.abs(p.length - ideal)).toBeLessThanOrEqual(3);
  });

  it('a single node gets everything; more nodes than samples leaves some empty', () => {
    expectExactCover(partition(labels, 10, 1, { kind: 'dirichlet', alpha: 0.1 }, rng()), labels.length);
    const parts = partition(toyLabels(5, 2), 2, 8, { kind: 'iid' }, rng());
    expectExactCover(parts, 5);
    expect(parts.filter((p) => p.length === 0)).toHaveLength(3);
  });

  it('rejects labels out of range and bad specs', () => {
    expect(() => partition(Uint8Array.of(0, 3), 3, 2, { kind: 'iid' }, rng())).toThrow(/numClasses/);
    expect(() => partition(labels, 10, 0, { kind: 'iid' }, rng())).toThrow();
    expect(() => partition(labels, 10, 4, { kind: 'dirichlet', alpha: 0 }, rng())).toThrow();
    expect(() => partition(labels, 10, 4, { kind: 'shards', perNode: 0 }, rng())).toThrow();
  });

  it('labelHistogram counts classes of the given rows', () => {
    expect(labelHistogram(Uint8Array.of(0, 1, 1, 2, 2, 2), Int32Array.of(1, 3, 4, 5), 4)).toEqual([0, 1, 3, 0]);
  });
});

describe('partition on real MNIST labels', async () => {
  const labels = parseIdxLabels((await readMnistFiles()).trainLabels);

  for (const spec of specs) {
    it(`${spec}: 60000 indices over 100 nodes, each exactly once`, () => {
      expectExactCover(partition(labels, 10, 100, parsePartition(spec), rng()), 60000);
    });
  }

  it('dirichlet: label skew shrinks monotonically as alpha grows', () => {
    const alphas = [0.1, 1, 100];
    const tv = alphas.map((alpha) => meanTv(labels, partition(labels, 10, 20, { kind: 'dirichlet', alpha }, rng()), 10));
    expect(tv[0]).toBeGreaterThan(0.5); // alpha 0.1: nodes see a few classes
    expect(tv[0]).toBeGreaterThan(tv[1]);
    expect(tv[1]).toBeGreaterThan(tv[2]);
    expect(tv[2]).toBeLessThan(0.06); // alpha 100: almost the global mix
  });

  it('shards:2 gives each node about two classes', () => {
    const parts = partition(labels, 10, 100, { kind: 'shards', perNode: 2 }, rng());
    const classes = parts.map((p) => labelHistogram(labels, p, 10).filter((c) => c > 0).length);
    // A shard of 300 sorted labels spans one class, or two at a class boundary (9 of 200 shards).
    expect(Math.max(...classes)).toBeLessThanOrEqual(4);
    expect(classes.filter((c) => c <= 2).length).toBeGreaterThanOrEqual(80);
    let top2 = 0;
    for (const p of parts) {
      expect(p.length).toBe(600);
      const h = labelHistogram(labels, p, 10).sort((a, b) => b - a);
      expect(h[0] + h[1]).toBeGreaterThanOrEqual(300); // each shard's majority class holds >= half of it
      top2 += (h[0] + h[1]) / p.length;
    }
    expect(top2 / parts.length).toBeGreaterThan(0.95);
  });

  it('dirichlet: same seed same partition, other seed different', () => {
    const spec = { kind: 'dirichlet', alpha: 0.5 } as const;
    expect(firstDiffAll(partition(labels, 10, 50, spec, rng(9)), partition(labels, 10, 50, spec, rng(9)))).toBe(-1);
    expect(firstDiffAll(partition(labels, 10, 50, spec, rng(9)), partition(labels, 10, 50, spec, rng(10)))).not.toBe(-1);
  });
});
