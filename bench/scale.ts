import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig, type Config } from '../src/core/config.ts';
import { loadDataset, testSubset } from '../src/core/data/index.ts';
import { Learner } from '../src/core/learn/learner.ts';
import { Rng } from '../src/core/rng.ts';
import { useNodeBackend } from '../src/sim/nodeBackend.ts';
import { Simulation, type SimRow } from '../src/sim/simulation.ts';
import { fmt, loadNote, log, median, now, table, type BenchOptions, type Suite } from './common.ts';

/**
 * MoDeST at growing N: the cost of a round should not grow with the number of nodes. Each N
 * runs in a fresh child process (so memory figures do not carry over from the previous N),
 * with the same MNIST 2NN setting as the compare suite (20 steps of batch 20, lr 0.1,
 * 10 Mbit/s uplinks, 50 ms latency) and s = 10, a = 1.
 *
 * Setup is timed in parts: loading MNIST and the tfjs backend; building the simulation
 * (partitioning the training set and copying every node's shard); booting the N nodes
 * (protocol objects and their bootstrap views, N entries each). Rounds are timed separately.
 */

const CHILD_FLAG = '--scale-child';

type Kind = 'model' | 'ping' | 'announce';
const kindOf = (type: string): Kind => (type === 'modest/model' ? 'model' : type === 'modest/join' || type === 'modest/leave' ? 'announce' : 'ping');

interface ChildResult {
  nodes: number;
  rounds: number;
  backend: string;
  loadMs: number;
  buildMs: number;
  bootMs: number;
  runMs: number;
  rows: SimRow[];
  /** Wall ms between consecutive rounds. */
  roundWallMs: number[];
  mem: { afterLoad: Mem; afterSetup: Mem; afterRun: Mem; maxRssMb: number };
  shardSize: { min: number; max: number };
  /** Messages and bytes handed to the network, by kind (whole run). */
  traffic: Record<Kind, { msgs: number; bytes: number }>;
}

interface Mem {
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  arrayBuffersMb: number;
}

function mem(): Mem {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  const MB = 1024 * 1024;
  return { rssMb: m.rss / MB, heapUsedMb: m.heapUsed / MB, heapTotalMb: m.heapTotal / MB, externalMb: m.external / MB, arrayBuffersMb: m.arrayBuffers / MB };
}

export function scaleConfig(nodes: number, rounds: number, seed: number): Config {
  return parseConfig({
    algo: 'modest',
    dataset: 'mnist',
    model: '2nn',
    nodes,
    s: 10,
    a: 1,
    sf: 1,
    pingTimeout: 15000, // see the compare suite: 5 s makes the aggregator-trainer's pings time out behind its own uplink
    partition: 'iid',
    steps: 20,
    batch: 20,
    lr: 0.1,
    rounds,
    evalSize: 500,
    evalEvery: 1,
    compute: 0.5,
    latency: 50,
    bandwidth: 1.25e6,
    seed,
  });
}

