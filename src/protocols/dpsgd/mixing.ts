import { weightedSum } from '../../core/vector.ts';
import { robustAverage, type RobustRule } from '../../core/robust/aggregate.ts';
import type { NodeId } from '../protocol.ts';
import { compareIds, type Topology } from '../topology.ts';

/**
 * Node i's row of W for a round in which only `received` neighbours answered: the weight
 * of every neighbour that did not answer moves to W_ii, so the row still sums to 1.
 */
export function effectiveWeights(self: NodeId, row: ReadonlyMap<NodeId, number>, received: ReadonlyMap<NodeId, unknown>): Map<NodeId, number> {
  const out = new Map<NodeId, number>();
  let own = row.get(self) ?? 0;
  for (const [j, w] of [...row].sort(([a], [b]) => compareIds(a, b))) {
    if (j === self) continue;
    if (received.has(j)) out.set(j, w);
    else own += w;
  }
  out.set(self, own);
  return out;
}

/**
 * One D-PSGD update of node i. The protocol calls it with trained === own (the neighbours'
 * trained models averaged: adapt-then-combine); the general form is Lian et al. 2017's:
 *   x_i ← Σ_j W_ij x_j + (trained_i − x_i)
 * i.e. gossip averaging of the round-start models plus the local SGD delta, which with one
 * SGD step is x_i ← Σ_j W_ij x_j − η∇F_i(x_i). Missing neighbours' weight goes to W_ii.
 * With trained = own (η = 0) it is pure averaging. Summed in float64, in id order.
 * `rule` (robust=) replaces the weighted mean Σ_j W_ij y_j of the adapt-then-combine form
 * (trained === own), with W's row as the weights and the node's own model as cclip's center;
 * the general form keeps the plain sum, whose weights are not a mean's (W_ii − 1 < 0).
 */
export function dpsgdUpdate(
  self: NodeId,
  own: Float32Array,
  trained: Float32Array,
  received: ReadonlyMap<NodeId, Float32Array>,
  row: ReadonlyMap<NodeId, number>,
  rule: RobustRule | string = 'mean',
): Float32Array {
  const w = effectiveWeights(self, row, received);
  const vectors: Float32Array[] = [];
  const weights: number[] = [];
  for (const [j, wj] of w) {
    if (j === self) continue;
    vectors.push(received.get(j)!);
    weights.push(wj);
  }
  if (trained === own) {
    vectors.push(own);
    weights.push(w.get(self)!);
    return robustAverage(rule, vectors, weights, own);
  } else {
    vectors.push(own, trained);
    weights.push(w.get(self)! - 1, 1);
  }
  return weightedSum(vectors, weights);
}

/** One synchronous averaging step (η = 0) of the whole network: x ← W x. For tests and benchmarks. */
export function averagingStep(models: ReadonlyMap<NodeId, Float32Array>, topology: Topology, round = 0): Map<NodeId, Float32Array> {
  const out = new Map<NodeId, Float32Array>();
  for (const [id, x] of models) {
    const received = new Map<NodeId, Float32Array>();
    for (const j of topology.neighbours(id, round)) {
      const xj = models.get(j);
      if (xj) received.set(j, xj);
    }
    out.set(id, dpsgdUpdate(id, x, x, received, topology.weights(id, round)));
  }
  return out;
}
