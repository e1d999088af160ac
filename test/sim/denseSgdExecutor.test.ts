import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type ConfigInput } from '../../src/core/config.ts';
import { makeSynthetic } from '../../src/core/data/synthetic.ts';
import type { Dataset, Split } from '../../src/core/data/types.ts';
import { adam, SGD, type ComputeRequest, type ComputeResult, type OptimizerStates } from '../../src/core/learn/compute.ts';
import { Learner } from '../../src/core/learn/learner.ts';
import { initialParams, type ModelName } from '../../src/core/learn/models.ts';
import { Rng } from '../../src/core/rng.ts';
import { SequentialExecutor, type ComputeExecutor, type ComputeJob, type JobOutcome } from '../../src/sim/compute/executor.ts';
import { denseLayers } from '../../src/sim/compute/denseSgd.ts';
import { DenseSgdExecutor } from '../../src/sim/compute/denseSgdExecutor.ts';
import { parseFlags } from '../../src/sim/flags.ts';
import { useNodeBackend } from '../../src/sim/nodeBackend.ts';
import { Simulation } from '../../src/sim/simulation.ts';

/**
 * Tolerance against the sequential path: the products are summed in another order, so
 * parameters agree to float rounding, not bit for bit. Max |Δθ| ≤ 1e-5 · max(1, max |θ|),
 * and the mean loss to 1e-5 relative.
 */
const PARAM_TOL = 1e-5;
const LOSS_TOL = 1e-5;

let blobs: Dataset;
let wide: Dataset;
const learners = new Map<ModelName, Learner>();

beforeAll(async () => {
  await useNodeBackend('auto', 'mlp');
  blobs = makeSynthetic('blobs', { samples: 600, classes: 3, noise: 0.2 }, Rng.seed(3));
  // The 2NN on 16 features (its 200-unit layers, not MNIST's 784 inputs), so the test stays quick.
  const rng = Rng.seed(4);
  const n = 300;
  const x = Float32Array.from({ length: n * 16 }, () => rng.next() * 2 - 1);
  const y = Uint8Array.from({ length: n }, (_, i) => (x[i * 16] + x[i * 16 + 1] > 0 ? 1 : 0) + (x[i * 16 + 2] > 0.5 ? 2 : 0));
  wide = { name: 'wide', features: 16, numClasses: 4, train: { x, y, n }, test: { x, y, n } };
  learners.set('mlp', new Learner('mlp', blobs.features, blobs.numClasses));
  learners.set('2nn', new Learner('2nn', wide.features, wide.numClasses));
});

afterAll(() => {
  for (const l of learners.values()) l.dispose();
});

function rows(data: Dataset, from: number, count: number): Split {
  const f = data.features;
  return { x: data.train.x.slice(from * f, (from + count) * f), y: data.train.y.slice(from, from + count), n: count };
}

interface JobSpec {
  node: number;
  request: ComputeRequest;
  shard: Split;
}

/** Runs the same jobs on an executor with fresh rngs (one per job, from its index) and fresh optimizer states per node. */
function runOn(executor: ComputeExecutor, specs: JobSpec[]): JobOutcome[] {
  const states = new Map<number, OptimizerStates>();
  const jobs: ComputeJob[] = specs.map((s, i) => {
    if (!states.has(s.node)) states.set(s.node, new Map());
    return { ...s, rng: s.request.kind === 'train' ? Rng.seed(11).split(i) : undefined, states: states.get(s.node)! };
  });
  return executor.runMany(jobs);
}

