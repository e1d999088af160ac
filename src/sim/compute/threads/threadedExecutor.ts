import { existsSync } from 'node:fs';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { Split } from '../../../core/data/types.ts';
import type { AdamState, OptimizerStates } from '../../../core/learn/compute.ts';
import type { ModelName } from '../../../core/learn/models.ts';
import type { ComputeExecutor, ComputeJob, JobOutcome } from '../executor.ts';
import { assignJobs } from './assign.ts';
import type { AnswerMessage, JobsMessage, SharedShard, WireJob, WorkerMessage, WorkerSetup } from './messages.ts';

export interface ThreadedOptions {
  threads: number;
  /** Each worker runs its jobs on a DenseSgdExecutor (true) or a SequentialExecutor (`--dense-sgd off`). */
  denseSgd: boolean;
  model: ModelName;
  features: number;
  numClasses: number;
  /** The tfjs backend each worker asks for (`useNodeBackend`). */
  backend: string;
  /**
   * A call that gets no answer for this long throws. A worker that throws or exits says so at
   * once, and on Linux one whose thread vanished (out of memory) is seen within POLL_MS; this
   * catches what is left (a worker stuck in a loop, a silent death elsewhere).
   */
  timeoutMs?: number;
}

interface PoolWorker {
  worker: Worker;
  port: MessagePort;
  /** Shard ids this worker holds. */
  shards: Set<number>;
}

/** How often a blocked main thread looks at the workers' stop flags even without a notify. */
const POLL_MS = 1000;

/**
 * Runs each call's jobs on `threads` worker threads, each with its own tfjs (wasm) and Learner,
 * and blocks the calling thread until all have answered: the simulator's loop is synchronous.
 * Jobs go out by postMessage; each worker answers on its own port and bumps a shared counter
 * the main thread sleeps on (Atomics.wait), which then reads the answers with
 * receiveMessageOnPort. A job's result depends only on the job, so which worker ran it does not
 * show: outcomes come back in the jobs' order, and optimizer states are merged back into each
 * node's map, as if one thread had run them.
 */
export class ThreadedExecutor implements ComputeExecutor {
  private readonly workers: PoolWorker[] = [];
  private readonly signal: Int32Array;
  private readonly shardIds = new WeakMap<Split, SharedShard>();
  private nextShard = 0;
  private calls = 0;
  private broken: Error | null = null;
  private readonly timeoutMs: number;

  constructor(options: ThreadedOptions) {
    if (!(options.threads >= 1)) throw new Error(`threads must be at least 1, got ${options.threads}`);
    this.timeoutMs = options.timeoutMs ?? 30 * 60_000;
    const shared = new SharedArrayBuffer(4 * (1 + 2 * options.threads));
    this.signal = new Int32Array(shared);
    for (let index = 0; index < options.threads; index++) {
      const { port1, port2 } = new MessageChannel();
      const setup: WorkerSetup = { index, model: options.model, features: options.features, numClasses: options.numClasses, backend: options.backend, denseSgd: options.denseSgd, signal: shared, port: port2 };
      // boot.mjs registers tsx in the worker (the project runs TypeScript through tsx, also under Vitest).
      const worker = new Worker(new URL('./boot.mjs', import.meta.url), { workerData: setup, transferList: [port2] });
      // Neither may keep the process alive: a finished CLI run exits even before dispose().
      worker.unref();
      port1.unref();
      // Errors are read from the port and the stop flag while blocked; this only keeps an 'error' event from crashing the process later.
      worker.on('error', () => {});
      this.workers.push({ worker, port: port1, shards: new Set() });
    }
  }

