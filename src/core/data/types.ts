/** A labelled split: `x` is row-major [n, features], `y` holds class ids. */
export interface Split {
  x: Float32Array;
  y: Uint8Array;
  n: number;
}

export interface Dataset {
  name: string;
  /** Flat feature count per sample (2 for 2-D data, 784 for MNIST). */
  features: number;
  numClasses: number;
  train: Split;
  test: Split;
}

/** Rows `indices` of a split, as a new split. */
export function takeRows(split: Split, features: number, indices: ArrayLike<number>): Split {
  const n = indices.length;
  const x = new Float32Array(n * features);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = indices[i];
    x.set(split.x.subarray(r * features, (r + 1) * features), i * features);
    y[i] = split.y[r];
  }
  return { x, y, n };
}
