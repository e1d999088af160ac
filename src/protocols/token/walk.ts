import type { NodeId } from '../protocol.ts';
import { compareIds, type Topology } from '../topology.ts';

/**
 * The token's walk (Hu, Doshi, Eun, ICML 2024; the self-repellent walk of Doshi et al. 2023).
 *
 * Base walk: Metropolis–Hastings towards the uniform distribution, P_ij = min(1/d_i, 1/d_j) for
 * a neighbour j, the rest on P_ii. P is symmetric with rows summing to 1, so it is doubly
 * stochastic and μ = uniform is stationary. (D-PSGD's mixing weights, 1/(1 + max(d_i, d_j)), are
 * a different, lazier matrix: topology.ts's `weights` is not this row.)
 *
 * Self-repellent walk with strength α: K_ij[x] ∝ P_ij·(x_j/μ_j)^(−α), x the empirical visit
 * frequencies. With μ uniform the 1/μ_j factor and the normalisation of x cancel, so the weights
 * are P_ij·(v_j + 1)^(−α) with v the visit counts. The +1 is a uniform prior x_0 (one pseudo-visit
 * per node): the paper needs x in the interior of the simplex, and an unvisited node would
 * otherwise have infinite weight.
 */

/**
 * Row i of the base walk over `g` (round `round` for time-varying graphs). `gone` neighbours (the
 * token protocol's suspects) are left out, so the row then sums to less than 1 and the draw
 * renormalises over the rest: the token moves on among the live neighbours instead of piling its
 * visits onto node i, as keeping the missing mass on P_ii would. With every neighbour gone, P_ii = 1.
 */
export function baseRow(g: Topology, i: NodeId, round = 0, gone: ReadonlySet<NodeId> = new Set()): Map<NodeId, number> {
  const row = new Map<NodeId, number>();
  const mine = g.neighbours(i, round);
  let off = 0;
  let left = 0;
  for (const j of mine) {
    const p = 1 / Math.max(mine.length, g.neighbours(j, round).length);
    off += p;
    if (gone.has(j)) continue;
    row.set(j, p);
    left++;
  }
  // Rounding can leave a tiny negative P_ii on a regular graph: it is zero there.
  row.set(i, left === 0 ? 1 : Math.max(0, 1 - off));
  return row;
}

/** The dense base matrix, rows and columns in `g.ids` order (tests). */
export function baseMatrix(g: Topology, round = 0): number[][] {
  const at = new Map(g.ids.map((id, k) => [id, k]));
  return g.ids.map((id) => {
    const row = new Array<number>(g.ids.length).fill(0);
    for (const [j, p] of baseRow(g, id, round)) row[at.get(j)!] = p;
    return row;
  });
}

/**
 * The self-repellent row: P_ij·(v_j + 1)^(−α), normalised. Computed in log space, so a large α
 * or large counts never underflow every weight to 0. α = 0 returns the base row's probabilities.
 */
export function repelledRow(base: ReadonlyMap<NodeId, number>, visits: (id: NodeId) => number, alpha: number): Map<NodeId, number> {
  const logs = new Map<NodeId, number>();
  let top = -Infinity;
  for (const [j, p] of base) {
    if (p <= 0) continue;
    const l = Math.log(p) - alpha * Math.log(visits(j) + 1);
    logs.set(j, l);
    top = Math.max(top, l);
  }
  const out = new Map<NodeId, number>();
  let total = 0;
  for (const [j, l] of logs) {
    const w = Math.exp(l - top);
    out.set(j, w);
    total += w;
  }
  for (const [j, w] of out) out.set(j, w / total);
  return out;
}

/** Draws from a row with one uniform u ∈ [0, 1), in canonical id order (so every runtime draws alike). */
export function drawFrom(row: ReadonlyMap<NodeId, number>, u: number): NodeId {
  const ids = [...row.keys()].sort(compareIds);
  let acc = 0;
  for (const j of ids) {
    acc += row.get(j)!;
    if (u < acc) return j;
  }
  // u within rounding of 1: the last node with any weight.
  for (let k = ids.length - 1; k >= 0; k--) if (row.get(ids[k])! > 0) return ids[k];
  throw new Error('drawFrom: an empty row');
}

/**
 * One move of the walk from node i: the self-repellent row over the neighbours not in `skip`,
 * drawn with one uniform u. When every neighbour is skipped, `fallback` (if any) replaces them,
 * uniformly: the token protocol's way out for a node whose neighbours have all crashed.
 */
export function srrwNext(
  g: Topology,
  i: NodeId,
  o: { round: number; visits: (id: NodeId) => number; alpha: number; u: number; skip?: ReadonlySet<NodeId>; fallback?: readonly NodeId[] },
): NodeId {
  let base = baseRow(g, i, o.round, o.skip);
  if (base.size === 1 && g.neighbours(i, o.round).length > 0 && o.fallback && o.fallback.length > 0) base = new Map(o.fallback.map((p) => [p, 1 / o.fallback!.length]));
  return drawFrom(repelledRow(base, o.visits, o.alpha), o.u);
}

/**
 * The walk alone, without a model (tests and benchmarks): `steps` visits from the first id, the
 * moves drawn as the token protocol draws them; `onStep` sees the counts after each visit.
 */
export function walkVisits(g: Topology, alpha: number, steps: number, u: () => number, onStep?: (step: number, visits: ReadonlyMap<NodeId, number>) => void): Map<NodeId, number> {
  const visits = new Map<NodeId, number>();
  let at = g.ids[0];
  for (let s = 1; s <= steps; s++) {
    visits.set(at, (visits.get(at) ?? 0) + 1);
    onStep?.(s, visits);
    if (s < steps) at = srrwNext(g, at, { round: s, visits: (j) => visits.get(j) ?? 0, alpha, u: u() });
  }
  return visits;
}

/** Coefficient of variation (population standard deviation over mean); 0 for no counts or a zero mean. */
export function coefficientOfVariation(counts: readonly number[]): number {
  if (counts.length === 0) return 0;
  const mean = counts.reduce((s, c) => s + c, 0) / counts.length;
  if (mean === 0) return 0;
  const variance = counts.reduce((s, c) => s + (c - mean) ** 2, 0) / counts.length;
  return Math.sqrt(variance) / mean;
}
