import { normalize } from '../../core/vector.ts';
import { robustAverage, type RobustRule } from '../../core/robust/aggregate.ts';

export interface ClientUpdate {
  params: Float32Array;
  samples: number;
}

/** FedAvg's weights n_k / Σ n_k over the clients that answered. */
export function fedavgWeights(updates: readonly ClientUpdate[]): number[] {
  return normalize(updates.map((u) => u.samples));
}

/**
 * w_{t+1} = Σ_k (n_k / m_t) · w_k with `robust=mean`; another rule replaces the weighted mean
 * (see core/robust/aggregate.ts), centered clipping starting from `center`, the model the clients trained from.
 */
export function fedavgAggregate(updates: readonly ClientUpdate[], rule: RobustRule | string = 'mean', center?: Float32Array): Float32Array {
  return robustAverage(
    rule,
    updates.map((u) => u.params),
    fedavgWeights(updates),
    center,
  );
}
