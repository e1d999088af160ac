import { median } from '../common.ts';

/**
 * Pure parts of the `torch` suite: the one FedAvg setting both sides are given, turned into
 * each side's command line, reading what each process printed, and the timing ratios.
 */

export type TorchModel = '2nn' | 'cnn-small';

/** The FedAvg MNIST setting both processes run. */
export interface TorchSetting {
  model: TorchModel;
  nodes: number;
  fraction: number;
  epochs: number;
  batch: number;
  lr: number;
  rounds: number;
  evalSize: number;
  seed: number;
}

/** Flags of `src/sim/cli.ts`; `extra` (the bench's --sim-args) come last, so they win over ours. */
export function simFlags(s: TorchSetting, extra: readonly string[] = []): string[] {
  return [
    '--algo', 'fedavg', '--dataset', 'mnist', '--model', s.model, '--partition', 'iid',
    '--nodes', String(s.nodes), '--fraction', String(s.fraction), '--epochs', String(s.epochs),
    '--batch', String(s.batch), '--lr', String(s.lr), '--rounds', String(s.rounds),
    '--evalSize', String(s.evalSize), '--evalEvery', '1', '--target', '0', '--seed', String(s.seed),
    '--json', ...extra,
  ];
}

/** Flags of `bench/torch/fedavg_round.py` for the same setting. */
export function torchFlags(s: TorchSetting, dataDir: string): string[] {
  return [
    '--data', dataDir, '--model', s.model, '--nodes', String(s.nodes), '--fraction', String(s.fraction),
    '--epochs', String(s.epochs), '--batch', String(s.batch), '--lr', String(s.lr), '--rounds', String(s.rounds),
    '--eval-size', String(s.evalSize), '--seed', String(s.seed), '--threads', '1',
  ];
}

/** The setting's own simulator flags that `extra` would override (the comparison is then no longer like for like). */
export function overriddenSettingFlags(extra: readonly string[]): string[] {
  const own = new Set(simFlags({ model: '2nn', nodes: 1, fraction: 1, epochs: 1, batch: 1, lr: 1, rounds: 1, evalSize: 1, seed: 1 }).filter((f) => f.startsWith('--')));
  return extra.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]).filter((f) => own.has(f) && f !== '--json');
}

/** `--sim-args "--threads 2 --note 'a b'"` → argv: split on blanks, single or double quotes group. */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|([^\s"']+)/g;
  let current: string | null = null;
  let lastEnd = -1;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const piece = m[1] ?? m[2] ?? m[3];
    // Pieces that touch (--note='a b') belong to one argument.
    if (current !== null && m.index === lastEnd) current += piece;
    else {
      if (current !== null) out.push(current);
      current = piece;
    }
    lastEnd = m.index + m[0].length;
  }
  if (current !== null) out.push(current);
  return out;
}

/** What a run printed: one JSON row per round, then `{"summary": true, ...}` (both sides print this shape). */
export interface RunOutput {
  rounds: number;
  accuracy: number;
  loss: number;
  /** The program's own wall time from after loading the data to the end (the rounds), ms; NaN if it did not say. */
  wallMs: number;
  /** Accuracy after each round, in order. */
  curve: number[];
  summary: Record<string, unknown>;
}

export function parseRunOutput(stdout: string): RunOutput {
  const curve: number[] = [];
  let summary: Record<string, unknown> | null = null;
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    let obj: unknown;
    try {
      obj = JSON.parse(t);
    } catch {
      continue;
    }
    if (typeof obj !== 'object' || obj === null) continue;
    const rec = obj as Record<string, unknown>;
    if (rec.summary === true) summary = rec;
    else if (typeof rec.round === 'number' && typeof rec.accuracy === 'number') curve.push(rec.accuracy);
  }
  if (!summary) throw new Error('no summary line in the output');
  const { rounds, accuracy, loss } = summary;
  if (typeof rounds !== 'number' || typeof accuracy !== 'number' || typeof loss !== 'number') throw new Error('summary line lacks rounds, accuracy or loss');
  if (curve.length !== rounds) throw new Error(`summary says ${rounds} rounds but ${curve.length} round rows were printed`);
  const wallMs = typeof summary.wallMs === 'number' ? summary.wallMs : NaN;
  return { rounds, accuracy, loss, wallMs, curve, summary };
}

export interface PairedTimes {
  oursMedian: number;
  torchMedian: number;
  /** torch / ours of the medians: > 1 means we are faster. */
  ratio: number;
  /** Median of torch / ours per interleaved pair (steadier when the machine's load drifts). */
  pairMedian: number;
  pairMin: number;
  pairMax: number;
}

/** `ours[i]` and `torch[i]` are the two halves of pair i (wall ms). */
export function pairedTimes(ours: readonly number[], torch: readonly number[]): PairedTimes {
  if (ours.length !== torch.length || ours.length === 0) throw new Error('need the same, non-zero number of runs on each side');
  const pairs = ours.map((o, i) => torch[i] / o);
  const oursMedian = median(ours);
  const torchMedian = median(torch);
  return { oursMedian, torchMedian, ratio: torchMedian / oursMedian, pairMedian: median(pairs), pairMin: Math.min(...pairs), pairMax: Math.max(...pairs) };
}
