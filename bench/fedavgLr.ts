import { fmt, log, loadNote, median, table, type Suite } from './common.ts';
import { accAt, runPaperSetting } from './fedavgPaper.ts';

/**
 * A quick learning-rate check for the fedavg-paper setting (the paper tuned lr per
 * setting; we cannot afford a full sweep on 2 cores). Same seed, so every lr sees the
 * same client samples and initialization; accuracy after a few IID rounds. Early accuracy
 * favours larger rates, so treat it as a sanity check of the chosen lr, not a tuning.
 */

const LRS = [0.03, 0.1, 0.3];
const MARKS = [1, 2, 3, 5, 8, 10, 15];

export const fedavgLr: Suite = {
  name: 'fedavg-lr',
  summary: 'quick lr check for fedavg-paper: accuracy after a few IID (and shards:2) rounds at lr 0.03 / 0.1 / 0.3',
  async run(opts) {
    const rounds = opts.quick ? 2 : 8;
    const evalSize = opts.evalSize ?? 1000;
    const settings = opts.settings.length ? opts.settings : ['iid'];
    const rows: (string | number)[][] = [];
    const marks = MARKS.filter((m) => m <= rounds);
    for (const partition of settings) {
      for (const lr of LRS) {
        log(`fedavg-lr: ${partition}, lr ${lr}, ${rounds} rounds`);
        const run = await runPaperSetting(partition, lr, evalSize, opts.budgetMin ?? 30, opts.seed, false, rounds);
        rows.push([partition, String(lr), ...marks.map((m) => fmt.pct(accAt(run, m), 1)), fmt.f(run.rows[run.rows.length - 1]?.loss ?? NaN, 3), fmt.sec(median(run.roundMs), 2)]);
      }
    }
    return [
      '## fedavg-lr',
      '',
      `FedAvg MNIST 2NN, K = 100, C = 0.1, E = 1, B = 10, seed ${opts.seed}: accuracy on a ${evalSize}-image test subset after the first ${rounds} rounds, per learning rate.`,
      '',
      table(['partition', 'lr', ...marks.map((m) => `r${m}`), `loss r${rounds}`, 'wall/round'], rows),
      '',
      `Measured at ${loadNote()}.`,
    ].join('\n');
  },
};
