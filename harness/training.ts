import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import '../src/protocols/index.ts';
import { parseConfig } from '../src/core/config.ts';
import { loadNodeShard } from '../src/core/data/index.ts';
import type { Split } from '../src/core/data/types.ts';
import { Learner } from '../src/core/learn/learner.ts';
import { buildModel, initialParams, type ModelName } from '../src/core/learn/models.ts';
import { writeParams } from '../src/core/learn/params.ts';
import { Rng } from '../src/core/rng.ts';
import { makeSynthetic } from '../src/core/data/synthetic.ts';
import type { BackendName } from '../src/core/learn/backend.ts';
import { measureBackend, PROBE_LIMITS } from '../src/live/training/probe.ts';
import { describeModel } from '../src/core/learn/models.ts';

/** A test page, not part of the app: samples/s of our training loop and of bare `fit`, per backend. */
export interface TrainingRow {
  backend: string;
  model: ModelName;
  samples: number;
  oursPerSec: number;
  fitPerSec: number;
  ratio: number;
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeOurs(learner: Learner, params: Float32Array, data: Split, rep: number): Promise<number> {
  const t0 = performance.now();
  const r = await learner.train(params, data, { epochs: 1, steps: 0, batch: 10, lr: 0.05 }, Rng.seed(rep));
  return r.samplesSeen / ((performance.now() - t0) / 1000);
}

async function timeFit(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, n: number): Promise<number> {
  const t0 = performance.now();
  await model.fit(x, y, { batchSize: 10, epochs: 1, shuffle: true, verbose: 0 });
  await (model.weights[0].read() as tf.Tensor).data(); // wait for the device, as Learner.train does
  return n / ((performance.now() - t0) / 1000);
}

async function runTrainingBench(backends = ['webgpu', 'webgl', 'cpu'], models: ModelName[] = ['2nn', 'cnn-small'], reps = 3): Promise<TrainingRow[]> {
  const config = parseConfig({ dataset: 'mnist', nodes: 100, partition: 'iid', evalSize: 10 });
  const shard = (await loadNodeShard(config, 0, { baseUrl: '/data/mnist/' })).dataset;
  const rows: TrainingRow[] = [];
  for (const backend of backends) {
    try {
      if (!(await tf.setBackend(backend))) continue;
      await tf.ready();
    } catch {
      continue;
    }
    for (const model of models) {
      // SwiftShader's WebGPU is slow: fewer samples keep the page responsive.
      const n = backend === 'webgpu' ? 200 : shard.train.n;
      const data: Split = { x: shard.train.x.subarray(0, n * 784), y: shard.train.y.subarray(0, n), n };
      const learner = new Learner(model, 784, 10);
      const params = initialParams(learner.spec, Rng.seed(1));
      const bare = buildModel(model, 784, 10);
      writeParams(bare, learner.spec, params);
      bare.compile({ optimizer: tf.train.sgd(0.05), loss: (yt: tf.Tensor, yp: tf.Tensor) => tf.losses.softmaxCrossEntropy(yt, yp) });
      const x = tf.tensor2d(data.x, [n, 784]);
      const y = tf.oneHot(tf.tensor1d(data.y, 'int32'), 10).toFloat();
      await timeOurs(learner, params, data, 99); // warm-up: kernels compile on first use
      await timeFit(bare, x, y, n);
      const ours: number[] = [];
      const fit: number[] = [];
      for (let r = 0; r < reps; r++) {
        ours.push(await timeOurs(learner, params, data, r));
        fit.push(await timeFit(bare, x, y, n));
      }
      rows.push({ backend, model, samples: n, oursPerSec: median(ours), fitPerSec: median(fit), ratio: median(ours) / median(fit) });
      x.dispose();
      y.dispose();
      bare.dispose();
      learner.dispose();
    }
  }
  document.getElementById('out')!.textContent = JSON.stringify(rows, null, 2);
  return rows;
}

/** The `auto` backend probe as a tab runs it (here on the page's thread), for each backend: samples/s. */
async function runProbe(backends: BackendName[], model: ModelName, dataset: 'blobs' | 'mnist', batch = 10) {
  const data =
    dataset === 'mnist'
      ? (await loadNodeShard(parseConfig({ dataset: 'mnist', nodes: 8, evalSize: 10 }), 0, { baseUrl: '/data/mnist/' })).dataset
      : makeSynthetic('blobs', { samples: 2000, classes: 3, noise: 0.15 }, Rng.seed(1).split('data'));
  await tf.setBackend('cpu'); // describeModel builds the model: not on a GPU backend nobody asked for
  const parameters = describeModel(model, data.features, data.numClasses).size;
  const rows = [];
  for (const b of backends) {
    const t0 = performance.now();
    const m = await measureBackend(b, { model, features: data.features, numClasses: data.numClasses, batch, shard: data.train }, PROBE_LIMITS);
    rows.push({ backend: b, model, dataset, parameters, batch, samplesPerSecond: m.samplesPerSecond, error: m.error ?? null, ms: Math.round(performance.now() - t0) });
  }
  return rows;
}

declare global {
  interface Window {
    trainingHarness: { runTrainingBench: typeof runTrainingBench; runProbe: typeof runProbe };
  }
}
window.trainingHarness = { runTrainingBench, runProbe };
