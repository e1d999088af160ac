/**
 * Secure aggregation adds vectors in Z_{2^32}: a mask is uniform there, so a masked word says
 * nothing, and masks cancel exactly. A client's contribution is its change this round, weighted
 * by its share of the data, as fixed-point integers, plus its sample count:
 *
 *   word i < d:  round(S · (n / M) · clip(Δ_i, ±R))  (two's complement)
 *   word d:      n
 *
 * n is the client's sample count, M the room's bound on any client's (ProtocolContext.maxSamples),
 * so the weight n/M is at most 1; R = SECAGG_RANGE. The sum of m clients' words i < d is at most
 * m·(S·R + ½) in size, and S = 2^k is the largest power of two that keeps that below 2^31, so the
 * sum never wraps; the count word adds at most m·M. Decoding: Σ words / S · M / Σ n is
 * Σ n_k Δ_k / Σ n_k, FedAvg's weighted mean change, up to the rounding m / (2S) · M / Σ n.
 */

/** Each coordinate of a change is cut to [−R, R] before encoding: what makes the overflow bound hold. */
export const SECAGG_RANGE = 16;
const TWO_31 = 2 ** 31;

/** S for a sum of `clients` contributions: 2^⌊log₂((2^31 − m) / (m·R))⌋. */
export function fixedScale(clients: number): number {
  if (!Number.isInteger(clients) || clients < 1) throw new Error('clients must be a positive integer');
  return 2 ** Math.floor(Math.log2((TWO_31 - clients) / (clients * SECAGG_RANGE)));
}

export interface Encoded {
  words: Uint32Array;
  /** Coordinates that were cut to ±R. */
  clipped: number;
}

/** A client's contribution: d weighted change words and its sample count, as above. */
export function encodeContribution(change: Float32Array, samples: number, maxSamples: number, scale: number): Encoded {
  if (!Number.isInteger(samples) || samples < 1 || samples > maxSamples) throw new Error(`sample count ${samples} outside 1..${maxSamples}`);
  const d = change.length;
  const words = new Uint32Array(d + 1);
  const factor = scale * (samples / maxSamples);
  let clipped = 0;
  for (let i = 0; i < d; i++) {
    const v = change[i];
    if (Number.isNaN(v)) throw new Error('NaN in a change');
    const cut = Math.min(SECAGG_RANGE, Math.max(-SECAGG_RANGE, v));
    if (cut !== v) clipped++;
    // A Uint32Array stores a negative integer as its two's complement.
    words[i] = Math.round(cut * factor);
  }
  words[d] = samples;
  return { words, clipped };
}

export type Decoded = { ok: true; change: Float32Array; samples: number } | { ok: false; reason: string };

/**
 * The weighted mean change from the sum of `clients` contributions. The count word must be a
 * sample count `clients` honest clients could have (1..clients·M): a sum that is not one (a
 * client's lie, a wrong mask) is refused rather than applied.
 */
export function decodeSum(sum: Uint32Array, clients: number, maxSamples: number, scale: number): Decoded {
  const d = sum.length - 1;
  const samples = sum[d];
  if (samples < 1 || samples > clients * maxSamples) return { ok: false, reason: `the sum's sample count ${samples} is outside 1..${clients * maxSamples}` };
  const signed = new Int32Array(sum.buffer, sum.byteOffset, d);
  const factor = maxSamples / (samples * scale);
  const change = new Float32Array(d);
  for (let i = 0; i < d; i++) change[i] = signed[i] * factor;
  return { ok: true, change, samples };
}
