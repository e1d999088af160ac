import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../../core/learn/backend.ts';
import type { ProbeMeasurement } from '../../core/learn/backendChoice.ts';
import { Learner } from '../../core/learn/learner.ts';
import { initialParams, type ModelName } from '../../core/learn/models.ts';
import type { Split } from '../../core/data/types.ts';
import { Rng } from '../../core/rng.ts';

export interface ProbeLimits {
  /** Hard cap per candidate: backend start, warm-up (kernel compilation, upload) and timing. */
  capMs: number;
  /** Stop timing once this much time has been measured. */
  targetMs: number;
  /** Most SGD steps in one timed call. */
  maxSteps: number;
}

/**
 * Six tabs on two cores probe at once, so each gets about a third of a core: a candidate
 * that cannot warm up and show a rate within 4 s is too slow for this room anyway.
 */
export const PROBE_LIMITS: ProbeLimits = { capMs: 4000, targetMs: 400, maxSteps: 64 };

export interface ProbeTarget {
  model: ModelName;
  features: number;
  numClasses: number;
  /** The run's batch size; 0 is full batch. */
  batch: number;
  shard: Split;
}

class Cancelled extends Error {}

/** The first `n` rows of a split (a view, no copy). */
function head(s: Split, n: number, features: number): Split {
  return { x: s.x.subarray(0, n * features), y: s.y.subarray(0, n), n };
}

/**
 * Samples per second of a few SGD steps of this model on `backend`, at the run's batch
 * size, after one warm-up step. Calls of 2, 4, 8, … steps until `targetMs` is measured; the
 * rate is the last (longest) call's, where the per-call readback weighs least. Everything
 * it creates is disposed, also when it runs past `capMs` (then once its pending work settles).
 */
export async function measureBackend(backend: BackendName, target: ProbeTarget, limits: ProbeLimits = PROBE_LIMITS): Promise<ProbeMeasurement & { settled: Promise<void> }> {
  const start = performance.now();
  const deadline = start + limits.capMs;
  let cancelled = false;
  let learner: Learner | null = null;
  const capText = `no rate within ${limits.capMs.toLocaleString('en-US')} ms`;
  // After every await: the timer below cannot interrupt a backend that computes synchronously (cpu).
  const check = () => {
    if (cancelled) throw new Cancelled();
    if (performance.now() > deadline) throw new Error(capText);
  };
  const work = (async (): Promise<number> => {
    if (!(await tf.setBackend(backend))) throw new Error('setBackend returned false');
    await tf.ready();
    check();
    const { shard, features } = target;
    if (shard.n === 0) throw new Error('empty shard');
    const batch = target.batch > 0 ? Math.min(target.batch, shard.n) : Math.min(shard.n, 512);
    const data = head(shard, Math.min(shard.n, Math.max(batch * 4, 256)), features);
    learner = new Learner(target.model, features, target.numClasses);
    const params = initialParams(learner.spec, Rng.seed('backend-probe'));
    const rng = Rng.seed('backend-probe').split(backend);
    const opts = (steps: number) => ({ epochs: 1, steps, batch, lr: 0.01 });
    await learner.train(params, data, opts(1), rng); // warm-up: upload, kernel compilation
    check();
    let rate = 0;
    let measured = 0;
    for (let steps = 2; ; steps = Math.min(steps * 2, limits.maxSteps)) {
      const t0 = performance.now();
      const r = await learner.train(params, data, opts(steps), rng);
      if (cancelled) throw new Cancelled();
      const ms = performance.now() - t0;
      measured += ms;
      rate = (r.samplesSeen / Math.max(ms, 0.01)) * 1000;
      const left = deadline - performance.now();
      // Stop when enough is measured, or when the next (longer) call would not fit the cap.
      if (measured >= limits.targetMs || left < ms * 2.2) break;
    }
    return rate;
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - performance.now()))));
  const cleanUp = () => {
    (learner as Learner | null)?.dispose();
    learner = null;
  };
  try {
    const r = await Promise.race([work, timeout]);
    if (r === 'timeout') {
      cancelled = true;
      return { backend, samplesPerSecond: null, error: capText, settled: work.then(cleanUp, cleanUp) };
    }
    cleanUp();
    return { backend, samplesPerSecond: r, settled: Promise.resolve() };
  } catch (e) {
    cleanUp();
    return { backend, samplesPerSecond: null, error: (e as Error).message || String(e), settled: Promise.resolve() };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Measures each candidate in turn (one at a time: they share the cores). `settled` resolves
 * per candidate once nothing of its probe is left running (at once, unless it ran past its cap).
 */
export async function measureBackends(candidates: readonly BackendName[], target: ProbeTarget, limits: ProbeLimits = PROBE_LIMITS): Promise<{ measurements: ProbeMeasurement[]; settled: Map<BackendName, Promise<void>> }> {
  const measurements: ProbeMeasurement[] = [];
  const settled = new Map<BackendName, Promise<void>>();
  for (const b of candidates) {
    const { settled: done, ...m } = await measureBackend(b, target, limits);
    measurements.push(m);
    settled.set(b, done);
  }
  return { measurements, settled };
}
