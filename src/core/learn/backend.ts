import * as tf from '@tensorflow/tfjs';

export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/**
 * Tries backends in order and keeps the first that initialises. Registering a backend
 * (importing its package) is the caller's job, because which packages exist differs
 * between Node, the page and a worker.
 */
export async function useFirstBackend(order: readonly BackendName[]): Promise<BackendName> {
  const errors: string[] = [];
  for (const name of order) {
    if (!tf.findBackendFactory(name)) {
      errors.push(`${name}: not registered`);
      continue;
    }
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
      errors.push(`${name}: setBackend returned false`);
    } catch (e) {
      errors.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new Error(`no tfjs backend could start (${errors.join('; ')})`);
}

/** The fallback chain for a requested backend: `auto` means the fastest first. */
export function backendOrder(requested: string, fastestFirst: readonly BackendName[]): BackendName[] {
  if (requested === 'auto') return fastestFirst.slice();
  const chosen = requested as BackendName;
  return [chosen, ...fastestFirst.filter((b) => b !== chosen)];
}
