import { parseConfig, type ConfigInput } from '../src/core/config.ts';
import { modelParamCount } from '../src/core/learn/paramCount.ts';
import { createNodeSimulation } from '../src/sim/nodeRunner.ts';
import type { SimRow, SimSummary } from '../src/sim/simulation.ts';
import { fmt, loadNote, log, now, table, type BenchOptions, type Suite } from './common.ts';

/**
 * A single global merge (final=merge, Zhu et al., arXiv 2507.06542) on MNIST 2NN with severe skew
 * (dirichlet:0.1), 20 nodes: decentralized training with little communication, then one average of
 * every final model. Reported: the local models' mean accuracy, the merged model's, the consensus
 * distance the merge removes, and FedAvg (C = 1, the same local work per round) at the same bytes:
 * the accuracy of FedAvg's last evaluated round whose cumulative bytes do not exceed the
 * decentralized run's total (the merge itself, N models to one place and one back, is not counted
 * in either).
 */

const common = (seed: number, quick: boolean): ConfigInput => ({
  dataset: 'mnist',
  model: '2nn',
  nodes: 20,
  partition: 'dirichlet:0.1',
  steps: quick ? 5 : 20,
  batch: 10,
  lr: 0.1,
  evalSize: quick ? 200 : 1000,
  rounds: quick ? 2 : 20,
  final: 'merge',
  seed,
});

const RUNS: { label: string; input: ConfigInput }[] = [
  { label: 'gossip, vca merge (independent inits)', input: { algo: 'gossip', merge: 'vca' } },
  { label: 'gossip, mean merge, shared init', input: { algo: 'gossip', merge: 'mean', init: 'shared' } },
  { label: 'D-PSGD, ring', input: { algo: 'dpsgd', topology: 'ring' } },
  { label: 'D-PSGD, kregular:4', input: { algo: 'dpsgd', topology: 'kregular:4' } },
];

async function simulate(input: ConfigInput): Promise<{ rows: SimRow[]; summary: SimSummary }> {
  const { sim, dispose } = await createNodeSimulation(parseConfig(input));
  try {
    const summary = sim.run();
    return { rows: sim.rows, summary };
  } finally {
    dispose();
  }
}

export const mergeBench: Suite = {
  name: 'merge',
  summary: 'final=merge on MNIST 2NN, dirichlet:0.1, 20 nodes: local mean vs merged accuracy (gossip, D-PSGD) and FedAvg at the same bytes',
  async run(opts: BenchOptions): Promise<string> {
    const c = common(opts.seed, opts.quick);
    const runs: { label: string; s: SimSummary }[] = [];
    for (const run of RUNS) {
      const t = now();
      const { summary: s } = await simulate({ ...c, ...run.input });
      log(`merge: ${run.label}: local ${fmt.pct(s.localAccuracy!)}, merged ${fmt.pct(s.mergedAccuracy!)}, ${fmt.int(s.bytesSent)} B, ${fmt.sec(now() - t)} wall`);
      runs.push({ label: run.label, s });
    }
    // FedAvg just long enough to pass every decentralized run's bytes: a round moves the model to and
    // from each of the N clients, about 2·N·4·d bytes (one round of margin for the frames' headers).
    const t0 = now();
    const perRound = 2 * Number(c.nodes) * 4 * modelParamCount('2nn', 784, 10);
    const fedavgRounds = Math.ceil(Math.max(...runs.map((r) => r.s.bytesSent)) / perRound) + 1;
    const fedavg = await simulate({ ...c, algo: 'fedavg', fraction: 1, rounds: fedavgRounds, final: 'none' });
    log(`merge: fedavg ${fedavg.rows.length} rows, ${fmt.int(fedavg.summary.bytesSent)} B, ${fmt.sec(now() - t0)} wall`);
    const rows: string[][] = [];
    for (const { label, s } of runs) {
      const same = fedavg.rows.filter((r) => r.bytesSent <= s.bytesSent).at(-1);
      rows.push([
        label,
        String(s.rounds),
        fmt.pct(s.localAccuracy!),
        fmt.pct(s.mergedAccuracy!),
        fmt.f(s.consensusRemoved!, 1),
        `${fmt.f(s.bytesSent / 1e6, 1)} MB`,
        same ? `${fmt.pct(same.accuracy)} (round ${same.round}, ${fmt.f(same.bytesSent / 1e6, 1)} MB)` : 'below one FedAvg round',
        JSON.stringify(s.rejected),
      ]);
    }
    const last = fedavg.rows.at(-1)!;
    return [
      '## A single global merge (suite `merge`)',
      '',
      `MNIST 2NN, ${c.nodes} nodes, ${c.partition}, ${c.rounds} rounds of ${c.steps} local steps of batch ${c.batch} at lr ${c.lr}, seed ${opts.seed}; accuracy on a ${c.evalSize}-image test subset. FedAvg: C = 1, the same local work per round, ${last.round} rounds (${fmt.pct(last.accuracy)} at ${fmt.f(last.bytesSent / 1e6, 1)} MB).`,
      '',
      table(['run', 'rounds', 'local models, mean accuracy', 'merged once at the end', 'consensus distance removed', 'bytes sent', 'FedAvg at the same bytes', 'rejected'], rows),
      '',
      `Measured at ${loadNote()}.`,
    ].join('\n');
  },
};
