import { parseConfig, type ConfigInput } from '../src/core/config.ts';
import { runNodeSimulation } from '../src/sim/nodeRunner.ts';
import type { SimRow } from '../src/sim/simulation.ts';
import { fmt, loadNote, log, mean, median, now, table, type Suite } from './common.ts';

/**
 * FedAMD against FedAvg at equal sampled clients (A = 10 of 20 a round: FedAMD `participation` and
 * FedAvg `fraction` 0.5) and equal local steps (FedAMD's miners take K = `minerSteps` SARAH steps,
 * FedAvg's clients `steps` SGD steps, the same batch), under Dirichlet 0.1. Same data, partition,
 * init, seeds and network. Accuracy per round, bytes (every encoded frame, both directions),
 * rounds and bytes to a target, and simulated time (compute is charged per sample: an anchor's
 * bullseye is a pass over its whole shard, a miner's step costs two gradients). FedAMD's first
 * phase (every node sends a bullseye) is in its bytes and time but is not a round.
 */

interface Run {
  label: string;
  input: ConfigInput;
}

interface Setting {
  name: string;
  input: ConfigInput;
  seeds: (seed: number) => number[];
  target: number;
  marks: number[];
  runs: Run[];
}

const fedavg = (lr: number): Run => ({ label: `FedAvg, C = 0.5, lr ${lr}`, input: { algo: 'fedavg', fraction: 0.5, lr } });
const fedamd = (p: 'auto' | number, lr: number): Run => ({ label: `FedAMD, p = ${p === 'auto' ? 'auto' : p}, lr ${lr}`, input: { algo: 'fedamd', participation: 0.5, anchorProb: p, lr } });

const SETTINGS = (quick: boolean): Setting[] => [
  {
    name: 'blobs, mlp, 20 nodes, dirichlet:0.1',
    input: { dataset: 'blobs', model: 'mlp', nodes: 20, partition: 'dirichlet:0.1', batch: 10, steps: 10, minerSteps: 10, rounds: quick ? 3 : 20, evalSize: 1000 },
    seeds: (s) => (quick ? [s] : [s, s + 1, s + 2]),
    target: 0.95,
    marks: [1, 2, 5, 10, 20],
    runs: [fedavg(0.1), fedamd('auto', 0.1), fedamd(0.2, 0.1)],
  },
  {
    name: 'MNIST 2NN, 20 nodes, dirichlet:0.1',
    input: { dataset: 'mnist', model: '2nn', nodes: 20, partition: 'dirichlet:0.1', batch: 10, steps: 10, minerSteps: 10, rounds: quick ? 2 : 30, evalSize: quick ? 200 : 1000 },
    seeds: (s) => [s],
    target: 0.75,
    marks: [1, 5, 10, 20, 30],
    runs: [fedavg(0.05), fedavg(0.1), fedamd('auto', 0.05), fedamd(0.2, 0.05), fedamd('auto', 0.02)],
  },
];

const accAt = (rows: SimRow[], round: number) => rows.find((r) => r.round === round)?.accuracy ?? NaN;

export const fedamdBench: Suite = {
  name: 'fedamd',
  summary: 'FedAMD (p = auto, p = 0.2) vs FedAvg at 10 of 20 sampled clients and equal local steps, dirichlet:0.1: accuracy per round, bytes, sim time (blobs, MNIST 2NN)',
  async run(opts) {
    const out: string[] = ['## fedamd', ''];
    for (const s of SETTINGS(opts.quick)) {
      const seeds = s.seeds(opts.seed);
      const rounds = s.input.rounds as number;
      const marks = s.marks.filter((m) => m <= rounds);
      const rows: (string | number)[][] = [];
      let refBytes = NaN;
      let refBytesToTarget = NaN;
      for (const run of s.runs) {
        const per = { acc: marks.map(() => [] as number[]), toTarget: [] as number[], bytes: [] as number[], bytesToTarget: [] as number[], time: [] as number[], rejected: 0, reached: 0 };
        const t0 = now();
        for (const seed of seeds) {
          log(`fedamd: ${s.name}: ${run.label}, seed ${seed}`);
          const { rows: simRows, summary } = await runNodeSimulation(parseConfig({ ...s.input, ...run.input, seed }));
          marks.forEach((m, i) => per.acc[i].push(accAt(simRows, m)));
          const hit = simRows.find((r) => r.accuracy >= s.target);
          if (hit) {
            per.reached++;
            per.toTarget.push(hit.round);
            per.bytesToTarget.push(hit.bytesSent);
          }
          per.bytes.push(summary.bytesSent);
          per.time.push(summary.simTimeMs);
          per.rejected += Object.values(summary.rejected).reduce((a, b) => a + b, 0);
        }
        const bytes = mean(per.bytes);
        // Bytes to target over the seeds that reached it (median), and how many did.
        const toTarget = per.reached ? median(per.bytesToTarget) : NaN;
        if (Number.isNaN(refBytes)) {
          refBytes = bytes;
          refBytesToTarget = toTarget;
        }
        rows.push([
          run.label,
          ...per.acc.map((a) => fmt.pct(mean(a), 1)),
          per.reached ? `${fmt.f(median(per.toTarget), 0)} (${per.reached}/${seeds.length})` : `not in ${rounds}`,
          `${fmt.f(bytes / 1e6, 2)} MB`,
          `${fmt.f(bytes / refBytes, 2)}×`,
          per.reached ? `${fmt.f(toTarget / 1e6, 2)} MB` : '–',
          per.reached && Number.isFinite(refBytesToTarget) ? `${fmt.f(toTarget / refBytesToTarget, 2)}×` : '–',
          fmt.sec(mean(per.time)),
          String(per.rejected),
          fmt.sec(now() - t0, 0),
        ]);
      }
      out.push(
        `### ${s.name}, ${rounds} rounds, ${seeds.length === 1 ? `seed ${seeds[0]}` : `mean over seeds ${seeds.join(', ')}`}`,
        '',
        `10 of 20 nodes sampled a round; ${s.input.steps} local steps of batch ${s.input.batch} (FedAvg: SGD; FedAMD miners: SARAH anchored at the mean bullseye). Target ${fmt.pct(s.target, 0)}; bytes and their ratios are against the first row.`,
        '',
        table(['run', ...marks.map((m) => `acc r${m}`), `rounds to ${fmt.pct(s.target, 0)}`, 'bytes', '× first', `bytes to ${fmt.pct(s.target, 0)}`, '× first', 'sim time', 'rejected', 'wall'], rows),
        '',
      );
    }
    out.push(`Measured at ${loadNote()}.`);
    return out.join('\n');
  },
};
