import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { performance } from 'node:perf_hooks';

/** Options shared by every suite (parsed by bench/run.ts). */
export interface BenchOptions {
  /** Smaller budgets and fewer repetitions: a fast check that everything runs. */
  quick: boolean;
  /** Wall-clock budget in minutes per long run (overrides each suite's default). */
  budgetMin: number | null;
  /** Repetitions per measurement (overrides the suite default). */
  reps: number | null;
  /** Learning rate for the FedAvg suites (null: suite default). */
  lr: number | null;
  /** Evaluation subset size for the FedAvg suites (null: suite default). */
  evalSize: number | null;
  /** FedAvg partitions to run (empty: all of the suite's settings). */
  settings: string[];
  seed: number;
  /** Also time the CNN's simulator round in the throughput suite (slow on the cpu backend). */
  cnnSim: boolean;
  /** Extra flags for the simulator CLI where a suite runs it as a process (suite `torch`). */
  simArgs: string[];
}

export interface Suite {
  name: string;
  /** One line for --help. */
  summary: string;
  run(opts: BenchOptions): Promise<string>;
}

export const now = (): number => performance.now();

/** Progress goes to stderr so stdout stays a clean markdown report. */
export function log(text: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function mean(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

/** Markdown table; numbers should already be formatted. */
export function table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.map(String).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

export const fmt = {
  int: (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–'),
  f: (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '–'),
  pct: (x: number, digits = 2) => (Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : '–'),
  sec: (ms: number, digits = 1) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(digits)} s` : '–'),
};

function packageVersion(name: string): string {
  try {
    return (createRequire(import.meta.url)(`${name}/package.json`) as { version: string }).version;
  } catch {
    return '?';
  }
}

/** Environment header printed once per run. */
export async function header(suites: readonly string[], opts: BenchOptions): Promise<string> {
  const cpus = os.cpus();
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' / ');
  let wasmFlags = '';
  try {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    wasmFlags = `SIMD ${simd ? 'yes' : 'no'}, threads ${threads ? 'yes' : 'no'}`;
  } catch {
    wasmFlags = 'unknown';
  }
  return [
    `# Murmuration benchmarks`,
    '',
    `- date: ${new Date().toISOString()}`,
    `- suites: ${suites.join(', ')}${opts.quick ? ' (--quick)' : ''}`,
    `- node ${process.version}, ${os.platform()} ${os.arch()}; @tensorflow/tfjs ${packageVersion('@tensorflow/tfjs')}, tfjs-backend-wasm ${packageVersion('@tensorflow/tfjs-backend-wasm')} (${wasmFlags})`,
    `- cores: ${cpus.length} × ${cpus[0]?.model ?? '?'}; load average at start (1/5/15 min): ${load}`,
    `- tfjs backends: the backend src/sim/nodeBackend.ts picks for \`auto\` (wasm, CNNs included); each table says which one ran`,
  ].join('\n');
}

/** Current load, for a note under a table measured on a shared machine. */
export function loadNote(): string {
  return `load average ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')} on ${os.cpus().length} cores`;
}
