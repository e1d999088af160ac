import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import { backendOrder, useFirstBackend, type BackendName } from '../core/learn/backend.ts';
import { isConvolutional, type ModelName } from '../core/learn/models.ts';

let wasmReady = false;

/**
 * Node's tfjs backend: WASM trains dense models about 4× faster than the pure-JS CPU
 * backend, but has no Conv2DBackpropFilter kernel, so CNNs use CPU.
 */
export async function useNodeBackend(requested: string, model: ModelName): Promise<BackendName> {
  if (!wasmReady) {
    const dir = path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    setWasmPaths(path.join(dir, 'dist') + path.sep);
    wasmReady = true;
  }
  tf.env().set('IS_TEST', false);
  const fastest: BackendName[] = isConvolutional(model) ? ['cpu'] : ['wasm', 'cpu'];
  const wanted = requested === 'webgpu' || requested === 'webgl' ? 'auto' : requested;
  return useFirstBackend(backendOrder(wanted, fastest));
}
