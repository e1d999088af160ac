import type { Config } from '../core/config.ts';
import { loadDataset, testSubset } from '../core/data/index.ts';
import type { BackendName } from '../core/learn/backend.ts';
import { Learner } from '../core/learn/learner.ts';
import { Rng } from '../core/rng.ts';
import { useNodeBackend } from './nodeBackend.ts';
import { Simulation, type SimRow, type SimSummary, type SimulationOptions } from './simulation.ts';

/** Builds a simulation in Node: backend, dataset from disk, one shared learner. */
export async function createNodeSimulation(config: Config, options?: SimulationOptions): Promise<{ sim: Simulation; backend: BackendName; dispose: () => void }> {
  const backend = await useNodeBackend(config.backend, config.model);
  const dataset = await loadDataset(config, 'node');
  const learner = new Learner(config.model, dataset.features, dataset.numClasses);
  const evalSet = testSubset(dataset, config.evalSize, Rng.seed(config.seed).split('eval'));
  const sim = new Simulation(config, dataset, learner, evalSet, options);
  return { sim, backend, dispose: () => learner.dispose() };
}

export async function runNodeSimulation(config: Config, onRow?: (row: SimRow) => void): Promise<{ rows: SimRow[]; summary: SimSummary & { backend: BackendName } }> {
  const { sim, backend, dispose } = await createNodeSimulation(config);
  if (onRow) sim.onRow(onRow);
  try {
    const summary = sim.run();
    return { rows: sim.rows, summary: { ...summary, backend } };
  } finally {
    dispose();
  }
}
