import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { availableParallelism } from 'node:os';
import { blobsWorld } from '../support/blobs.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/core/config.ts';
import type { Dataset, Split } from '../../src/core/data/types.ts';
import { adamw, SGD, type ComputeRequest, type OptimizerStates } from '../../src/core/learn/compute.ts';
import { Learner } from '../../src/core/learn/learner.ts';
import { initialParams } from '../../src/core/learn/models.ts';
import { Rng } from '../../src/core/rng.ts';
import { SequentialExecutor, type ComputeJob } from '../../src/sim/compute/executor.ts';
import { assignJobs } from '../../src/sim/compute/threads/assign.ts';
import { ThreadedExecutor } from '../../src/sim/compute/threads/threadedExecutor.ts';
import { parseFlags } from '../../src/sim/flags.ts';
import { Simulation } from '../../src/sim/simulation.ts';

const run = promisify(execFile);
const cli = (args: string[]) => run('node', ['--import', 'tsx', 'src/sim/cli.ts', ...args], { timeout: 120_000 });
const stripWall = (line: string) => {
  const o = JSON.parse(line) as Record<string, unknown>;
  delete o.wallMs;
  return o;
};

let dataset: Dataset;
let learner: Learner;
let pool: ThreadedExecutor;

beforeAll(async () => {
  ({ dataset, learner } = await blobsWorld(600, {}, 3));
  pool = new ThreadedExecutor({ threads: 2, denseSgd: false, model: 'mlp', features: dataset.features, numClasses: dataset.numClasses, backend: 'auto' });
});

afterAll(() => pool?.dispose());

const rows = (n: number, from: number): Split => ({ x: dataset.train.x.slice(from * 2, (from + n) * 2), y: dataset.train.y.slice(from, from + n), n });

