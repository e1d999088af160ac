import { ConfigError, TOPOLOGY_RE } from '../core/config.ts';
import { Rng } from '../core/rng.ts';
import type { NodeId } from './protocol.ts';

/**
 * Communication graphs for decentralized learning (D-PSGD, and gossip's choice of peer).
 *
 * A graph is a pure function of (topology spec, seed, set of ids): ids are sorted first, and
 * the randomness comes from `Rng.seed(seed).split('topology')`, so every node that knows the
 * same ids computes the same graph without talking to anyone.
 *
 * - `ring`: i ~ i±1.
 * - `full`: everyone ~ everyone.
 * - `kregular:<k>`: a random simple k-regular graph (Steger–Wormald pairing: pair random free
 *   "stubs" one edge at a time, refusing loops and double edges, restarting when stuck). When
 *   no k-regular graph exists (k ≥ n, or n·k odd) or sampling keeps failing, a circulant graph
 *   i ~ i±1..±⌊k/2⌋ (plus i ~ i+n/2 for odd k) stands in; for odd n·k one node then has degree k−1.
 * - `exp`: the one-peer exponential graph (Ying et al. 2021), time-varying: in round t node i
 *   talks to i + 2^(t mod τ) with τ = ⌈log₂ n⌉. We make each round's graph undirected (i also
 *   talks to i − 2^(t mod τ), who talks to it) so the Metropolis–Hastings matrix is symmetric,
 *   as the D-PSGD analysis assumes; Ying et al.'s directed version mixes with ½(I + P) instead.
 *
 * Weights are Metropolis–Hastings: W_ij = 1/(1 + max(d_i, d_j)) on each edge and
 * W_ii = 1 − Σ_{j≠i} W_ij, so W is symmetric and doubly stochastic.
 */
export interface Topology {
  readonly spec: string;
  /** Node ids in the graph's canonical (natural sort) order. */
  readonly ids: readonly NodeId[];
  /** Whether the graph changes from round to round (`exp`). */
  readonly timeVarying: boolean;
  /** Neighbours of `id` in round `round`, in canonical order; [] for an id not in the graph. */
  neighbours(id: NodeId, round?: number): NodeId[];
  /** Row `id` of the MH matrix: every neighbour's W_ij, and W_ii under `id` itself. */
  weights(id: NodeId, round?: number): Map<NodeId, number>;
}

export type TopologySpec = { kind: 'ring' } | { kind: 'full' } | { kind: 'exp' } | { kind: 'kregular'; k: number };

export function parseTopology(text: string): TopologySpec {
  if (!TOPOLOGY_RE.test(text)) throw new ConfigError(`bad topology: ${text}`);
  if (text === 'ring' || text === 'full' || text === 'exp') return { kind: text };
  const k = Number(text.slice('kregular:'.length));
  if (!Number.isInteger(k) || k < 1) throw new ConfigError(`bad topology: ${text} (k must be at least 1)`);
  return { kind: 'kregular', k };
}

