import { keyTypes, type Config, type ConfigKeySpec } from '../../core/config.ts';
import { indexBits, rqmDecode, rqmEncode, type RqmParams } from '../../core/privacy/rqm.ts';
import { rqmEpsilon } from '../../core/privacy/rqmAccountant.ts';
import type { Rng } from '../../core/rng.ts';
import { packedDtype, PACKED_DTYPES } from '../../core/wire/quantize.ts';
import type { VectorSchema } from '../../core/wire/codec.ts';
import type { RunFact } from '../protocol.ts';

/**
 * Differentially private updates, shared by the algorithms whose clients send a trained model
 * to someone who averages it (FedAvg, MoDeST): `dp=rqm` sends each update as RQM level indices
 * (src/core/privacy/rqm.ts). A module lists `dpKeys` among its keys, adds `RQM_VECTORS` to its
 * update message, seals what it sends with an `UpdateSealer`, opens what it receives with
 * `openUpdate`, and reports `dpFacts`.
 *
 * The update is the change the client made this round, trained − base (base: the model it
 * trained from), because that is what is small and clippable; the receiver adds the decoded
 * change back to the same base.
 */

export const DP_MODES = ['none', 'rqm'] as const;
/*
 * Defaults (c 0.05, Δ 0.2, m 4, q 0.5): on blobs, FedAvg over 20 nodes still reaches 100% over
 * seeds 1–5 with 2-bit updates, and the default spirals room about 85% (98% without); a larger Δ
 * or smaller q gives a smaller ε and, soon, a model that stops learning (BENCHMARKS.md, rqm).
 */
/** Above 64 levels the exact accountant's cost (∝ m³ per order) outgrows an interactive form. */
export const MAX_RQM_LEVELS = 64;

const onlyWithRqm = (values: Readonly<Record<string, string>>) => values.dp === 'rqm';

export const dpKeys = {
  dp: {
    schema: keyTypes.oneOf(DP_MODES).default('none'),
    label: 'Privacy',
    options: DP_MODES,
    help: 'none: each node sends its trained model as it is. rqm: each node clips its change to the model and rounds every number at random to one of a few levels, so whoever receives it cannot tell much about that node’s data, and it sends only a few bits per number. The ε shown covers a node’s whole update in every round it takes part in, added up over those rounds (smaller is more private); it does not hide how much data a node has or when it takes part.',
  },
  rqmClip: {
    schema: keyTypes.real(1e-6, 100).default(0.05),
    label: 'RQM clip c',
    help: 'Each number of a node’s change is first cut to the range from −c to c. Changes bigger than c lose their tips; a bigger c keeps them but needs wider levels.',
    visible: onlyWithRqm,
  },
  rqmDelta: {
    schema: keyTypes.real(0, 1000).default(0.2),
    label: 'RQM padding Δ',
    help: 'The outermost levels sit Δ beyond ±c. A larger Δ spreads the levels wider: more privacy (smaller ε), more noise in each update.',
    visible: onlyWithRqm,
  },
  rqmLevels: {
    schema: keyTypes.int(2, MAX_RQM_LEVELS).default(4),
    label: 'RQM levels m',
    help: 'How many values each number can be rounded to; each travels as ⌈log₂ m⌉ bits. More levels: finer updates, less privacy.',
    visible: onlyWithRqm,
  },
  rqmKeep: {
    schema: keyTypes.real(0, 1).default(0.5),
    label: 'RQM keep probability q',
    help: 'For every number, each inner level is kept with probability q (the two outer ones always), then the number is rounded to a kept neighbour. Smaller q: more privacy, more noise. q = 1 is plain random rounding, which protects nothing once a level falls between −c and c.',
    visible: onlyWithRqm,
  },
  dpDelta: {
    schema: keyTypes.real(1e-12, 0.1).default(1e-5),
    label: 'Privacy δ',
    help: 'The (ε, δ) guarantee: with probability at least 1 − δ, what a node sent changes the odds of anything by at most a factor e^ε. Pick δ well below 1 / (number of nodes).',
    visible: onlyWithRqm,
  },
} satisfies Record<string, ConfigKeySpec>;

/** The update message's RQM level indices: ⌈log₂ m⌉ bits each, one per parameter, present under `dp=rqm`. */
export const RQM_VECTORS = {
  levels: { dtype: PACKED_DTYPES.slice(0, indexBits(MAX_RQM_LEVELS)), length: 'model', optional: true },
} as const satisfies Record<string, VectorSchema>;