/** One N, in this process. */
export async function runScale(nodes: number, rounds: number, seed: number): Promise<ChildResult> {
  const config = scaleConfig(nodes, rounds, seed);
  let t = now();
  const backend = await useNodeBackend(config.backend, config.model);
  const dataset = await loadDataset(config, 'node');
  const learner = new Learner(config.model, dataset.features, dataset.numClasses);
  const evalSet = testSubset(dataset, config.evalSize, Rng.seed(config.seed).split('eval'));
  const loadMs = now() - t;
  const afterLoad = mem();
  t = now();
  const sim = new Simulation(config, dataset, learner, evalSet);
  const buildMs = now() - t;
  // The host calls onAction right after it encoded and counted a send: the growth of its
  // bytesSent since the previous send is this frame's size.
  const traffic: ChildResult['traffic'] = { model: { msgs: 0, bytes: 0 }, ping: { msgs: 0, bytes: 0 }, announce: { msgs: 0, bytes: 0 } };
  const byId = new Map(sim.nodes.map((n) => [n.id, n]));
  const seen = new Map<string, number>();
  sim.onAction = (id, action) => {
    if (action.kind !== 'send') return;
    const total = byId.get(id)?.host?.stats.bytesSent ?? 0;
    const t = traffic[kindOf(action.msg.type)];
    t.msgs++;
    t.bytes += total - (seen.get(id) ?? 0);
    seen.set(id, total);
  };
  t = now();
  sim.start();
  const bootMs = now() - t;
  const afterSetup = mem();
  const roundWallMs: number[] = [];
  let last = now();
  const started = last;
  sim.onRow((row) => {
    const x = now();
    roundWallMs.push(x - last);
    last = x;
    log(`  scale N=${nodes} round ${row.round}: ${fmt.pct(row.accuracy)}, ${(row.bytesSent / 1e6).toFixed(1)} MB, sim ${fmt.sec(row.simTimeMs)}, wall ${fmt.sec(roundWallMs[roundWallMs.length - 1], 2)}`);
  });
  while (sim.advance(1000)) {
    /* until `rounds` */
  }
  const runMs = now() - started;
  const afterRun = mem();
  const shardSizes = sim.nodes.map((n) => n.shard.n);
  const summary = sim.summary();
  if (summary.stopReason !== 'rounds' && summary.stopReason !== 'done') log(`  scale N=${nodes}: stopped by ${summary.stopReason} after ${summary.rounds} rounds`);
  learner.dispose();
  return {
    nodes,
    rounds: summary.rounds,
    backend,
    loadMs,
    buildMs,
    bootMs,
    runMs,
    rows: sim.rows,
    roundWallMs,
    mem: { afterLoad, afterSetup, afterRun, maxRssMb: process.resourceUsage().maxRSS / 1024 },
    shardSize: { min: Math.min(...shardSizes), max: Math.max(...shardSizes) },
    traffic,
  };
}

/** Runs one N in a fresh node process (with --expose-gc) and parses its JSON line. */
function runChild(nodes: number, rounds: number, seed: number): Promise<ChildResult> {
  const self = fileURLToPath(import.meta.url);
  const args = [...process.execArgv.filter((a) => !a.startsWith('--cpu-prof')), '--expose-gc', self, CHILD_FLAG, String(nodes), String(rounds), String(seed)];
  if (!process.execArgv.some((a) => a.includes('tsx'))) args.unshift('--import', 'tsx');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: path.dirname(path.dirname(self)), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`scale child N=${nodes} exited with ${code}`));
      try {
        resolve(JSON.parse(line) as ChildResult);
      } catch (e) {
        reject(new Error(`scale child N=${nodes}: bad output (${(e as Error).message})`));
      }
    });
  });
}

const mbs = (b: number) => `${(b / 1e6).toFixed(2)} MB`;

/** Per-round figures over rounds 2..R (round 1 has no model hand-out: its trainers start from the shared init). */
function steady(r: ChildResult): { bytes: number; simMs: number; wallMs: number; wallMedian: number } {
  const rows = r.rows;
  const a = rows[0];
  const b = rows[rows.length - 1];
  const n = b.round - a.round;
  return { bytes: (b.bytesSent - a.bytesSent) / n, simMs: (b.simTimeMs - a.simTimeMs) / n, wallMs: r.roundWallMs.slice(1).reduce((s, x) => s + x, 0) / n, wallMedian: median(r.roundWallMs.slice(1)) };
}

