import type { Split } from './types.ts';

/**
 * A student's own samples (points clicked on the plane, digits drawn by hand): they become the
 * tab's shard, alone or appended to the generated one. They stay in the tab: only the protocol's
 * model frames travel, as for any shard.
 */

/** `only`: train on the own samples alone; `add`: append them to the generated shard. */
export const OWN_DATA_MODES = ['add', 'only'] as const;
export type OwnDataMode = (typeof OWN_DATA_MODES)[number];

/**
 * At most this many own samples per tab. Every live tab raises the bound on a peer's claimed
 * sample count (ProtocolContext.maxSamples) by this much, with or without own data of its own: a
 * peer cannot tell whether another student drew samples, and an honest update from a tab with
 * the partition's largest shard plus OWN_DATA_CAP drawn samples must not be refused.
 */
export const OWN_DATA_CAP = 500;

/** The bound on any honest live tab's sample count: the partition's largest shard plus the cap. */
export function liveSampleBound(maxShard: number): number {
  return maxShard + OWN_DATA_CAP;
}

/** Why `own` cannot be a shard's rows for data with `features` inputs and `numClasses` classes, or null. */
export function ownDataProblem(own: Split, features: number, numClasses: number): string | null {
  if (!Number.isInteger(own.n) || own.n < 0) return `bad sample count ${own.n}`;
  if (own.n > OWN_DATA_CAP) return `${own.n} own samples; at most ${OWN_DATA_CAP}`;
  if (own.x.length !== own.n * features) return `${own.x.length} values for ${own.n} samples of ${features} features`;
  if (own.y.length !== own.n) return `${own.y.length} labels for ${own.n} samples`;
  for (let i = 0; i < own.x.length; i++) if (!Number.isFinite(own.x[i])) return `value ${i} is not finite`;
  for (let i = 0; i < own.n; i++) if (own.y[i] >= numClasses) return `label ${own.y[i]} of sample ${i}: only ${numClasses} classes`;
  return null;
}

/** The rows a tab trains on: its own samples alone, or the generated shard followed by them. */
export function withOwnData(generated: Split, own: Split, mode: OwnDataMode): Split {
  if (mode === 'only') return { x: own.x.slice(), y: own.y.slice(), n: own.n };
  const x = new Float32Array(generated.x.length + own.x.length);
  x.set(generated.x);
  x.set(own.x, generated.x.length);
  const y = new Uint8Array(generated.n + own.n);
  y.set(generated.y);
  y.set(own.y, generated.n);
  return { x, y, n: generated.n + own.n };
}