/** Natural order ("n2" < "n10"), deterministic in every runtime (no locale involved). */
export function compareIds(a: string, b: string): number {
  const re = /(\d+|\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const tx = x.replace(/^0+(?=\d)/, '');
      const ty = y.replace(/^0+(?=\d)/, '');
      if (tx.length !== ty.length) return tx.length - ty.length;
      if (tx !== ty) return tx < ty ? -1 : 1;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  if (pa.length !== pb.length) return pa.length - pb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortIds(ids: Iterable<NodeId>): NodeId[] {
  return [...new Set(ids)].sort(compareIds);
}

/** Builds the graph over `ids` (any order, duplicates ignored). */
export function buildTopology(spec: string, ids: Iterable<NodeId>, seed: number): Topology {
  const parsed = parseTopology(spec);
  const order = sortIds(ids);
  const n = order.length;
  const index = new Map(order.map((id, i) => [id, i]));
  if (parsed.kind === 'exp') return new ExpTopology(spec, order, index);
  let adj: Set<number>[];
  if (parsed.kind === 'ring') adj = circulant(n, [1]);
  else if (parsed.kind === 'full') adj = complete(n);
  else adj = kRegular(n, parsed.k, Rng.seed(seed).split('topology').split(`kregular:${parsed.k}`).split(n));
  return new StaticTopology(spec, order, index, adj);
}

/** The dense MH matrix of round `round`, rows and columns in `topology.ids` order (for tests and the UI). */
export function mixingMatrix(topology: Topology, round = 0): number[][] {
  const ids = topology.ids;
  const at = new Map(ids.map((id, i) => [id, i]));
  return ids.map((id) => {
    const row = new Array<number>(ids.length).fill(0);
    for (const [j, w] of topology.weights(id, round)) row[at.get(j)!] = w;
    return row;
  });
}

/** Row i of the Metropolis–Hastings matrix, given the adjacency as a function of node index. */
function metropolisRow(i: number, neighbours: (i: number) => number[], order: readonly NodeId[]): Map<NodeId, number> {
  const row = new Map<NodeId, number>();
  const mine = neighbours(i);
  const di = mine.length;
  let off = 0;
  for (const j of mine) {
    const w = 1 / (1 + Math.max(di, neighbours(j).length));
    row.set(order[j], w);
    off += w;
  }
  row.set(order[i], 1 - off);
  return row;
}

class StaticTopology implements Topology {
  readonly timeVarying = false;
  private readonly lists: number[][];

  constructor(
    readonly spec: string,
    readonly ids: readonly NodeId[],
    private readonly index: Map<NodeId, number>,
    adj: Set<number>[],
  ) {
    this.lists = adj.map((s) => [...s].sort((a, b) => a - b));
  }

  neighbours(id: NodeId): NodeId[] {
    const i = this.index.get(id);
    return i === undefined ? [] : this.lists[i].map((j) => this.ids[j]);
  }

  weights(id: NodeId): Map<NodeId, number> {
    const i = this.index.get(id);
    if (i === undefined) return new Map([[id, 1]]);
    return metropolisRow(i, (k) => this.lists[k], this.ids);
  }
}

class ExpTopology implements Topology {
  readonly timeVarying = true;
  private readonly tau: number;

  constructor(
    readonly spec: string,
    readonly ids: readonly NodeId[],
    private readonly index: Map<NodeId, number>,
  ) {
    this.tau = Math.max(1, Math.ceil(Math.log2(Math.max(ids.length, 2))));
  }

  /** Hop of round `round`: 2^(round mod τ). */
  hop(round: number): number {
    return 2 ** (((round % this.tau) + this.tau) % this.tau);
  }

  private around(i: number, round: number): number[] {
    const n = this.ids.length;
    if (n < 2) return [];
    const h = this.hop(round) % n;
    const set = new Set([(i + h) % n, (i - h + n) % n]);
    set.delete(i);
    return [...set].sort((a, b) => a - b);
  }

  neighbours(id: NodeId, round = 0): NodeId[] {
    const i = this.index.get(id);
    return i === undefined ? [] : this.around(i, round).map((j) => this.ids[j]);
  }

  weights(id: NodeId, round = 0): Map<NodeId, number> {
    const i = this.index.get(id);
    if (i === undefined) return new Map([[id, 1]]);
    return metropolisRow(i, (k) => this.around(k, round), this.ids);
  }
}

function complete(n: number): Set<number>[] {
  return Array.from({ length: n }, (_, i) => new Set(Array.from({ length: n }, (_, j) => j).filter((j) => j !== i)));
}

/** i ~ i ± o for every offset o (mod n). */
function circulant(n: number, offsets: number[]): Set<number>[] {
  const adj = Array.from({ length: n }, () => new Set<number>());
  for (let i = 0; i < n; i++)
    for (const o of offsets) {
      if (o % n === 0) continue;
      const j = (i + o) % n;
      adj[i].add(j);
      adj[j].add(i);
    }
  return adj;
}

/** The closest circulant stand-in for a k-regular graph. */
function circulantRegular(n: number, k: number): Set<number>[] {
  const offsets = Array.from({ length: Math.floor(k / 2) }, (_, o) => o + 1);
  const adj = circulant(n, offsets);
  if (k % 2 === 1) {
    if (n % 2 === 0) {
      const half = n / 2;
      for (let i = 0; i < half; i++) {
        adj[i].add(i + half);
        adj[i + half].add(i);
      }
    } else {
      // n·k odd: no k-regular graph exists. Match nodes 0..n−2 across; node n−1 keeps degree k−1.
      const half = (n - 1) / 2;
      for (let i = 0; i < half; i++) {
        adj[i].add(i + half);
        adj[i + half].add(i);
      }
    }
  }
  return adj;
}

const PAIRING_RESTARTS = 200;

/** A random simple k-regular graph on n nodes (Steger–Wormald), or the circulant stand-in. */
function kRegular(n: number, k: number, rng: Rng): Set<number>[] {
  if (k >= n - 1) return complete(n);
  if ((n * k) % 2 === 1) return circulantRegular(n, k);
  for (let attempt = 0; attempt < PAIRING_RESTARTS; attempt++) {
    const adj = Array.from({ length: n }, () => new Set<number>());
    const stubs: number[] = [];
    for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) stubs.push(i);
    let stuck = false;
    while (stubs.length > 0) {
      let pick: [number, number] | null = null;
      for (let t = 0; t < 64 && !pick; t++) {
        const a = rng.int(stubs.length);
        const b = rng.int(stubs.length);
        if (a !== b && stubs[a] !== stubs[b] && !adj[stubs[a]].has(stubs[b])) pick = [a, b];
      }
      if (!pick) {
        const ok: [number, number][] = [];
        for (let a = 0; a < stubs.length; a++)
          for (let b = a + 1; b < stubs.length; b++) if (stubs[a] !== stubs[b] && !adj[stubs[a]].has(stubs[b])) ok.push([a, b]);
        if (ok.length === 0) {
          stuck = true;
          break;
        }
        pick = rng.pick(ok);
      }
      const [a, b] = pick;
      const u = stubs[a];
      const v = stubs[b];
      adj[u].add(v);
      adj[v].add(u);
      // Remove both stubs (the larger index first, so the smaller stays valid).
      for (const x of [Math.max(a, b), Math.min(a, b)]) {
        stubs[x] = stubs[stubs.length - 1];
        stubs.pop();
      }
    }
    if (!stuck) return adj;
  }
  return circulantRegular(n, k);
}
