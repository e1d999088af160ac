/// <reference lib="webworker" />
import { Engine, type EngineSetup } from './engine.ts';
import type { TrainOptions } from '../../core/learn/learner.ts';
import type { ModelSpec } from '../../core/learn/models.ts';
import type { CachedProbe } from './device.ts';

/** Training off the main thread, so the page stays responsive. Params travel as transferables. */
export type WorkerRequest =
  | { type: 'init'; setup: EngineSetup }
  | { type: 'train'; id: number; params: Float32Array; opts: TrainOptions; rngKey: string }
  | { type: 'evaluate'; id: number; params: Float32Array };

export type WorkerReply =
  | { type: 'ready'; backend: string; spec: ModelSpec; reason: string; probe: CachedProbe | null }
  | { type: 'trained'; id: number; params: Float32Array; loss: number; samplesSeen: number; ms: number }
  | { type: 'evaluated'; id: number; accuracy: number; loss: number }
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
    } else if (req.type === 'train') {
      const r = await engine.train(req.params, req.opts, req.rngKey);
      scope.postMessage({ type: 'trained', id: req.id, ...r } satisfies WorkerReply, [r.params.buffer]);
    } else {
      const r = await engine.evaluate(req.params);
      scope.postMessage({ type: 'evaluated', id: req.id, accuracy: r.accuracy, loss: r.loss } satisfies WorkerReply);
    }
  } catch (err) {
    scope.postMessage({ type: 'error', id: 'id' in req ? req.id : undefined, message: (err as Error).message } satisfies WorkerReply);
  }
};
