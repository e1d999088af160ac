import type { Learner } from '../../../core/learn/learner.ts';
import { DenseSgdExecutor } from '../denseSgdExecutor.ts';
import { SequentialExecutor, type ComputeExecutor } from '../executor.ts';

/** How a worker runs its share of a call: the same executor the main thread would use. */
export function innerExecutor(learner: Learner, denseSgd: boolean): ComputeExecutor {
  return denseSgd ? new DenseSgdExecutor(learner) : new SequentialExecutor(learner);
}