  runMany(jobs: readonly ComputeJob[]): JobOutcome[] {
    if (this.broken) throw this.broken;
    if (jobs.length === 0) return [];
    const call = ++this.calls;
    const statesIds = new Map<OptimizerStates, number>();
    const statesOf = (job: ComputeJob) => statesIds.get(job.states) ?? statesIds.set(job.states, statesIds.size).get(job.states)!;
    const shares = assignJobs(jobs, this.workers.length);
    const busy: number[] = [];
    shares.forEach((share, w) => {
      if (share.length === 0) return;
      busy.push(w);
      this.workers[w].worker.postMessage(this.message(call, this.workers[w], share.map((i) => jobs[i]), statesOf));
    });
    const answers = this.wait(call, busy);
    const outcomes: JobOutcome[] = new Array(jobs.length);
    for (const w of busy) {
      const answer = answers.get(w)!;
      shares[w].forEach((i, k) => (outcomes[i] = answer.outcomes[k]));
    }
    // Each node's jobs ran on one worker, so its states are that worker's final ones.
    const byId = [...statesIds.keys()];
    for (const w of busy) for (const [id, entries] of answers.get(w)!.states) for (const [key, state] of entries) byId[id].set(key, state);
    return outcomes;
  }

  private message(call: number, target: PoolWorker, jobs: ComputeJob[], statesOf: (job: ComputeJob) => number): JobsMessage {
    const shards: SharedShard[] = [];
    const states = new Map<number, Map<string, AdamState>>();
    const wire: WireJob[] = jobs.map((job) => {
      const shard = this.shared(job.shard);
      if (!target.shards.has(shard.id)) {
        target.shards.add(shard.id);
        shards.push(shard);
      }
      const id = statesOf(job);
      const key = job.request.kind === 'train' ? job.request.stateKey : undefined;
      const state = key !== undefined ? job.states.get(key) : undefined;
      if (state) (states.get(id) ?? states.set(id, new Map()).get(id)!).set(key!, state);
      return { node: job.node, shard: shard.id, request: job.request, rngKey: job.rng?.key, states: id };
    });
    return { call, shards, jobs: wire, states: [...states].map(([id, m]) => [id, [...m]]) };
  }

  /** A shard's copy in shared memory, made once: every worker that needs it reads the same bytes. */
  private shared(split: Split): SharedShard {
    let s = this.shardIds.get(split);
    if (!s) {
      const x = new Float32Array(new SharedArrayBuffer(split.x.byteLength));
      x.set(split.x);
      const y = new Uint8Array(new SharedArrayBuffer(split.y.byteLength));
      y.set(split.y);
      s = { id: this.nextShard++, x, y, n: split.n };
      this.shardIds.set(split, s);
    }
    return s;
  }

  /** Blocks until every busy worker answered `call`; throws (and stays broken) if one stopped or the timeout passed. */
  private wait(call: number, busy: number[]): Map<number, AnswerMessage> {
    const answers = new Map<number, AnswerMessage>();
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      // Read the counter before the ports: an answer posted after this read changes it, so the wait below returns at once.
      const seen = Atomics.load(this.signal, 0);
      for (const w of busy) {
        if (answers.has(w)) continue;
        const received = receiveMessageOnPort(this.workers[w].port);
        if (!received) continue;
        const msg = received.message as WorkerMessage;
        if (msg.kind === 'fatal') return this.fail(`compute worker ${w} failed: ${msg.message}`);
        if (msg.call !== call) return this.fail(`compute worker ${w} answered call ${msg.call} during call ${call}`);
        answers.set(w, msg);
      }
      if (answers.size === busy.length) return answers;
      for (const w of busy) {
        if (answers.has(w)) continue;
        const tid = Atomics.load(this.signal, 2 + 2 * w);
        const gone = tid !== 0 && !existsSync(`/proc/self/task/${tid}`);
        if (Atomics.load(this.signal, 1 + 2 * w) === 0 && !gone) continue;
        // It may have said why just after the read above.
        const last = receiveMessageOnPort(this.workers[w].port)?.message as WorkerMessage | undefined;
        if (last?.kind === 'fatal') return this.fail(`compute worker ${w} failed: ${last.message}`);
        return this.fail(`compute worker ${w} stopped without answering${gone ? ' (its thread is gone: out of memory?)' : ''}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) return this.fail(`compute workers gave no answer in ${Math.round(this.timeoutMs / 1000)} s (a worker may have run out of memory)`);
      Atomics.wait(this.signal, 0, seen, Math.min(POLL_MS, left));
    }
  }

  private fail(message: string): never {
    this.broken = new Error(message);
    this.dispose();
    throw this.broken;
  }

  /** Stops every worker (the process may then exit). */
  dispose(): void {
    for (const w of this.workers) {
      void w.worker.terminate();
      w.port.close();
    }
  }
}
