import type { Rng } from '../core/rng.ts';
import type { Compute } from '../runtime/ports.ts';
import type { TrainingClient } from './training/trainingClient.ts';

/**
 * A tab's compute port: every request goes to the training worker (or the inline engine). A
 * training request gets the next key of this node's `train` stream for its batch order, as the
 * simulator's virtual nodes do. A rejected request (the learner refused it, the backend broke,
 * the worker died) is reported through `fail`, which puts the node in its error state.
 */
export function liveCompute(training: Pick<TrainingClient, 'compute'>, trainRng: Rng, onTrained?: (samplesSeen: number, ms: number) => void): Compute {
  let trainings = 0;
  return {
    run(request, done, fail) {
      const rngKey = request.kind === 'train' ? trainRng.split(trainings++).key : trainRng.key;
      training.compute(request, rngKey).then(
        ({ result, ms }) => {
          if (result.kind === 'train') onTrained?.(result.samplesSeen, ms);
          done(result);
        },
        (e: unknown) => fail(e instanceof Error ? e.message : String(e)),
      );
    },
  };
}
