import { coordinateMedian, centeredClip, krum, multiKrum, trimmedMean } from './rules.ts';
import { weightedSum, type Params } from '../vector.ts';

/**
 * The `robust=` config value: how a node averages the models it collected.
 *   mean          the weighted mean (FedAvg's n_k weights, the merge's own weights);
 *   median        coordinate-wise median, unweighted;
 *   trimmed:<β>   coordinate-wise β-trimmed mean, 0 ≤ β < 0.5, unweighted;
 *   krum:<f>      Krum for f attackers: one input, whole (weights play no part);
 *   mkrum:<f>     multi-Krum: the n − f best-scored inputs, weighted mean over them;
 *   cclip:<τ>     centered clipping with radius τ around the caller's center, weighted.
 * Weights are a claim an attacker can make large (within the protocols' bounds), so the
 * order-statistics rules (median, trimmed, krum) ignore them; mkrum and cclip, whose
 * selection or clipping already bounds each input, keep them.
 */
export type RobustRule =
  | { kind: 'mean' }
  | { kind: 'median' }
  | { kind: 'trimmed'; beta: number }
  | { kind: 'krum'; f: number }
  | { kind: 'mkrum'; f: number }
  | { kind: 'cclip'; tau: number };

export const ROBUST_RE = /^(mean|median|trimmed:(0?\.\d+|0)|(krum|mkrum):\d{1,4}|cclip:(\d+(\.\d+)?|\.\d+))$/;

export function parseRobust(text: string): RobustRule {
  if (!ROBUST_RE.test(text)) throw new Error(`bad robust rule '${text}'`);
  const [kind, arg] = text.split(':');
  switch (kind) {
    case 'mean':
    case 'median':
      return { kind };
    case 'trimmed':
      return { kind, beta: Number(arg) };
    case 'krum':
    case 'mkrum':
      return { kind, f: Number(arg) };
    default:
      return { kind: 'cclip', tau: Number(arg) };
  }
}

/** Syntax and ranges: β below 0.5, τ above 0. */
export function validRobust(text: string): boolean {
  if (!ROBUST_RE.test(text)) return false;
  const r = parseRobust(text);
  if (r.kind === 'trimmed') return r.beta >= 0 && r.beta < 0.5;
  if (r.kind === 'cclip') return r.tau > 0;
  return true;
}

/**
 * Aggregates `vectors` (in a fixed order) with `rule`. `weights` sum to 1; `center` is where
 * centered clipping starts (the model the inputs were trained from, or the node's own); without
 * one it starts from the coordinate-wise median.
 */
export function robustAverage(rule: RobustRule | string, vectors: readonly Params[], weights: readonly number[], center?: Params): Params {
  const r = typeof rule === 'string' ? parseRobust(rule) : rule;
  if (vectors.length !== weights.length) throw new Error('robustAverage: vectors and weights differ in length');
  switch (r.kind) {
    case 'mean':
      return weightedSum(vectors, weights);
    case 'median':
      return coordinateMedian(vectors);
    case 'trimmed':
      return trimmedMean(vectors, r.beta);
    case 'krum':
      return krum(vectors, r.f);
    case 'mkrum':
      return multiKrum(vectors, weights, r.f);
    case 'cclip':
      return centeredClip(vectors, weights, center ?? coordinateMedian(vectors), r.tau);
  }
}
