import { z } from 'zod';
import type { SchemaRegistry, VectorSchema } from '../../core/wire/codec.ts';

const sync = z.number().int().min(1).max(1e9);

/** An outer gradient or an outer step: one fragment of the model, at the room's `quant` bits (f32, f16, or scaled i8/i4). */
const FRAGMENT: VectorSchema = { dtype: ['f32', 'f16', 'i8', 'i4'], length: 'model', scaled: true, fragment: true };

export const dilocoSchemas: SchemaRegistry = {
  /**
   * Coordinator → worker: sync `sync` begins (train on to it). It carries either the whole
   * global model (`full`: a worker that joined, fell behind or missed the previous sync) or the
   * outer step of the previous sync's fragment, which a worker that took part in that sync adds
   * to its copy of θ and mixes into its own model. `done`: the run is over; apply and stop.
   */
  'diloco/sync': {
    header: z.object({ sync, full: z.boolean(), done: z.boolean() }),
    vectors: { theta: { dtype: 'f32', length: 'model', optional: true }, update: { ...FRAGMENT, optional: true } },
  },
  /** Worker → coordinator: its outer gradient Δ_i = θ − θ_i on sync `sync`'s fragment. */
  'diloco/delta': { header: z.object({ sync }), vectors: { delta: FRAGMENT } },
};
