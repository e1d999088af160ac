import type { Learner } from '../../../core/learn/learner.ts';
import { SequentialExecutor, type ComputeExecutor } from '../executor.ts';

/** How a worker runs its share of a call: the one place to choose another executor (stacked SGD) for every worker. */
export function innerExecutor(learner: Learner): ComputeExecutor {
  return new SequentialExecutor(learner);
}
