import * as tf from '@tensorflow/tfjs';
import { parseConfig, type ConfigInput } from '../src/core/config.ts';
import { loadDataset, testSubset } from '../src/core/data/index.ts';
import type { Dataset } from '../src/core/data/types.ts';
import { Learner } from '../src/core/learn/learner.ts';
import { Rng } from '../src/core/rng.ts';
import { SequentialExecutor, type ComputeExecutor, type ComputeJob, type JobOutcome } from '../src/sim/compute/executor.ts';
import { DenseSgdExecutor } from '../src/sim/compute/denseSgdExecutor.ts';
import { useNodeBackend } from '../src/sim/nodeBackend.ts';
import { Simulation } from '../src/sim/simulation.ts';
import { fmt, loadNote, log, median, now, table, type Suite } from './common.ts';

/**
 * The simulator's default DenseSgdExecutor against `--dense-sgd off` (SequentialExecutor, one job
 * at a time on the learner) on whole simulated rounds of the MNIST 2NN: a 50-node D-PSGD round
 * (1,200 IID samples per node, one epoch, B = 10: 60,000 samples) and a FedAvg-paper round
 * (K = 100, C = 0.1, E = 1, B = 10, lr 0.1: 10 clients × 600 samples). The two simulations share
 * one dataset and learner and are stepped alternately, A/B then B/A, one round at a time.
 * A round is timed from the end of one round's training to the end of the next (training,
 * messages, aggregation; evaluation off), and the time inside the executor is reported too.
 */

interface Case {
  name: string;
  input: ConfigInput;
  /** Training jobs per round. */
  jobs: number;
  /** A warm-up round per side before timing (skipped for the minute-long D-PSGD round). */
  warm: boolean;
}

const CASES: Case[] = [
  { name: 'FedAvg paper round (2NN, K = 100, C = 0.1, E = 1, B = 10, lr 0.1, IID)', input: { algo: 'fedavg', nodes: 100, fraction: 0.1 }, jobs: 10, warm: true },
  { name: 'D-PSGD round (2NN, 50 nodes × 1,200 samples, E = 1, B = 10, lr 0.1, IID, kregular:4)', input: { algo: 'dpsgd', nodes: 50 }, jobs: 50, warm: false },
];

/** Counts finished training jobs and the time spent running them. */
class Timed implements ComputeExecutor {
  trained = 0;
  samples = 0;
  ms = 0;
  constructor(private readonly inner: ComputeExecutor) {}
  runMany(jobs: readonly ComputeJob[]): JobOutcome[] {
    const t = now();
    const out = this.inner.runMany(jobs);
    this.ms += now() - t;
    for (const o of out) {
      if (!o.ok) throw new Error(`a job failed: ${o.error}`);
      if (o.result.kind === 'train') {
        this.trained++;
        this.samples += o.result.samplesSeen;
      }
    }
    return out;
  }
}

interface Side {
  label: string;
  sim: Simulation;
  timed: Timed;
  wall: number[];
  compute: number[];
  samples: number;
}

function side(label: string, c: Case, dataset: Dataset, learner: Learner, executor: ComputeExecutor, seed: number): Side {
  const config = parseConfig({ dataset: 'mnist', model: '2nn', partition: 'iid', epochs: 1, batch: 10, lr: 0.1, rounds: 100000, evalEvery: 100000, evalSize: 200, seed, ...c.input });
  const timed = new Timed(executor);
  const evalSet = testSubset(dataset, config.evalSize, Rng.seed(seed).split('eval'));
  const sim = new Simulation(config, dataset, learner, evalSet, { executor: timed });
  sim.start();
  return { label, sim, timed, wall: [], compute: [], samples: 0 };
}

/** Advances until `jobs` more training jobs have run: one round's training, and what led to it. */
function round(s: Side, jobs: number): { ms: number; computeMs: number; samples: number } {
  const target = s.timed.trained + jobs;
  const [ms0, samples0] = [s.timed.ms, s.timed.samples];
  const t = now();
  while (s.timed.trained < target) if (!s.sim.advance(1)) throw new Error(`${s.label}: the simulation stopped (${s.sim.summary().stopReason})`);
  return { ms: now() - t, computeMs: s.timed.ms - ms0, samples: s.timed.samples - samples0 };
}

/**
 * The products behind the design, for the 2NN's first layer (B = 10, 784 → 200) over K = 10
 * nodes, each with its own kernel: ms for all K. Kernels are fresh tensors each call, as after
 * every SGD step (wasm caches XNNPACK's packed right operand per tensor).
 */
