import type { Learner } from '../../core/learn/learner.ts';
import { DenseSgdExecutor } from './denseSgdExecutor.ts';
import { SequentialExecutor, type ComputeExecutor } from './executor.ts';

/**
 * The executor that runs jobs on the calling thread: the main thread's when the simulation is not
 * threaded, and each compute worker's for its share, so both train the same way.
 */
export function localExecutor(learner: Learner, denseSgd: boolean): ComputeExecutor {
  return denseSgd ? new DenseSgdExecutor(learner) : new SequentialExecutor(learner);
}
