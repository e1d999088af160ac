import { describe, expect, it } from 'vitest';
import { buildTopology, compareIds, mixingMatrix, parseTopology, sortIds, type Topology } from '../../src/protocols/topology.ts';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`);

function degrees(t: Topology, round = 0): number[] {
  return t.ids.map((id) => t.neighbours(id, round).length);
}

function isConnected(t: Topology): boolean {
  const seen = new Set([t.ids[0]]);
  const stack = [t.ids[0]];
  while (stack.length) for (const j of t.neighbours(stack.pop()!)) if (!seen.has(j)) {
        seen.add(j);
        stack.push(j);
      }
  return seen.size === t.ids.length;
}

function expectMetropolis(t: Topology, round: number): void {
  const W = mixingMatrix(t, round);
  const n = W.length;
  for (let i = 0; i < n; i++) {
    expect(W[i].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    for (let j = 0; j < n; j++) {
      expect(W[i][j]).toBeGreaterThanOrEqual(0);
      expect(W[i][j]).toBe(W[j][i]);
    }
  }
  // MH edge weights: 1/(1 + max(d_i, d_j)) exactly where there is an edge, 0 elsewhere.
  const d = degrees(t, round);
  t.ids.forEach((a, i) => {
    const nb = new Set(t.neighbours(a, round));
    t.ids.forEach((b, j) => {
      if (i === j) return;
      expect(W[i][j]).toBe(nb.has(b) ? 1 / (1 + Math.max(d[i], d[j])) : 0);
    });
  });
}

describe('topology', () => {
  it('sorts ids naturally, whatever the input order', () => {
    expect(sortIds(['n10', 'n2', 'n1', 'n2'])).toEqual(['n1', 'n2', 'n10']);
    expect(compareIds('a9', 'a10')).toBeLessThan(0);
    expect(compareIds('b1', 'a2')).toBeGreaterThan(0);
    const a = buildTopology('kregular:4', ids(20), 3);
    const b = buildTopology('kregular:4', ids(20).reverse(), 3);
    for (const id of ids(20)) expect(b.neighbours(id)).toEqual(a.neighbours(id));
  });

  it('parses specs and refuses bad ones', () => {
    expect(parseTopology('kregular:8')).toEqual({ kind: 'kregular', k: 8 });
    expect(() => parseTopology('star')).toThrow();
    expect(() => parseTopology('kregular:0')).toThrow();
  });

  it('ring: i ~ i ± 1', () => {
    const t = buildTopology('ring', ids(6), 1);
    expect(t.neighbours('n0')).toEqual(['n1', 'n5']);
    expect(t.neighbours('n3')).toEqual(['n2', 'n4']);
    expect(degrees(t)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(buildTopology('ring', ids(2), 1).neighbours('n0')).toEqual(['n1']);
    expect(buildTopology('ring', ['solo'], 1).neighbours('solo')).toEqual([]);
  });

  it('full: everyone, and W is the exact average', () => {
    const t = buildTopology('full', ids(5), 1);
    expect(degrees(t)).toEqual([4, 4, 4, 4, 4]);
    for (const row of mixingMatrix(t)) for (const w of row) expect(w).toBeCloseTo(0.2, 15);
  });

  it('kregular: simple, k-regular, connected, deterministic from the seed', () => {
    for (const [n, k] of [
      [20, 4],
      [50, 8],
      [9, 4],
      [12, 3],
    ]) {
      const t = buildTopology(`kregular:${k}`, ids(n), 7);
      expect(degrees(t)).toEqual(Array(n).fill(k));
      for (const id of t.ids) {
        const nb = t.neighbours(id);
        expect(nb).not.toContain(id);
        expect(new Set(nb).size).toBe(nb.length);
        for (const j of nb) expect(t.neighbours(j)).toContain(id);
      }
      expect(isConnected(t)).toBe(true);
    }
    const a = buildTopology('kregular:4', ids(30), 1);
    const b = buildTopology('kregular:4', ids(30), 2);
    expect(ids(30).some((id) => a.neighbours(id).join() !== b.neighbours(id).join())).toBe(true);
    // Random, not a circulant: some node has a neighbour more than 2 steps away in id order.
    expect(ids(30).some((id, i) => a.neighbours(id).some((j) => Math.min(Math.abs(Number(j.slice(1)) - i), 30 - Math.abs(Number(j.slice(1)) - i)) > 2))).toBe(true);
  });

  it('kregular falls back when no k-regular graph exists', () => {
    // n·k odd: six nodes of degree 3 and one of degree 2.
    const odd = degrees(buildTopology('kregular:3', ids(7), 1));
    expect(odd.filter((d) => d === 3).length).toBe(6);
    expect(odd.filter((d) => d === 2).length).toBe(1);
    // k ≥ n − 1: the complete graph.
    expect(degrees(buildTopology('kregular:8', ids(5), 1))).toEqual([4, 4, 4, 4, 4]);
  });

  it('exp: in round t node i talks to i ± 2^(t mod ⌈log₂ n⌉)', () => {
    const t = buildTopology('exp', ids(8), 1);
    expect(t.timeVarying).toBe(true);
    expect(t.neighbours('n0', 0)).toEqual(['n1', 'n7']);
    expect(t.neighbours('n0', 1)).toEqual(['n2', 'n6']);
    expect(t.neighbours('n0', 2)).toEqual(['n4']); // +4 and −4 coincide
    expect(t.neighbours('n0', 3)).toEqual(['n1', 'n7']);
    expect(t.neighbours('n5', 1)).toEqual(['n3', 'n7']);
  });

  it('Metropolis–Hastings: symmetric, rows sum to 1 (oracle 6)', () => {
    for (const spec of ['ring', 'kregular:4', 'full']) expectMetropolis(buildTopology(spec, ids(12), 4), 0);
    // A graph with unequal degrees (the odd fallback), where max(d_i, d_j) matters.
    expectMetropolis(buildTopology('kregular:3', ids(7), 4), 0);
    const exp = buildTopology('exp', ids(12), 4);
    for (let r = 0; r < 5; r++) expectMetropolis(exp, r);
  });
});
