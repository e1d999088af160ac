import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { Split } from '../data/types.ts';
import { buildModel, modelSpec, type ModelName, type ModelSpec } from './models.ts';
import { writeParams } from './params.ts';
import { addNoise } from './perturb.ts';
import { checkRequest, chooseBatch, effectiveBatch, SGD, type AdamState, type ComputeRequest, type ComputeResult, type GradientRequest, type LossRequest, type OptimizerStates, type TrainRequest } from './compute.ts';

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

/** What a request may need besides its data: the batch order for training, and the node's optimizer states. */
export interface ComputeContext {
  /** Batch order of a training request. */
  rng?: Rng;
  /** Where `stateKey` optimizer states live (per node). Without it, every request starts fresh. */
  states?: OptimizerStates;
}

interface SplitTensors {
  x: tf.Tensor2D;
  y: tf.Tensor2D; // one-hot
}

/**
 * A computation that hands each tensor it needs on the host to its runner (`yield t`, which
 * gives back t's values and disposes t). One implementation serves both readers: `runSync`
 * (dataSync, for the simulator on cpu/wasm) and `runAsync` (await data(), which WebGPU needs
 * in a worker).
 */
type Job<R> = Generator<tf.Tensor, R, Float32Array>;

function runSync<R>(job: Job<R>): R {
  let step = job.next(undefined as unknown as Float32Array);
  while (!step.done) {
    const t = step.value;
    let values: Float32Array;
    try {
      values = t.dataSync() as Float32Array;
    } catch (e) {
      t.dispose();
      step = job.throw(e);
      continue;
    }
    t.dispose();
    step = job.next(values);
  }
  return step.value;
}

async function runAsync<R>(job: Job<R>): Promise<R> {
  let step = job.next(undefined as unknown as Float32Array);
  while (!step.done) {
    const t = step.value;
    let values: Float32Array;
    try {
      values = (await t.data()) as Float32Array;
    } catch (e) {
      t.dispose();
      step = job.throw(e);
      continue;
    }
    t.dispose();
    step = job.next(values);
  }
  return step.value;
}

/** Rows of a split fed through the model this many at a time when only forward passes or gradient sums are needed. */
const CHUNK = 1000;

/**
 * One tfjs model used as a stateless function of (params, data): the caller owns the
 * parameters as flat vectors, and optimizer state lives in the caller's `states` map as flat
 * vectors too. The simulator shares one Learner between all its virtual nodes; a live tab has one.
 */
export class Learner {
  readonly spec: ModelSpec;
  private readonly model: tf.LayersModel;
  private readonly tensors = new WeakMap<Split, SplitTensors>();
  private readonly owned = new Set<SplitTensors>();
  /** Label-flipped copies of shards, one per shard, so their tensors are cached like the shard's. */
  private readonly flips = new WeakMap<Split, Split>();

  constructor(name: ModelName, features: number, numClasses: number) {
    this.model = buildModel(name, features, numClasses);
    this.spec = modelSpec(name, this.model, features, numClasses);
  }

  /** The split a training request learns from: `data`, or its label-flipped copy when the request asks for it. */
  trainingSplit(req: TrainRequest, data: Split): Split {
    return req.flipLabels ? this.flipped(data) : data;
  }

  /** `data` with every label y replaced by C − 1 − y: a label-flipping attacker's shard. */
  private flipped(data: Split): Split {
    let f = this.flips.get(data);
    if (!f) {
      const top = this.spec.numClasses - 1;
      f = { x: data.x, y: data.y.map((y) => top - y), n: data.n };
      this.flips.set(data, f);
    }
    return f;
  }

  /** Runs a compute request on `data` (this node's shard). Throws on a malformed request. */
  compute(req: ComputeRequest, data: Split, ctx: ComputeContext = {}): Promise<ComputeResult> {
    return runAsync(this.job(req, data, ctx));
  }

  /** As `compute`, reading results synchronously (the simulator, on the cpu and wasm backends). */
  computeSync(req: ComputeRequest, data: Split, ctx: ComputeContext = {}): ComputeResult {
    return runSync(this.job(req, data, ctx));
  }

  /** Plain SGD training, as the room's config describes it. Batch order comes from `rng`. */
  async train(params: Float32Array, data: Split, opts: TrainOptions, rng: Rng): Promise<TrainResult> {
    return asTrain(await this.compute(sgdRequest(params, opts), data, { rng }));
  }

  trainSync(params: Float32Array, data: Split, opts: TrainOptions, rng: Rng): TrainResult {
    return asTrain(this.computeSync(sgdRequest(params, opts), data, { rng }));
  }

  evaluate(params: Float32Array, data: Split, chunk = CHUNK): Promise<EvalResult> {
    return runAsync(this.evalJob(params, data, chunk));
  }

