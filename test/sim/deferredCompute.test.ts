import { blobsWorld } from '../support/blobs.ts';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.ts';
import type { Dataset } from '../../src/core/data/types.ts';
import { Learner } from '../../src/core/learn/learner.ts';
import { DeferredCompute } from '../../src/sim/compute/deferred.ts';
import { SequentialExecutor, type ComputeExecutor, type ComputeJob, type JobOutcome } from '../../src/sim/compute/executor.ts';
import { Simulation } from '../../src/sim/simulation.ts';

let dataset: Dataset;
let learner: Learner;

beforeAll(async () => {
  ({ dataset, learner } = await blobsWorld(600, {}, 3));
});

/** Runs jobs sequentially and records the node indices of each runMany call. */
class Recording implements ComputeExecutor {
  readonly calls: { node: number; kind: string }[][] = [];
  constructor(private readonly inner: ComputeExecutor) {}
  runMany(jobs: readonly ComputeJob[]): JobOutcome[] {
    this.calls.push(jobs.map((j) => ({ node: j.node, kind: j.request.kind })));
    return this.inner.runMany(jobs);
  }
}

function run(algo: string, executor?: ComputeExecutor) {
  const config = parseConfig({ algo, dataset: 'blobs', samples: 600, seed: 3, nodes: 6, rounds: 3, fraction: 1 });
  const sim = new Simulation(config, dataset, learner, dataset.test, { strict: true, executor });
  return { sim, summary: sim.run() };
}

describe('deferred compute', () => {
  it('runs every job waiting when the first is due in one call, and drops the jobs of nodes that stopped', () => {
    const seen: number[][] = [];
    const executor: ComputeExecutor = {
      runMany: (jobs) => {
        seen.push(jobs.map((j) => j.node));
        return jobs.map((j) => ({ ok: true, result: { kind: 'gradient', gradient: new Float32Array([j.node]), loss: 0, samples: 1 } }));
      },
    };
    const deferred = new DeferredCompute(executor);
    const alive = [true, true, false];
    const job = (node: number): ComputeJob => ({ node, request: { kind: 'gradient', params: new Float32Array(1), batch: 0 }, shard: dataset.train, states: new Map() });
    const due = [0, 1, 2].map((i) => deferred.submit(job(i), () => alive[i]));
    const first = due[1]();
    expect(seen).toEqual([[0, 1]]);
    expect(first.ok && first.result.kind === 'gradient' && first.result.gradient[0]).toBe(1);
    const zeroth = due[0]();
    expect(zeroth.ok).toBe(true);
    expect(seen).toHaveLength(1); // answered from the same call
    expect(due[2]().ok).toBe(false); // its node stopped before the call: never run
  });

  it('hands the executor all six FedAvg clients of a round at once, and the run equals one job at a time', () => {
    const recording = new Recording(new SequentialExecutor(learner));
    const grouped = run('fedavg', recording);
    const trainCalls = recording.calls.filter((c) => c.some((j) => j.kind === 'train'));
    expect(trainCalls).toHaveLength(3);
    for (const call of trainCalls) expect(new Set(call.map((j) => j.node)).size).toBe(6);

    // One runMany per job: the order the old simulator ran them in.
    const single: ComputeExecutor = { runMany: (jobs) => jobs.flatMap((j) => new SequentialExecutor(learner).runMany([j])) };
    const alone = run('fedavg', single);
    const strip = (rows: { wallMs: number }[]) => rows.map(({ wallMs: _w, ...r }) => r);
    expect(strip(grouped.sim.rows)).toEqual(strip(alone.sim.rows));
    expect(grouped.summary.accuracy).toBe(alone.summary.accuracy);
  });

  it('groups a decentralized round too: every D-PSGD node trains in the same call', () => {
    const recording = new Recording(new SequentialExecutor(learner));
    run('dpsgd', recording);
    const trainCalls = recording.calls.filter((c) => c.some((j) => j.kind === 'train'));
    expect(trainCalls.length).toBeGreaterThan(0);
    expect(Math.max(...trainCalls.map((c) => c.length))).toBe(6);
  });
});
