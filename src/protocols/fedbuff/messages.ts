import { z } from 'zod';
import { MODEL_PARAMS, round, type SchemaRegistry } from '../../core/wire/codec.ts';

export const fedbuffSchemas: SchemaRegistry = {
  /** Server → client: train from θ_version (these params). */
  'fedbuff/task': { header: z.object({ version: round }), vectors: MODEL_PARAMS },
  /**
   * Client → server: Δ = θ_version − θ_local for the task of that version. The version is a claim
   * the server checks against the tasks it handed this client.
   */
  'fedbuff/update': { header: z.object({ version: round }), vectors: { delta: { dtype: 'f32', length: 'model' } } },
  /** Server → everyone: the run is over at this version; the final global model, so every tab ends on it. */
  'fedbuff/done': { header: z.object({ round }), vectors: MODEL_PARAMS },
};
