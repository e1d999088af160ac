import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { Split } from '../data/types.ts';
import { buildModel, modelSpec, type ModelName, type ModelSpec } from './models.ts';
import { readParams, readParamsAsync, writeParams } from './params.ts';

export interface TrainOptions {
  /** Local epochs; ignored when `steps` > 0. */
  epochs: number;
  /** Local SGD steps; when > 0 it replaces `epochs`. */
  steps: number;
  /** Minibatch size; 0 means B = ∞ (full batch). */
  batch: number;
  lr: number;
}

export interface TrainResult {
  params: Float32Array;
  /** Mean minibatch loss over this call. */
  loss: number;
  steps: number;
  samplesSeen: number;
}

export interface EvalResult {
  accuracy: number;
  loss: number;
  n: number;
}

interface SplitTensors {
  x: tf.Tensor2D;
  y: tf.Tensor2D; // one-hot
}

/**
 * One tfjs model used as a stateless function of (params, data): the caller owns the
 * parameters as flat vectors. The simulator shares one Learner between all its virtual
 * nodes; a live tab has one. Plain SGD keeps it stateless, as in FedAvg and MoDeST.
 */
export class Learner {
  readonly spec: ModelSpec;
  private readonly model: tf.LayersModel;
  private readonly tensors = new WeakMap<Split, SplitTensors>();
  private readonly owned = new Set<SplitTensors>();

  constructor(name: ModelName, features: number, numClasses: number) {
    this.model = buildModel(name, features, numClasses);
    this.spec = modelSpec(name, this.model, features, numClasses);
  }

  /** Trains from `params` on `data`; returns new params. Batch order comes from `rng`. */
  train(params: Float32Array, data: Split, opts: TrainOptions, rng: Rng): TrainResult {
    const run = this.runTraining(params, data, opts, rng);
    if (!run) return { params: params.slice(), loss: NaN, steps: 0, samplesSeen: 0 };
    const loss = run.lossSum.dataSync()[0] / run.steps;
    run.lossSum.dispose();
    return { params: readParams(this.model, this.spec), loss, steps: run.steps, samplesSeen: run.samplesSeen };
  }

  /** As `train`, but reads results back asynchronously: WebGPU cannot read synchronously in a worker. */
  async trainAsync(params: Float32Array, data: Split, opts: TrainOptions, rng: Rng): Promise<TrainResult> {
    const run = this.runTraining(params, data, opts, rng);
    if (!run) return { params: params.slice(), loss: NaN, steps: 0, samplesSeen: 0 };
    const loss = (await run.lossSum.data())[0] / run.steps;
    run.lossSum.dispose();
    return { params: await readParamsAsync(this.model, this.spec), loss, steps: run.steps, samplesSeen: run.samplesSeen };
  }

