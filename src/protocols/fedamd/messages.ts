import { z } from 'zod';
import { MODEL_PARAMS, round, type SchemaRegistry } from '../../core/wire/codec.ts';

/** The server's task number: every task it hands out carries a new one, and the answer names it. */
const phase = round;

export const fedamdSchemas: SchemaRegistry = {
  /**
   * Server → client: work at θ_at (these params). An anchor computes its bullseye (the gradient on
   * its shard); a miner takes SARAH steps anchored at `v`, the mean bullseye, which only a miner's
   * task carries.
   */
  'fedamd/task': {
    header: z.object({ at: round, phase, role: z.enum(['anchor', 'miner']) }),
    vectors: { ...MODEL_PARAMS, v: { dtype: 'f32', length: 'model', optional: true } },
  },
  /** Anchor → server: its new bullseye b_i for the task `phase`. */
  'fedamd/bullseye': { header: z.object({ phase }), vectors: { gradient: { dtype: 'f32', length: 'model' } } },
  /** Miner → server: Δ = θ_at − x_K for the task `phase`. */
  'fedamd/delta': { header: z.object({ phase }), vectors: { delta: { dtype: 'f32', length: 'model' } } },
  /** Server → everyone: the run is over at this round; the final global model, so every tab ends on it. */
  'fedamd/done': { header: z.object({ round }), vectors: MODEL_PARAMS },
};
