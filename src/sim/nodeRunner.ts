import type { Config } from '../core/config.ts';
import { loadDataset, testSubset } from '../core/data/index.ts';
import type { BackendName } from '../core/learn/backend.ts';
import { Learner } from '../core/learn/learner.ts';
import { Rng } from '../core/rng.ts';
import type { ComputeExecutor } from './compute/executor.ts';
import { localExecutor } from './compute/localExecutor.ts';
import { ThreadedExecutor } from './compute/threads/threadedExecutor.ts';
import { useNodeBackend } from './nodeBackend.ts';
import { Simulation, type SimRow, type SimSummary, type SimulationOptions } from './simulation.ts';

export interface NodeSimulationOptions extends SimulationOptions {
  /** False (`--dense-sgd off`): every job on the learner, one after another, as before the DenseSgdExecutor. */
  denseSgd?: boolean;
  /** Compute threads: 1 (the default) runs every job on this thread; more spreads them over that many workers, each with its own tfjs. */
  threads?: number;
}

/**
 * Builds a simulation in Node: backend, dataset from disk, one shared learner (evaluation, and
 * compute unless threaded), the DenseSgdExecutor unless told otherwise.
 */
export async function createNodeSimulation(config: Config, options: NodeSimulationOptions = {}): Promise<{ sim: Simulation; backend: BackendName; dispose: () => void }> {
  const { threads = 1, denseSgd = true, ...simOptions } = options;
  const backend = await useNodeBackend(config.backend, config.model);
  const dataset = await loadDataset(config, 'node');
  const learner = new Learner(config.model, dataset.features, dataset.numClasses);
  const evalSet = testSubset(dataset, config.evalSize, Rng.seed(config.seed).split('eval'));
  const pool =
    threads > 1 && !simOptions.executor ? new ThreadedExecutor({ threads, denseSgd, model: config.model, features: dataset.features, numClasses: dataset.numClasses, backend: config.backend }) : null;
  const executor: ComputeExecutor = simOptions.executor ?? pool ?? localExecutor(learner, denseSgd);
  const sim = new Simulation(config, dataset, learner, evalSet, { ...simOptions, executor });
  return {
    sim,
    backend,
    dispose: () => {
      pool?.dispose();
      learner.dispose();
    },
  };
}

export async function runNodeSimulation(config: Config, onRow?: (row: SimRow) => void, options?: NodeSimulationOptions): Promise<{ rows: SimRow[]; summary: SimSummary & { backend: BackendName } }> {
  const { sim, backend, dispose } = await createNodeSimulation(config, options);
  if (onRow) sim.onRow(onRow);
  try {
    const summary = sim.run();
    return { rows: sim.rows, summary: { ...summary, backend } };
  } finally {
    dispose();
  }
}
