/// <reference lib="webworker" />
import { Engine, type EngineSetup } from './engine.ts';
import { transferables } from './transfer.ts';
import type { ComputeRequest, ComputeResult } from '../../core/learn/compute.ts';
import type { ModelSpec } from '../../core/learn/models.ts';
import type { CachedProbe } from './device.ts';
import type { Split } from '../../core/data/types.ts';

/** Training off the main thread, so the page stays responsive. Params travel as transferables. */
export type WorkerRequest =
  | { type: 'init'; setup: EngineSetup }
  | { type: 'compute'; id: number; request: ComputeRequest; rngKey: string }
  | { type: 'evaluate'; id: number; params: Float32Array }
  | { type: 'shard'; id: number; shard: Split };

export type WorkerReply =
  | { type: 'ready'; backend: string; spec: ModelSpec; reason: string; probe: CachedProbe | null }
  | { type: 'computed'; id: number; result: ComputeResult; ms: number }
  | { type: 'evaluated'; id: number; accuracy: number; loss: number }
  | { type: 'shardSet'; id: number }
  | { type: 'error'; id?: number; message: string };

const scope = self as unknown as DedicatedWorkerGlobalScope;
let engine: Engine | null = null;

scope.onmessage = async (e: MessageEvent<WorkerRequest>) => {
  const req = e.data;
  try {
    if (req.type === 'init') {
      engine = await Engine.create(req.setup);
      scope.postMessage({ type: 'ready', backend: engine.backend, spec: engine.spec, reason: engine.decision.reason, probe: engine.decision.probe } satisfies WorkerReply);
    } else if (!engine) {
      scope.postMessage({ type: 'error', id: req.id, message: 'worker not initialised' } satisfies WorkerReply);
    } else if (req.type === 'compute') {
      const { result, ms } = await engine.compute(req.request, req.rngKey);
      scope.postMessage({ type: 'computed', id: req.id, result, ms } satisfies WorkerReply, transferables(result));
    } else if (req.type === 'shard') {
      engine.setShard(req.shard);
      scope.postMessage({ type: 'shardSet', id: req.id } satisfies WorkerReply);
    } else {
      const r = await engine.evaluate(req.params);
      scope.postMessage({ type: 'evaluated', id: req.id, accuracy: r.accuracy, loss: r.loss } satisfies WorkerReply);
    }
  } catch (err) {
    scope.postMessage({ type: 'error', id: 'id' in req ? req.id : undefined, message: (err as Error).message } satisfies WorkerReply);
  }
};
