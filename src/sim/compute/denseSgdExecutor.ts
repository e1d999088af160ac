import type { Learner } from '../../core/learn/learner.ts';
import { denseLayers, denseSgd, isDenseSgd } from './denseSgd.ts';
import { SequentialExecutor, type ComputeExecutor, type ComputeJob, type JobOutcome } from './executor.ts';

/**
 * The simulator's default executor: plain-SGD training of a dense model (mlp, 2nn) runs on
 * `denseSgd`, a hand-written forward/backward pass that keeps every matrix product on the wasm
 * backend's fast path; everything else (CNNs, Adam/AdamW/SARAH, loss and gradient requests)
 * runs on the learner as `SequentialExecutor` runs it.
 *
 * Issue 10 asked to stack the due nodes' models ([K, in, out] kernels, one batched product per
 * layer and step). Measured, wasm's BatchMatMul with a batch > 1 is a
 * naive loop: for the 2NN's first layer and 10 nodes, 1.5× the time of 10 flag-free 2-D
 * products forward and ~30× for the kernel gradient (BENCHMARKS.md "dense-sgd"). So each job
 * trains on its own, which also keeps one node's jobs in order. Results equal the sequential path's up
 * to float rounding (test/sim/denseSgdExecutor.test.ts). Needs nothing but a learner, so a worker
 * thread can build one.
 */
export class DenseSgdExecutor implements ComputeExecutor {
  private readonly layers: ReturnType<typeof denseLayers>;
  private readonly fallback: SequentialExecutor;

  constructor(private readonly learner: Learner) {
    this.layers = denseLayers(learner);
    this.fallback = new SequentialExecutor(learner);
  }

  runMany(jobs: readonly ComputeJob[]): JobOutcome[] {
    return jobs.map((job) => {
      const { request } = job;
      if (!this.layers || request.kind !== 'train' || !isDenseSgd(request)) return this.fallback.runMany([job])[0];
      try {
        return { ok: true, result: denseSgd(this.learner, this.layers, request, job.shard, job.rng) };
      } catch (e) {
        return { ok: false, error: (e as Error).message };
      }
    });
  }
}
