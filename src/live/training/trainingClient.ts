import type { ComputeRequest } from '../../core/learn/compute.ts';
import type { ModelSpec } from '../../core/learn/models.ts';
import type { Split } from '../../core/data/types.ts';
import { Engine, type ComputeReply, type EngineSetup } from './engine.ts';
import { describeDevice, probeCacheKey, readCachedProbe, saveCachedProbe, type CachedProbe } from './device.ts';
import type { WorkerReply, WorkerRequest } from './worker.ts';

/** Where a tab trains: a Web Worker when it starts, else the main thread. */
export interface TrainingClient {
  readonly backend: string;
  /** Why this backend: forced by the link, a cached probe, or this start's probe. */
  readonly backendReason: string;
  /** Set when this start ran a probe (for the page to cache). */
  readonly probe: CachedProbe | null;
  readonly inWorker: boolean;
  /** The model's parameter layout, read where tfjs runs so the page needs no backend of its own. */
  readonly spec: ModelSpec;
  /** Runs a compute request on this tab's shard; rejects if the learner refuses it or the backend fails. */
  compute(request: ComputeRequest, rngKey: string): Promise<ComputeReply>;
  evaluate(params: Float32Array): Promise<{ accuracy: number; loss: number }>;
  /** Replaces the rows training runs on (the tab's own data), from the next request on. */
  setShard(shard: Split): Promise<void>;
  dispose(): void;
}

class WorkerClient implements TrainingClient {
  readonly inWorker = true;
  private nextId = 1;
  private pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();

  private constructor(
    private readonly worker: Worker,
    readonly backend: string,
    readonly spec: ModelSpec,
    readonly backendReason: string,
    readonly probe: CachedProbe | null,
  ) {
    worker.onmessage = (e: MessageEvent<WorkerReply>) => {
      const r = e.data;
      if (!('id' in r) || r.id === undefined) return;
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      if (r.type === 'error') p?.reject(new Error(r.message));
      else p?.resolve(r);
    };
  }

  static async start(setup: EngineSetup): Promise<WorkerClient> {
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    const ready = await new Promise<WorkerReply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('training worker did not start in 60 s')), 60000);
      worker.onmessage = (e: MessageEvent<WorkerReply>) => {
        clearTimeout(timer);
        resolve(e.data);
      };
      worker.onerror = (e) => {
        clearTimeout(timer);
        reject(new Error(e.message || 'training worker failed to load'));
      };
      worker.postMessage({ type: 'init', setup } satisfies WorkerRequest);
    });
    if (ready.type !== 'ready') {
      worker.terminate();
      throw new Error(ready.type === 'error' ? ready.message : 'unexpected worker reply');
    }
    return new WorkerClient(worker, ready.backend, ready.spec, ready.reason, ready.probe);
  }

  private call(req: WorkerRequest & { id: number }, transfer: Transferable[]): Promise<WorkerReply> {
    return new Promise((resolve, reject) => {
      this.pending.set(req.id, { resolve, reject });
      this.worker.postMessage(req, transfer);
    });
  }

  async compute(request: ComputeRequest, rngKey: string): Promise<ComputeReply> {
    // The protocol keeps its params: send a copy, moved rather than copied again.
    const copy = { ...request, params: request.params.slice() };
    const r = await this.call({ type: 'compute', id: this.nextId++, request: copy, rngKey }, [copy.params.buffer]);
    if (r.type !== 'computed') throw new Error('unexpected worker reply');
    return { result: r.result, ms: r.ms };
  }

  async evaluate(params: Float32Array): Promise<{ accuracy: number; loss: number }> {
    const copy = params.slice();
    const r = await this.call({ type: 'evaluate', id: this.nextId++, params: copy }, [copy.buffer]);
    if (r.type !== 'evaluated') throw new Error('unexpected worker reply');
    return { accuracy: r.accuracy, loss: r.loss };
  }

  async setShard(shard: Split): Promise<void> {
    const r = await this.call({ type: 'shard', id: this.nextId++, shard }, []);
    if (r.type !== 'shardSet') throw new Error('unexpected worker reply');
  }

  dispose(): void {
    this.worker.terminate();
  }
}

class InlineClient implements TrainingClient {
  readonly inWorker = false;
  constructor(private readonly engine: Engine) {}
  get backend(): string {
    return this.engine.backend;
  }
  get backendReason(): string {
    return this.engine.decision.reason;
  }
  get probe(): CachedProbe | null {
    return this.engine.decision.probe;
  }
  get spec(): ModelSpec {
    return this.engine.spec;
  }
  async compute(request: ComputeRequest, rngKey: string): Promise<ComputeReply> {
    return this.engine.compute(request, rngKey);
  }
  async evaluate(params: Float32Array): Promise<{ accuracy: number; loss: number }> {
    return this.engine.evaluate(params);
  }
  async setShard(shard: Split): Promise<void> {
    this.engine.setShard(shard);
  }
  dispose(): void {
    this.engine.dispose();
  }
}

/**
 * A worker if the browser can run one with the requested backend, otherwise inline. For
 * `auto`, an earlier probe of this model on this device (localStorage; workers have none)
 * goes to the engine, and a new probe is saved for the next load.
 */
export async function startTraining(setup: EngineSetup, preferWorker = true): Promise<TrainingClient> {
  let full = setup;
  let key: string | null = null;
  if (setup.backend === 'auto') {
    const device = await describeDevice();
    key = probeCacheKey(setup, device);
    full = { ...setup, adapter: device.adapter, cached: readCachedProbe(key) };
  }
  const client = await start(full, preferWorker);
  if (key && client.probe) saveCachedProbe(key, client.probe);
  return client;
}

async function start(setup: EngineSetup, preferWorker: boolean): Promise<TrainingClient> {
  if (preferWorker && typeof Worker !== 'undefined') {
    try {
      return await WorkerClient.start(setup);
    } catch (e) {
      console.warn(`training in the page instead of a worker: ${(e as Error).message}`);
    }
  }
  return new InlineClient(await Engine.create(setup));
}
