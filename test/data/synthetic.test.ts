import { describe, it, expect } from 'vitest';
import { makeSynthetic, SYNTHETIC_NAMES } from '../../src/core/data/synthetic.ts';
import { labelHistogram } from '../../src/core/data/partition.ts';
import { Rng } from '../../src/core/rng.ts';
import type { Split } from '../../src/core/data/types.ts';

const shape = { samples: 1500, classes: 4, noise: 0.15 };
const all = (s: Split) => Int32Array.from({ length: s.n }, (_, i) => i);

describe('synthetic datasets', () => {
  for (const name of SYNTHETIC_NAMES) {
    it(`${name}: deterministic per rng, different for another seed`, () => {
      const a = makeSynthetic(name, shape, Rng.seed(1).split('data'));
      const b = makeSynthetic(name, shape, Rng.seed(1).split('data'));
      const c = makeSynthetic(name, shape, Rng.seed(2).split('data'));
      expect(a).toEqual(b);
      expect(a.train.x).not.toEqual(c.train.x);
    });

    it(`${name}: shapes, balanced classes, separate test split, features in range`, () => {
      const d = makeSynthetic(name, shape, Rng.seed(3));
      const k = name === 'moons' ? 2 : 4;
      expect(d).toMatchObject({ name, features: 2, numClasses: k });
      expect(d.train.n).toBe(1500);
      expect(d.train.x.length).toBe(3000);
      expect(d.test.n).toBe(750);
      for (const split of [d.train, d.test]) {
        const h = labelHistogram(split.y, all(split), k);
        expect(Math.max(...h) - Math.min(...h)).toBeLessThanOrEqual(1);
      }
      expect(d.test.x.subarray(0, 20)).not.toEqual(d.train.x.subarray(0, 20));
      let inside = 0;
      for (const v of d.train.x) if (Math.abs(v) <= 1.5) inside++;
      expect(inside / d.train.x.length).toBeGreaterThan(0.97);
      expect(d.train.x.every((v) => Number.isFinite(v) && Math.abs(v) < 3)).toBe(true);
    });
  }

  it('test split is at least 500 rows', () => {
    expect(makeSynthetic('moons', { samples: 100, classes: 3, noise: 0.1 }, Rng.seed(1)).test.n).toBe(500);
  });

  it('blobs at noise 0.15 are separable for 2–10 classes (nearest-center accuracy > 97%)', () => {
    for (const k of [2, 3, 6, 10]) {
      const d = makeSynthetic('blobs', { samples: 2000, classes: k, noise: 0.15 }, Rng.seed(k));
      let ok = 0;
      for (let i = 0; i < d.train.n; i++) {
        const [x, y] = [d.train.x[2 * i], d.train.x[2 * i + 1]];
        let best = 0;
        let bestD = Infinity;
        for (let c = 0; c < k; c++) {
          const a = (2 * Math.PI * c) / k;
          const dist = (x - Math.cos(a)) ** 2 + (y - Math.sin(a)) ** 2;
          if (dist < bestD) {
            bestD = dist;
            best = c;
          }
        }
        if (best === d.train.y[i]) ok++;
      }
      expect(ok / d.train.n).toBeGreaterThan(0.97);
    }
  });

  it('noise matters: heavy noise makes blobs overlap', () => {
    const d = makeSynthetic('blobs', { samples: 2000, classes: 3, noise: 2 }, Rng.seed(1));
    const spread = Math.max(...d.train.x.map(Math.abs));
    expect(spread).toBeGreaterThan(3);
  });

  it('moons: two interleaved half circles, label 0 on top on average', () => {
    const d = makeSynthetic('moons', { samples: 2000, classes: 7, noise: 0 }, Rng.seed(1));
    expect(d.numClasses).toBe(2);
    let y0 = 0;
    let y1 = 0;
    for (let i = 0; i < d.train.n; i++) {
      if (d.train.y[i] === 0) y0 += d.train.x[2 * i + 1];
      else y1 += d.train.x[2 * i + 1];
    }
    expect(y0 / 1000).toBeGreaterThan(y1 / 1000 + 0.5);
  });
});
