import type { Config } from '../../core/config.ts';
import type { TensorSpec } from '../../core/learn/models.ts';
import { moments, weightedSum } from '../../core/vector.ts';
import { robustAverage } from '../../core/robust/aggregate.ts';

/**
 * Gossip merge rules on flat parameter vectors. Every rule takes this node's model and one
 * or more received ones and returns the merged model with its age (samples trained on).
 *
 * - `mean`: the plain mean of all inputs (0.5/0.5 for the usual single received model).
 * - `age`: (t·x + t′·x′)/(t + t′) (Ormándi et al. 2013), generalised to Σ t_k x_k / Σ t_k;
 *   when every age is 0 it is the plain mean.
 * - `vca`: variance-corrected averaging (Tian et al. 2024, arXiv 2404.04616): an average W̄,
 *   then per tensor (kernels and biases; size-1 tensors skipped)
 *   out = (W̄ − mean(W̄))·sqrt((target + ε)/(Var(W̄) + ε)) + mean(W̄), which keeps each
 *   tensor's mean and sets its variance to the target. Per variant:
 *     `others`       W̄ = plain mean of own + received; target = mean Var of the received models,
 *     `self`         W̄ = plain mean of own + received; target = Var of this node's model,
 *     `conservative` W̄ = c·self + (1 − c)·mean(received);
 *                    target = c·Var(self) + (1 − c)·mean Var(received), the same c
 *   (the reference's ConservativeModelAverager with its FollowConservative corrector). With one
 *   received model and c = ½ all three average alike, and `others` is then the reference's
 *   VCA run (conservative ½ averaging, target the received models' variance).
 *   A tensor whose average is constant (Var(W̄) + ε = 0, e.g. all-zero biases with ε = 0)
 *   cannot be rescaled and is left as it is.
 *   Variances are population variances (the reference code's torch.var is the unbiased one;
 *   the ratio, and so the result, differs only through ε).
 *
 * - `mu`: "merge-update" (Ormándi et al. 2013, Alg. 1 with createModel = update(merge(m, lastModel))):
 *   a received model is merged with the model this node received before it (its last-seen model,
 *   initially its own initial model), not with its current one: current ← mean(m, lastSeen),
 *   lastSeen ← m, then the node trains current. Its own trained model travels only by being sent.
 *   Several models received at once (pending during training) are taken in arrival order, one
 *   after another, so the result is the mean of the last two; see `muMerge`.
 *
 * Every rule gives the merged model the age max(t_k) of the models it averaged, as in the
 * age-weighted rule (and Ormándi et al.'s merge).
 *
 * Robustness (`robust=`, core/robust): in `mean`, `age` and `vca` the average — with that rule's
 * weights (equal, ages, or c and (1 − c)/k) — is taken by the robust rule instead, over this
 * node's model and the received ones, centered clipping starting from this node's model. For
 * `vca` the robust average comes first and the variance correction is applied to it, with the
 * same targets as before: robustness decides where the merged model sits, VCA only rescales each
 * tensor around its own mean. A received model's variance enters the `others` and
 * `conservative` targets, and an attacker chooses it: under a robust rule each target is capped
 * at the larger of this node's own variance and the robust average's (see `vcaMerge`).
 * With one received model (the usual gossip step) median and trimmed mean are the mean of two,
 * Krum keeps this node's own model (ties go to the first input), and only cclip limits what one
 * model can do. `mu` merges two received models, not this node's: robust rules do not apply.
 */

export type MergeRule = Config['merge'];
export type VcaVariant = Config['vca'];

export interface AgedModel {
  params: Float32Array;
  /** Samples this model has been trained on (its "age"). */
  age: number;
}

export interface MergeOptions {
  rule: MergeRule;
  variant: VcaVariant;
  /** `conservative`: weight of this node's own model in the average, and of its variance in the target. */
  c: number;
  /** ε in the variance correction. */
  eps: number;
  /** robust=: how the average is taken (default the plain weighted mean). */
  robust?: string;
}

export function mergeOptions(config: Pick<Config, 'merge' | 'vca' | 'c' | 'eps'> & Partial<Pick<Config, 'robust'>>): MergeOptions {
  return { rule: config.merge, variant: config.vca, c: config.c, eps: config.eps, robust: config.robust ?? 'mean' };
}

function checkInputs(own: AgedModel, received: readonly AgedModel[]): void {
  if (received.length === 0) throw new Error('merge: nothing received');
  for (const r of received) if (r.params.length !== own.params.length) throw new Error(`merge: length ${r.params.length} != ${own.params.length}`);
}

/** Plain mean of all models. */
export function meanMerge(models: readonly Float32Array[]): Float32Array {
  if (models.length === 1) return models[0].slice();
  return weightedSum(
    models,
    models.map(() => 1 / models.length),
  );
}

/** t_k / Σ t_k, or equal weights when every age is 0. */
function ageWeights(models: readonly AgedModel[]): number[] {
  const ages = models.map((m) => Math.max(0, m.age));
  const total = ages.reduce((s, t) => s + t, 0);
  return total > 0 ? ages.map((t) => t / total) : ages.map(() => 1 / ages.length);
}

/** Σ t_k x_k / Σ t_k, and age max(t_k); the plain mean when every age is 0. */
export function ageMerge(models: readonly AgedModel[]): AgedModel {
  const ages = models.map((m) => Math.max(0, m.age));
  const total = ages.reduce((s, t) => s + t, 0);
  const params = total > 0 ? weightedSum(
    models.map((m) => m.params),
    ages.map((t) => t / total),
  ) : meanMerge(models.map((m) => m.params));
  return { params, age: Math.max(...ages) };
}

