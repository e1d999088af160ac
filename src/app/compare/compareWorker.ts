import { protocolFor } from '../../protocols/index.ts';
/// <reference lib="webworker" />
import * as tf from '@tensorflow/tfjs';
import { parseHash, type Config } from '../../core/config.ts';
import { labelHistogram, loadDataset, testSubset, evalRng, type Dataset } from '../../core/data/index.ts';
import { plannedSamples } from '../../core/learn/compute.ts';
import { Learner } from '../../core/learn/learner.ts';
import { Simulation, type SimRow } from '../../sim/simulation.ts';
import type { ProtocolAction } from '../../protocols/protocol.ts';
import type { TopoEdge } from '../components/Topology.tsx';
import type { CompareRunSpec, FromWorker, NodeView, ToWorker } from './messages.ts';

/**
 * Compare mode's engine: up to four simulations (same data, partition and seed; different
 * algorithms) interleaved in one worker on the tfjs cpu backend, posting rows, topology and
 * node models as they go. The page stays responsive; play, pause and step come in as messages.
 */

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as DedicatedWorkerGlobalScope).postMessage(m, transfer);

interface Tracker {
  state: Map<string, { state: string; role: string }>;
  edges: Map<string, TopoEdge>;
  prevEdges: Map<string, TopoEdge>;
  samples: Map<number, Set<string>>;
  aggregators: Set<string>;
  prevAggregators: Set<string>;
  trained: Map<string, number>;
}

interface Run {
  spec: CompareRunSpec;
  config: Config;
  sim: Simulation;
  learner: Learner;
  pending: SimRow[];
  finished: boolean;
  stepTarget: number;
  track: Tracker;
}

let runs: Run[] = [];
let playing = false;
let stepping = false;
let delayMs = 0;
let focus = 0;
let looping = false;

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  switch (m.type) {
    case 'init':
      void init(m.runs, m.dataUrl);
      break;
    case 'play':
      playing = true;
      stepping = false;
      post({ type: 'playing', playing });
      void loop();
      break;
    case 'pause':
      playing = false;
      post({ type: 'playing', playing });
      break;
    case 'step':
      playing = false;
      stepping = true;
      for (const r of runs) r.stepTarget = r.sim.rows.length + 1;
      void loop();
      break;
    case 'speed':
      delayMs = m.delayMs;
      break;
    case 'focus':
      focus = m.run;
      if (runs[focus]) postParams(focus);
      break;
  }
};

async function init(specs: CompareRunSpec[], dataUrl: string): Promise<void> {
  try {
    post({ type: 'loading', text: 'starting tfjs (cpu backend)…' });
    await tf.setBackend('cpu');
    await tf.ready();
    const configs = specs.map((s) => parseHash(s.hash));
    const base = configs[0];
    post({ type: 'loading', text: base.dataset === 'mnist' ? 'downloading MNIST (about 55 MB, once)…' : `generating ${base.dataset}…` });
    const dataset: Dataset = await loadDataset(base, { baseUrl: dataUrl });
    const evalSet = testSubset(dataset, base.evalSize, evalRng(base.seed));
    runs = specs.map((spec, i) => {
      const config = configs[i];
      const learner = new Learner(config.model, dataset.features, dataset.numClasses);
      const sim = new Simulation(config, dataset, learner, evalSet);
      const run: Run = {
        spec,
        config,
        sim,
        learner,
        pending: [],
        finished: false,
        stepTarget: 0,
        track: { state: new Map(), edges: new Map(), prevEdges: new Map(), samples: new Map(), aggregators: new Set(), prevAggregators: new Set(), trained: new Map() },
      };
      sim.onRow((row) => {
        run.pending.push(row);
        run.track.prevEdges = run.track.edges;
        run.track.edges = new Map();
        run.track.prevAggregators = run.track.aggregators;
        run.track.aggregators = new Set();
      });
      sim.onAction = (node, action) => observe(run, node, action);
      return run;
    });
    const first = runs[0].sim;
    const shards = first.nodes.map((n) => ({ x: n.shard.x, y: n.shard.y, n: n.shard.n }));
    post({
      type: 'ready',
      spec: runs[0].learner.spec,
      numClasses: dataset.numClasses,
      features: dataset.features,
      shards: dataset.features <= 2 ? shards : [],
      histograms: first.nodes.map((n) => labelHistogram(n.shard.y, Int32Array.from({ length: n.shard.n }, (_, i) => i), dataset.numClasses)),
      runs: runs.map((r) => ({ key: r.spec.key, nodes: r.sim.nodes.length })),
    });
    for (const r of runs) r.sim.start();
    runs.forEach((_, i) => postTopo(i));
    postParams(focus);
  } catch (e) {
    post({ type: 'error', message: (e as Error).message });
  }
}

