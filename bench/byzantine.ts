import { parseConfig, type ConfigInput } from '../src/core/config.ts';
import { loadDataset, testSubset } from '../src/core/data/index.ts';
import { Learner } from '../src/core/learn/learner.ts';
import { Rng } from '../src/core/rng.ts';
import { useNodeBackend } from '../src/sim/nodeBackend.ts';
import { Simulation } from '../src/sim/simulation.ts';
import { fmt, loadNote, log, now, table, type Suite } from './common.ts';

/**
 * Every attack against every robust rule: FedAvg on MNIST 2NN, 10 nodes (n0 the trusted
 * coordinator, 2 of the other 9 attack: byzantine=0.2), IID and dirichlet:0.5. Each cell is the
 * final accuracy of the global model; the first row is the honest room.
 */

const ATTACKS = ['', '0.2:signflip', '0.2:scale', '0.2:noise', '0.2:labelflip', '0.2:alie'];
const RULES = ['mean', 'median', 'trimmed:0.2', 'krum:2', 'mkrum:2', 'cclip:1'];
const PARTITIONS = ['iid', 'dirichlet:0.5'];

function common(seed: number, quick: boolean, partition: string): ConfigInput {
  return { algo: 'fedavg', dataset: 'mnist', model: '2nn', nodes: 10, partition, steps: quick ? 10 : 50, batch: 10, lr: 0.1, rounds: quick ? 3 : 10, evalSize: quick ? 200 : 1000, evalEvery: 1000, seed };
}

export const byzantine: Suite = {
  name: 'byzantine',
  summary: 'attacks × robust rules, FedAvg MNIST 2NN, 10 nodes with 20% attackers, IID and dirichlet:0.5: final accuracy',
  async run(opts) {
    const out: string[] = ['## byzantine', ''];
    const partitions = opts.settings.length > 0 ? opts.settings : PARTITIONS;
    for (const partition of partitions) {
      const base = common(opts.seed, opts.quick, partition);
      const probe = parseConfig(base);
      await useNodeBackend(probe.backend, probe.model);
      const dataset = await loadDataset(probe, 'node');
      const learner = new Learner(probe.model, dataset.features, dataset.numClasses);
      const evalSet = testSubset(dataset, probe.evalSize, Rng.seed(probe.seed).split('eval'));
      const rows: string[][] = [];
      const t = now();
      try {
        for (const attack of ATTACKS) {
          const cells: string[] = [attack === '' ? 'honest' : attack.slice(4)];
          for (const robust of RULES) {
            const sim = new Simulation(parseConfig({ ...base, byzantine: attack, robust }), dataset, learner, evalSet);
            let s;
            try {
              s = sim.run();
            } finally {
              // Each simulation cuts its own shards: free their device copies, or 72 runs fill the WASM heap.
              for (const n of sim.nodes) learner.release(n.shard);
            }
            log(`byzantine ${partition} ${attack || 'honest'} ${robust}: ${fmt.pct(s.accuracy)}`);
            cells.push(fmt.pct(s.accuracy, 1));
          }
          rows.push(cells);
        }
      } finally {
        learner.dispose();
      }
      out.push(
        `### ${partition}`,
        '',
        `${base.nodes} nodes (n0 the trusted coordinator; 2 of the 9 others attack), ${base.rounds} rounds of ${base.steps} local steps of batch ${base.batch} at lr ${base.lr}, seed ${opts.seed}; accuracy of the final global model on a ${base.evalSize}-image test subset. Attack strengths are the defaults (signflip −4δ, scale 10δ, noise of norm ‖δ‖, ALIE's z from the paper for n = 10, f = 2).`,
        '',
        table(['attack \\ robust', ...RULES], rows),
        '',
        `${fmt.sec(now() - t, 0)} wall for the table.`,
        '',
      );
    }
    out.push(`Measured at ${loadNote()}.`);
    return out.join('\n');
  },
};
