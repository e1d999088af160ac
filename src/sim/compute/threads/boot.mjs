// A compute worker's entry, in plain JavaScript so that it runs before anything can fail to load:
// it makes the worker's death visible to a main thread blocked in Atomics.wait (which sees no
// 'error' or 'exit' event), then registers tsx (Node 20 ignores `--import tsx` for a worker's own
// entry) and loads the TypeScript worker. Slots: see WorkerSetup.signal in messages.ts.
import { readlinkSync } from 'node:fs';
import process from 'node:process';
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

const { index, signal: buffer, port } = workerData;
const signal = new Int32Array(buffer);

function markStopped() {
  Atomics.store(signal, 1 + 2 * index, 1);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

function fatal(e) {
  port.postMessage({ kind: 'fatal', message: e instanceof Error ? e.message : String(e) });
  markStopped();
  process.exit(1);
}

try {
  // The OS thread id: the main thread watches /proc/self/task/<tid> for a death that runs no JavaScript (out of memory).
  Atomics.store(signal, 2 + 2 * index, Number(readlinkSync('/proc/thread-self').split('/').pop()));
} catch {
  // Not Linux: only the timeout catches such a death.
}
process.on('exit', markStopped);
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
register();
await import('./worker.ts');
