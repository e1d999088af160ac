import { parseConfig, type ConfigInput } from '../src/core/config.ts';
import { createNodeSimulation } from '../src/sim/nodeRunner.ts';
import { fmt, loadNote, log, now, table, type BenchOptions, type Suite } from './common.ts';

/**
 * RQM privacy (dp=rqm) against float32 FedAvg: final accuracy, bytes on the wire and the (ε, δ) of
 * a client that trained every round, for a few (m, q) at c = 0.05, plus two larger Δ. FedAvg C = 1,
 * 20 nodes, iid, 20 rounds, same seed and data for every row; bytes count every encoded frame (the
 * coordinator's f32 model to each client each round is unchanged: only the updates shrink).
 */

interface World {
  label: string;
  base: ConfigInput;
  quick: ConfigInput;
}

const WORLDS: World[] = [
  { label: 'blobs, mlp (371 parameters)', base: { dataset: 'blobs', model: 'mlp', rounds: 20 }, quick: { rounds: 5 } },
  { label: 'MNIST, 2NN (199,210 parameters), 20 local steps of batch 10', base: { dataset: 'mnist', model: '2nn', rounds: 20, steps: 20, batch: 10, evalSize: 1000 }, quick: { rounds: 2, steps: 5, evalSize: 200 } },
];

const SETTINGS: { label: string; input: ConfigInput }[] = [
  { label: 'float32 (no privacy)', input: { dp: 'none' } },
  { label: 'm = 4, q = 0.5, Δ = 0.2 (defaults)', input: { dp: 'rqm' } },
  { label: 'm = 4, q = 0.1, Δ = 0.2', input: { dp: 'rqm', rqmKeep: 0.1 } },
  { label: 'm = 16, q = 0.5, Δ = 0.2', input: { dp: 'rqm', rqmLevels: 16 } },
  { label: 'm = 16, q = 0.9, Δ = 0.2', input: { dp: 'rqm', rqmLevels: 16, rqmKeep: 0.9 } },
  { label: 'm = 64, q = 0.5, Δ = 0.2', input: { dp: 'rqm', rqmLevels: 64 } },
  { label: 'm = 4, q = 0.5, Δ = 0.8', input: { dp: 'rqm', rqmDelta: 0.8 } },
  { label: 'm = 4, q = 0.1, Δ = 3.2', input: { dp: 'rqm', rqmKeep: 0.1, rqmDelta: 3.2 } },
];

export const rqmBench: Suite = {
  name: 'rqm',
  summary: 'RQM privacy (dp=rqm) vs float32 FedAvg: accuracy, bytes and ε for a few (m, q, Δ), blobs and MNIST 2NN',
  async run(opts: BenchOptions): Promise<string> {
    const out: string[] = ['## RQM privacy against float32 FedAvg (suite `rqm`)', ''];
    for (const world of WORLDS) {
      const rows: string[][] = [];
      let floatBytes = NaN;
      let rounds = 0;
      for (const s of SETTINGS) {
        const config = parseConfig({ algo: 'fedavg', fraction: 1, nodes: 20, partition: 'iid', seed: opts.seed, ...world.base, ...(opts.quick ? world.quick : {}), ...s.input });
        rounds = config.rounds;
        const t0 = now();
        const { sim, dispose } = await createNodeSimulation(config);
        let summary;
        try {
          summary = sim.run();
        } finally {
          dispose();
        }
        if (s.input.dp === 'none') floatBytes = summary.bytesSent;
        const updateBytes = config.dp === 'rqm' ? `${Math.ceil(Math.log2(config.rqmLevels))} bits` : '32 bits';
        log(`rqm ${world.label} ${s.label}: ${fmt.pct(summary.accuracy)}, ${fmt.int(summary.bytesSent)} B, ε ${summary.epsilon ?? '–'}, ${fmt.sec(now() - t0)} wall`);
        rows.push([
          s.label,
          updateBytes,
          fmt.pct(summary.accuracy),
          fmt.int(summary.bytesSent),
          fmt.f(summary.bytesSent / floatBytes, 3),
          summary.epsilon === undefined ? '–' : Number.isFinite(summary.epsilon) ? fmt.f(summary.epsilon, summary.epsilon >= 100 ? 0 : 2) : '∞',
          JSON.stringify(summary.rejected),
        ]);
      }
      out.push(
        `### ${world.label}, 20 nodes, iid, FedAvg C = 1, ${rounds} rounds, c = 0.05, δ = 1e-5, seed ${opts.seed}`,
        '',
        table(['setting', 'per parameter in an update', 'final accuracy', 'bytes sent', 'bytes vs float32', `ε after ${rounds} updates`, 'rejected'], rows),
        '',
      );
    }
    out.push(`Measured at ${loadNote()}.`);
    return out.join('\n');
  },
};
