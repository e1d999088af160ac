import type { Partition } from '../config.ts';
import type { Rng } from '../rng.ts';

/**
 * Split a training set among `nodes` nodes. Works from labels alone, so a browser tab can
 * compute its own shard from the 60 KB label file and fetch only those image rows.
 * Every index goes to exactly one node; each node's indices are sorted ascending (a set:
 * the trainer shuffles, and sorted rows coalesce into fewer HTTP ranges).
 */
export function partition(labels: Uint8Array, numClasses: number, nodes: number, spec: Partition, rng: Rng): Int32Array[] {
  if (!Number.isInteger(nodes) || nodes < 1) throw new Error(`partition: nodes must be a positive integer, got ${nodes}`);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= numClasses) throw new Error(`partition: label ${labels[i]} at ${i} >= numClasses ${numClasses}`);
  }
  let parts: number[][];
  switch (spec.kind) {
    case 'iid':
      parts = iid(labels.length, nodes, rng);
      break;
    case 'dirichlet':
      if (!(spec.alpha > 0)) throw new Error(`partition: dirichlet alpha must be > 0, got ${spec.alpha}`);
      parts = dirichlet(labels, numClasses, nodes, spec.alpha, rng);
      break;
    case 'shards':
      if (!Number.isInteger(spec.perNode) || spec.perNode < 1) throw new Error(`partition: shards per node must be a positive integer, got ${spec.perNode}`);
      parts = shards(labels, numClasses, nodes, spec.perNode, rng);
      break;
  }
  fillEmpty(parts, labels.length);
  return parts.map((p) => Int32Array.from(p).sort());
}

function range(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

/** Equal cut points: piece j is [floor(j·n/k), floor((j+1)·n/k)), sizes differ by at most 1. */
function cut<T>(items: ArrayLike<T>, k: number): T[][] {
  const out: T[][] = [];
  for (let j = 0; j < k; j++) {
    const lo = Math.floor((j * items.length) / k);
    const hi = Math.floor(((j + 1) * items.length) / k);
    out.push(Array.prototype.slice.call(items, lo, hi) as T[]);
  }
  return out;
}

function iid(n: number, nodes: number, rng: Rng): number[][] {
  return cut(rng.shuffle(range(n)) as Int32Array, nodes);
}

function byClass(labels: Uint8Array, numClasses: number): number[][] {
  const out: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) out[labels[i]].push(i);
  return out;
}

/** Hsu et al. 2019: per class, proportions p ~ Dir_N(alpha) over nodes. */
function dirichlet(labels: Uint8Array, numClasses: number, nodes: number, alpha: number, rng: Rng): number[][] {
  const parts: number[][] = Array.from({ length: nodes }, () => []);
  byClass(labels, numClasses).forEach((idx, c) => {
    const r = rng.split(`class:${c}`); // one stream per class: counts of one class never shift another's draw
    r.shuffle(idx);
    const p = r.dirichlet(alpha, nodes);
    // Cumulative rounding: bounds are monotone and the last is exactly m, so nothing is lost or doubled.
    let cum = 0;
    let lo = 0;
    for (let j = 0; j < nodes; j++) {
      cum += p[j];
      const hi = j === nodes - 1 ? idx.length : Math.min(idx.length, Math.round(cum * idx.length));
      for (let t = lo; t < hi; t++) parts[j].push(idx[t]);
      lo = Math.max(lo, hi);
    }
  });
  return parts;
}

/** McMahan et al. 2017: sort by label, cut into nodes·k shards, deal k random shards per node. */
function shards(labels: Uint8Array, numClasses: number, nodes: number, k: number, rng: Rng): number[][] {
  const sorted = byClass(labels, numClasses).flat(); // stable: ties keep index order
  const pieces = cut(sorted, nodes * k);
  const order = rng.shuffle(range(nodes * k)) as Int32Array;
  const parts: number[][] = [];
  for (let j = 0; j < nodes; j++) {
    const mine: number[] = [];
    for (let s = 0; s < k; s++) for (const i of pieces[order[j * k + s]]) mine.push(i);
    parts.push(mine);
  }
  return parts;
}

/**
 * A node with no data cannot train (and breaks sample-weighted averaging), which small
 * Dirichlet alphas make common. When there are enough samples, each empty node takes
 * one sample from the currently largest node. Deterministic, draws no randomness.
 */
function fillEmpty(parts: number[][], n: number): void {
  if (n < parts.length) return;
  for (const p of parts) {
    if (p.length > 0) continue;
    let big = 0;
    for (let j = 1; j < parts.length; j++) if (parts[j].length > parts[big].length) big = j;
    p.push(parts[big].pop()!);
  }
}

/** Count of each class among `indices`. */
export function labelHistogram(labels: Uint8Array, indices: ArrayLike<number>, numClasses: number): number[] {
  const h = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < indices.length; i++) h[labels[indices[i]]]++;
  return h;
}
