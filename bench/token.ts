import { parseConfig, type ConfigInput } from '../src/core/config.ts';
import { Rng } from '../src/core/rng.ts';
import { coefficientOfVariation, walkVisits } from '../src/protocols/token/walk.ts';
import { buildTopology } from '../src/protocols/topology.ts';
import { createNodeSimulation } from '../src/sim/nodeRunner.ts';
import { fmt, loadNote, log, mean, now, table, type Suite } from './common.ts';

/**
 * The token walk, α = 0 (the Metropolis–Hastings base walk) against α = 5 (self-repellent), on a
 * ring and on a random 4-regular graph of 20 nodes.
 * 1. The walk alone (walk.ts, the protocol's own draw): the coefficient of variation of the visit
 *    counts after n steps, averaged over many seeds. No model, so it is cheap and exact.
 * 2. The whole protocol in the simulator on MNIST 2NN with a skewed partition: accuracy of the token
 *    model and visitCv as the walk goes, averaged over a few seeds (same seeds for both α).
 */

const NODES = 20;
const GRAPHS = ['ring', 'kregular:4'];
const ALPHAS = [0, 5];

function walkTable(seeds: number, checkpoints: number[]): string {
  const rows: (string | number)[][] = [];
  for (const spec of GRAPHS)
    for (const alpha of ALPHAS) {
      const cvs = checkpoints.map(() => [] as number[]);
      const unvisited: number[] = [];
      for (let s = 0; s < seeds; s++) {
        const g = buildTopology(spec, Array.from({ length: NODES }, (_, i) => `n${i}`), s);
        const rng = Rng.seed(s).split('bench-walk');
        walkVisits(g, alpha, checkpoints.at(-1)!, () => rng.next(), (step, v) => {
          const k = checkpoints.indexOf(step);
          if (k < 0) return;
          const counts = g.ids.map((id) => v.get(id) ?? 0);
          cvs[k].push(coefficientOfVariation(counts));
          if (k === 0) unvisited.push(counts.filter((c) => c === 0).length);
        });
      }
      rows.push([spec, alpha, ...cvs.map((c) => fmt.f(mean(c), 3)), fmt.f(mean(unvisited), 1)]);
    }
  return table(['graph', 'α', ...checkpoints.map((c) => `visitCv @ ${c}`), `nodes unvisited @ ${checkpoints[0]}`], rows);
}

export const tokenBench: Suite = {
  name: 'token',
  summary: 'token walk, α = 0 vs 5 on a ring and kregular:4 (20 nodes): visitCv over steps (walk alone, many seeds) and accuracy over steps (MNIST 2NN, dirichlet:0.1)',
  async run(opts) {
    const seeds = opts.quick ? 20 : 500;
    const checkpoints = [20, 50, 100, 200, 500];
    log(`token: the walk alone, ${seeds} seeds`);
    const walk = walkTable(seeds, checkpoints);

    const steps = opts.quick ? 40 : 200;
    const evalEvery = opts.quick ? 10 : 20;
    const simSeeds = opts.quick ? [opts.seed] : [opts.seed, opts.seed + 1, opts.seed + 2];
    const base: ConfigInput = opts.quick
      ? { dataset: 'blobs', model: 'mlp', steps: 10 }
      : { dataset: 'mnist', model: '2nn', steps: 20, evalSize: opts.evalSize ?? 1000 };
    const marks = Array.from({ length: steps / evalEvery }, (_, i) => (i + 1) * evalEvery).filter((r) => r === evalEvery || r % (2 * evalEvery) === 0 || r === steps);
    const rows: (string | number)[][] = [];
    let backendUsed = '';
    for (const topology of GRAPHS)
      for (const alpha of ALPHAS) {
        const acc = marks.map(() => [] as number[]);
        const cv = marks.map(() => [] as number[]);
        const wall: number[] = [];
        for (const seed of simSeeds) {
          const config = parseConfig({ ...base, algo: 'token', nodes: NODES, partition: 'dirichlet:0.1', batch: 10, lr: 0.1, rounds: steps, evalEvery, topology, alpha, seed });
          log(`token: ${topology}, α = ${alpha}, seed ${seed}`);
          const { sim, backend, dispose } = await createNodeSimulation(config);
          backendUsed = backend;
          sim.onRow((r) => {
            const k = marks.indexOf(r.round);
            if (k < 0) return;
            acc[k].push(r.accuracy);
            cv[k].push(sim.report()?.values.visitCv ?? NaN);
          });
          const t = now();
          try {
            sim.run();
          } finally {
            dispose();
          }
          wall.push(now() - t);
        }
        rows.push([topology, alpha, ...marks.map((_, k) => `${fmt.pct(mean(acc[k]), 1)} (${fmt.f(mean(cv[k]), 2)})`), fmt.sec(mean(wall), 0)]);
      }
    const c = parseConfig({ ...base, algo: 'token' });
    return [
      '## token',
      '',
      `The walk alone: ${NODES} nodes, the protocol's own draw (walk.ts \`srrwNext\`), mean visitCv over ${seeds} seeds (a new random graph per seed for kregular:4).`,
      '',
      walk,
      '',
      `The protocol in the simulator: ${c.dataset} ${c.model}, ${NODES} nodes, dirichlet:0.1, ${c.steps} local steps of batch 10 at lr 0.1 per visit, ${steps} steps of the walk, evaluated every ${evalEvery} steps on a ${c.evalSize}-example test subset; mean over seeds ${simSeeds.join(', ')} (the same seeds for both α). Cells: accuracy of the token model (visitCv of the visits so far) after that many steps.`,
      '',
      table(['graph', 'α', ...marks.map((m) => `step ${m}`), `wall per run (${backendUsed})`], rows),
      '',
      `Measured at ${loadNote()}.`,
    ].join('\n');
  },
};
