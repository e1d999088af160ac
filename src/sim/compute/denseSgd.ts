import * as tf from '@tensorflow/tfjs';
import type { Split } from '../../core/data/types.ts';
import { checkRequest, type ComputeResult, type TrainRequest } from '../../core/learn/compute.ts';
import { trainingPlan, type Learner } from '../../core/learn/learner.ts';
import type { TensorSpec } from '../../core/learn/models.ts';
import type { Rng } from '../../core/rng.ts';

/** One dense layer's place in the flat parameter vector: kernel [in, out], bias [out]. */
interface DenseLayer {
  kernel: TensorSpec;
  bias: TensorSpec;
}

/**
 * The layers of the learner's model when it is a plain dense ReLU network (mlp, 2nn): Dense
 * layers with bias, ReLU on every one but the last, linear logits. Null for anything else
 * (CNNs), which this trainer does not handle.
 */
export function denseLayers(learner: Learner): DenseLayer[] | null {
  const dense = learner.tfModel.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const t = learner.spec.tensors;
  if (dense.length === 0 || t.length !== 2 * dense.length) return null;
  const layers: DenseLayer[] = [];
  for (let i = 0; i < dense.length; i++) {
    const config = dense[i].getConfig();
    const activation = i === dense.length - 1 ? 'linear' : 'relu';
    if (dense[i].getClassName() !== 'Dense' || config.activation !== activation || config.useBias !== true) return null;
    const [kernel, bias] = [t[2 * i], t[2 * i + 1]];
    if (kernel.shape.length !== 2 || bias.shape.length !== 1 || bias.shape[0] !== kernel.shape[1]) return null;
    layers.push({ kernel, bias });
  }
  return layers;
}

/** Whether `denseSgd` can run this request (plain SGD training); everything else goes to the learner. */
export function isDenseSgd(req: TrainRequest): boolean {
  return req.optimizer.name === 'sgd';
}

/**
 * Plain SGD training of a dense ReLU network with the backward pass written out, not taped.
 * Why (measured on the wasm backend, see BENCHMARKS.md "dense-sgd"): the wasm BatchMatMul takes
 * XNNPACK's fast path only for a 2-D product without transpose flags, and it packs its right
 * operand afresh whenever that tensor is new, as the weights are after every step. tfjs's
 * autodiff computes dW = xᵀ·dy with a transpose flag (naive loop: ~13 ms a step for the 2NN's
 * first layer in a tf.profile on the loaded 2-core machine), and the forward x·W repacks the
 * 784×200 kernel each step (~10 ms there). So the kernels are kept transposed, Wᵗ [out, in],
 * and activations travel transposed, hᵗ [features, B]: the forward zᵗ = Wᵗ·hᵗ, the kernel gradient dWᵗ = dzᵗ·h and the input gradient
 * dhᵗ = W·dzᵗ all have the big matrix on the left and a small batch-sized one on the right,
 * with no flags. Stacking nodes into one batched product was measured too and loses: wasm's
 * batched BatchMatMul (batch > 1) is always the naive loop.
 *
 * Same result as `Learner`'s SGD path up to float rounding: the same batch plan from the same
 * rng (`trainingPlan`), the same labels (`learner.trainingSplit`), softmax cross-entropy averaged
 * over each minibatch, θ ← θ − lr·g per step, and the mean minibatch loss.
 */
export function denseSgd(learner: Learner, layers: readonly DenseLayer[], req: TrainRequest, data: Split, rng: Rng | undefined): ComputeResult {
  checkRequest(req, learner.spec.size);
  if (!isDenseSgd(req)) throw new Error(`denseSgd runs plain SGD only, not ${req.optimizer.name}`);
  if (data.n === 0) return { kind: 'train', params: req.params.slice(), loss: NaN, steps: 0, samplesSeen: 0 };
  const { plan, samplesSeen } = trainingPlan(req, data.n, rng);
  const split = learner.trainingSplit(req, data);
  const p = req.params;
  // Per layer: the kernel transposed [out, in], the bias as a column [out, 1].
  let w: tf.Tensor2D[] = tf.tidy(() =>
    layers.flatMap(({ kernel, bias }) => [
      tf.tensor2d(p.subarray(kernel.offset, kernel.offset + kernel.size), kernel.shape as [number, number]).transpose(),
      tf.tensor2d(p.subarray(bias.offset, bias.offset + bias.size), [bias.size, 1]),
    ]),
  );
  let lossSum: tf.Scalar = tf.scalar(0);
  const negLr = tf.scalar(-req.lr);
  try {
    for (const idx of plan) {
      const next = tf.tidy(() => step(w, minibatch(split, idx, learner.spec.numClasses), negLr, lossSum));
      for (const t of [...w, lossSum]) t.dispose();
      w = next.w;
      lossSum = next.lossSum;
    }
    const loss = (lossSum.dataSync() as Float32Array)[0] / plan.length;
    const params = new Float32Array(learner.spec.size);
    layers.forEach(({ kernel, bias }, i) => {
      const k = tf.transpose(w[2 * i]);
      params.set(k.dataSync() as Float32Array, kernel.offset);
      k.dispose();
      params.set(w[2 * i + 1].dataSync() as Float32Array, bias.offset);
    });
    return { kind: 'train', params, loss, steps: plan.length, samplesSeen };
  } finally {
    for (const t of [...w, lossSum, negLr]) t.dispose();
  }
}

