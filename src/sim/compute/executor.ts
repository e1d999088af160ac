import type { Split } from '../../core/data/types.ts';
import type { ComputeRequest, ComputeResult, OptimizerStates } from '../../core/learn/compute.ts';
import type { Learner } from '../../core/learn/learner.ts';
import type { Rng } from '../../core/rng.ts';

/** One virtual node's compute request, with everything a learner needs to run it. */
export interface ComputeJob {
  /** The virtual node's index; jobs of one node reach an executor in the order the node issued them. */
  node: number;
  request: ComputeRequest;
  /** The node's shard. */
  shard: Split;
  /** Batch order of a training request (fresh: a split of the node's train stream, never advanced before). */
  rng?: Rng;
  /** The node's optimizer states (`stateKey`), read and updated by the job. */
  states: OptimizerStates;
}

export type JobOutcome = { ok: true; result: ComputeResult } | { ok: false; error: string };

/**
 * Runs a set of compute jobs that are all due, and answers each. An executor may run them in
 * any grouping (stacked, on other threads) as long as each job's result is what running it
 * alone would give, and jobs of one node run in their given order (they may share optimizer
 * state). Outcomes come back in the jobs' order.
 */
export interface ComputeExecutor {
  runMany(jobs: readonly ComputeJob[]): JobOutcome[];
}

/** One job after another on one learner: the reference every other executor is tested against. */
export class SequentialExecutor implements ComputeExecutor {
  constructor(private readonly learner: Learner) {}

  runMany(jobs: readonly ComputeJob[]): JobOutcome[] {
    return jobs.map((job) => {
      try {
        return { ok: true, result: this.learner.computeSync(job.request, job.shard, { rng: job.rng, states: job.states }) };
      } catch (e) {
        return { ok: false, error: (e as Error).message };
      }
    });
  }
}