/** Per-tensor population variance. */
export function tensorVariances(params: Float32Array, tensors: readonly TensorSpec[]): number[] {
  return tensors.map((t) => moments(params, t.offset, t.offset + t.size).variance);
}

/** The variance each tensor of the merged model should have, per variant. */
export function vcaTargets(own: Float32Array, received: readonly Float32Array[], tensors: readonly TensorSpec[], variant: VcaVariant, c: number): number[] {
  const self = tensorVariances(own, tensors);
  if (variant === 'self') return self;
  const others = tensors.map(() => 0);
  for (const r of received) tensorVariances(r, tensors).forEach((v, i) => (others[i] += v / received.length));
  if (variant === 'others') return others;
  // c·self + (1 − c)·others, written so that equal variances give exactly that variance.
  return self.map((s, i) => s + (1 - c) * (others[i] - s));
}

/**
 * Rescales each tensor of `params` (in place) around its mean to variance `targets[i]`:
 * (w − m)·sqrt((target + ε)/(Var + ε)) + m. Size-1 tensors and constant tensors are skipped.
 */
export function varianceCorrect(params: Float32Array, tensors: readonly TensorSpec[], targets: readonly number[], eps: number): Float32Array {
  tensors.forEach((t, i) => {
    if (t.size <= 1) return;
    const end = t.offset + t.size;
    const { mean, variance } = moments(params, t.offset, end);
    const denominator = variance + eps;
    if (!(denominator > 0)) return;
    const scale = Math.sqrt(Math.max(0, targets[i] + eps) / denominator);
    if (!Number.isFinite(scale) || scale === 1) return;
    for (let k = t.offset; k < end; k++) params[k] = (params[k] - mean) * scale + mean;
  });
  return params;
}

/**
 * The average that VCA corrects: c·own + (1 − c)·mean(received) for `conservative`, the plain
 * mean of own + received for `others` and `self`.
 */
export function vcaAverage(own: Float32Array, received: readonly Float32Array[], variant: VcaVariant, c: number, robust = 'mean'): Float32Array {
  const weights = variant !== 'conservative' ? [own, ...received].map(() => 1 / (received.length + 1)) : [c, ...received.map(() => (1 - c) / received.length)];
  if (robust !== 'mean') return robustAverage(robust, [own, ...received], weights, own);
  if (variant !== 'conservative') return meanMerge([own, ...received]);
  return weightedSum([own, ...received], weights);
}

/** Variance-corrected average of this node's model and the received ones. */
export function vcaMerge(own: Float32Array, received: readonly Float32Array[], tensors: readonly TensorSpec[], opts: Pick<MergeOptions, 'variant' | 'c' | 'eps' | 'robust'>): Float32Array {
  const avg = vcaAverage(own, received, opts.variant, opts.c, opts.robust);
  let targets = vcaTargets(own, received, tensors, opts.variant, opts.c);
  if ((opts.robust ?? 'mean') !== 'mean') {
    // A received model's variance is the attacker's to choose: under a robust rule the target
    // may undo the averaging's shrinkage, but not spread a tensor beyond this node's own model
    // or the robust average.
    const self = tensorVariances(own, tensors);
    const avgVar = tensorVariances(avg, tensors);
    targets = targets.map((t, i) => Math.min(t, Math.max(self[i], avgVar[i])));
  }
  return varianceCorrect(avg, tensors, targets, opts.eps);
}

/**
 * MU: applies current ← mean(m, lastSeen), lastSeen ← m to each received model m in turn (arrival
 * order). Only the last step's result survives, so it is the mean of the last received model and
 * the one before it (or `lastSeen` if only one arrived), with age the max of the two.
 * Returns the merged model and the new last-seen model.
 */
export function muMerge(lastSeen: AgedModel, received: readonly AgedModel[]): { merged: AgedModel; lastSeen: AgedModel } {
  checkInputs(lastSeen, received);
  const newest = received[received.length - 1];
  const before = received.length > 1 ? received[received.length - 2] : lastSeen;
  return {
    merged: { params: meanMerge([newest.params, before.params]), age: Math.max(0, newest.age, before.age) },
    lastSeen: newest,
  };
}

/**
 * Merges `received` into `own` with the configured rule. `mu` merges with `lastSeen` (the model
 * received before these) instead of `own`; the caller keeps the newest received model as the
 * next `lastSeen`.
 */
export function merge(own: AgedModel, received: readonly AgedModel[], tensors: readonly TensorSpec[], opts: MergeOptions, lastSeen?: AgedModel): AgedModel {
  checkInputs(own, received);
  const all = [own, ...received];
  const age = Math.max(...all.map((m) => Math.max(0, m.age)));
  const robust = opts.robust ?? 'mean';
  switch (opts.rule) {
    case 'mean':
      if (robust !== 'mean') return { params: robustAverage(robust, all.map((m) => m.params), all.map(() => 1 / all.length), own.params), age };
      return { params: meanMerge(all.map((m) => m.params)), age };
    case 'age':
      if (robust !== 'mean') return { params: robustAverage(robust, all.map((m) => m.params), ageWeights(all), own.params), age };
      return ageMerge(all);
    case 'vca':
      return {
        params: vcaMerge(
          own.params,
          received.map((r) => r.params),
          tensors,
          opts,
        ),
        age,
      };
    case 'mu':
      if (!lastSeen) throw new Error('merge: mu needs the last-seen model');
      return muMerge(lastSeen, received).merged;
  }
}
