import { parseConfig, type ConfigInput } from '../src/core/config.ts';
import { createNodeSimulation } from '../src/sim/nodeRunner.ts';
import type { SimRow } from '../src/sim/simulation.ts';
import { fmt, log, median, now, table, type BenchOptions, type Suite } from './common.ts';

/**
 * One-byte SPSA against FedAvg: bytes on the wire until the accuracy first reaches a target, on
 * blobs with the mlp (371 parameters), 20 nodes, iid, the simulator's default network. SPSA's
 * rounds are iterations (one probe per node); FedAvg's are rounds of one local epoch. Bytes are
 * the simulator's count of every encoded frame, framing included. Median over seeds.
 */
const TARGETS = [0.85, 0.95];
const RUNS: { label: string; input: ConfigInput; rounds: number }[] = [
  { label: 'spsa (defaults: lr 0.2, ε 1e-3, batch 32, mean)', input: { algo: 'spsa' }, rounds: 120 },
  { label: 'fedavg C = 1 (1 epoch, B = 10, lr 0.1)', input: { algo: 'fedavg', fraction: 1 }, rounds: 20 },
  { label: 'fedavg C = 0.2', input: { algo: 'fedavg', fraction: 0.2 }, rounds: 20 },
];

function firstAt(rows: SimRow[], target: number): SimRow | null {
  return rows.find((r) => r.accuracy >= target) ?? null;
}

export const spsaBench: Suite = {
  name: 'spsa',
  summary: 'one-byte SPSA vs FedAvg: bytes to reach 85% / 95% on blobs, 20 nodes',
  async run(opts: BenchOptions): Promise<string> {
    const seeds = opts.quick ? [opts.seed] : [opts.seed, opts.seed + 1, opts.seed + 2];
    const out: string[][] = [];
    for (const run of RUNS) {
      const per: { rounds: (number | null)[]; bytes: (number | null)[]; time: (number | null)[] }[] = TARGETS.map(() => ({ rounds: [], bytes: [], time: [] }));
      const perRound: number[] = [];
      const consensus: number[] = [];
      for (const seed of seeds) {
        const t0 = now();
        const config = parseConfig({ dataset: 'blobs', model: 'mlp', partition: 'iid', nodes: 20, evalSize: 1000, seed, ...run.input, rounds: opts.quick ? Math.min(run.rounds, 20) : run.rounds });
        const { sim, dispose } = await createNodeSimulation(config);
        try {
          const summary = sim.run();
          TARGETS.forEach((target, i) => {
            const r = firstAt(sim.rows, target);
            per[i].rounds.push(r?.round ?? null);
            per[i].bytes.push(r?.bytesSent ?? null);
            per[i].time.push(r?.simTimeMs ?? null);
          });
          perRound.push(summary.bytesSent / summary.rounds);
          consensus.push(Math.max(...sim.rows.map((r) => r.consensus)));
          log(`${run.label} seed ${seed}: ${summary.rounds} rounds, ${fmt.pct(summary.accuracy)}, ${fmt.int(summary.bytesSent)} B, ${fmt.sec(now() - t0)} wall`);
        } finally {
          dispose();
        }
      }
      const med = (xs: (number | null)[]) => (xs.every((x) => x !== null) ? median(xs as number[]) : NaN);
      out.push([
        run.label,
        ...TARGETS.flatMap((_, i) => [fmt.int(med(per[i].rounds)), fmt.int(med(per[i].bytes)), fmt.sec(med(per[i].time), 2)]),
        fmt.int(median(perRound)),
        fmt.int(median(perRound) / 20),
        Math.max(...consensus) === 0 ? '0' : Math.max(...consensus).toExponential(2),
      ]);
    }
    return [
      `### spsa: bytes to accuracy on blobs (mlp, 371 parameters), 20 nodes, iid; median of ${seeds.length} seed(s)`,
      '',
      table(
        ['algorithm', ...TARGETS.flatMap((t) => [`rounds to ${t * 100}%`, `bytes to ${t * 100}%`, `sim time to ${t * 100}%`]), 'bytes / round', 'bytes / node / round', 'max consensus'],
        out,
      ),
    ].join('\n');
  },
};
