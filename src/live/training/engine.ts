import '@tensorflow/tfjs-backend-webgpu';
import { backendOrder, useFirstBackend, type BackendName } from '../../core/learn/backend.ts';
import type { ComputeRequest, ComputeResult, OptimizerStates } from '../../core/learn/compute.ts';
import { Learner, type EvalResult } from '../../core/learn/learner.ts';
import type { ModelName, ModelSpec } from '../../core/learn/models.ts';
import type { Split } from '../../core/data/types.ts';
import { Rng } from '../../core/rng.ts';

/** The browser's fallback chain: WebGPU, then WebGL, then CPU. */
export const BROWSER_BACKENDS: BackendName[] = ['webgpu', 'webgl', 'cpu'];

export interface EngineSetup {
  model: ModelName;
  features: number;
  numClasses: number;
  backend: string;
  shard: Split;
  evalSet: Split;
}

export interface ComputeReply {
  result: ComputeResult;
  /** Wall time the request took here. */
  ms: number;
}

/** Training and evaluation for one tab, on the best backend that starts. Runs in a worker or inline. */
export class Engine {
  private constructor(
    readonly backend: BackendName,
    private readonly learner: Learner,
    private readonly setup: EngineSetup,
  ) {}

  /** This tab's optimizer states by key (kept across requests, e.g. DiLoCo's inner AdamW). */
  private readonly states: OptimizerStates = new Map();

  static async create(setup: EngineSetup): Promise<Engine> {
    const wanted = setup.backend === 'wasm' ? 'auto' : setup.backend;
    const backend = await useFirstBackend(backendOrder(wanted, BROWSER_BACKENDS));
    return new Engine(backend, new Learner(setup.model, setup.features, setup.numClasses), setup);
  }

  /** Runs a compute request on this tab's shard; `rngKey` seeds a training request's batch order. */
  async compute(request: ComputeRequest, rngKey: string): Promise<ComputeReply> {
    const t0 = performance.now();
    const result = await this.learner.compute(request, this.setup.shard, { rng: new Rng(rngKey), states: this.states });
    return { result, ms: performance.now() - t0 };
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