describe('compute threads', () => {
  it('gives the simulator CLI identical JSON with --threads 1 and --threads 2, for FedAvg and D-PSGD', async () => {
    for (const algo of ['fedavg', 'dpsgd']) {
      const args = ['--json', '--algo', algo, '--dataset', 'blobs', '--nodes', '6', '--fraction', '0.5', '--rounds', '3', '--seed', '5'];
      const [one, two] = await Promise.all([cli([...args, '--threads', '1']), cli([...args, '--threads', '2'])]);
      const a = one.stdout.trim().split('\n');
      expect(a.length, algo).toBe(4);
      expect(two.stdout.trim().split('\n').map(stripWall), algo).toEqual(a.map(stripWall));
      expect(JSON.parse(a.at(-1)!)).toMatchObject({ rounds: 3, errors: {} });
    }
  }, 240_000);

  it('takes --threads N, by default one per core, and refuses a count below 1', () => {
    expect(parseFlags([]).threads).toBe(availableParallelism());
    expect(parseFlags(['--threads', '3', '--nodes', '4']).threads).toBe(3);
    for (const bad of ['0', '1.5', 'all']) expect(() => parseFlags(['--threads', bad])).toThrow(ConfigError);
  });

  it('runs a simulation on two workers exactly as on one thread', () => {
    const config = parseConfig({ algo: 'fedavg', dataset: 'blobs', samples: 600, seed: 3, nodes: 6, rounds: 3, fraction: 1 });
    const threaded = new Simulation(config, dataset, learner, dataset.test, { strict: true, executor: pool });
    const single = new Simulation(config, dataset, learner, dataset.test, { strict: true });
    const [a, b] = [threaded.run(), single.run()];
    const strip = (r: { wallMs: number }[]) => r.map(({ wallMs: _w, ...rest }) => rest);
    expect(strip(threaded.rows)).toEqual(strip(single.rows));
    expect(a.accuracy).toBe(b.accuracy);
    expect(a.accuracy).toBeGreaterThan(0.8);
  });

  it('answers failing jobs as failed outcomes, and carries optimizer states across calls like one thread', () => {
    const params = initialParams(learner.spec, Rng.seed(1));
    const train = (stateKey?: string): ComputeRequest => ({ kind: 'train', params, epochs: 1, steps: 0, batch: 10, lr: 0.01, optimizer: stateKey ? adamw() : SGD, stateKey });
    const shards = [rows(40, 0), rows(60, 40), rows(30, 100)];
    const bad: ComputeRequest = { kind: 'gradient', params: new Float32Array(3), batch: 0 };
    const calls = (states: OptimizerStates[]): ComputeJob[][] => {
      const job = (node: number, request: ComputeRequest, k: number): ComputeJob => ({ node, request, shard: shards[node], rng: Rng.seed(9).split(`${node}/${k}`), states: states[node] });
      // Node 0 trains twice with one Adam state in one call (its jobs must stay in order on one worker).
      return [
        [job(0, train('inner'), 0), job(1, train(), 0), job(2, bad, 0), job(0, train('inner'), 1)],
        [job(2, train('inner'), 2), job(0, train('inner'), 3), job(1, { kind: 'loss', params, batch: 0, batchSeed: 1 }, 0)],
      ];
    };
    const seqStates: OptimizerStates[] = [new Map(), new Map(), new Map()];
    const thrStates: OptimizerStates[] = [new Map(), new Map(), new Map()];
    const sequential = new SequentialExecutor(learner);
    const expected = calls(seqStates).map((c) => sequential.runMany(c));
    const got = calls(thrStates).map((c) => pool.runMany(c));
    expect(got).toEqual(expected);
    expect(got[0][2].ok).toBe(false);
    expect(got[0][2].ok === false && got[0][2].error).toMatch(/3 values|parameters|size/);
    expect(thrStates).toEqual(seqStates);
    // Node 0: three AdamW requests of 40 samples in batches of 10.
    expect(thrStates[0].get('inner')!.step).toBe(3 * 4);
  });

  it('throws a clear error, not a hang, when a worker dies', () => {
    const broken = new ThreadedExecutor({ threads: 1, denseSgd: false, model: 'no-such-model' as 'mlp', features: 2, numClasses: 3, backend: 'auto' });
    const job: ComputeJob = { node: 0, request: { kind: 'loss', params: new Float32Array(1), batch: 0, batchSeed: 1 }, shard: rows(10, 0), states: new Map() };
    expect(() => broken.runMany([job])).toThrow(/^compute worker 0 failed: \S/);
    // It stays broken rather than waiting on a dead worker again.
    expect(() => broken.runMany([job])).toThrow(/compute worker 0 failed/);
    broken.dispose();
  });

  it('splits jobs deterministically: one worker per node, jobs in order, balanced by planned work', () => {
    const shard = (n: number): Split => ({ x: new Float32Array(2 * n), y: new Uint8Array(n), n });
    const t = (node: number, n: number): ComputeJob => ({ node, shard: shard(n), states: new Map(), request: { kind: 'train', params: new Float32Array(1), epochs: 1, steps: 0, batch: 10, lr: 0.1, optimizer: SGD } });
    const jobs = [t(0, 100), t(1, 300), t(2, 100), t(0, 100), t(3, 100), t(4, 100)];
    const shares = assignJobs(jobs, 2);
    expect(shares).toEqual(assignJobs(jobs, 2));
    // Largest first: node 1 (300) → w0, node 0 (200) → w1, node 2 → w1 (300), node 3 → w0 (tie: lower worker), node 4 → w1.
    expect(shares).toEqual([[1, 4], [0, 2, 3, 5]]);
    for (const share of shares) expect(share).toEqual([...share].sort((a, b) => a - b));
    expect(assignJobs(jobs, 1)).toEqual([[0, 1, 2, 3, 4, 5]]);
    expect(assignJobs(jobs, 8).filter((s) => s.length > 0)).toHaveLength(5);
  });
});
