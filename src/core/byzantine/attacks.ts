import type { Rng } from '../rng.ts';
import type { Params } from '../vector.ts';

/**
 * Byzantine attacks on a model update. An attacker follows its protocol; only the model it
 * trains and sends changes: from `start` (the model it trained from) it trains to `trained`,
 * with update δ = trained − start, and sends start + attack(δ) instead.
 *
 *   signflip[:k]   −k·δ (default k = 4: 20% of the room sending −4δ cancels the other 80%)
 *   scale[:k]      k·δ (default k = 10)
 *   noise[:k]      a Gaussian vector of norm k·‖δ‖ (default k = 1), no training signal at all
 *   labelflip      trains on labels y → C − 1 − y (the learner does it: TrainRequest.flipLabels); δ is sent as is
 *   alie[:z]       "a little is enough" (Baruch et al. 2019): μ − z·σ per coordinate, μ and σ the
 *                  mean and standard deviation of the honest updates; default z from the paper,
 *                  z = Φ⁻¹((n − s)/n) with s = ⌊n/2 + 1⌋ − f (see `alieZ`)
 */
export const ATTACKS = ['signflip', 'scale', 'noise', 'labelflip', 'alie'] as const;
export type AttackName = (typeof ATTACKS)[number];

export const DEFAULT_STRENGTH: Record<Exclude<AttackName, 'labelflip' | 'alie'>, number> = { signflip: 4, scale: 10, noise: 1 };

export interface Attack {
  name: AttackName;
  /** k for signflip, scale and noise; z for alie (undefined: the paper's z for the room). */
  strength?: number;
}

export interface ByzantineSpec extends Attack {
  /** The share of the room's nodes that attack. */
  fraction: number;
}

export const BYZANTINE_RE = new RegExp(`^(\\d*\\.?\\d+):(${ATTACKS.join('|')})(:(\\d*\\.?\\d+))?$`);

/** `byzantine=<fraction>:<attack>[:<strength>]`, or '' for an honest room. */
export function parseByzantine(text: string): ByzantineSpec | null {
  if (text === '') return null;
  if (!BYZANTINE_RE.test(text)) throw new Error(`bad byzantine spec '${text}'`);
  const [fraction, name, strength] = text.split(':');
  return { fraction: Number(fraction), name: name as AttackName, ...(strength !== undefined ? { strength: Number(strength) } : {}) };
}

export function validByzantine(text: string): boolean {
  if (text === '') return true;
  if (!BYZANTINE_RE.test(text)) return false;
  const s = parseByzantine(text)!;
  return s.fraction >= 0 && s.fraction <= 1 && (s.name !== 'labelflip' || s.strength === undefined);
}

/**
 * Which nodes attack: round(fraction · |eligible|) of them, drawn from the seed, so every run
 * and every tab computing it agree. `eligible` excludes a coordinator (the server is trusted).
 */
export function chooseAttackers(fraction: number, eligible: readonly string[], rng: Rng): Set<string> {
  const count = Math.round(fraction * eligible.length);
  return new Set(rng.sample([...eligible].sort(), count));
}

/** Standard normal CDF, via erf (Abramowitz–Stegun 7.1.26, |error| < 1.5e-7). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(x) / Math.SQRT2));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

/** Φ⁻¹(p) by bisection on `normalCdf`. */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`normalQuantile(${p})`);
  let lo = -10;
  let hi = 10;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * ALIE's z_max (Baruch et al. 2019, §3): with n workers of which f attack, s = ⌊n/2 + 1⌋ − f
 * honest workers must be "won over", and z_max = Φ⁻¹((n − s)/n). Clamped to [0.1, 3] so small
 * or odd rooms still get a usable shift.
 */
export function alieZ(n: number, f: number): number {
  const s = Math.floor(n / 2 + 1) - f;
  const p = (n - s) / n;
  if (!(p > 0 && p < 1)) return 1;
  return Math.min(3, Math.max(0.1, normalQuantile(p)));
}

/** Per-coordinate mean and standard deviation of some updates (float64). */
export function spread(updates: readonly Params[]): { mean: Float64Array; std: Float64Array } {
  const d = updates[0].length;
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (const u of updates) for (let i = 0; i < d; i++) mean[i] += u[i] / updates.length;
  for (const u of updates) for (let i = 0; i < d; i++) std[i] += (u[i] - mean[i]) ** 2 / updates.length;
  for (let i = 0; i < d; i++) std[i] = Math.sqrt(std[i]);
  return { mean, std };
}

/**
 * The model an attacker sends: start + attack(trained − start). `honest` are the honest
 * updates ALIE may use (its own included when it has nothing else); `z` is ALIE's shift.
 */
export function poison(attack: Attack, start: Params, trained: Params, rng: Rng, honest: readonly Params[] = [], z = 1): Params {
  const d = start.length;
  const out = new Float32Array(d);
  switch (attack.name) {
    case 'labelflip':
      return trained;
    case 'signflip':
    case 'scale': {
      const k = attack.strength ?? DEFAULT_STRENGTH[attack.name];
      const factor = attack.name === 'signflip' ? -k : k;
      for (let i = 0; i < d; i++) out[i] = start[i] + factor * (trained[i] - start[i]);
      return out;
    }
    case 'noise': {
      const k = attack.strength ?? DEFAULT_STRENGTH.noise;
      let norm = 0;
      for (let i = 0; i < d; i++) norm += (trained[i] - start[i]) ** 2;
      const g = Float64Array.from({ length: d }, () => rng.normal());
      let gnorm = 0;
      for (let i = 0; i < d; i++) gnorm += g[i] * g[i];
      const scale = gnorm > 0 ? (k * Math.sqrt(norm)) / Math.sqrt(gnorm) : 0;
      for (let i = 0; i < d; i++) out[i] = start[i] + scale * g[i];
      return out;
    }
    case 'alie': {
      const own = Float32Array.from(trained, (x, i) => x - start[i]);
      const { mean, std } = spread(honest.length > 0 ? honest : [own]);
      const shift = attack.strength ?? z;
      for (let i = 0; i < d; i++) out[i] = start[i] + mean[i] - shift * std[i];
      return out;
    }
  }
}
