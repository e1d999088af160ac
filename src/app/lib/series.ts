/**
 * Helpers that turn per-node point lists into uPlot's aligned columns. Everything is a merge
 * walk over lists sorted by x (O(union × nodes), no maps or per-point allocation), so 50
 * nodes × 500 rounds rebuild in a few milliseconds.
 */

export interface Pt {
  x: number;
  y: number;
}

export type Column = (number | null | undefined)[];

function sorted(list: Pt[]): Pt[] {
  for (let i = 1; i < list.length; i++) if (list[i].x < list[i - 1].x) return [...list].sort((a, b) => a.x - b.x);
  return list;
}

/** The sorted union of all x values. */
function unionX(lists: Pt[][]): Float64Array {
  let n = 0;
  for (const l of lists) n += l.length;
  const all = new Float64Array(n);
  let k = 0;
  for (const l of lists) for (const p of l) all[k++] = p.x;
  all.sort();
  let u = 0;
  for (let i = 0; i < n; i++) if (i === 0 || all[i] !== all[i - 1]) all[u++] = all[i];
  return all.subarray(0, u);
}

/**
 * Aligns several point lists on the sorted union of their x values; a series has `null`
 * where it has no point (the chart spans those gaps). Duplicate x within one series: last wins.
 */
export function align(lists: Pt[][]): Column[] {
  const ls = lists.map(sorted);
  const x = unionX(ls);
  const cols: Column[] = [Array.from(x)];
  for (const l of ls) {
    const col: Column = new Array(x.length).fill(null);
    let j = 0;
    for (const p of l) {
      while (x[j] < p.x) j++;
      col[j] = Number.isFinite(p.y) ? p.y : null;
    }
    cols.push(col);
  }
  return cols;
}

export interface Spread {
  mean: Pt[];
  min: Pt[];
  max: Pt[];
}

/**
 * Mean, min and max over nodes at each x. `hold`: each node keeps its last value until its
 * next point (a step function: for time axes, where nodes report at different instants);
 * otherwise only the nodes with a point exactly at x count (rounds).
 */
function spread(lists: Pt[][], hold: boolean): Spread {
  const ls = lists.map((l) => sorted(l.filter((p) => Number.isFinite(p.y))));
  const x = unionX(ls);
  const pos = new Int32Array(ls.length);
  const held = new Float64Array(ls.length).fill(NaN);
  const out: Spread = { mean: [], min: [], max: [] };
  for (let i = 0; i < x.length; i++) {
    const xi = x[i];
    let sum = 0;
    let count = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let k = 0; k < ls.length; k++) {
      const l = ls[k];
      let here = false;
      while (pos[k] < l.length && l[pos[k]].x <= xi) {
        held[k] = l[pos[k]++].y;
        here = true;
      }
      if (!(here || (hold && !Number.isNaN(held[k])))) continue;
      const v = held[k];
      sum += v;
      count++;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (count === 0) continue;
    out.mean.push({ x: xi, y: sum / count });
    out.min.push({ x: xi, y: min });
    out.max.push({ x: xi, y: max });
  }
  return out;
}

/** Mean, min and max over the nodes that have a point at each x (rounds). */
export const spreadByX = (lists: Pt[][]): Spread => spread(lists, false);
/** Mean, min and max over nodes against time, each node holding its last value. */
export const spreadHold = (lists: Pt[][]): Spread => spread(lists, true);

/** Bytes per round from cumulative points: Δbytes / Δround (the first point counts from 0). */
export function perRound(points: { round: number; bytes: number }[]): Pt[] {
  const out: Pt[] = [];
  let prevRound = 0;
  let prevBytes = 0;
  for (const p of points) {
    const dr = Math.max(1, p.round - prevRound);
    out.push({ x: p.round, y: (p.bytes - prevBytes) / dr });
    prevRound = p.round;
    prevBytes = p.bytes;
  }
  return out;
}

/** The sum over nodes at each x of the latest value each node had at or before x. */
export function sumHold(lists: Pt[][]): Pt[] {
  const ls = lists.map(sorted);
  const x = unionX(ls);
  const pos = new Int32Array(ls.length);
  const last = new Float64Array(ls.length);
  const out: Pt[] = new Array(x.length);
  for (let i = 0; i < x.length; i++) {
    let sum = 0;
    for (let k = 0; k < ls.length; k++) {
      const l = ls[k];
      while (pos[k] < l.length && l[pos[k]].x <= x[i]) last[k] = l[pos[k]++].y;
      sum += last[k];
    }
    out[i] = { x: x[i], y: sum };
  }
  return out;
}
