import { Rng } from '../rng.ts';
import { allFinite } from '../vector.ts';

/**
 * Work a protocol asks of its node's learner: a typed request, answered by id (the protocol
 * emits `{ kind: 'compute', id, round, request }` and gets `{ kind: 'computed', id, result }`).
 * Every request names the parameters it runs at; the driver owns data, batch order and the
 * optimizer state kept under `stateKey`. Batch sizes follow the config's convention: 0 means
 * the whole local shard (B = ∞).
 */
export type ComputeRequest = TrainRequest | LossRequest | GradientRequest;

export type Optimizer =
  | { name: 'sgd' }
  /** Adam (Kingma & Ba) as torch.optim.Adam: weight decay is an L2 term added to the gradient. */
  | { name: 'adam'; beta1: number; beta2: number; eps: number; weightDecay: number }
  /** AdamW (Loshchilov & Hutter) as torch.optim.AdamW: decoupled decay θ ← θ·(1 − lr·weightDecay) before the Adam step. */
  | { name: 'adamw'; beta1: number; beta2: number; eps: number; weightDecay: number }
  /**
   * SARAH steps (Nguyen et al., ICML 2017) anchored at a given direction, as FedAMD's miners take
   * them: x₀ = params, g₀ = `anchor`, x₁ = x₀ − lr·g₀; on each later minibatch B_k of the plan,
   * g_k = g_{k−1} + ∇f(x_k; B_k) − ∇f(x_{k−1}; B_k) (both gradients on the same batch) and
   * x_{k+1} = x_k − lr·g_k. The plan's first minibatch is drawn but not computed: its two points
   * coincide, so its correction is zero. No state is kept across requests.
   */
  | { name: 'sarah'; anchor: Float32Array };

export const SGD: Optimizer = { name: 'sgd' };

/** Adam or AdamW: the optimizers with moments and hyperparameters. */
export type AdamOptimizer = Extract<Optimizer, { name: 'adam' | 'adamw' }>;

/** Adam with torch's defaults (β = (0.9, 0.999), ε = 1e-8, no decay), overridable. */
export function adam(o: Partial<{ beta1: number; beta2: number; eps: number; weightDecay: number }> = {}): AdamOptimizer {
  return { name: 'adam', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, ...o };
}

/** AdamW with torch's defaults (β = (0.9, 0.999), ε = 1e-8, weight decay 0.01), overridable. */
export function adamw(o: Partial<{ beta1: number; beta2: number; eps: number; weightDecay: number }> = {}): AdamOptimizer {
  return { name: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, ...o };
}

/** SARAH steps anchored at `anchor` (a vector in the model's parameter layout). */
export function sarah(anchor: Float32Array): Optimizer {
  return { name: 'sarah', anchor };
}

/** Local training from `params`: `steps` minibatches when steps > 0, else `epochs` reshuffled passes. */
export interface TrainRequest {
  kind: 'train';
  params: Float32Array;
  epochs: number;
  steps: number;
  batch: number;
  lr: number;
  optimizer: Optimizer;
  /**
   * Keeps the optimizer state (Adam's moments and step count) of this node under this key
   * across requests (DiLoCo's inner AdamW). Without it every request starts fresh.
   */
  stateKey?: string;
  /** A label-flipping attacker's training: class y is learned as C − 1 − y (see core/byzantine/attacks.ts). */
  flipLabels?: boolean;
}

/**
 * Forward passes only: the mean loss on one minibatch chosen by `batchSeed` (the same seed
 * and shard give the same batch), at `params`, or at params + eps·z with z ~ N(0, I) over all
 * parameters regenerated from `perturb.seed` (see perturb.ts). `both`: also at params − eps·z,
 * in the same request (SPSA's two probes on one batch).
 */
export interface LossRequest {
  kind: 'loss';
  params: Float32Array;
  batch: number;
  batchSeed: string | number;
  perturb?: { seed: string | number; eps: number; both?: boolean };
}

/** The gradient of the mean loss at `params`, on a minibatch chosen by `batchSeed`, or on the whole shard (batch 0). */
export interface GradientRequest {
  kind: 'gradient';
  params: Float32Array;
  batch: number;
  batchSeed?: string | number;
}

export type ComputeResult =
  | { kind: 'train'; params: Float32Array; loss: number; steps: number; samplesSeen: number }
  /** `loss` at params (+ eps·z when perturbed); `lossMinus` at params − eps·z when both were asked for. */
  | { kind: 'loss'; loss: number; lossMinus?: number; samples: number }
  | { kind: 'gradient'; gradient: Float32Array; loss: number; samples: number };