export const scale: Suite = {
  name: 'scale',
  summary: 'MoDeST (s=10) at N = 100 and 1000 nodes, MNIST 2NN: setup time, wall/sim time, bytes and memory per round',
  async run(opts: BenchOptions) {
    const sizes = opts.quick ? [20, 100] : [100, 1000];
    const rounds = opts.quick ? 3 : 10;
    const results: ChildResult[] = [];
    const startLoad = loadNote();
    for (const n of sizes) {
      log(`scale: MoDeST N=${n}, ${rounds} rounds (child process)`);
      results.push(await runChild(n, rounds, opts.seed));
    }
    const setup = table(
      ['N', 'shard size', 'load MNIST + backend', 'build sim (partition + shards)', 'boot N nodes', 'setup total', 'RSS / heap after load', 'RSS / heap after setup'],
      results.map((r) => [
        fmt.int(r.nodes),
        r.shardSize.min === r.shardSize.max ? String(r.shardSize.min) : `${r.shardSize.min}–${r.shardSize.max}`,
        fmt.sec(r.loadMs, 2),
        fmt.sec(r.buildMs, 2),
        fmt.sec(r.bootMs, 2),
        fmt.sec(r.loadMs + r.buildMs + r.bootMs, 2),
        `${fmt.int(r.mem.afterLoad.rssMb)} / ${fmt.int(r.mem.afterLoad.heapUsedMb)} MB`,
        `${fmt.int(r.mem.afterSetup.rssMb)} / ${fmt.int(r.mem.afterSetup.heapUsedMb)} MB`,
      ]),
    );
    const perRound = table(
      ['N', 'rounds', 'wall / round (mean, median)', 'sim time / round', 'bytes / round (all)', 'model msgs / round', 'bytes / model msg', 'ping+pong / round', 'JOIN announcements (whole run)', 'bytes / round without the JOINs', 'acc. after last round', 'RSS / heap after run', 'peak RSS'],
      results.map((r) => {
        const s = steady(r);
        const lastRow = r.rows[r.rows.length - 1];
        return [
          fmt.int(r.nodes),
          String(r.rounds),
          `${fmt.sec(s.wallMs, 2)}, ${fmt.sec(s.wallMedian, 2)}`,
          fmt.sec(s.simMs, 2),
          mbs(s.bytes),
          fmt.f(r.traffic.model.msgs / r.rounds, 1),
          `${fmt.int(r.traffic.model.bytes / r.traffic.model.msgs)} B`,
          `${fmt.f(r.traffic.ping.msgs / r.rounds, 1)} (${fmt.int(r.traffic.ping.bytes / r.rounds)} B)`,
          `${fmt.int(r.traffic.announce.msgs)} msgs, ${mbs(r.traffic.announce.bytes)}`,
          // The JOIN wave comes at t = aggTimeout (30 s), i.e. within rounds 2..R.
          mbs(s.bytes - r.traffic.announce.bytes / (r.rows[r.rows.length - 1].round - r.rows[0].round)),
          fmt.pct(lastRow.accuracy),
          `${fmt.int(r.mem.afterRun.rssMb)} / ${fmt.int(r.mem.afterRun.heapUsedMb)} MB`,
          `${fmt.int(r.mem.maxRssMb)} MB`,
        ];
      }),
    );
    const rows = table(
      ['N', ...results[0].rows.map((x) => `r${x.round}`)],
      results.flatMap((r) => [
        [`${r.nodes}: MB sent (cum.)`, ...r.rows.map((x) => (x.bytesSent / 1e6).toFixed(1))],
        [`${r.nodes}: sim s (cum.)`, ...r.rows.map((x) => (x.simTimeMs / 1000).toFixed(1))],
        [`${r.nodes}: wall s`, ...r.roundWallMs.map((x) => (x / 1000).toFixed(2))],
      ]),
    );
    const c = scaleConfig(sizes[0], rounds, opts.seed);
    return [
      '## scale',
      '',
      `MoDeST, s = ${c.s}, a = ${c.a}, sf = ${c.sf}, pingTimeout ${c.pingTimeout / 1000} s; MNIST 2NN, iid, ${c.steps} steps of batch ${c.batch}, lr ${c.lr}; compute ${c.compute} ms/sample, latency ${c.latency} ms, uplink ${c.bandwidth / 1e6} MB/s; seed ${opts.seed}; backend ${results[0].backend}. ` +
        `Each N runs in its own child process (--expose-gc; memory read after a forced GC). Per-round figures are over rounds 2–${rounds} (round 1 has no model hand-out: its trainers start from the shared init).`,
      '',
      'Setup:',
      '',
      setup,
      '',
      'Per round:',
      '',
      perRound,
      '',
      'Round by round:',
      '',
      rows,
      '',
      `Load at start: ${startLoad}; at end: ${loadNote()}.`,
    ].join('\n');
  },
};

// Child mode: `node --import tsx --expose-gc bench/scale.ts --scale-child N rounds seed` prints one JSON line.
if (process.argv[2] === CHILD_FLAG && path.resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  const [n, rounds, seed] = process.argv.slice(3).map(Number);
  runScale(n, rounds, seed).then(
    (r) => {
      process.stdout.write(JSON.stringify(r) + '\n');
      process.exit(0);
    },
    (e) => {
      process.stderr.write(`error: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
