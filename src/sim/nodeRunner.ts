import type { Config } from '../core/config.ts';
import { loadDataset, testSubset } from '../core/data/index.ts';
import type { BackendName } from '../core/learn/backend.ts';
import { Learner } from '../core/learn/learner.ts';
import { Rng } from '../core/rng.ts';
import { ThreadedExecutor } from './compute/threads/threadedExecutor.ts';
import { useNodeBackend } from './nodeBackend.ts';
import { Simulation, type SimRow, type SimSummary, type SimulationOptions } from './simulation.ts';

export interface NodeSimulationOptions extends SimulationOptions {
  /** Compute threads: 1 (the default) runs every job on this thread; more spreads them over that many workers, each with its own tfjs. */
  threads?: number;
}

/** Builds a simulation in Node: backend, dataset from disk, one shared learner (evaluation, and compute unless threaded). */
export async function createNodeSimulation(config: Config, options: NodeSimulationOptions = {}): Promise<{ sim: Simulation; backend: BackendName; dispose: () => void }> {
  const { threads = 1, ...simOptions } = options;
  const backend = await useNodeBackend(config.backend, config.model);
  const dataset = await loadDataset(config, 'node');
  const learner = new Learner(config.model, dataset.features, dataset.numClasses);
  const evalSet = testSubset(dataset, config.evalSize, Rng.seed(config.seed).split('eval'));
  const pool =
    threads > 1 && !simOptions.executor ? new ThreadedExecutor({ threads, model: config.model, features: dataset.features, numClasses: dataset.numClasses, backend: config.backend }) : null;
  const sim = new Simulation(config, dataset, learner, evalSet, pool ? { ...simOptions, executor: pool } : simOptions);
  return {
    sim,
    backend,
    dispose: () => {
      pool?.dispose();
      learner.dispose();
    },
  };
}

export async function runNodeSimulation(config: Config, onRow?: (row: SimRow) => void, threads = 1): Promise<{ rows: SimRow[]; summary: SimSummary & { backend: BackendName } }> {
  const { sim, backend, dispose } = await createNodeSimulation(config, { threads });
  if (onRow) sim.onRow(onRow);
  try {
    const summary = sim.run();
    return { rows: sim.rows, summary: { ...summary, backend } };
  } finally {
    dispose();
  }
}