function observe(run: Run, node: string, a: ProtocolAction): void {
  const t = run.track;
  switch (a.kind) {
    case 'send': {
      const key = `${node}>${a.to}:${a.msg.type}`;
      const e = t.edges.get(key);
      if (e) e.count++;
      else t.edges.set(key, { from: node, to: a.to, type: a.msg.type, count: 1, model: a.msg.params !== undefined || a.msg.levels !== undefined });
      break;
    }
    case 'state':
      t.state.set(node, { state: a.state, role: a.role ?? t.state.get(node)?.role ?? '' });
      if (a.role === 'aggregator' || a.role === 'coordinator') t.aggregators.add(node);
      break;
    case 'compute': {
      if (a.request.kind !== 'train') break;
      let s = t.samples.get(a.round);
      if (!s) t.samples.set(a.round, (s = new Set()));
      s.add(node);
      if (t.samples.size > 4) t.samples.delete(Math.min(...t.samples.keys()));
      const shard = run.sim.nodes.find((n) => n.id === node)?.shard.n ?? 0;
      t.trained.set(node, (t.trained.get(node) ?? 0) + plannedSamples(a.request, shard));
      break;
    }
    default:
      break;
  }
}

function postTopo(i: number): void {
  const run = runs[i];
  const t = run.track;
  const now = run.sim.clock.now();
  const latest = t.samples.size ? Math.max(...t.samples.keys()) : -1;
  // Per-node algorithms sample nobody: every node trains every round.
  const sample = protocolFor(run.config.algo).evaluates === 'nodes' ? new Set<string>() : (t.samples.get(latest) ?? new Set<string>());
  const aggs = t.aggregators.size ? t.aggregators : t.prevAggregators;
  const report = run.sim.report();
  const nodes: NodeView[] = run.sim.nodes.map((n) => {
    const s = t.state.get(n.id);
    return {
      id: n.id,
      state: s?.state ?? 'idle',
      role: s?.role ?? '',
      alive: !!n.host?.running,
      joined: !!n.host,
      sample: sample.has(n.id),
      aggregator: aggs.has(n.id) || report?.focus?.node === n.id,
      attacker: run.sim.attackers.has(n.id),
      throughput: now > 0 ? ((t.trained.get(n.id) ?? 0) / now) * 1000 : 0,
      ...(report?.perNode ? { count: report.perNode.counts[n.id] ?? 0 } : {}),
    };
  });
  const edges = [...(t.edges.size ? t.edges : t.prevEdges).values()];
  post({ type: 'topo', run: i, round: run.sim.rows.length, simTimeMs: now, nodes, edges, countLabel: report?.perNode?.label, focusLegend: report?.focus?.legend });
}

function postParams(i: number): void {
  const run = runs[i];
  if (!run || run.config.model !== 'mlp' || run.learner.spec.features > 2) return;
  const params = run.sim.nodes.map((n) => n.host?.protocol.currentParams()?.slice() ?? null);
  const transfer: Transferable[] = [];
  for (const p of params) if (p) transfer.push(p.buffer as ArrayBuffer);
  post({ type: 'params', run: i, round: run.sim.rows.length, params }, transfer);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SLICE_MS = 40;

async function loop(): Promise<void> {
  if (looping) return;
  looping = true;
  try {
    while (playing || stepping) {
      let progressed = false;
      for (let i = 0; i < runs.length; i++) {
        const run = runs[i];
        if (run.finished) continue;
        if (stepping && run.sim.rows.length >= run.stepTarget) continue;
        const before = run.sim.rows.length;
        const t0 = performance.now();
        let alive = true;
        try {
          while (alive && run.sim.rows.length === before && performance.now() - t0 < SLICE_MS) alive = run.sim.advance(10);
        } catch (e) {
          alive = false;
          post({ type: 'error', run: i, message: (e as Error).message });
        }
        if (run.pending.length) {
          post({ type: 'rows', run: i, rows: run.pending });
          run.pending = [];
          progressed = true;
          if (i === focus) postParams(i);
        }
        postTopo(i);
        if (!alive) {
          run.finished = true;
          post({ type: 'done', run: i, summary: run.sim.summary() });
          run.learner.dispose();
        }
      }
      if (runs.every((r) => r.finished)) {
        playing = false;
        stepping = false;
      }
      if (stepping && runs.every((r) => r.finished || r.sim.rows.length >= r.stepTarget)) stepping = false;
      if (!playing && !stepping) post({ type: 'playing', playing: false });
      await sleep(progressed && delayMs > 0 ? delayMs : 0);
    }
  } finally {
    looping = false;
  }
}
