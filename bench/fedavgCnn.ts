import { parseConfig } from '../src/core/config.ts';
import { mnistRows, readMnistFilesNode } from '../src/core/data/mnist.ts';
import { createNodeSimulation } from '../src/sim/nodeRunner.ts';
import type { SimRow } from '../src/sim/simulation.ts';
import { fmt, log, loadNote, median, now, table, type Suite } from './common.ts';

/**
 * McMahan et al. 2017, MNIST CNN row: K = 100 clients, C = 0.1, E = 5, B = 10, IID; rounds
 * to 99% test accuracy (paper: 20). Same simulator path as `npm run sim` (the CNN trains on
 * wasm with src/sim/wasmConvGrads.ts), under a wall-clock budget: a round is 30,000 samples
 * of a 1.66 M-parameter CNN, minutes each on a small machine. Accuracy each round is on the
 * `evalSize` test subset; the last global model is also scored on the full test set. The
 * budget is checked between simulated events, and one client's 3,000 samples take minutes.
 */

const PAPER_ROUNDS = 20;
const TARGET = 0.99;
const DEFAULT_BUDGET_MIN = 30;
const DEFAULT_LR = 0.05;

export const fedavgCnn: Suite = {
  name: 'fedavg-cnn',
  summary: 'FedAvg paper, MNIST CNN, 100 clients, C=0.1, E=5, B=10, IID: rounds to 99% (paper 20), under a wall-clock budget (default 30 min)',
  async run(opts) {
    const lr = opts.lr ?? DEFAULT_LR;
    const evalSize = opts.evalSize ?? 1000;
    const budgetMin = opts.budgetMin ?? (opts.quick ? 3 : DEFAULT_BUDGET_MIN);
    const config = parseConfig({ algo: 'fedavg', dataset: 'mnist', model: 'cnn', partition: 'iid', nodes: 100, fraction: 0.1, epochs: 5, batch: 10, lr, rounds: 1000, evalSize, evalEvery: 1, target: TARGET, seed: opts.seed });
    const t0 = now();
    const { sim, backend, dispose } = await createNodeSimulation(config);
    const setupMs = now() - t0;
    let global: Float32Array | null = null;
    sim.onAction = (_node, action) => {
      if (action.kind === 'model' && action.scope === 'global') global = action.params;
    };
    const rows: SimRow[] = [];
    const roundMs: number[] = [];
    const started = now();
    let last = started;
    sim.onRow((row) => {
      const t = now();
      rows.push(row);
      roundMs.push(t - last);
      last = t;
      log(`  fedavg-cnn round ${row.round}: ${fmt.pct(row.accuracy)} (eval ${evalSize}), ${fmt.sec(roundMs.at(-1)!, 0)}/round, ${fmt.sec(t - started, 0)} total`);
    });
    sim.start();
    let more = true;
    while ((more = sim.advance(1)) && now() - started < budgetMin * 60_000) {
      /* one simulated step at a time, so the budget is checked often */
    }
    const stop = !more ? sim.summary().stopReason : 'budget';
    const files = await readMnistFilesNode();
    const full = global ? sim.learner.evaluateSync(global, mnistRows(files, 'test', Array.from({ length: 10000 }, (_, i) => i))).accuracy : NaN;
    const hit = rows.find((r) => r.accuracy >= TARGET)?.round;
    dispose();
    return [
      '## fedavg-cnn',
      '',
      `FedAvg, MNIST CNN (1,663,370 params), K = 100, C = 0.1, E = 5, B = 10, IID, lr ${lr}, seed ${opts.seed}; accuracy each round on a fixed ${evalSize}-image test subset; backend ${backend}; budget ${budgetMin} min. Setup ${fmt.sec(setupMs, 0)} (not in the per-round time).`,
      '',
      table(
        ['rounds done', 'stopped by', 'wall/round (median)', 'last acc (subset)', 'last global, full test', `rounds to ${fmt.pct(TARGET, 0)} (subset)`, 'paper'],
        [[String(rows.length), stop, fmt.sec(median(roundMs), 0), fmt.pct(rows.at(-1)?.accuracy ?? NaN), fmt.pct(full), hit ? String(hit) : `not reached in ${rows.length}`, String(PAPER_ROUNDS)]],
      ),
      '',
      rows.length ? table(['round', ...rows.map((r) => String(r.round))], [['accuracy', ...rows.map((r) => fmt.pct(r.accuracy))]]) : 'No round finished within the budget.',
      '',
      `Measured at ${loadNote()}.`,
    ].join('\n');
  },
};