function products(reps: number): string[][] {
  const K = 10;
  const [B, IN, OUT] = [10, 784, 200];
  const x = tf.randomNormal([K, B, IN]);
  const w = tf.randomNormal([K, IN, OUT]);
  const dy = tf.randomNormal([K, B, OUT]);
  const xs = tf.unstack(x);
  const dys = tf.unstack(dy);
  const xTs = xs.map((t) => t.transpose());
  const dyTs = dys.map((t) => t.transpose());
  const time = (make: () => tf.Tensor[], f: (fresh: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): number => {
    const runs: number[] = [];
    for (let r = 0; r < reps + 1; r++) {
      const fresh = make();
      const t = now();
      tf.dispose(f(fresh));
      runs.push(now() - t);
      tf.dispose(fresh);
    }
    return median(runs.slice(1));
  };
  const kernels = () => tf.unstack(w.add(0));
  const kernelsT = () => tf.unstack(w.add(0).transpose([0, 2, 1]));
  const out: [string, string, number][] = [
    ['forward', 'one batched product [K, B, in]·[K, in, out]', time(() => [w.add(0)], ([wk]) => tf.matMul(x, wk))],
    ['forward', 'K products x·W (W on the right: repacked)', time(kernels, (ws) => xs.map((xk, k) => tf.matMul(xk, ws[k])))],
    ['forward', 'K products Wᵗ·xᵗ (ours: batch on the right)', time(kernelsT, (ws) => xTs.map((xk, k) => tf.matMul(ws[k], xk)))],
    ['kernel gradient', 'one batched product, transposeA', time(() => [], () => tf.matMul(x, dy, true, false))],
    ['kernel gradient', 'K products xᵀ·dy with transposeA (tfjs autodiff)', time(() => [], () => xs.map((xk, k) => tf.matMul(xk, dys[k], true, false)))],
    ['kernel gradient', 'K products dyᵗ·x, no flags (ours)', time(() => [], () => dyTs.map((d, k) => tf.matMul(d, xs[k])))],
  ];
  tf.dispose([x, w, dy, ...xs, ...dys, ...xTs, ...dyTs]);
  return out.map(([what, how, ms]) => [what, how, `${fmt.f(ms, 1)} ms`]);
}

export const denseSgdBench: Suite = {
  name: 'dense-sgd',
  summary: 'wall time of a simulated 2NN round, DenseSgdExecutor (default) vs --dense-sgd off: 50-node D-PSGD and the FedAvg paper round',
  async run(opts) {
    const backend = await useNodeBackend('auto', '2nn');
    const dataset = await loadDataset(parseConfig({ dataset: 'mnist', seed: opts.seed }), 'node');
    const learner = new Learner('2nn', dataset.features, dataset.numClasses);
    const reps = opts.reps ?? (opts.quick ? 1 : 2);
    log('dense-sgd: matrix products');
    const productRows = products(opts.quick ? 3 : 7);
    const rows: string[][] = [];
    for (const c of CASES) {
      const off = side('off', c, dataset, learner, new SequentialExecutor(learner), opts.seed);
      const on = side('on', c, dataset, learner, new DenseSgdExecutor(learner), opts.seed);
      log(`dense-sgd: ${c.name}`);
      if (c.warm) for (const s of [off, on]) round(s, c.jobs);
      const pairs: number[] = [];
      for (let i = 0; i < reps; i++) {
        const order = i % 2 === 0 ? [off, on] : [on, off];
        const ms: Record<string, number> = {};
        for (const s of order) {
          const r = round(s, c.jobs);
          s.wall.push(r.ms);
          s.compute.push(r.computeMs);
          s.samples = r.samples;
          ms[s.label] = r.ms;
          log(`  rep ${i + 1}/${reps} ${s.label}: ${(r.ms / 1000).toFixed(1)} s (${(r.computeMs / 1000).toFixed(1)} s in the executor, ${r.samples} samples)`);
        }
        pairs.push(ms.off / ms.on);
      }
      rows.push([
        c.name,
        fmt.int(on.samples),
        fmt.sec(median(off.wall), 2),
        fmt.sec(median(on.wall), 2),
        `${fmt.sec(median(off.compute), 2)} / ${fmt.sec(median(on.compute), 2)}`,
        fmt.f(median(off.wall) / median(on.wall), 2),
        pairs.map((p) => fmt.f(p, 2)).join(', '),
        String(reps),
      ]);
    }
    learner.dispose();
    return [
      '## dense-sgd',
      '',
      `Wall time per simulated round on ${backend}, \`--dense-sgd off\` (SequentialExecutor) vs the default DenseSgdExecutor; the same seed, data and learner, rounds interleaved A/B then B/A. Evaluation off.`,
      '',
      table(['round', 'samples/round', 'off: wall/round', 'on: wall/round', 'in the executor off / on', 'off/on (medians)', 'off/on per pair', 'pairs'], rows),
      '',
      `Measured at ${loadNote()}.`,
      '',
      `Why the executor does not stack: one layer's products for K = 10 nodes (2NN first layer, B = 10, 784 → 200; fresh kernels each call, as after an SGD step; median ms for all K):`,
      '',
      table(['product', 'how', 'ms'], productRows),
    ].join('\n');
  },
};
