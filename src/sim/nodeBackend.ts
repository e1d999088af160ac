import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import { backendOrder, useFirstBackend, type BackendName } from '../core/learn/backend.ts';
import type { ModelName } from '../core/learn/models.ts';
import { registerWasmConvGrads } from './wasmConvGrads.ts';
import { registerWasmMatMul } from './wasmMatMul.ts';

let wasmReady = false;

/**
 * Node's tfjs backend: WASM trains dense models about 4× faster than the pure-JS CPU
 * backend, and CNNs far faster once it has the filter-gradient kernel it lacks (registered
 * here, with a faster input gradient; see wasmConvGrads.ts), and dense layers faster once
 * their products stay on XNNPACK's fast path (wasmMatMul.ts). Every model now prefers wasm;
 * `_model` stays in the signature for the callers.
 */
export async function useNodeBackend(requested: string, _model: ModelName): Promise<BackendName> {
  if (!wasmReady) {
    const dir = path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    setWasmPaths(path.join(dir, 'dist') + path.sep);
    registerWasmConvGrads();
    registerWasmMatMul();
    wasmReady = true;
  }
  tf.env().set('IS_TEST', false);
  const fastest: BackendName[] = ['wasm', 'cpu'];
  const wanted = requested === 'webgpu' || requested === 'webgl' ? 'auto' : requested;
  return useFirstBackend(backendOrder(wanted, fastest));
}
