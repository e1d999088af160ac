import { normalize, weightedSum } from '../../core/vector.ts';

export interface ClientUpdate {
  params: Float32Array;
  samples: number;
}

/** FedAvg's weights n_k / Σ n_k over the clients that answered. */
export function fedavgWeights(updates: readonly ClientUpdate[]): number[] {
  return normalize(updates.map((u) => u.samples));
}

/** w_{t+1} = Σ_k (n_k / m_t) · w_k. */
export function fedavgAggregate(updates: readonly ClientUpdate[]): Float32Array {
  return weightedSum(
    updates.map((u) => u.params),
    fedavgWeights(updates),
  );
}