  private runTraining(params: Float32Array, data: Split, opts: TrainOptions, rng: Rng): { lossSum: tf.Scalar; steps: number; samplesSeen: number } | null {
    if (data.n === 0) return null;
    writeParams(this.model, this.spec, params);
    const { x, y } = this.upload(data);
    const batch = opts.batch > 0 ? Math.min(opts.batch, data.n) : data.n;
    const plan = batchPlan(data.n, batch, opts, rng);
    const optimizer = tf.train.sgd(opts.lr);
    // Without an explicit list, minimize() differentiates every variable in the engine, other models' too.
    const vars = this.model.trainableWeights.map((w) => w.read() as tf.Variable);
    let lossSum: tf.Scalar = tf.scalar(0);
    for (const idx of plan) {
      const next = tf.tidy(() => {
        const ids = tf.tensor1d(idx, 'int32');
        const bx = tf.gather(x, ids);
        const by = tf.gather(y, ids);
        const cost = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(by, this.model.apply(bx) as tf.Tensor) as tf.Scalar, true, vars);
        return lossSum.add(cost!) as tf.Scalar;
      });
      lossSum.dispose();
      lossSum = next;
    }
    optimizer.dispose();
    return { lossSum, steps: plan.length, samplesSeen: plan.reduce((s, b) => s + b.length, 0) };
  }

  evaluate(params: Float32Array, data: Split, chunk = 1000): EvalResult {
    const sums = this.evalSums(params, data, chunk);
    if (!sums) return { accuracy: NaN, loss: NaN, n: 0 };
    const [correct, loss] = sums.dataSync();
    sums.dispose();
    return { accuracy: correct / data.n, loss: loss / data.n, n: data.n };
  }

  async evaluateAsync(params: Float32Array, data: Split, chunk = 1000): Promise<EvalResult> {
    const sums = this.evalSums(params, data, chunk);
    if (!sums) return { accuracy: NaN, loss: NaN, n: 0 };
    const [correct, loss] = await sums.data();
    sums.dispose();
    return { accuracy: correct / data.n, loss: loss / data.n, n: data.n };
  }

  /** [correct predictions, summed loss] as one device tensor, read back once. */
  private evalSums(params: Float32Array, data: Split, chunk: number): tf.Tensor1D | null {
    if (data.n === 0) return null;
    writeParams(this.model, this.spec, params);
    const { x, y } = this.upload(data);
    let sums = tf.zeros([2]) as tf.Tensor1D;
    for (let start = 0; start < data.n; start += chunk) {
      const size = Math.min(chunk, data.n - start);
      const next = tf.tidy(() => {
        const bx = x.slice([start, 0], [size, -1]);
        const by = y.slice([start, 0], [size, -1]);
        const logits = this.model.predict(bx) as tf.Tensor2D;
        const hits = tf.equal(tf.argMax(logits, 1), tf.argMax(by, 1)).cast('float32').sum();
        const loss = tf.losses.softmaxCrossEntropy(by, logits, undefined, undefined, tf.Reduction.SUM);
        return sums.add(tf.stack([hits, loss])) as tf.Tensor1D;
      });
      sums.dispose();
      sums = next;
    }
    return sums;
  }

  /** The underlying model, for benchmarks that compare against bare `fit`. */
  get tfModel(): tf.LayersModel {
    return this.model;
  }

  /** Device copies of a split, made once and reused across rounds. */
  upload(data: Split): SplitTensors {
    let t = this.tensors.get(data);
    if (!t) {
      const features = this.spec.features;
      t = tf.tidy(() => ({
        x: tf.tensor2d(data.x, [data.n, features]),
        y: tf.oneHot(tf.tensor1d(data.y, 'int32'), this.spec.numClasses).toFloat() as tf.Tensor2D,
      }));
      this.tensors.set(data, t);
      this.owned.add(t);
    }
    return t;
  }

  release(data: Split): void {
    const t = this.tensors.get(data);
    if (!t) return;
    t.x.dispose();
    t.y.dispose();
    this.tensors.delete(data);
    this.owned.delete(t);
  }

  dispose(): void {
    for (const t of this.owned) {
      t.x.dispose();
      t.y.dispose();
    }
    this.owned.clear();
    this.model.dispose();
  }
}

/** Minibatch index lists: E epochs of reshuffled passes, or exactly `steps` batches. */
export function batchPlan(n: number, batch: number, opts: Pick<TrainOptions, 'epochs' | 'steps'>, rng: Rng): Int32Array[] {
  const plan: Int32Array[] = [];
  const order = new Int32Array(n);
  const reshuffle = () => {
    for (let i = 0; i < n; i++) order[i] = i;
    rng.shuffle(order);
  };
  if (opts.steps > 0) {
    let pos = n;
    for (let s = 0; s < opts.steps; s++) {
      if (pos + batch > n) {
        reshuffle();
        pos = 0;
      }
      plan.push(order.slice(pos, pos + batch));
      pos += batch;
    }
    return plan;
  }
  for (let e = 0; e < opts.epochs; e++) {
    reshuffle();
    for (let start = 0; start < n; start += batch) plan.push(order.slice(start, Math.min(n, start + batch)));
  }
  return plan;
}