function maxAbs(a: Float32Array): number {
  return a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

function expectClose(a: JobOutcome, b: JobOutcome): void {
  expect(a.ok).toBe(true);
  expect(b.ok).toBe(true);
  const ra = (a as { result: ComputeResult }).result;
  const rb = (b as { result: ComputeResult }).result;
  expect(rb.kind).toBe(ra.kind);
  if (ra.kind === 'train' && rb.kind === 'train') {
    expect(rb.steps).toBe(ra.steps);
    expect(rb.samplesSeen).toBe(ra.samplesSeen);
    const scale = Math.max(1, maxAbs(ra.params));
    let diff = 0;
    for (let i = 0; i < ra.params.length; i++) diff = Math.max(diff, Math.abs(ra.params[i] - rb.params[i]));
    expect(diff).toBeLessThanOrEqual(PARAM_TOL * scale);
    if (Number.isNaN(ra.loss)) expect(rb.loss).toBeNaN();
    else expect(Math.abs(rb.loss - ra.loss)).toBeLessThanOrEqual(LOSS_TOL * Math.max(1, Math.abs(ra.loss)));
    // Training moved the parameters: equal results are not two copies of the input.
  } else {
    expect(rb).toEqual(ra);
  }
}

function train(params: Float32Array, o: Partial<Extract<ComputeRequest, { kind: 'train' }>> = {}): ComputeRequest {
  return { kind: 'train', params, epochs: 1, steps: 0, batch: 10, lr: 0.1, optimizer: SGD, ...o };
}

describe.each(['mlp', '2nn'] as const)('DenseSgdExecutor on %s', (model) => {
  const world = () => {
    const learner = learners.get(model)!;
    const data = model === 'mlp' ? blobs : wide;
    const init = (seed: number) => initialParams(learner.spec, Rng.seed(seed));
    return { learner, data, init };
  };

  it('matches the sequential executor for equal and unequal shards, epochs, steps, full batches and flipped labels', () => {
    const { learner, data, init } = world();
    const specs: JobSpec[] = [
      { node: 0, request: train(init(1)), shard: rows(data, 0, 60) },
      { node: 1, request: train(init(2)), shard: rows(data, 60, 60) },
      // Unequal shards, a last minibatch shorter than the others, two epochs.
      { node: 2, request: train(init(3), { epochs: 2 }), shard: rows(data, 120, 37) },
      { node: 3, request: train(init(4), { batch: 7 }), shard: rows(data, 160, 90) },
      // Fixed steps (reshuffling when the shard runs out), a full batch, a batch larger than the shard.
      { node: 4, request: train(init(5), { steps: 13, epochs: 0 }), shard: rows(data, 0, 25) },
      { node: 5, request: train(init(6), { batch: 0, epochs: 3 }), shard: rows(data, 30, 40) },
      { node: 6, request: train(init(7), { batch: 50 }), shard: rows(data, 80, 20) },
      // A label-flipping attacker; an empty shard.
      { node: 7, request: train(init(8), { flipLabels: true }), shard: rows(data, 100, 50) },
      { node: 8, request: train(init(9)), shard: rows(data, 0, 0) },
    ];
    const seq = runOn(new SequentialExecutor(learner), specs);
    const dense = runOn(new DenseSgdExecutor(learner), specs);
    seq.forEach((s, i) => expectClose(s, dense[i]));
    // The flipped job learns other labels: same start and batches, different result.
    const flipped = runOn(new DenseSgdExecutor(learner), [{ ...specs[7], request: train(init(8)) }])[0];
    const a = (flipped as { result: { params: Float32Array } }).result.params;
    const b = (dense[7] as { result: { params: Float32Array } }).result.params;
    expect(maxAbs(a.map((v, i) => v - b[i]))).toBeGreaterThan(1e-3);
  });

  it('runs a mix of SGD, Adam, loss and gradient jobs, one node twice in order, as the sequential executor does', () => {
    const { learner, data, init } = world();
    const shard = rows(data, 0, 50);
    const other = rows(data, 50, 30);
    const specs: JobSpec[] = [
      { node: 0, request: train(init(1), { optimizer: adam(), stateKey: 'inner' }), shard },
      { node: 1, request: train(init(2)), shard: other },
      { node: 0, request: train(init(3), { optimizer: adam(), stateKey: 'inner' }), shard }, // reads node 0's first Adam state
      { node: 2, request: { kind: 'loss', params: init(4), batch: 8, batchSeed: 'x' }, shard },
      { node: 3, request: { kind: 'gradient', params: init(5), batch: 0 }, shard: other },
      { node: 1, request: train(init(6), { steps: 5, epochs: 0 }), shard: other },
      { node: 4, request: train(init(7), { lr: -1 }), shard }, // malformed: rejected as the learner rejects it
    ];
    const seq = runOn(new SequentialExecutor(learner), specs);
    const dense = runOn(new DenseSgdExecutor(learner), specs);
    seq.slice(0, -1).forEach((s, i) => expectClose(s, dense[i]));
    expect(seq.at(-1)!.ok).toBe(false);
    expect(dense.at(-1)).toEqual(seq.at(-1));
  });

  it('leaks no tensors', () => {
    const { learner, data, init } = world();
    const specs: JobSpec[] = [0, 1, 2].map((i) => ({ node: i, request: train(init(i), { epochs: 2 }), shard: rows(data, i * 40, 30 + i * 5) }));
    const executor = new DenseSgdExecutor(learner);
    runOn(executor, specs); // warm-up: anything cached on first use
    const before = tf.memory().numTensors;
    runOn(executor, specs);
    runOn(executor, [{ node: 0, request: train(init(9), { optimizer: { name: 'sgd' }, lr: Number.NaN }), shard: rows(data, 0, 10) }]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('denseLayers', () => {
  it('recognises the dense ReLU models and nothing else (a CNN stays on the learner)', () => {
    expect(denseLayers(learners.get('mlp')!)?.map((l) => l.kernel.shape)).toEqual([[2, 16], [16, 16], [16, 3]]);
    expect(denseLayers(learners.get('2nn')!)?.map((l) => l.kernel.shape)).toEqual([[16, 200], [200, 200], [200, 4]]);
    const cnn = new Learner('cnn-small', 16, 3);
    expect(denseLayers(cnn)).toBeNull();
    cnn.dispose();
  });
});

describe('DenseSgdExecutor in a whole simulation', () => {
  const run = (input: ConfigInput, executor: (l: Learner) => ComputeExecutor) => {
    const learner = learners.get('mlp')!;
    const config = parseConfig({ dataset: 'blobs', model: 'mlp', samples: 600, seed: 3, nodes: 8, rounds: 6, partition: 'iid', ...input });
    const sim = new Simulation(config, blobs, learner, blobs.test, { strict: true, executor: executor(learner) });
    const summary = sim.run();
    const strip = sim.rows.map(({ wallMs: _w, ...r }) => r);
    return { rows: strip, accuracy: summary.accuracy };
  };

  it.each([
    ['fedavg', { algo: 'fedavg', fraction: 0.5 }],
    ['dpsgd', { algo: 'dpsgd' }],
  ] as const)('%s on blobs: the accuracy curve of the sequential path, and the same JSON twice', (_name, input) => {
    const seq = run(input, (l) => new SequentialExecutor(l));
    const a = run(input, (l) => new DenseSgdExecutor(l));
    const b = run(input, (l) => new DenseSgdExecutor(l));
    expect(JSON.stringify(b.rows)).toBe(JSON.stringify(a.rows));
    expect(a.rows.length).toBe(seq.rows.length);
    expect(a.rows.length).toBeGreaterThan(0);
    a.rows.forEach((r, i) => {
      const s = seq.rows[i];
      expect(r.round).toBe(s.round);
      // Frames carry values (a loss, compressed vectors), so their sizes may differ by a byte.
      expect(Math.abs(r.bytesSent - s.bytesSent)).toBeLessThanOrEqual(1e-3 * s.bytesSent);
      expect(Math.abs(r.accuracy - s.accuracy)).toBeLessThanOrEqual(0.01);
      expect(Math.abs(r.loss - s.loss)).toBeLessThanOrEqual(1e-3 * Math.max(1, s.loss));
    });
  });
});

describe('--dense-sgd', () => {
  it('is on by default; off selects the sequential path; anything else is an error', () => {
    expect(parseFlags(['--algo', 'fedavg']).denseSgd).toBe(true);
    expect(parseFlags(['--dense-sgd', 'off', '--nodes', '4']).denseSgd).toBe(false);
    expect(parseFlags(['--dense-sgd=on']).denseSgd).toBe(true);
    expect(() => parseFlags(['--dense-sgd', 'maybe'])).toThrow(/on or off/);
  });
});