  evaluateSync(params: Float32Array, data: Split, chunk = CHUNK): EvalResult {
    return runSync(this.evalJob(params, data, chunk));
  }

  private *job(req: ComputeRequest, data: Split, ctx: ComputeContext): Job<ComputeResult> {
    checkRequest(req, this.spec.size);
    switch (req.kind) {
      case 'train':
        return yield* this.trainJob(req, data, ctx);
      case 'loss':
        return yield* this.lossJob(req, data);
      case 'gradient':
        return yield* this.gradientJob(req, data);
    }
  }

  private *trainJob(req: TrainRequest, data: Split, ctx: ComputeContext): Job<ComputeResult> {
    if (data.n === 0) return { kind: 'train', params: req.params.slice(), loss: NaN, steps: 0, samplesSeen: 0 };
    const { plan, samplesSeen } = trainingPlan(req, data.n, ctx.rng);
    writeParams(this.model, this.spec, req.params);
    const { x, y } = this.upload(this.trainingSplit(req, data));
    const lossOf = (idx: Int32Array) => {
      const ids = tf.tensor1d(idx, 'int32');
      const bx = tf.gather(x, ids);
      const by = tf.gather(y, ids);
      return tf.losses.softmaxCrossEntropy(by, this.model.apply(bx) as tf.Tensor) as tf.Scalar;
    };
    let lossSum: tf.Scalar | null = null;
    try {
      if (req.optimizer.name === 'sgd') {
        lossSum = tf.scalar(0);
        const optimizer = tf.train.sgd(req.lr);
        // Without an explicit list, minimize() differentiates every variable in the engine, other models' too.
        const vars = this.model.trainableWeights.map((w) => w.read() as tf.Variable);
        try {
          for (const idx of plan) {
            const sum: tf.Scalar = lossSum;
            const next = tf.tidy(() => sum.add(optimizer.minimize(() => lossOf(idx), true, vars)!) as tf.Scalar);
            sum.dispose();
            lossSum = next;
          }
        } finally {
          optimizer.dispose();
        }
      } else if (req.optimizer.name === 'sarah') {
        lossSum = this.sarahSteps(req.optimizer.anchor, req.lr, plan, lossOf);
      } else {
        lossSum = yield* this.adamSteps(req, plan, lossOf, ctx.states);
      }
      // SARAH computes no loss on its first batch.
      const lossBatches = req.optimizer.name === 'sarah' ? plan.length - 1 : plan.length;
      const loss = (yield lossSum)[0] / lossBatches;
      const params = yield this.flat((w) => w.read());
      return { kind: 'train', params, loss, steps: plan.length, samplesSeen };
    } finally {
      if (lossSum && !lossSum.isDisposed) lossSum.dispose();
    }
  }

