import '../src/protocols/index.ts';
import { header, log, type BenchOptions, type Suite } from './common.ts';
import { cnnKernels } from './cnnKernels.ts';
import { fedavgCnn } from './fedavgCnn.ts';
import { fedavgLr } from './fedavgLr.ts';
import { fedavgPaper } from './fedavgPaper.ts';
import { throughput } from './throughput.ts';
import { denseSgdBench } from './denseSgd.ts';
import { browser } from './browser.ts';
import { compareScale } from './compareScale.ts';
import { compare } from './compare.ts';
import { diloco } from './diloco.ts';
import { scale } from './scale.ts';
import { spsaBench } from './spsa.ts';
import { fuzz } from './fuzz.ts';
import { fedbuff } from './fedbuff.ts';
import { fedamdBench } from './fedamd.ts';
import { signaling } from './signaling.ts';
import { tokenBench } from './token.ts';
import { rqmBench } from './rqm.ts';
import { mergeBench } from './merge.ts';
import { byzantine } from './byzantine.ts';
import { secaggBench } from './secagg.ts';
import { torchBench } from './torch.ts';
import { splitArgs } from './torch/runs.ts';
import { threads } from './threads.ts';

/**
 * `npm run bench -- [--suite <name>]... [--quick] [--budget-min N] [...]`
 * Markdown on stdout (paste it into BENCHMARKS.md), progress on stderr.
 */

const SUITES: Suite[] = [throughput, denseSgdBench, cnnKernels, fedavgLr, fedavgPaper, fedavgCnn, compare, scale, browser, compareScale, spsaBench, diloco, fedbuff, fedamdBench, signaling, byzantine, fuzz, tokenBench, rqmBench, mergeBench, secaggBench, torchBench, threads];
const DEFAULT_SUITES = ['throughput', 'fedavg-paper'];

const HELP = `Murmuration benchmarks: markdown tables on stdout, progress on stderr.

  npm run bench -- --suite throughput
  npm run bench -- --suite fedavg-paper --budget-min 20
  npm run bench -- --quick                     (every default suite, small budgets)

  --suite <name>     repeatable; default: ${DEFAULT_SUITES.join(', ')}
  --quick            fewer repetitions and short budgets: checks that everything runs
  --budget-min N     wall-clock minutes per long run (fedavg-paper: per setting;
                     default 12 for iid, 8 for shards:2)
  --reps N           repetitions per throughput measurement
  --lr X             learning rate for the FedAvg suites (default 0.1)
  --eval-size N      test subset evaluated each round (FedAvg suites; default 1000)
  --setting P        repeatable; FedAvg partitions to run (iid, shards:2, ...)
  --seed N           default 1
  --cnn-sim          throughput: also time a simulated round of cnn-small (slow on cpu)
  --sim-args "F"     extra flags for the simulator CLI run as a process (suite torch),
                     e.g. --sim-args "--backend cpu"; repeatable; they come after the
                     suite's own flags, so they override them

Suites:
${SUITES.map((s) => `  ${s.name.padEnd(14)} ${s.summary}`).join('\n')}
`;

function parseArgs(argv: string[]): { suites: string[]; opts: BenchOptions } | null {
  const opts: BenchOptions = { quick: false, budgetMin: null, reps: null, lr: null, evalSize: null, settings: [], seed: 1, cnnSim: false, simArgs: [] };
  const suites: string[] = [];
  const num = (flag: string, v: string | undefined) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].includes('=') ? [argv[i].slice(0, argv[i].indexOf('=')), argv[i].slice(argv[i].indexOf('=') + 1)] : [argv[i], undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--help':
      case '-h':
        return null;
      case '--quick':
        opts.quick = true;
        break;
      case '--suite':
        suites.push(value());
        break;
      case '--budget-min':
        opts.budgetMin = num(flag, value());
        break;
      case '--reps':
        opts.reps = Math.round(num(flag, value()));
        break;
      case '--lr':
        opts.lr = num(flag, value());
        break;
      case '--eval-size':
        opts.evalSize = Math.round(num(flag, value()));
        break;
      case '--cnn-sim':
        opts.cnnSim = true;
        break;
      case '--sim-args':
        opts.simArgs.push(...splitArgs(value() ?? ''));
        break;
      case '--setting':
        opts.settings.push(value());
        break;
      case '--seed':
        opts.seed = Math.round(Number(value()));
        break;
      default:
        throw new Error(`unknown argument ${argv[i]} (see --help)`);
    }
  }
  for (const s of suites) if (!SUITES.some((x) => x.name === s)) throw new Error(`unknown suite "${s}"; suites: ${SUITES.map((x) => x.name).join(', ')}`);
  return { suites: suites.length ? suites : DEFAULT_SUITES, opts };
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    return 2;
  }
  if (!parsed) {
    process.stdout.write(HELP);
    return 0;
  }
  const { suites, opts } = parsed;
  process.stdout.write((await header(suites, opts)) + '\n\n');
  for (const name of suites) {
    const suite = SUITES.find((s) => s.name === name)!;
    const t = Date.now();
    log(`suite ${name} started`);
    const md = await suite.run(opts);
    process.stdout.write(`${md}\n\n_${name}: ${((Date.now() - t) / 60000).toFixed(1)} min wall_\n\n`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`error: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