export function rqmParams(config: Config): RqmParams {
  return { clip: config.rqmClip, delta: config.rqmDelta, levels: config.rqmLevels, keep: config.rqmKeep };
}

/** What an update message carries, and the model its receiver will make of it. */
export interface SealedUpdate {
  /** The vectors to put in the message: `params` (the trained model) without privacy, `levels` under RQM. */
  fields: { params: Float32Array } | { levels: { dtype: string; values: Uint8Array } };
  /** The model a receiver reconstructs: the trained model itself, or base + the decoded change. */
  params: Float32Array;
}

/**
 * A node's sending side. Each seal draws fresh randomness from one stream of its own, so no two
 * releases share randomness (the composition over rounds assumes independent draws), and a run
 * is reproducible from the seed.
 */
export class UpdateSealer {
  private readonly rng: Rng;

  constructor(
    private readonly config: Config,
    rng: Rng,
  ) {
    this.rng = rng.split('rqm');
  }

  seal(base: Float32Array, trained: Float32Array): SealedUpdate {
    if (this.config.dp !== 'rqm') return { fields: { params: trained }, params: trained };
    const p = rqmParams(this.config);
    const change = new Float32Array(trained.length);
    for (let i = 0; i < change.length; i++) change[i] = trained[i] - base[i];
    const values = rqmEncode(change, p, this.rng);
    const decoded = rqmDecode(values, p);
    if (!decoded.ok) throw new Error(`RQM produced a bad index: ${decoded.detail}`);
    return { fields: { levels: { dtype: packedDtype(indexBits(p.levels)), values } }, params: addTo(base, decoded.values) };
  }

  /** The training loss to send along with an update: none under RQM, whose guarantee covers the levels only. */
  publicLoss(loss: number): number | null {
    return this.config.dp === 'rqm' || !Number.isFinite(loss) ? null : loss;
  }
}

function addTo(base: Float32Array, change: Float32Array): Float32Array {
  const out = new Float32Array(base.length);
  for (let i = 0; i < out.length; i++) out[i] = base[i] + change[i];
  return out;
}

export type Opened = { ok: true; params: Float32Array } | { ok: false; reason: string };

/**
 * The receiving side: the model an update stands for. Without privacy, the trained model the
 * message carries (`params`). Under RQM, `base` (the model the sender trained from) plus the
 * decoded levels; a level index must be below m (the codec only bounds it by its bit width),
 * and an update that disagrees with the room's privacy setting is refused.
 */
export function openUpdate(config: Config, u: { base: Float32Array; params?: Float32Array; levels?: Uint8Array }): Opened {
  if (config.dp !== 'rqm') {
    if (u.levels) return { ok: false, reason: 'RQM levels in a room without privacy' };
    if (!u.params) return { ok: false, reason: 'update without its model' };
    return { ok: true, params: u.params };
  }
  if (!u.levels) return { ok: false, reason: 'update without RQM levels in a dp=rqm room' };
  const p = rqmParams(config);
  const decoded = rqmDecode(u.levels, p);
  if (!decoded.ok) return { ok: false, reason: `RQM: ${decoded.detail}` };
  return { ok: true, params: addTo(u.base, decoded.values) };
}

const fmtEps = (e: number) => (!Number.isFinite(e) ? '∞ (no guarantee)' : e >= 100 ? e.toFixed(0) : e.toPrecision(3));

/**
 * (ε, δ) for the node with the most updates sent (`trainings`: each training ends in at most one
 * sealed update) of `paramCount` numbers each; nothing without privacy.
 */
export function dpFacts(config: Config, run: { paramCount: number; trainings: number }): RunFact[] {
  if (config.dp !== 'rqm') return [];
  const g = rqmEpsilon(rqmParams(config), run.paramCount, run.trainings, config.dpDelta);
  const text = `ε = ${fmtEps(g.epsilon)} at δ = ${config.dpDelta} after ${run.trainings} update${run.trainings === 1 ? '' : 's'} of ${run.paramCount.toLocaleString('en-US')} numbers`;
  return [
    { key: 'epsilon', value: g.epsilon, label: 'privacy ε', text },
    { key: 'delta', value: config.dpDelta },
  ];
}
