import '@tensorflow/tfjs-backend-webgpu';
import { backendOrder, useFirstBackend, type BackendName } from '../../core/learn/backend.ts';
import { Learner, type EvalResult, type TrainOptions } from '../../core/learn/learner.ts';
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

export interface TrainReply {
  params: Float32Array;
  loss: number;
  samplesSeen: number;
  ms: number;
}

/** Training and evaluation for one tab, on the best backend that starts. Runs in a worker or inline. */
export class Engine {
  private constructor(
    readonly backend: BackendName,
    private readonly learner: Learner,
    private readonly setup: EngineSetup,
  ) {}

  static async create(setup: EngineSetup): Promise<Engine> {
    const wanted = setup.backend === 'wasm' ? 'auto' : setup.backend;
    const backend = await useFirstBackend(backendOrder(wanted, BROWSER_BACKENDS));
    return new Engine(backend, new Learner(setup.model, setup.features, setup.numClasses), setup);
  }

  async train(params: Float32Array, opts: TrainOptions, rngKey: string): Promise<TrainReply> {
    const t0 = performance.now();
    const r = await this.learner.train(params, this.setup.shard, opts, new Rng(rngKey));
    return { params: r.params, loss: r.loss, samplesSeen: r.samplesSeen, ms: performance.now() - t0 };
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
