import { z } from 'zod';
import { MODEL_PARAMS, round, type SchemaRegistry } from '../../core/wire/codec.ts';

export const gossipSchemas: SchemaRegistry = {
  /** A node's current model, its age (samples trained on) and the sender's tick. */
  'gossip/model': { header: z.object({ round, age: z.number().min(0).max(1e15) }), vectors: MODEL_PARAMS },
};
