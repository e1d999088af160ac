import { parseConfig, type ConfigInput } from '../src/core/config.ts';
import { FedBuff } from '../src/protocols/fedbuff/fedbuff.ts';
import { createNodeSimulation } from '../src/sim/nodeRunner.ts';
import type { SimRow } from '../src/sim/simulation.ts';
import { fmt, loadNote, log, now, table, type Suite } from './common.ts';

/**
 * Asynchronous against synchronous aggregation with stragglers: FedBuff (buffered, and the
 * fixed-period variant) against FedAvg with C = 1, on MNIST 2NN over 20 nodes, 30% of which compute
 * 10× slower. Same data, partition, seed, local work per training (50 steps of batch 10), compute
 * and network model. The number that matters is simulated time to the target: FedAvg's every
 * round waits for its slowest client; FedBuff aggregates as soon as K updates are in.
 */

const TARGET = 0.9;

function common(seed: number, quick: boolean): ConfigInput {
  return {
    dataset: 'mnist',
    model: '2nn',
    nodes: 20,
    partition: 'dirichlet:0.5',
    steps: quick ? 10 : 50,
    batch: 10,
    lr: 0.1,
    stragglers: 0.3,
    slowdown: 10,
    compute: 0.5,
    latency: 20,
    evalSize: quick ? 200 : 1000,
    rounds: quick ? 3 : 300,
    target: TARGET,
    seed,
  };
}

const RUNS: { label: string; input: ConfigInput }[] = [
  { label: 'FedAvg, C = 1 (synchronous)', input: { algo: 'fedavg', fraction: 1 } },
  { label: 'FedBuff, concurrency 20, K = 10', input: { algo: 'fedbuff', concurrency: 20, bufferSize: 10 } },
  { label: 'FedBuff, concurrency 10, K = 5', input: { algo: 'fedbuff', concurrency: 10, bufferSize: 5 } },
  { label: 'FedBuff fixed period, concurrency 20, every 300 ms', input: { algo: 'fedbuff', concurrency: 20, aggEvery: 300 } },
];

export const fedbuff: Suite = {
  name: 'fedbuff',
  summary: 'FedBuff (buffered and fixed-period) vs FedAvg C = 1, MNIST 2NN, 20 nodes, 30% stragglers 10× slower: simulated time to 90%',
  async run(opts) {
    const rows: (string | number)[][] = [];
    let syncTime = NaN;
    for (const run of RUNS) {
      const config = parseConfig({ ...common(opts.seed, opts.quick), ...run.input });
      log(`fedbuff: ${run.label}`);
      const { sim, backend, dispose } = await createNodeSimulation(config);
      sim.onRow((r) => log(`  r${r.round}: ${fmt.pct(r.accuracy)}, sim ${fmt.sec(r.simTimeMs)}`));
      const t = now();
      let s;
      try {
        s = sim.run();
      } finally {
        dispose();
      }
      const wall = now() - t;
      const reached: SimRow | undefined = sim.rows.find((r) => r.accuracy >= TARGET);
      const server = sim.nodes[0].host?.protocol;
      const stale = server instanceof FedBuff ? String(server.staleDropped) : '–';
      if (run.input.algo === 'fedavg') syncTime = s.simTimeToTarget ?? NaN;
      rows.push([
        run.label,
        reached ? String(reached.round) : `not in ${s.rounds}`,
        fmt.sec(s.simTimeToTarget ?? NaN),
        s.simTimeToTarget !== null && Number.isFinite(syncTime) ? `${fmt.f(syncTime / s.simTimeToTarget, 1)}×` : '–',
        reached ? `${(reached.bytesSent / 1e6).toFixed(1)} MB` : '–',
        stale,
        JSON.stringify(s.rejected),
        backend,
        fmt.sec(wall, 0),
      ]);
    }
    const c = common(opts.seed, opts.quick);
    return [
      '## fedbuff',
      '',
      `MNIST 2NN, ${c.nodes} nodes, ${c.partition}, ${c.steps} local steps of batch ${c.batch} at lr ${c.lr}, ${Number(c.stragglers) * 100}% stragglers ${c.slowdown}× slower (${c.compute} ms/sample otherwise), latency ${c.latency} ms, seed ${opts.seed}; target ${fmt.pct(TARGET, 0)} on a ${c.evalSize}-image test subset. A round is one server aggregation.`,
      '',
      table(['run', 'rounds to target', 'sim time to target', 'speed-up vs FedAvg', 'bytes to target', 'stale updates dropped', 'rejected', 'backend', 'wall'], rows),
      '',
      `Measured at ${loadNote()}.`,
    ].join('\n');
  },
};
