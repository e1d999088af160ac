import { parseConfig, type ConfigInput } from '../src/core/config.ts';
import { runNodeSimulation } from '../src/sim/nodeRunner.ts';
import type { SimRow } from '../src/sim/simulation.ts';
import { fmt, loadNote, log, now, table, type Suite } from './common.ts';

/**
 * DiLoCo's wire precision and streaming, side by side on the same data, seed and init:
 * bytes sent and accuracy for 32 / 16 / 8 / 4-bit outer gradients (and outer steps), Streaming
 * DiLoCo with 4 fragments (τ = 1, α = 0.5) against 1, and FedAvg with the same local work per
 * round (C = 1, `steps` = H, plain SGD at its usual lr). Bytes are the simulator's count of
 * every encoded frame; the ratio column is against DiLoCo at 32 bits on the same setting.
 */

interface Setting {
  name: string;
  input: ConfigInput;
  /** Inner AdamW lr for DiLoCo and the SGD lr for FedAvg. */
  innerLr: number;
  fedLr: number;
  marks: number[];
}

const SETTINGS = (quick: boolean): Setting[] => [
  {
    name: 'blobs, mlp, 20 nodes, dirichlet:0.5',
    input: { dataset: 'blobs', model: 'mlp', nodes: 20, partition: 'dirichlet:0.5', rounds: quick ? 3 : 10, innerSteps: 20, batch: 10 },
    innerLr: 0.01,
    fedLr: 0.1,
    marks: [1, 2, 5, 10],
  },
  {
    name: 'MNIST 2NN, 5 nodes, iid',
    input: { dataset: 'mnist', model: '2nn', nodes: 5, partition: 'iid', rounds: quick ? 2 : 12, innerSteps: 20, batch: 10, evalSize: quick ? 200 : 1000 },
    innerLr: 0.001,
    fedLr: 0.1,
    marks: [1, 3, 6, 12],
  },
];

const VARIANTS: { label: string; input: ConfigInput }[] = [
  { label: 'DiLoCo, 32 bits', input: { algo: 'diloco', quant: 32 } },
  { label: 'DiLoCo, 16 bits', input: { algo: 'diloco', quant: 16 } },
  { label: 'DiLoCo, 8 bits', input: { algo: 'diloco', quant: 8 } },
  { label: 'DiLoCo, 4 bits', input: { algo: 'diloco', quant: 4 } },
  { label: 'Streaming, P = 4, τ = 1, α = 0.5, 32 bits', input: { algo: 'diloco', fragments: 4, overlap: 1, mixAlpha: 0.5, quant: 32 } },
  { label: 'Streaming, P = 4, τ = 1, α = 0.5, 4 bits', input: { algo: 'diloco', fragments: 4, overlap: 1, mixAlpha: 0.5, quant: 4 } },
  { label: 'FedAvg, C = 1, steps = H (SGD)', input: { algo: 'fedavg', fraction: 1 } },
];

const at = (rows: SimRow[], round: number) => rows.find((r) => r.round === round)?.accuracy ?? NaN;

export const diloco: Suite = {
  name: 'diloco',
  summary: 'DiLoCo: bytes and accuracy at 32/16/8/4 bits, streaming 1 vs 4 fragments, FedAvg at equal inner steps (blobs, MNIST 2NN)',
  async run(opts) {
    const out: string[] = ['## diloco', ''];
    for (const s of SETTINGS(opts.quick)) {
      const rows: (string | number)[][] = [];
      let reference = NaN;
      for (const v of VARIANTS) {
        const input: ConfigInput = { ...s.input, ...v.input, seed: opts.seed, innerLr: s.innerLr };
        if (v.input.algo === 'fedavg') Object.assign(input, { steps: s.input.innerSteps, lr: s.fedLr });
        log(`diloco: ${s.name}: ${v.label}`);
        const t0 = now();
        const { rows: simRows, summary } = await runNodeSimulation(parseConfig(input));
        if (Number.isNaN(reference)) reference = summary.bytesSent;
        const rej = Object.values(summary.rejected).reduce((a, b) => a + b, 0);
        rows.push([
          v.label,
          fmt.int(summary.bytesSent),
          fmt.f(summary.bytesSent / reference, 3),
          ...s.marks.filter((m) => m <= summary.rounds).map((m) => fmt.pct(at(simRows, m), 1)),
          fmt.f(summary.loss, 3),
          String(rej),
          fmt.sec(now() - t0, 0),
        ]);
      }
      const marks = s.marks.filter((m) => m <= (s.input.rounds as number));
      out.push(
        `### ${s.name}, H = ${s.input.innerSteps}, B = ${s.input.batch}, ${s.input.rounds} rounds, seed ${opts.seed}`,
        '',
        `DiLoCo: inner AdamW lr ${s.innerLr} (state kept per worker), outer Nesterov η = 0.7, μ = 0.9. FedAvg: SGD lr ${s.fedLr}, the same ${s.input.innerSteps} steps of ${s.input.batch} per round. A round is one outer step of every fragment.`,
        '',
        table(['run', 'bytes sent', '× DiLoCo 32', ...marks.map((m) => `acc r${m}`), 'final loss', 'rejected', 'wall'], rows),
        '',
      );
    }
    out.push(`Measured at ${loadNote()}.`);
    return out.join('\n');
  },
};
