import { parseConfig, type ConfigInput } from '../../src/core/config.ts';
import { makeSynthetic } from '../../src/core/data/synthetic.ts';
import type { Dataset } from '../../src/core/data/types.ts';
import { Learner } from '../../src/core/learn/learner.ts';
import { Rng } from '../../src/core/rng.ts';
import { useNodeBackend } from '../../src/sim/nodeBackend.ts';
import { Simulation } from '../../src/sim/simulation.ts';

/** Blobs and an `mlp` learner on Node's backend: the small, real world the protocol tests simulate in. */
export interface BlobsWorld {
  dataset: Dataset;
  learner: Learner;
  /** A strict simulation of this world (not started); `base` and `input` are config keys. */
  simulation(input: ConfigInput): Simulation;
}

export async function blobsWorld(samples: number, base: ConfigInput = {}, seed = 5): Promise<BlobsWorld> {
  await useNodeBackend('auto', 'mlp');
  const dataset = makeSynthetic('blobs', { samples, classes: 3, noise: 0.15 }, Rng.seed(seed).split('data'));
  const learner = new Learner('mlp', dataset.features, dataset.numClasses);
  return {
    dataset,
    learner,
    simulation: (input) => new Simulation(parseConfig({ dataset: 'blobs', model: 'mlp', partition: 'iid', samples, seed, ...base, ...input }), dataset, learner, dataset.test, { strict: true }),
  };
}
