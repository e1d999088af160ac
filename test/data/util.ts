type Typed = Float32Array | Uint8Array | Int32Array;

/**
 * -1 when equal (same type, length and bits), else the first differing index (or the
 * shorter length). `toEqual` on typed arrays is ~5 µs per element, far too slow for images.
 */
export function firstDiff(a: Typed, b: Typed): number {
  if (a.constructor !== b.constructor) return 0;
  const n = Math.min(a.length, b.length);
  const ab = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const bb = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (a.length === b.length && ab.equals(bb)) return -1;
  for (let i = 0; i < n; i++) if (!Object.is(a[i], b[i])) return i;
  return n;
}

/** -1 when two lists of typed arrays are equal, else the first differing list position. */
export function firstDiffAll(a: Typed[], b: Typed[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (firstDiff(a[i], b[i]) !== -1) return i;
  return a.length === b.length ? -1 : Math.min(a.length, b.length);
}
