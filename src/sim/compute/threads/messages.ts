import type { MessagePort } from 'node:worker_threads';
import type { AdamState, ComputeRequest } from '../../../core/learn/compute.ts';
import type { ModelName } from '../../../core/learn/models.ts';
import type { JobOutcome } from '../executor.ts';

/** What every compute worker is started with (workerData). */
export interface WorkerSetup {
  /** The worker's index in the pool (its slot in `signal`). */
  index: number;
  model: ModelName;
  features: number;
  numClasses: number;
  /** The tfjs backend asked for (`useNodeBackend`). */
  backend: string;
  /** Dense plain-SGD jobs on `denseSgd` (the DenseSgdExecutor), as on the main thread; false: `--dense-sgd off`. */
  denseSgd: boolean;
  /**
   * Int32 slots shared with the main thread: [0] counts answers and stops (the main thread waits
   * on it); [1 + 2·index] turns non-zero when worker `index` stops, [2 + 2·index] holds its OS
   * thread id (Linux; 0 elsewhere). A blocked main thread sees no worker events, only these.
   */
  signal: SharedArrayBuffer;
  /** Where the worker answers; the main thread reads it synchronously (receiveMessageOnPort). */
  port: MessagePort;
}

/** A node's shard, sent once to each worker that needs it; its arrays live in SharedArrayBuffers, not copied. */
export interface SharedShard {
  id: number;
  x: Float32Array;
  y: Uint8Array;
  n: number;
}

/** One job as it crosses to a worker. */
export interface WireJob {
  node: number;
  shard: number;
  request: ComputeRequest;
  /** The batch order's Rng key (an Rng is rebuilt from its key). */
  rngKey?: string;
  /** Which optimizer-states map of this call the job reads and updates (one per node boot). */
  states: number;
}

/** The main thread's message: a worker's share of one `runMany` call. */
export interface JobsMessage {
  call: number;
  /** Shards this worker has not been sent before. */
  shards: SharedShard[];
  jobs: WireJob[];
  /** The optimizer states the jobs start from, per states map: only the keys the jobs use. */
  states: [number, [string, AdamState][]][];
}

/** A worker's answers, in its jobs' order, and every optimizer state its jobs set. */
export interface AnswerMessage {
  kind: 'answer';
  call: number;
  outcomes: JobOutcome[];
  states: [number, [string, AdamState][]][];
}

/** A worker that is going down (uncaught error, failed start) says why before it stops. */
export interface FatalMessage {
  kind: 'fatal';
  message: string;
}

export type WorkerMessage = AnswerMessage | FatalMessage;
