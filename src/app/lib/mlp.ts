import type { ModelSpec } from '../../core/learn/models.ts';

/**
 * Forward pass of a dense model (the `mlp` zoo entry: ReLU hidden layers, logit output) over
 * a flat parameter vector laid out as `spec` says: kernel [in, out] row-major, then bias [out].
 * Pure JS: a decision-boundary heatmap needs a few thousand tiny forwards, no tfjs.
 */
export function denseLayers(spec: ModelSpec, params: Float32Array): { w: Float32Array; b: Float32Array; inDim: number; outDim: number }[] | null {
  const layers = [];
  const t = spec.tensors;
  for (let i = 0; i + 1 < t.length; i += 2) {
    const k = t[i];
    const b = t[i + 1];
    if (k.kind !== 'kernel' || b.kind !== 'bias' || k.shape.length !== 2) return null;
    layers.push({ w: params.subarray(k.offset, k.offset + k.size), b: params.subarray(b.offset, b.offset + b.size), inDim: k.shape[0], outDim: k.shape[1] });
  }
  return layers.length ? layers : null;
}

/** Class probabilities (softmax of logits) for every point of `xs` ([n, features] row-major). */
export function predictProba(spec: ModelSpec, params: Float32Array, xs: Float32Array, n: number): Float32Array | null {
  const layers = denseLayers(spec, params);
  if (!layers || layers[0].inDim !== spec.features) return null;
  const k = spec.numClasses;
  const out = new Float32Array(n * k);
  const width = Math.max(...layers.map((l) => l.outDim), spec.features);
  let a = new Float64Array(width);
  let z = new Float64Array(width);
  // Plain loops and one pair of scratch vectors, no closure or array per point: a heatmap is
  // thousands of forwards a panel.
  const depth = layers.length;
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < spec.features; f++) a[f] = xs[i * spec.features + f];
    for (let li = 0; li < depth; li++) {
      const { w, b, inDim, outDim } = layers[li];
      const relu = li < depth - 1;
      // Row by row of the kernel ([in, out] row-major): contiguous reads. With the loop above, a
      // 48×48 panel's forward pass went from 3.0 to 2.3 ms (median, compare view at 50 nodes).
      for (let o = 0; o < outDim; o++) z[o] = b[o];
      for (let j = 0, row = 0; j < inDim; j++, row += outDim) {
        const aj = a[j];
        if (aj === 0) continue; // a ReLU zero adds nothing
        for (let o = 0; o < outDim; o++) z[o] += aj * w[row + o];
      }
      if (relu) for (let o = 0; o < outDim; o++) if (z[o] < 0) z[o] = 0;
      const t = a;
      a = z;
      z = t;
    }
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, a[c]);
    let sum = 0;
    for (let c = 0; c < k; c++) sum += out[i * k + c] = Math.exp(a[c] - max);
    for (let c = 0; c < k; c++) out[i * k + c] /= sum;
  }
  return out;
}
