import type { ComputeExecutor, ComputeJob, JobOutcome } from './executor.ts';

interface Pending {
  job: ComputeJob;
  /** False once the node stopped: its job is dropped unrun. */
  wanted: () => boolean;
  outcome?: JobOutcome;
}

/**
 * Compute requests wait here from the moment a node issues them until the first of them is
 * due on the virtual clock. Then every waiting job runs in one `runMany` call, so an executor
 * sees all the nodes that train "at the same time" (FedAvg's clients, every D-PSGD node of a
 * round) and can stack them or spread them over threads. A job's result depends only on its
 * own inputs, so running it early changes nothing the protocol can observe: it is still
 * delivered at its own virtual time.
 */
export class DeferredCompute {
  private waiting: Pending[] = [];

  constructor(private readonly executor: ComputeExecutor) {}

  /** Queues a job; the returned function gives its outcome when the job is due (running the queue if needed). */
  submit(job: ComputeJob, wanted: () => boolean): () => JobOutcome {
    const entry: Pending = { job, wanted };
    this.waiting.push(entry);
    return () => {
      if (!entry.outcome) this.flush();
      return entry.outcome ?? { ok: false, error: 'the job was dropped' };
    };
  }

  /** Runs every waiting job of a live node, in the order they were submitted. */
  private flush(): void {
    const batch = this.waiting.filter((p) => p.wanted());
    this.waiting = [];
    if (batch.length === 0) return;
    const outcomes = this.executor.runMany(batch.map((p) => p.job));
    batch.forEach((p, i) => (p.outcome = outcomes[i]));
  }
}
