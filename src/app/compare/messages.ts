import type { ModelSpec } from '../../core/learn/models.ts';
import type { SimRow, SimSummary } from '../../sim/simulation.ts';
import type { TopoEdge } from '../components/Topology.tsx';

/** One compare run: a label and its full config hash. */
export interface CompareRunSpec {
  key: string;
  label: string;
  hash: string;
}

export type ToWorker =
  | { type: 'init'; runs: CompareRunSpec[]; dataUrl: string }
  | { type: 'play' }
  | { type: 'pause' }
  /** Every unfinished run advances by one evaluated round. */
  | { type: 'step' }
  /** Pause this long after each evaluated round (0: as fast as possible). */
  | { type: 'speed'; delayMs: number }
  /** Which run's node models to send for decision boundaries. */
  | { type: 'focus'; run: number };

export interface NodeView {
  id: string;
  state: string;
  role: string;
  /** false: failed (churn) or not yet joined. */
  alive: boolean;
  joined: boolean;
  sample: boolean;
  aggregator: boolean;
  /** Sends poisoned models (byzantine=). */
  attacker: boolean;
  /** Training samples per simulated second. */
  throughput: number;
  /** The algorithm's per-node count (token: visits), from the newest report. */
  count?: number;
}

export interface Shard {
  x: Float32Array;
  y: Uint8Array;
  n: number;
}

export type FromWorker =
  | { type: 'loading'; text: string }
  | { type: 'ready'; spec: ModelSpec; numClasses: number; features: number; shards: Shard[]; histograms: number[][]; runs: { key: string; nodes: number }[] }
  | { type: 'rows'; run: number; rows: SimRow[] }
  /** `countLabel` names the nodes' counts; `focusLegend` says what the ring on `aggregator` nodes means when the algorithm rings a node of its own (token: the holder). */
  | { type: 'topo'; run: number; round: number; simTimeMs: number; nodes: NodeView[]; edges: TopoEdge[]; countLabel?: string; focusLegend?: string }
  | { type: 'params'; run: number; round: number; params: (Float32Array | null)[] }
  | { type: 'done'; run: number; summary: SimSummary }
  | { type: 'playing'; playing: boolean }
  | { type: 'error'; run?: number; message: string };
