import * as tf from '@tensorflow/tfjs';
import { parseConfig } from '../src/core/config.ts';
import { evalIndices, loadDataset, type Dataset } from '../src/core/data/index.ts';
import { takeRows, type Split } from '../src/core/data/types.ts';
import { Learner, type TrainOptions } from '../src/core/learn/learner.ts';
import { initialParams, isConvolutional, type ModelName } from '../src/core/learn/models.ts';
import { readParams, writeParams } from '../src/core/learn/params.ts';
import { Rng } from '../src/core/rng.ts';
import { useNodeBackend } from '../src/sim/nodeBackend.ts';
import { Simulation } from '../src/sim/simulation.ts';
import { fmt, log, loadNote, median, now, table, type BenchOptions, type Suite } from './common.ts';

/**
 * Samples per second of `Learner.train` (the simulator's training loop) against bare
 * `model.fit` on the same tf.LayersModel, backend and data: 600 samples, batch 10, one
 * shuffled epoch, plain SGD. Repetitions are interleaved (A/B, then B/A) after a warm-up,
 * so load from other jobs on a shared machine hits both sides alike; the ratio of each
 * pair is reported next to the ratio of the medians.
 *
 * The simulator path runs a 10-node FedAvg (C = 1, 600 samples per node) inside
 * `Simulation` and times whole rounds (training, aggregation, wire encoding, virtual
 * network), interleaved with 10 `fit` calls on 600 samples (the same 6,000 samples' work).
 */

const SAMPLES = 600;
const BATCH = 10;
const LR = 0.1;
const SIM_NODES = 10;

interface Case {
  model: ModelName;
  dataset: 'mnist' | 'blobs';
}

const CASES: Case[] = [
  { model: '2nn', dataset: 'mnist' },
  { model: 'mlp', dataset: 'blobs' },
  { model: 'cnn-small', dataset: 'mnist' },
];

const datasets = new Map<string, Dataset>();

async function dataFor(name: Case['dataset'], seed: number): Promise<Dataset> {
  let ds = datasets.get(name);
  if (!ds) {
    // blobs: 6,000 training rows so the 10-node simulation gets 600 per node, as MNIST's subset does.
    ds = await loadDataset(parseConfig({ dataset: name, samples: SAMPLES * SIM_NODES, seed }), 'node');
    datasets.set(name, ds);
  }
  return ds;
}

interface LoopResult {
  c: Case;
  backend: string;
  params: number;
  ours: number[];
  fit: number[];
  pairRatios: number[];
  lossOurs: number[];
  lossFit: number[];
  paramIoMs: number[];
  leakPerCall: number;
}

interface SimResult {
  c: Case;
  backend: string;
  samplesPerRound: number;
  sim: number[];
  fit: number[];
  pairRatios: number[];
  roundMs: number[];
}

/** Trains `fit` exactly as the benchmark compares it: bare Keras-style fit, defaults otherwise. */
function compileForFit(model: tf.LayersModel): void {
  model.compile({ optimizer: tf.train.sgd(LR), loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.losses.softmaxCrossEntropy(yTrue, yPred) });
}