interface Minibatch {
  /** Rows [B, in] and the same transposed [in, B]. */
  x: tf.Tensor2D;
  xT: tf.Tensor2D;
  /** One-hot labels [B, C]. */
  y: tf.Tensor2D;
}

/**
 * The rows `idx` of a split, copied on the host: cheaper than gathering them on the device
 * (a gather and a transpose per step), and the shard needs no device copy at all.
 */
function minibatch(data: Split, idx: Int32Array, classes: number): Minibatch {
  const rows = idx.length;
  const f = data.x.length / data.n; // features per row
  const x = new Float32Array(rows * f);
  const xT = new Float32Array(f * rows);
  const y = new Float32Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    const src = idx[r] * f;
    x.set(data.x.subarray(src, src + f), r * f);
    for (let j = 0; j < f; j++) xT[j * rows + r] = data.x[src + j];
    y[r * classes + data.y[idx[r]]] = 1;
  }
  return { x: tf.tensor2d(x, [rows, f]), xT: tf.tensor2d(xT, [f, rows]), y: tf.tensor2d(y, [rows, classes]) };
}

/** One SGD step on a minibatch; `w` = [Wᵗ, bias column] per layer. Returns the new weights and loss sum. */
function step(w: tf.Tensor2D[], batch: Minibatch, negLr: tf.Scalar, lossSum: tf.Scalar): { w: tf.Tensor2D[]; lossSum: tf.Scalar } {
  const { x: bx, xT, y: by } = batch;
  const depth = w.length / 2;
  // Forward, transposed: each layer's input hᵗ [in, B] and pre-activation zᵗ [out, B].
  const inputs: tf.Tensor2D[] = [xT];
  const pre: tf.Tensor2D[] = [];
  for (let l = 0; l < depth; l++) {
    const z = tf.add(tf.matMul(w[2 * l], inputs[l]), w[2 * l + 1]) as tf.Tensor2D;
    pre.push(z);
    if (l < depth - 1) inputs.push(tf.relu(z));
  }
  // Softmax cross-entropy averaged over the batch, written out (tf.logSumExp is ~8 kernels).
  const logits = tf.transpose(pre[depth - 1]);
  const shifted = tf.sub(logits, tf.max(logits, 1, true));
  const e = tf.exp(shifted);
  const s = tf.sum(e, 1, true);
  const rows = bx.shape[0];
  const loss = tf.div(tf.sum(tf.mul(tf.sub(tf.log(s), shifted), by)), rows) as tf.Scalar;
  // Backward, transposed, every product flag-free with a batch-sized right operand.
  let dz = tf.transpose(tf.mul(tf.sub(tf.div(e, s), by), 1 / rows)) as tf.Tensor2D; // [out, B]
  const next: tf.Tensor2D[] = new Array(w.length);
  for (let l = depth - 1; l >= 0; l--) {
    const h = l === 0 ? bx : tf.transpose(inputs[l]); // [B, in]
    const dW = tf.matMul(dz, h); // [out, in]
    const db = tf.sum(dz, 1, true); // [out, 1]
    if (l > 0) dz = tf.mul(tf.matMul(tf.transpose(w[2 * l]), dz), tf.step(pre[l - 1])) as tf.Tensor2D;
    // tf.train.sgd's update: θ + (−lr)·g.
    next[2 * l] = tf.add(tf.mul(negLr, dW), w[2 * l]);
    next[2 * l + 1] = tf.add(tf.mul(negLr, db), w[2 * l + 1]);
  }
  return { w: next, lossSum: tf.add(lossSum, loss) as tf.Scalar };
}
