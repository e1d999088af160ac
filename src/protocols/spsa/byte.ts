import { addNoise, detLn } from '../../core/learn/perturb.ts';

/**
 * One byte per projected gradient (Zelikman et al. 2023): the sign and the log-magnitude
 * k = round(16·ln|g|), in steps of 1/16 nat (about 6% apart).
 *
 * Layout: bit 7 is the sign (1 = negative); bits 0–6 are c. c = 0 means g = 0 (0x00); c in
 * 1..127 means |g| = exp((c − 1 + K_MIN)/16). 0x80 ("minus zero") means *no gradient*: a node
 * whose losses were not finite sends it, and the coordinator's list uses it for a node that sent
 * nothing this iteration. It decodes to NaN and NaN encodes to it, so encode(decode(b)) = b for
 * all 256 bytes (oracle 15).
 *
 * Deviation from ALGORITHMS.md, which clamps k to [−127, 127]: that range with a sign is 510
 * values, nine bits. One byte keeps the sign and 127 magnitude steps, so the window is
 * k ∈ [K_MIN, K_MIN + 126] = [−96, 30], i.e. |g| from e^−6 ≈ 0.0025 to e^1.875 ≈ 6.5. On blobs
 * with the mlp the measured |g| has its 1st percentile near 0.005 and its 99th near 2; larger
 * values are clipped (a gradient clip), smaller ones rounded up to the first step.
 */
export const K_MIN = -96;
export const K_MAX = K_MIN + 126;
/** The byte that carries no gradient (absent, or not finite). */
export const NO_GRADIENT = 0x80;

/**
 * e^x from +, −, ×, ÷ only (so every engine gives the same bits): a Taylor series at x/64,
 * then six squarings. Only used for the 127 levels below, which are fixed at load time.
 */
function detExp(x: number): number {
  const y = x / 64; // |y| < 0.1: 20 terms leave far below one ulp
  // Horner for Σ y^n/n!: 1 + y(1 + y/2(1 + y/3(…))).
  let r = 1;
  for (let k = 20; k >= 1; k--) r = 1 + (r * y) / k;
  for (let i = 0; i < 6; i++) r *= r;
  return r;
}

/** |g| for c = 1..127 (index c). */
const LEVELS: readonly number[] = Array.from({ length: 128 }, (_, c) => (c === 0 ? 0 : detExp((c - 1 + K_MIN) / 16)));

/** g → its byte. NaN → NO_GRADIENT; ±Infinity and large values clip to the largest step. */
export function encodeGradient(g: number): number {
  if (Number.isNaN(g)) return NO_GRADIENT;
  if (g === 0) return 0;
  const sign = g < 0 ? 0x80 : 0;
  const a = Math.abs(g);
  const k = a === Infinity ? K_MAX : Math.round(16 * detLn(a));
  const c = Math.min(K_MAX, Math.max(K_MIN, k)) - K_MIN + 1;
  return sign | c;
}

/** A byte → ĝ: the same number on every node (a fixed table, no Math.exp). NO_GRADIENT → NaN. */
export function decodeGradient(b: number): number {
  if (b === NO_GRADIENT) return NaN;
  const c = b & 0x7f;
  if (c === 0) return 0;
  return b & 0x80 ? -LEVELS[c] : LEVELS[c];
}

/** The perturbation seed of node slot `slot` at iteration `t` of run `runSeed`: seed = f(run seed, t, i). */
export function probeSeed(runSeed: number, t: number, slot: number): string {
  return `spsa:${runSeed}:${t}:${slot}`;
}

/**
 * θ_t from θ_{t−1} and iteration t's published list (one byte per slot, in slot order):
 * θ ← θ − (lr/n)·ĝ·z(seed(t, slot)) for every slot with a gradient, in slot order, where n is the
 * number of such slots ('mean', as the reference code divides by the number of gradients) or 1
 * ('sum', the formula as ALGORITHMS.md writes it). Plain float arithmetic in a fixed order
 * (perturb.ts's addNoise: one float64 multiply-add per value, rounded once to float32), so every
 * node, in Node or any browser, gets the same bits. Returns a new array; `theta` is not changed.
 */
export function applyList(theta: Float32Array, list: Uint8Array, t: number, o: { runSeed: number; lr: number; reduce: 'mean' | 'sum' }): Float32Array {
  const out = theta.slice();
  let n = 0;
  for (const b of list) if (b !== NO_GRADIENT) n++;
  if (n === 0) return out;
  const div = o.reduce === 'mean' ? n : 1;
  for (let slot = 0; slot < list.length; slot++) {
    const b = list[slot];
    if (b === NO_GRADIENT) continue;
    const g = decodeGradient(b);
    if (g === 0) continue;
    addNoise(out, probeSeed(o.runSeed, t, slot), -(o.lr * g) / div, out);
  }
  return out;
}