async function runCase(c: Case, opts: BenchOptions, reps: number, simReps: number): Promise<{ loop: LoopResult; sim: SimResult | null }> {
  const backend = await useNodeBackend('auto', c.model);
  const ds = await dataFor(c.dataset, opts.seed);
  const rng = Rng.seed(opts.seed).split('bench-throughput').split(c.model);
  const perm = evalIndices(ds.train.n, SAMPLES * SIM_NODES, rng.split('rows'));
  const split: Split = takeRows(ds.train, ds.features, perm.subarray(0, SAMPLES));
  const learner = new Learner(c.model, ds.features, ds.numClasses);
  const spec = learner.spec;
  const init = initialParams(spec, rng.split('init'));
  const trainOpts: TrainOptions = { epochs: 1, steps: 0, batch: BATCH, lr: LR };
  const model = learner.tfModel;
  compileForFit(model);
  const { x, y } = learner.upload(split);
  log(`throughput: ${c.model} on ${c.dataset}, backend ${backend}, ${spec.size.toLocaleString('en-US')} params`);

  let seq = 0;
  const ours = () => {
    const t = now();
    const r = learner.trainSync(init, split, trainOpts, rng.split('batches').split(seq++));
    return { ms: now() - t, loss: r.loss };
  };
  const fit = async () => {
    writeParams(model, spec, init); // untimed: start from the same point as `ours`
    const t = now();
    const h = await model.fit(x, y, { batchSize: BATCH, epochs: 1, shuffle: true, verbose: 0 });
    return { ms: now() - t, loss: h.history.loss[0] as number };
  };

  // Warm-up: kernels initialise and the JIT settles on first use. The CNN warms up on 50
  // samples only (once through every kernel): its epoch is the slowest of the cases.
  const conv = isConvolutional(c.model);
  const warmSplit = conv ? takeRows(ds.train, ds.features, perm.subarray(0, 50)) : split;
  const warmFit = conv ? learner.upload(warmSplit) : { x, y };
  const warm = opts.quick || conv ? 1 : 2;
  for (let i = 0; i < warm; i++) {
    learner.trainSync(init, warmSplit, trainOpts, rng.split('warm'));
    await model.fit(warmFit.x, warmFit.y, { batchSize: BATCH, epochs: 1, shuffle: true, verbose: 0 });
  }

  const loop: LoopResult = { c, backend, params: spec.size, ours: [], fit: [], pairRatios: [], lossOurs: [], lossFit: [], paramIoMs: [], leakPerCall: 0 };
  const tensorsBefore = tf.memory().numTensors;
  let oursCalls = 0;
  for (let i = 0; i < reps; i++) {
    let a: { ms: number; loss: number };
    let b: { ms: number; loss: number };
    if (i % 2 === 0) {
      a = ours();
      b = await fit();
    } else {
      b = await fit();
      a = ours();
    }
    oursCalls++;
    loop.ours.push((SAMPLES / a.ms) * 1000);
    loop.fit.push((SAMPLES / b.ms) * 1000);
    loop.pairRatios.push(b.ms / a.ms);
    loop.lossOurs.push(a.loss);
    loop.lossFit.push(b.loss);
    log(`  rep ${i + 1}/${reps}: ours ${a.ms.toFixed(0)} ms, fit ${b.ms.toFixed(0)} ms, ratio ${(b.ms / a.ms).toFixed(3)}`);
  }
  loop.leakPerCall = (tf.memory().numTensors - tensorsBefore) / (oursCalls + reps);
  // What `Learner.train` pays on top of the SGD loop: write the params in, read them out.
  for (let i = 0; i < Math.max(3, reps); i++) {
    const t = now();
    writeParams(model, spec, init);
    readParams(model, spec);
    loop.paramIoMs.push(now() - t);
  }

  let sim: SimResult | null = null;
  if (simReps > 0) sim = await simPath(c, opts, learner, ds, perm, fit, simReps, backend);
  learner.dispose();
  return { loop, sim };
}

async function simPath(
  c: Case,
  opts: BenchOptions,
  learner: Learner,
  ds: Dataset,
  perm: Int32Array,
  fit: () => Promise<{ ms: number }>,
  reps: number,
  backend: string,
): Promise<SimResult> {
  const config = parseConfig({
    algo: 'fedavg',
    dataset: c.dataset,
    model: c.model,
    nodes: SIM_NODES,
    fraction: 1,
    epochs: 1,
    batch: BATCH,
    lr: LR,
    partition: 'iid',
    rounds: 100000,
    evalEvery: 100000, // no evaluation inside the timed rounds
    evalSize: 200,
    seed: opts.seed,
  });
  const subset: Dataset = { ...ds, train: takeRows(ds.train, ds.features, perm), test: takeRows(ds.test, ds.features, evalIndices(ds.test.n, 200, Rng.seed(opts.seed).split('eval'))) };
  const sim = new Simulation(config, subset, learner, subset.test);
  // Count what the simulator actually trains (wrapping the shared learner).
  let trained = 0;
  const computeSync = learner.computeSync.bind(learner);
  learner.computeSync = (...args: Parameters<Learner['computeSync']>) => {
    const r = computeSync(...args);
    if (r.kind === 'train') trained += r.samplesSeen;
    return r;
  };
  let closed = 0;
  sim.onAction = (node, action) => {
    if (node === sim.coordinator && action.kind === 'round') closed = action.round;
  };
  const round = () => {
    const targetRound = closed + 1;
    const before = trained;
    const t = now();
    while (closed < targetRound) if (!sim.advance(1)) throw new Error(`simulation stopped: ${sim.summary().stopReason}`);
    return { ms: now() - t, samples: trained - before };
  };
  const fitRound = async () => {
    let ms = 0;
    for (let i = 0; i < SIM_NODES; i++) ms += (await fit()).ms;
    return ms;
  };
  log(`  simulator path: ${SIM_NODES}-node FedAvg round (C = 1) vs ${SIM_NODES}× fit`);
  sim.start();
  round(); // warm-up: uploads every node's shard once
  await fit();
  const out: SimResult = { c, backend, samplesPerRound: 0, sim: [], fit: [], pairRatios: [], roundMs: [] };
  for (let i = 0; i < reps; i++) {
    let a: { ms: number; samples: number };
    let bMs: number;
    if (i % 2 === 0) {
      a = round();
      bMs = await fitRound();
    } else {
      bMs = await fitRound();
      a = round();
    }
    out.samplesPerRound = a.samples;
    out.sim.push((a.samples / a.ms) * 1000);
    out.fit.push(((SAMPLES * SIM_NODES) / bMs) * 1000);
    out.pairRatios.push(a.samples / a.ms / ((SAMPLES * SIM_NODES) / bMs));
    out.roundMs.push(a.ms);
    log(`  sim rep ${i + 1}/${reps}: round ${a.ms.toFixed(0)} ms (${a.samples} samples), 10× fit ${bMs.toFixed(0)} ms`);
  }
  learner.computeSync = computeSync;
  return out;
}

