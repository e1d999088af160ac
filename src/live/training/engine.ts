import '@tensorflow/tfjs-backend-webgpu';
import * as tf from '@tensorflow/tfjs';
import { backendOrder, useFirstBackend, type BackendName } from '../../core/learn/backend.ts';
import { chooseBackend, planProbe, type AdapterInfo, type ProbeMeasurement } from '../../core/learn/backendChoice.ts';
import type { ComputeRequest, ComputeResult, OptimizerStates } from '../../core/learn/compute.ts';
import { Learner, type EvalResult } from '../../core/learn/learner.ts';
import { describeModel, type ModelName, type ModelSpec } from '../../core/learn/models.ts';
import type { Split } from '../../core/data/types.ts';
import { Rng } from '../../core/rng.ts';
import { cacheDate, readAdapterInfo, type CachedProbe } from './device.ts';
import { measureBackends, PROBE_LIMITS, type ProbeLimits } from './probe.ts';

/** The browser's fallback chain: WebGPU, then WebGL, then CPU. */
export const BROWSER_BACKENDS: BackendName[] = ['webgpu', 'webgl', 'cpu'];

export interface EngineSetup {
  model: ModelName;
  features: number;
  numClasses: number;
  backend: string;
  /** The run's batch size (0: full batch); `auto` probes at this size. */
  batch: number;
  shard: Split;
  evalSet: Split;
  /** The WebGPU adapter as the page saw it; read here when absent. */
  adapter?: AdapterInfo;
  /** An earlier probe of this model on this device, from the page's localStorage. */
  cached?: CachedProbe | null;
  probeLimits?: ProbeLimits;
}

export interface ComputeReply {
  result: ComputeResult;
  /** Wall time the request took here. */
  ms: number;
}

/** How the backend was chosen; `probe` is set when this start measured, for the page to cache. */
export interface BackendDecision {
  backend: BackendName;
  reason: string;
  probe: CachedProbe | null;
}

/** Starts the backend `setup.backend` asks for: forced, cached, or chosen by a timed probe. */
export async function chooseAndStartBackend(setup: EngineSetup): Promise<BackendDecision> {
  const requested = setup.backend;
  if (requested !== 'auto' && requested !== 'wasm') {
    const backend = await useFirstBackend(backendOrder(requested, BROWSER_BACKENDS));
    const reason = backend === requested ? `backend=${requested} set in the link` : `backend=${requested} set in the link but it did not start; fell back to ${backend}`;
    return { backend, reason, probe: null };
  }
  // The WASM backend is for Node (no conv-backprop kernels, and its binary is not served): tabs choose.
  const prefix = requested === 'wasm' ? 'backend=wasm is not used in tabs; ' : '';

  const cached = setup.cached;
  if (cached && BROWSER_BACKENDS.includes(cached.backend)) {
    try {
      if (tf.findBackendFactory(cached.backend) && (await tf.setBackend(cached.backend))) {
        await tf.ready();
        return { backend: cached.backend, reason: `${prefix}cached probe from ${cacheDate(cached.savedAt)}: ${cached.reason}`, probe: null };
      }
    } catch {
      // the cached choice no longer starts: probe again
    }
  }

  // Counting parameters builds the model: do it on the CPU, so that no GPU backend starts unasked.
  await tf.setBackend('cpu');
  const parameters = describeModel(setup.model, setup.features, setup.numClasses).size;
  const adapter = setup.adapter ?? (await readAdapterInfo());
  const plan = planProbe({ candidates: BROWSER_BACKENDS, parameters, adapter });
  let measurements: ProbeMeasurement[] = [];
  let settled = new Map<BackendName, Promise<void>>();
  if (!plan.decided) {
    ({ measurements, settled } = await measureBackends(plan.probe, { model: setup.model, features: setup.features, numClasses: setup.numClasses, batch: setup.batch, shard: setup.shard }, setup.probeLimits ?? PROBE_LIMITS));
  }
  const choice = chooseBackend(plan, measurements);
  const backend = await useFirstBackend(choice.order);
  // Free the GPU backends the probe started and did not choose (a WebGL context or a WebGPU device
  // per tab adds up); one still busy past its cap is freed when its work settles, not pulled from under it.
  for (const b of plan.probe) {
    if (b === backend || b === 'cpu') continue;
    void settled.get(b)?.then(() => {
      try {
        if (tf.getBackend() !== b && tf.engine().registry[b]) tf.removeBackend(b);
      } catch {
        // never started
      }
    });
  }
  const reason = prefix + (backend === choice.backend ? choice.reason : `${choice.reason}; ${choice.backend} did not start, so ${backend}`);
  const probed = measurements.some((m) => m.samplesPerSecond !== null);
  return { backend, reason, probe: probed && backend === choice.backend ? { backend, reason: choice.reason, measurements, savedAt: Date.now() } : null };
}

/** Training and evaluation for one tab, on the backend `auto` measured fastest (or the one forced). Runs in a worker or inline. */
export class Engine {
  private constructor(
    readonly backend: BackendName,
    readonly decision: BackendDecision,
    private readonly learner: Learner,
    private readonly setup: EngineSetup,
  ) {
    this.shard = setup.shard;
  }

  /** The rows training requests run on: the generated shard, or one with the student's own samples. */
  private shard: Split;

  /** This tab's optimizer states by key (kept across requests, e.g. DiLoCo's inner AdamW). */
  private readonly states: OptimizerStates = new Map();

  static async create(setup: EngineSetup): Promise<Engine> {
    const decision = await chooseAndStartBackend(setup);
    return new Engine(decision.backend, decision, new Learner(setup.model, setup.features, setup.numClasses), setup);
  }

  /** Runs a compute request on this tab's shard; `rngKey` seeds a training request's batch order. */
  async compute(request: ComputeRequest, rngKey: string): Promise<ComputeReply> {
    const t0 = performance.now();
    const result = await this.learner.compute(request, this.shard, { rng: new Rng(rngKey), states: this.states });
    return { result, ms: performance.now() - t0 };
  }

  /** Trains on `shard` from the next request on (the tab's own data changed); frees the old rows' device copies. */
  setShard(shard: Split): void {
    if (shard.x.length !== shard.n * this.learner.spec.features || shard.y.length !== shard.n) throw new RangeError('shard does not match the model');
    this.learner.release(this.shard);
    this.shard = shard;
  }

  evaluate(params: Float32Array): Promise<EvalResult> {
    return this.learner.evaluate(params, this.setup.evalSet);
  }

  get spec(): ModelSpec {
    return this.learner.spec;
  }

  dispose(): void {
    this.learner.dispose();
  }
}
