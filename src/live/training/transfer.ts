import type { ComputeResult } from '../../core/learn/compute.ts';

/** A compute result's vectors, to move rather than copy from the worker to the page. */
export function transferables(result: ComputeResult): ArrayBuffer[] {
  if (result.kind === 'train') return [result.params.buffer as ArrayBuffer];
  if (result.kind === 'gradient') return [result.gradient.buffer as ArrayBuffer];
  return [];
}