/** Adam/AdamW state of one node under one key, as flat vectors in the model's parameter layout. */
export interface AdamState {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

/** A node's optimizer states by key (one per virtual node in the simulator, one per tab in the worker). */
export type OptimizerStates = Map<string, AdamState>;

/** The effective minibatch size on a shard of n: 0 or more than n means all n. */
export function effectiveBatch(batch: number, n: number): number {
  return batch > 0 ? Math.min(batch, n) : n;
}

/**
 * Samples one training request goes through on a shard of n: steps·B, or epochs·n. The
 * Learner's batch plan takes exactly this many; the simulator charges time by it before
 * training, and the UI counts throughput by it.
 */
export function plannedSamples(work: { epochs: number; steps: number; batch: number }, n: number): number {
  return work.steps > 0 ? work.steps * effectiveBatch(work.batch, n) : work.epochs * n;
}

/**
 * The cost of a forward-only sample relative to a training sample (forward + backward). A
 * backward pass costs about twice a forward pass (it computes gradients for both the
 * activations and the weights), so forward ≈ 1/3 of forward + backward.
 */
export const FORWARD_SHARE = 1 / 3;

/**
 * The work a request does, in training samples (one forward + backward pass each): training
 * counts its planned samples (SARAH twice each, two gradients per batch, but none for the first
 * batch), a gradient its batch (forward + backward), a loss its batch times FORWARD_SHARE per
 * forward pass (two passes with `both`). The simulator charges `compute` ms per unit.
 */
export function computeWork(req: ComputeRequest, n: number): number {
  switch (req.kind) {
    case 'train':
      if (req.optimizer.name === 'sarah') return 2 * Math.max(0, plannedSamples(req, n) - effectiveBatch(req.batch, n));
      return plannedSamples(req, n);
    case 'gradient':
      return effectiveBatch(req.batch, n);
    case 'loss':
      return effectiveBatch(req.batch, n) * FORWARD_SHARE * (req.perturb?.both ? 2 : 1);
  }
}

/** The minibatch a seed picks: `batch` distinct indices of [0, n), or all of them in order (batch 0 or ≥ n). */
export function chooseBatch(n: number, batch: number, batchSeed: string | number | undefined): Int32Array {
  const all = Int32Array.from({ length: n }, (_, i) => i);
  if (batch <= 0 || batch >= n) return all;
  if (batchSeed === undefined) throw new Error(`a minibatch of ${batch} needs a batchSeed`);
  const rng = new Rng(`batch:${batchSeed}`);
  for (let i = 0; i < batch; i++) {
    const j = i + rng.int(n - i);
    const t = all[i];
    all[i] = all[j];
    all[j] = t;
  }
  return all.slice(0, batch);
}

/** Throws on a request no learner can run: wrong parameter count, or numbers out of their domain. */
export function checkRequest(req: ComputeRequest, size: number): void {
  const fail = (why: string) => {
    throw new Error(`bad ${req.kind} request: ${why}`);
  };
  if (!(req.params instanceof Float32Array) || req.params.length !== size) fail(`params have ${req.params?.length} values, the model has ${size}`);
  if (!Number.isInteger(req.batch) || req.batch < 0) fail(`batch ${req.batch}`);
  if (req.kind === 'train') {
    if (!Number.isInteger(req.steps) || req.steps < 0 || !Number.isInteger(req.epochs) || req.epochs < 0) fail('steps and epochs must be integers ≥ 0');
    if (!(req.lr > 0) || !Number.isFinite(req.lr)) fail(`lr ${req.lr}`);
    const o = req.optimizer;
    if (!['sgd', 'adam', 'adamw', 'sarah'].includes(o?.name)) fail(`unknown optimizer ${(o as { name?: string } | undefined)?.name}`);
    if (o.name === 'sarah') {
      if (!(o.anchor instanceof Float32Array) || o.anchor.length !== size) fail(`the SARAH anchor has ${o.anchor?.length} values, the model has ${size}`);
      if (!allFinite(o.anchor)) fail('the SARAH anchor has non-finite values');
    } else if (o.name !== 'sgd') {
      if (!(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1)) fail('betas must be in [0, 1)');
      if (!(o.eps > 0) || !Number.isFinite(o.eps)) fail(`eps ${o.eps}`);
      if (!(o.weightDecay >= 0) || !Number.isFinite(o.weightDecay)) fail(`weightDecay ${o.weightDecay}`);
    }
  }
  if (req.kind === 'loss' && req.perturb && !Number.isFinite(req.perturb.eps)) fail(`eps ${req.perturb.eps}`);
}
