import os from 'node:os';
import { fmt, loadNote, log, median, table, type BenchOptions, type Suite } from './common.ts';
import { timedRun } from './timedRun.ts';

/** One simulator setting, timed as whole CLI processes with each thread count. */
interface Setting {
  label: string;
  args: string[];
}

const SETTINGS: Setting[] = [
  {
    label: 'FedAvg paper round setting (MNIST 2NN, 100 nodes, C = 0.1, E = 1, B = 10, 4 rounds, eval 10 000)',
    args: ['--algo', 'fedavg', '--dataset', 'mnist', '--model', '2nn', '--nodes', '100', '--fraction', '0.1', '--epochs', '1', '--batch', '10', '--lr', '0.1', '--rounds', '4', '--evalSize', '10000'],
  },
  {
    label: 'D-PSGD, MNIST 2NN, 50 nodes, 1 round (E = 1, B = 10)',
    args: ['--algo', 'dpsgd', '--dataset', 'mnist', '--model', '2nn', '--nodes', '50', '--epochs', '1', '--batch', '10', '--rounds', '1'],
  },
];

const QUICK: Setting[] = [{ label: 'FedAvg, blobs, 20 nodes, 3 rounds', args: ['--algo', 'fedavg', '--dataset', 'blobs', '--nodes', '20', '--fraction', '0.5', '--rounds', '3'] }];

interface Run {
  threads: number;
  /** The whole process: start, dataset, backend(s), run, exit. */
  processMs: number;
  /** The simulation's own wall time (summary.wallMs: from building the simulation to the summary). */
  simMs: number;
  accuracy: number;
  /** 1-minute load average just before the run. */
  load: number;
}


async function runCli(args: string[], threads: number): Promise<Run> {
  const load = os.loadavg()[0];
  const { ms, out } = await timedRun(process.execPath, ['--import', 'tsx', 'src/sim/cli.ts', ...args, '--json', '--threads', String(threads)], process.env);
  return { threads, processMs: ms, simMs: out.wallMs, accuracy: out.accuracy, load };
}

export const threads: Suite = {
  name: 'threads',
  summary: 'the simulator CLI with --threads 1 vs 2, interleaved (1,2 then 2,1): FedAvg paper rounds and a 50-node D-PSGD round, MNIST 2NN',
  async run(opts: BenchOptions) {
    const settings = opts.quick ? QUICK : SETTINGS;
    const pairs = opts.reps ?? 2;
    const startLoad = loadNote();
    const sections: string[] = [];
    for (const s of settings) {
      const runs: Run[] = [];
      for (let p = 0; p < pairs; p++) {
        // A/B then B/A, so a load that drifts during the pair hits both counts alike.
        for (const t of p % 2 === 0 ? [1, 2] : [2, 1]) {
          log(`threads: ${s.label}, --threads ${t} (pair ${p + 1}/${pairs})`);
          runs.push(await runCli([...s.args, '--seed', String(opts.seed)], t));
        }
      }
      const acc = new Set(runs.map((r) => r.accuracy));
      if (acc.size !== 1) throw new Error(`threads: ${s.label} gave different accuracies: ${[...acc].join(', ')}`);
      const byThreads = (t: number) => runs.filter((r) => r.threads === t);
      const med = (t: number, f: (r: Run) => number) => median(byThreads(t).map(f));
      const rows = [1, 2].map((t) => [
        String(t),
        byThreads(t).map((r) => fmt.sec(r.processMs)).join(', '),
        fmt.sec(med(t, (r) => r.processMs)),
        fmt.sec(med(t, (r) => r.simMs)),
        t === 1 ? '1.00×' : `${fmt.f(med(1, (r) => r.processMs) / med(2, (r) => r.processMs))}× (sim ${fmt.f(med(1, (r) => r.simMs) / med(2, (r) => r.simMs))}×)`,
        byThreads(t).map((r) => fmt.f(r.load, 1)).join(', '),
      ]);
      sections.push(
        `### ${s.label}\n\n` +
          table(['--threads', 'process wall (each run, in run order)', 'median process', 'median simulation (summary.wallMs)', 'speed-up vs 1', '1-min load before each run'], rows) +
          `\n\nSame final accuracy in every run: ${fmt.pct([...acc][0])}.`,
      );
    }
    return [`## Compute threads (--threads)`, '', `At start: ${startLoad}; at end: ${loadNote()}.`, '', ...sections].join('\n');
  },
};
