import { z } from 'zod';
import { MODEL_PARAMS, round, type SchemaRegistry } from '../../core/wire/codec.ts';

export const dpsgdSchemas: SchemaRegistry = {
  /** x_i at the start of round `round`, sent to every neighbour of that round. */
  'dpsgd/model': { header: z.object({ round: round.min(1) }), vectors: MODEL_PARAMS },
};
