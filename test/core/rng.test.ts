import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.ts';

describe('Rng', () => {
  it('repeats a stream for the same seed and differs for another', () => {
    const a = Rng.seed(1);
    const b = Rng.seed(1);
    const c = Rng.seed(2);
    const xs = Array.from({ length: 5 }, () => a.nextU32());
    expect(Array.from({ length: 5 }, () => b.nextU32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.nextU32())).not.toEqual(xs);
  });

  it('derives split streams from the key, not from consumed state', () => {
    const a = Rng.seed(7);
    const before = a.split('x').next();
    for (let i = 0; i < 100; i++) a.next();
    expect(a.split('x').next()).toBe(before);
    expect(a.split('y').next()).not.toBe(before);
  });

  it('draws uniform values with the right mean and normals with unit variance', () => {
    const r = Rng.seed(3);
    let s = 0;
    let q = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) s += r.next();
    for (let i = 0; i < n; i++) q += r.normal() ** 2;
    expect(s / n).toBeGreaterThan(0.49);
    expect(s / n).toBeLessThan(0.51);
    expect(q / n).toBeGreaterThan(0.95);
    expect(q / n).toBeLessThan(1.05);
  });

  it('samples distinct items and draws Dirichlet vectors that sum to 1', () => {
    const r = Rng.seed(4);
    const picked = r.sample([...Array(50).keys()], 10);
    expect(new Set(picked).size).toBe(10);
    const p = r.dirichlet(0.5, 7);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    expect(p.every((v) => v >= 0)).toBe(true);
  });
});