export const throughput: Suite = {
  name: 'throughput',
  summary: 'samples/s of Learner.train and of a simulated FedAvg round vs bare model.fit (2nn/mnist, mlp/blobs and cnn-small/mnist on wasm, the CNN with our convolution gradients)',
  async run(opts) {
    const loops: LoopResult[] = [];
    const sims: SimResult[] = [];
    for (const c of CASES) {
      // Cheap cases get more repetitions: a 600-sample mlp epoch is ~0.1 s and easily disturbed.
      const conv = isConvolutional(c.model);
      const reps = opts.reps ?? (conv ? (opts.quick ? 1 : 3) : opts.quick ? 3 : c.model === 'mlp' ? 15 : 9);
      // The CNN's simulator round (6,000 samples, about 40 s at 162 samples/s) only on request.
      const simReps = conv && !opts.cnnSim ? 0 : opts.quick || conv ? 1 : 4;
      const { loop, sim } = await runCase(c, opts, reps, simReps);
      loops.push(loop);
      if (sim) sims.push(sim);
    }
    const r3 = (x: number) => fmt.f(x, 3);
    const loopTable = table(
      ['model', 'data', 'tfjs backend', 'params', 'ours samples/s', 'fit samples/s', 'ours/fit (medians)', 'ours/fit (median of pairs)', 'pair range', 'mean batch loss ours / fit', 'param write+read', 'reps'],
      loops.map((l) => [
        l.c.model,
        l.c.dataset,
        l.backend,
        fmt.int(l.params),
        fmt.int(median(l.ours)),
        fmt.int(median(l.fit)),
        r3(median(l.ours) / median(l.fit)),
        r3(median(l.pairRatios)),
        `${r3(Math.min(...l.pairRatios))}–${r3(Math.max(...l.pairRatios))}`,
        `${fmt.f(median(l.lossOurs), 3)} / ${fmt.f(median(l.lossFit), 3)}`,
        `${fmt.f(median(l.paramIoMs), 1)} ms`,
        String(l.ours.length),
      ]),
    );
    const simTable = table(
      ['model', 'data', 'tfjs backend', 'samples/round', 'wall per round', 'simulator samples/s', 'fit samples/s', 'sim/fit (medians)', 'sim/fit (median of pairs)', 'reps'],
      sims.map((s) => [
        s.c.model,
        s.c.dataset,
        s.backend,
        fmt.int(s.samplesPerRound),
        fmt.sec(median(s.roundMs), 2),
        fmt.int(median(s.sim)),
        fmt.int(median(s.fit)),
        r3(median(s.sim) / median(s.fit)),
        r3(median(s.pairRatios)),
        String(s.sim.length),
      ]),
    );
    const leaks = loops.filter((l) => Math.abs(l.leakPerCall) > 0.01);
    return [
      '## throughput',
      '',
      `Training loop: ${SAMPLES} samples, batch ${BATCH}, 1 shuffled epoch, SGD lr ${LR}; \`ours\` = \`Learner.train\` (writes the params in, trains, reads them out), \`fit\` = \`model.fit\` on the same model and device tensors. Interleaved A/B, B/A after warm-up; target ours/fit ≥ 0.9.`,
      '',
      loopTable,
      '',
      `Simulator path: one ${SIM_NODES}-node FedAvg round (C = 1, ${SAMPLES} samples per node, no evaluation) inside \`Simulation\`, timed from round close to round close, vs ${SIM_NODES} \`fit\` calls of ${SAMPLES} samples.`,
      '',
      simTable,
      '',
      sims.some((s) => isConvolutional(s.c.model))
        ? ''
        : `The cnn-small simulator round is skipped by default (6,000 samples, most of a minute even with our wasm convolution gradients; see BENCHMARKS.md); add \`--cnn-sim\` to run one.`,
      '',
      `Tensor leak check (ours + fit): ${leaks.length ? leaks.map((l) => `${l.c.model}: ${l.leakPerCall.toFixed(2)} tensors/call`).join(', ') : 'no tensors leaked per call'}. Measured at ${loadNote()}.`,
    ].join('\n');
  },
};