  /**
   * Adam or AdamW steps on the model's variables, with the moments kept per tensor during the
   * request and as flat vectors between requests. Follows torch.optim.Adam/AdamW:
   * m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − (lr/(1−β₁ᵗ))·m/(√v/√(1−β₂ᵗ) + ε),
   * with decay as g += wd·θ (Adam) or θ ← θ(1 − lr·wd) first (AdamW). Returns the loss sum.
   */
  private *adamSteps(req: TrainRequest, plan: Int32Array[], lossOf: (idx: Int32Array) => tf.Scalar, states: OptimizerStates | undefined): Generator<tf.Tensor, tf.Scalar, Float32Array> {
    const o = req.optimizer;
    if (o.name === 'sgd' || o.name === 'sarah') throw new Error('unreachable');
    const size = this.spec.size;
    let state: AdamState | undefined = req.stateKey !== undefined ? states?.get(req.stateKey) : undefined;
    if (state && (state.m.length !== size || state.v.length !== size)) throw new Error(`optimizer state ${req.stateKey} has ${state.m.length} values, the model has ${size}`);
    state ??= { step: 0, m: new Float32Array(size), v: new Float32Array(size) };
    const weights = this.model.weights;
    const trainable = weights.map((w, i) => ({ w, t: this.spec.tensors[i] })).filter(({ w }) => w.trainable);
    const vars = trainable.map(({ w }) => w.read() as tf.Variable);
    let m = trainable.map(({ t }) => tf.tensor(state.m.subarray(t.offset, t.offset + t.size), t.shape));
    let v = trainable.map(({ t }) => tf.tensor(state.v.subarray(t.offset, t.offset + t.size), t.shape));
    let step = state.step;
    let lossSum: tf.Scalar = tf.scalar(0);
    try {
      for (const idx of plan) {
        step++;
        const c1 = 1 - o.beta1 ** step;
        const sqrtC2 = Math.sqrt(1 - o.beta2 ** step);
        const next = tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => lossOf(idx), vars);
          const m2: tf.Tensor[] = [];
          const v2: tf.Tensor[] = [];
          vars.forEach((x, j) => {
            let g = grads[x.name];
            if (o.name === 'adam' && o.weightDecay > 0) g = g.add(x.mul(o.weightDecay));
            const mj = m[j].mul(o.beta1).add(g.mul(1 - o.beta1));
            const vj = v[j].mul(o.beta2).add(g.square().mul(1 - o.beta2));
            const denom = vj.sqrt().div(sqrtC2).add(o.eps);
            const decayed = o.name === 'adamw' && o.weightDecay > 0 ? x.mul(1 - req.lr * o.weightDecay) : x;
            x.assign(decayed.sub(mj.div(denom).mul(req.lr / c1)));
            m2.push(mj);
            v2.push(vj);
          });
          return { loss: lossSum.add(value) as tf.Scalar, m: m2, v: v2 };
        });
        for (const t of [lossSum, ...m, ...v]) t.dispose();
        lossSum = next.loss;
        m = next.m;
        v = next.v;
      }
      const flatOf = (parts: tf.Tensor[]) => {
        const byIndex = new Map(trainable.map(({ w }, j) => [w, parts[j]]));
        return this.flat((w, t) => byIndex.get(w) ?? tf.zeros(t.shape));
      };
      const mFlat = yield flatOf(m);
      const vFlat = yield flatOf(v);
      if (req.stateKey !== undefined && states) states.set(req.stateKey, { step, m: mFlat, v: vFlat });
      return lossSum;
    } catch (e) {
      lossSum.dispose();
      throw e;
    } finally {
      for (const t of [...m, ...v]) t.dispose();
    }
  }

  /**
   * SARAH steps (see the `sarah` optimizer in compute.ts) on the model's variables: the direction
   * g and the previous point stay on the device between steps, and each later batch takes two
   * gradients, at the current point and at the previous one. Returns the sum of the losses at
   * the current points (none for the first batch, which is not computed).
   */
  private sarahSteps(anchor: Float32Array, lr: number, plan: Int32Array[], lossOf: (idx: Int32Array) => tf.Scalar): tf.Scalar {
    const trainable = this.model.weights.map((w, i) => ({ w, t: this.spec.tensors[i] })).filter(({ w }) => w.trainable);
    const vars = trainable.map(({ w }) => w.read() as tf.Variable);
    let g = trainable.map(({ t }) => tf.tensor(anchor.subarray(t.offset, t.offset + t.size), t.shape));
    // x_{k−1}: clones share the variables' current data, which assign() replaces rather than overwrites.
    let prev: tf.Tensor[] = [];
    let lossSum: tf.Scalar = tf.scalar(0);
    try {
      plan.forEach((idx, k) => {
        if (k === 0) {
          prev = vars.map((v) => v.clone());
        } else {
          const next = tf.tidy(() => {
            const here = vars.map((v) => v.clone());
            const now = tf.variableGrads(() => lossOf(idx), vars);
            vars.forEach((v, j) => v.assign(prev[j]));
            const before = tf.variableGrads(() => lossOf(idx), vars);
            vars.forEach((v, j) => v.assign(here[j]));
            const g2 = vars.map((v, j) => g[j].add(now.grads[v.name]).sub(before.grads[v.name]));
            return { loss: lossSum.add(now.value) as tf.Scalar, g: g2, here };
          });
          for (const t of [lossSum, ...g, ...prev]) t.dispose();
          lossSum = next.loss;
          g = next.g;
          prev = next.here;
        }
        tf.tidy(() => vars.forEach((v, j) => v.assign(v.sub(g[j].mul(lr)))));
      });
      return lossSum;
    } catch (e) {
      lossSum.dispose();
      throw e;
    } finally {
      for (const t of [...g, ...prev]) t.dispose();
    }
  }

  private *lossJob(req: LossRequest, data: Split): Job<ComputeResult> {
    const idx = chooseBatch(data.n, req.batch, req.batchSeed);
    if (idx.length === 0) return { kind: 'loss', loss: NaN, ...(req.perturb?.both ? { lossMinus: NaN } : {}), samples: 0 };
    const at = (params: Float32Array) => this.lossSum(params, data, idx);
    const p = req.perturb;
    if (!p) return { kind: 'loss', loss: (yield at(req.params))[0] / idx.length, samples: idx.length };
    const loss = (yield at(addNoise(req.params, p.seed, p.eps)))[0] / idx.length;
    if (!p.both) return { kind: 'loss', loss, samples: idx.length };
    const lossMinus = (yield at(addNoise(req.params, p.seed, -p.eps)))[0] / idx.length;
    return { kind: 'loss', loss, lossMinus, samples: idx.length };
  }

  /** Σ loss over the rows `idx`, forward only, one device scalar. */
  private lossSum(params: Float32Array, data: Split, idx: Int32Array): tf.Scalar {
    writeParams(this.model, this.spec, params);
    const { x, y } = this.upload(data);
    let sum: tf.Scalar = tf.scalar(0);
    for (let start = 0; start < idx.length; start += CHUNK) {
      const next = tf.tidy(() => {
        const ids = tf.tensor1d(idx.subarray(start, Math.min(idx.length, start + CHUNK)), 'int32');
        const by = tf.gather(y, ids);
        const logits = this.model.predict(tf.gather(x, ids)) as tf.Tensor;
        return sum.add(tf.losses.softmaxCrossEntropy(by, logits, undefined, undefined, tf.Reduction.SUM)) as tf.Scalar;
      });
      sum.dispose();
      sum = next;
    }
    return sum;
  }

  private *gradientJob(req: GradientRequest, data: Split): Job<ComputeResult> {
    const idx = chooseBatch(data.n, req.batch, req.batchSeed);
    if (idx.length === 0) return { kind: 'gradient', gradient: new Float32Array(this.spec.size), loss: NaN, samples: 0 };
    writeParams(this.model, this.spec, req.params);
    const { x, y } = this.upload(data);
    const weights = this.model.weights.filter((w) => w.trainable);
    const vars = weights.map((w) => w.read() as tf.Variable);
    let sums: tf.Tensor[] = vars.map((v) => tf.zerosLike(v));
    let lossSum: tf.Scalar = tf.scalar(0);
    try {
      for (let start = 0; start < idx.length; start += CHUNK) {
        const next = tf.tidy(() => {
          const ids = tf.tensor1d(idx.subarray(start, Math.min(idx.length, start + CHUNK)), 'int32');
          const by = tf.gather(y, ids);
          const bx = tf.gather(x, ids);
          const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(by, this.model.apply(bx) as tf.Tensor, undefined, undefined, tf.Reduction.SUM) as tf.Scalar, vars);
          return { loss: lossSum.add(value) as tf.Scalar, sums: vars.map((v, j) => sums[j].add(grads[v.name])) };
        });
        for (const t of [lossSum, ...sums]) t.dispose();
        lossSum = next.loss;
        sums = next.sums;
      }
      const byWeight = new Map(weights.map((w, j) => [w, sums[j]]));
      const n = idx.length;
      const gradient = yield this.flat((w, t) => tf.div(byWeight.get(w) ?? tf.zeros(t.shape), n));
      const loss = (yield lossSum)[0] / n;
      return { kind: 'gradient', gradient, loss, samples: n };
    } finally {
      for (const t of [lossSum, ...sums]) if (!t.isDisposed) t.dispose();
    }
  }

  /** One flat tensor in the parameter layout (model.weights order), from one tensor per weight. */
  private flat(part: (w: tf.LayerVariable, t: ModelSpec['tensors'][number]) => tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.concat(this.model.weights.map((w, i) => part(w, this.spec.tensors[i]).reshape([-1]))));
  }

  /** [correct predictions, summed loss] as one device tensor, read back once. */
  private *evalJob(params: Float32Array, data: Split, chunk: number): Job<EvalResult> {
    if (data.n === 0) return { accuracy: NaN, loss: NaN, n: 0 };
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
    const [correct, loss] = yield sums;
    return { accuracy: correct / data.n, loss: loss / data.n, n: data.n };
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
    const flipped = this.flips.get(data);
    if (flipped) {
      this.flips.delete(data);
      this.release(flipped);
    }
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

function sgdRequest(params: Float32Array, opts: TrainOptions): TrainRequest {
  return { kind: 'train', params, epochs: opts.epochs, steps: opts.steps, batch: opts.batch, lr: opts.lr, optimizer: SGD };
}

function asTrain(r: ComputeResult): TrainResult {
  if (r.kind !== 'train') throw new Error(`expected a training result, got ${r.kind}`);
  return { params: r.params, loss: r.loss, steps: r.steps, samplesSeen: r.samplesSeen };
}

/**
 * The minibatches a training request goes through on a shard of n, in the order `rng` gives,
 * and how many samples that is: every trainer of a request (the learner, the simulator's dense
 * path) takes exactly these batches.
 */
export function trainingPlan(req: TrainRequest, n: number, rng: Rng | undefined): { plan: Int32Array[]; samplesSeen: number } {
  if (!rng) throw new Error('a training request needs a batch order (rng)');
  const plan = batchPlan(n, effectiveBatch(req.batch, n), req, rng);
  return { plan, samplesSeen: plan.reduce((s, b) => s + b.length, 0) };
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
