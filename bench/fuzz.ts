import { allProtocols } from '../src/protocols/index.ts';
import { blobsWorld } from '../test/support/blobs.ts';
import { fuzzHost, fuzzSwarm, recordCorpus } from '../test/fuzz/harness.ts';
import { fmt, log, now, table, type Suite } from './common.ts';

/**
 * The fuzz suite of `npm test` (test/fuzz), longer and with more seeds: every registered protocol's
 * host, as coordinator and as client, fed mutated frames; then honest swarms with one fuzzing
 * peer against the same swarms without it. Heap growth is measured around each host run (with
 * `--expose-gc` it is after a collection; without, it is an upper bound).
 */
export const fuzz: Suite = {
  name: 'fuzz',
  summary: 'mutated frames against every protocol host, and swarms with one fuzzing peer',
  async run(opts) {
    const world = await blobsWorld(600);
    const seeds = opts.quick ? [opts.seed] : [opts.seed, opts.seed + 1, opts.seed + 2];
    const frames = opts.quick ? 1000 : 5000;
    const gc = (globalThis as { gc?: () => void }).gc;
    const hostRows: (string | number)[][] = [];
    let total = 0;
    for (const module of allProtocols()) {
      const corpus = recordCorpus(world, module);
      for (const role of ['coordinator', 'client'] as const) {
        let refused = 0;
        let counted = 0;
        let errors = 0;
        let nonFinite = 0;
        let heap = 0;
        const t0 = now();
        for (const seed of seeds) {
          gc?.();
          const before = process.memoryUsage().heapUsed;
          const r = fuzzHost(world, module, corpus, role, frames, seed);
          gc?.();
          heap = Math.max(heap, process.memoryUsage().heapUsed - before);
          refused += r.codecRefused;
          counted += r.codecCounted;
          errors += r.protocolErrors;
          nonFinite += r.nonFiniteModels;
          total += r.frames;
        }
        const ms = now() - t0;
        log(`fuzz ${module.name} ${role}: ${frames * seeds.length} frames in ${fmt.sec(ms)}`);
        hostRows.push([module.name, role, fmt.int(frames * seeds.length), fmt.int(refused), counted === refused ? 'all' : `${counted} of ${refused}`, errors, nonFinite, `${fmt.f(heap / 2 ** 20, 1)} MB`, fmt.int((frames * seeds.length) / (ms / 1000))]);
      }
    }
    const swarmRows: (string | number)[][] = [];
    for (const name of ['fedavg', 'modest', 'gossip', 'dpsgd', 'fedbuff', 'diloco', 'spsa']) {
      const module = allProtocols().find((m) => m.name === name);
      if (!module) continue;
      const corpus = recordCorpus(world, module);
      for (const seed of seeds) {
        const honest = fuzzSwarm(world, module, corpus, 0, seed);
        const fuzzed = fuzzSwarm(world, module, corpus, 12, seed);
        const s = fuzzed.sim.summary();
        swarmRows.push([name, seed, fmt.int(fuzzed.injected), fmt.pct(honest.sim.rows.at(-1)?.accuracy ?? NaN, 1), fmt.pct(fuzzed.sim.rows.at(-1)?.accuracy ?? NaN, 1), s.rejected['protocol-error'] ?? 0, fuzzed.nonFinite, fmt.int(Object.values(s.rejected).reduce((a, b) => a + b, 0))]);
      }
    }
    return [
      `Host fuzzing: ${fmt.int(total)} mutated frames, seeds ${seeds.join(', ')}. "Counted": the codec-refused frames the host counted (must be all).`,
      '',
      table(['protocol', 'role', 'frames', 'codec refused', 'counted', 'protocol errors', 'non-finite models', 'max heap growth', 'frames/s'], hostRows),
      '',
      'Swarms of five (blobs, 6 rounds), node n1 fuzzing: 12 mutated frames with every frame it sends. Final accuracy without and with it.',
      '',
      table(['protocol', 'seed', 'injected', 'honest accuracy', 'fuzzed accuracy', 'protocol errors', 'non-finite models', 'rejected in all'], swarmRows),
    ].join('\n');
  },
};
