import { z } from 'zod';
import { MODEL_PARAMS, round, type SchemaRegistry } from '../../core/wire/codec.ts';
import { RQM_VECTORS } from '../common/privacy.ts';
import { attempt } from '../secagg/messages.ts';

export const fedavgSchemas: SchemaRegistry = {
  /** Coordinator → client: train round `round` from these params (w_{round-1}); under secagg=1 also which attempt of the round, which the client's keys belong to. */
  'fedavg/train': { header: z.object({ round, attempt: attempt.optional() }), vectors: MODEL_PARAMS },
  /** Client → coordinator: the locally trained model and n_k; under dp=rqm, instead of the model, the RQM levels of its change. */
  'fedavg/update': {
    header: z.object({ round, samples: z.number().int().min(1).max(1e8), loss: z.number().nullable() }),
    vectors: { params: { ...MODEL_PARAMS.params, optional: true }, ...RQM_VECTORS },
  },
  /** Coordinator → everyone: the run is over, and this is the final global model, so every tab ends on it. */
  'fedavg/done': { header: z.object({ round }), vectors: MODEL_PARAMS },
};
