import { ConfigError, configToHash, configToStrings, CONFIG_KEYS, defaultConfig, registeredAlgorithms } from '../core/config.ts';
import { allProtocols } from '../protocols/index.ts';
import { availableParallelism } from 'node:os';
import { parseFlags } from './flags.ts';
import { runNodeSimulation } from './nodeRunner.ts';
import type { SimRow } from './simulation.ts';

/** The usage text: the experiment's keys, then each registered algorithm's own keys with its help. */
function helpText(): string {
  const defaults = configToStrings(defaultConfig()) as Record<string, string>;
  const owned = new Set(allProtocols().flatMap((m) => Object.keys(m.config)));
  const line = (k: string, help?: string) => `  --${k} ${defaults[k] || "''"}${help ? `   ${help}` : ''}`;
  const base = CONFIG_KEYS.filter((k) => !owned.has(k)).map((k) => line(k));
  const algos = allProtocols().map((m) => [`\n${m.name}: ${m.ui.label} (${m.ui.paper})`, ...Object.entries(m.config).map(([k, spec]) => line(k, spec.help))].join('\n'));
  return `Murmuration simulator: N virtual nodes, one process, deterministic.

  npm run sim -- --algo fedavg --dataset mnist --model 2nn --partition shards:2 \\
                 --nodes 100 --fraction 0.1 --epochs 1 --batch 10 --rounds 50 --seed 1
  npm run sim -- --config 'algo=fedavg&dataset=blobs&nodes=8'   (the hash of a shared URL)

  --json     one JSON object per evaluated round, then a summary line
  --quiet    only the summary
  --dense-sgd on|off  off: train one job at a time on the learner (the old path), for comparisons
  --threads  compute threads (default: every core, here ${availableParallelism()}); 1 keeps all compute on one thread.
             Results are the same for any count.
  --help     this text

Config keys (same as the URL hash), with defaults:
${base.join('\n')}

Each algorithm's keys (--algo ${registeredAlgorithms().join('|')}):${algos.join('\n')}
`;
}

const mb = (b: number) => (b / 1e6).toFixed(2);
const pct = (a: number) => (a * 100).toFixed(2);

function tableRow(r: SimRow): string {
  const spread = r.minAccuracy !== undefined ? `  [${pct(r.minAccuracy)}–${pct(r.maxAccuracy!)}]` : '';
  return `${String(r.round).padStart(6)}  ${pct(r.accuracy).padStart(7)}%  ${r.loss.toFixed(4).padStart(8)}  ${mb(r.bytesSent).padStart(10)}  ${(r.simTimeMs / 1000).toFixed(1).padStart(9)}  ${String(r.liveNodes).padStart(5)}  ${r.consensus.toExponential(2).padStart(9)}${spread}`;
}

async function main(): Promise<number> {
  let opts;
  try {
    opts = parseFlags(process.argv.slice(2));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`error: ${e.message}\nRun with --help for the list of flags.\n`);
      return 2;
    }
    throw e;
  }
  if (opts.help) {
    process.stdout.write(helpText());
    return 0;
  }
  const { config, json, quiet, denseSgd, threads } = opts;
  if (!json && !quiet) {
    process.stdout.write(`# config: ${configToHash(config)}\n`);
    process.stdout.write(' round   accuracy      loss     MB sent  sim time s  nodes  consensus\n');
  }
  const { summary } = await runNodeSimulation(config, (row) => {
    if (json) process.stdout.write(JSON.stringify(row) + '\n');
    else if (!quiet) process.stdout.write(tableRow(row) + '\n');
  }, { denseSgd, threads });
  if (json) process.stdout.write(JSON.stringify(summary) + '\n');
  else {
    process.stdout.write(
      `done: ${summary.rounds} rounds (${summary.stopReason}), accuracy ${pct(summary.accuracy)}%, ${mb(summary.bytesSent)} MB sent, ` +
        `${(summary.simTimeMs / 1000).toFixed(1)} s simulated, backend ${summary.backend}, ${(summary.wallMs / 1000).toFixed(1)} s wall\n`,
    );
    const sent = Object.entries(summary.messages).map(([type, n]) => `${type} ${n}`);
    if (sent.length > 0) process.stdout.write(`messages: ${sent.join(', ')}; ${summary.distinctTrainers} distinct node(s) trained in rounds ${summary.diversityFrom}–${summary.diversityTo}\n`);
    const failed = Object.entries(summary.errors);
    if (failed.length > 0) process.stdout.write(`${failed.length} node(s) stopped with an error: ${failed.map(([id, m]) => `${id}: ${m}`).join('; ')}\n`);
    if (summary.mergedAccuracy !== undefined)
      process.stdout.write(
        `final merge: the average of the ${summary.liveNodes} final models scores ${pct(summary.mergedAccuracy)}% (the models themselves: ${pct(summary.localAccuracy!)}% on average); ` +
          `it removes a consensus distance of ${summary.consensusRemoved!.toExponential(2)}\n`,
      );
    if (typeof summary.secaggRounds === 'number')
      process.stdout.write(
        `secure aggregation: ${summary.secaggRounds} sums unmasked, ${summary.secaggAborted} attempts aborted, masks of ${summary.secaggRecovered} dropped clients removed; ` +
          `${summary.secaggExtraBytes} B of keys and shares per client and round (payloads)\n`,
      );
    if (summary.epsilon !== undefined) process.stdout.write(`privacy: (ε, δ) = (${summary.epsilon.toPrecision(4)}, ${summary.delta}) for the node that sent the most updates\n`);
    if (summary.roundsToTarget !== null)
      process.stdout.write(`target ${pct(summary.target!)}% reached at round ${summary.roundsToTarget}, ${mb(summary.bytesToTarget!)} MB, ${(summary.simTimeToTarget! / 1000).toFixed(1)} s\n`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    if (e instanceof ConfigError) {
      process.stderr.write(`error: ${e.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
