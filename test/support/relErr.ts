/**
 * Largest absolute difference between `a` (the reference) and `b`, relative to the largest
 * magnitude in `a`: kernels that sum in a different order (float32 XNNPACK against tfjs's cpu
 * loops) agree to this, not to the bit.
 */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return diff / scale;
}
