import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.ts';
import { baseMatrix, baseRow, coefficientOfVariation, drawFrom, repelledRow, srrwNext, walkVisits } from '../../src/protocols/token/walk.ts';
import { buildTopology, type Topology } from '../../src/protocols/topology.ts';

// Oracle 13 (ALGORITHMS.md): an SRRW with α = 0 is its base walk; on a connected graph the base
// walk's visit frequencies approach uniform; for α > 0 the spread of the visit counts after n steps
// is smaller, statistically over many seeds.

const ids = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`);

/** The walk as the token protocol runs it (srrwNext), started at the first id; the visit counts. */
const walk = (g: Topology, alpha: number, steps: number, rng: Rng) => walkVisits(g, alpha, steps, () => rng.next());

const cv = (g: Topology, v: Map<string, number>) => coefficientOfVariation(g.ids.map((id) => v.get(id) ?? 0));

// kregular:3 on 21 nodes has no 3-regular graph: the circulant stand-in leaves one node with degree 2,
// so P has a non-zero diagonal there and the graph is irregular, the case where MH matters.
const GRAPHS: [string, number][] = [
  ['ring', 12],
  ['kregular:4', 20],
  ['kregular:3', 21],
  ['full', 7],
];

describe('the base walk (Metropolis–Hastings, P_ij = min(1/d_i, 1/d_j))', () => {
  it('is symmetric, with rows summing to 1, so the uniform distribution is stationary (μP = μ)', () => {
    for (const [spec, n] of [...GRAPHS, ['exp', 16] as [string, number]]) {
      const g = buildTopology(spec, ids(n), 3);
      for (const round of [0, 1, 2]) {
        const P = baseMatrix(g, round);
        for (let i = 0; i < n; i++) {
          expect(P[i].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
          for (let j = 0; j < n; j++) {
            expect(P[i][j]).toBeGreaterThanOrEqual(0);
            expect(P[i][j]).toBe(P[j][i]);
          }
        }
        const mu = new Array<number>(n).fill(1 / n);
        for (let j = 0; j < n; j++) expect(mu.reduce((s, m, i) => s + m * P[i][j], 0)).toBeCloseTo(1 / n, 12);
      }
    }
  });

  it('has P_ij = 1/max(d_i, d_j) on edges and the rest on P_ii (non-zero on the irregular graph)', () => {
    const g = buildTopology('kregular:3', ids(21), 3);
    const d = g.ids.map((id) => g.neighbours(id).length);
    expect(new Set(d).size).toBeGreaterThan(1);
    const P = baseMatrix(g);
    g.ids.forEach((a, i) => {
      const nb = new Set(g.neighbours(a));
      g.ids.forEach((b, j) => {
        if (i !== j) expect(P[i][j]).toBe(nb.has(b) ? 1 / Math.max(d[i], d[j]) : 0);
      });
    });
    expect(Math.max(...P.map((row, i) => row[i]))).toBeGreaterThan(0);
  });

  it('visits every node about equally often in the long run, on an irregular graph too', () => {
    for (const [spec, n] of GRAPHS) {
      const g = buildTopology(spec, ids(n), 4);
      const steps = 60_000;
      const v = walk(g, 0, steps, Rng.seed(`uniform-${spec}`));
      for (const id of g.ids) expect(Math.abs((v.get(id) ?? 0) / steps - 1 / n)).toBeLessThan(0.15 / n);
    }
  });

  it('leaves suspected neighbours out and renormalises; with every neighbour gone it stays (or takes the fallback)', () => {
    const g = buildTopology('ring', ids(6), 1);
    const row = baseRow(g, 'n0', 0, new Set(['n1']));
    expect([...row]).toEqual([['n5', 0.5], ['n0', 0]]);
    expect(repelledRow(row, () => 0, 0).get('n5')).toBe(1);
    expect(srrwNext(g, 'n0', { round: 0, visits: () => 0, alpha: 5, u: 0.99, skip: new Set(['n1', 'n5']) })).toBe('n0');
    expect(srrwNext(g, 'n0', { round: 0, visits: () => 0, alpha: 5, u: 0.99, skip: new Set(['n1', 'n5']), fallback: ['n3'] })).toBe('n3');
  });
});

describe('the self-repellent kernel K_ij ∝ P_ij·(v_j + 1)^(−α)', () => {
  const g = buildTopology('kregular:3', ids(21), 3);
  const rng = Rng.seed('kernel');
  const visits = new Map(g.ids.map((id) => [id, rng.int(50)]));
  const v = (id: string) => visits.get(id)!;

  it('is the base walk for α = 0, whatever the visit counts', () => {
    for (const id of g.ids) {
      const base = baseRow(g, id);
      const k = repelledRow(base, v, 0);
      for (const [j, p] of base) if (p > 0) expect(k.get(j)).toBeCloseTo(p, 14);
      expect([...k.values()].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    }
  });

  it('is the base walk when the candidates were visited equally often, for any α', () => {
    const base = baseRow(g, 'n0');
    const k = repelledRow(base, () => 7, 5);
    for (const [j, p] of base) if (p > 0) expect(k.get(j)).toBeCloseTo(p, 14);
  });

  it('prefers the less visited neighbour by exactly ((v_a + 1)/(v_b + 1))^α, and stays finite for huge α and counts', () => {
    const ring = buildTopology('ring', ids(5), 1);
    const counts: Record<string, number> = { n1: 3, n4: 1 };
    const k = repelledRow(baseRow(ring, 'n0'), (j) => counts[j] ?? 0, 2);
    expect(k.get('n4')! / k.get('n1')!).toBeCloseTo(((3 + 1) / (1 + 1)) ** 2, 12);
    const extreme = repelledRow(baseRow(ring, 'n0'), (j) => (j === 'n1' ? 1e9 : 0), 100);
    expect(extreme.get('n4')).toBe(1);
    expect(extreme.get('n1')).toBe(0);
  });

  it('draws in canonical id order with one uniform', () => {
    const row = new Map([['n10', 0.5], ['n2', 0.25], ['n1', 0.25]]);
    expect(drawFrom(row, 0)).toBe('n1');
    expect(drawFrom(row, 0.3)).toBe('n2');
    expect(drawFrom(row, 0.99)).toBe('n10');
  });

  it('spreads visits more evenly with α = 5 than with α = 0 after the same n steps (200 seeds per graph)', () => {
    for (const [spec, n] of GRAPHS.filter(([s]) => s !== 'full')) {
      for (const steps of [n, 3 * n]) {
        let wins = 0;
        let sum0 = 0;
        let sum5 = 0;
        const seeds = 200;
        for (let s = 0; s < seeds; s++) {
          const g = buildTopology(spec, ids(n), s);
          const a = cv(g, walk(g, 0, steps, Rng.seed(s).split('walk')));
          const b = cv(g, walk(g, 5, steps, Rng.seed(s).split('walk')));
          sum0 += a;
          sum5 += b;
          if (b < a) wins++;
        }
        expect(sum5 / seeds, `${spec}, ${steps} steps`).toBeLessThan((sum0 / seeds) * 0.6);
        expect(wins, `${spec}, ${steps} steps`).toBeGreaterThanOrEqual(0.9 * seeds);
      }
    }
  });
});

describe('coefficientOfVariation', () => {
  it('is the population standard deviation over the mean', () => {
    expect(coefficientOfVariation([2, 2, 2])).toBe(0);
    expect(coefficientOfVariation([1, 3])).toBeCloseTo(0.5, 14);
    expect(coefficientOfVariation([0, 0])).toBe(0);
    expect(coefficientOfVariation([])).toBe(0);
  });
});
