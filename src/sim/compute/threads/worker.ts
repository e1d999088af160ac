/**
 * A compute worker (loaded by boot.mjs, which reports its death): its own tfjs and Learner, running its share of each `runMany` call through
 * the inner executor and answering on its port, then bumping the shared counter the blocked
 * main thread waits on (see ThreadedExecutor).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Split } from '../../../core/data/types.ts';
import type { AdamState, OptimizerStates } from '../../../core/learn/compute.ts';
import { Learner } from '../../../core/learn/learner.ts';
import { Rng } from '../../../core/rng.ts';
import { useNodeBackend } from '../../nodeBackend.ts';
import type { ComputeExecutor, ComputeJob, JobOutcome } from '../executor.ts';
import { localExecutor } from '../localExecutor.ts';
import type { AnswerMessage, JobsMessage, WorkerSetup } from './messages.ts';

const setup = workerData as WorkerSetup;
const signal = new Int32Array(setup.signal);

const shards = new Map<number, Split>();

function answer(inner: ComputeExecutor, msg: JobsMessage): AnswerMessage {
  for (const s of msg.shards) shards.set(s.id, { x: s.x, y: s.y, n: s.n });
  const maps = new Map<number, OptimizerStates>(msg.states.map(([id, entries]) => [id, new Map(entries)]));
  const sent = new Map<number, Map<string, AdamState>>(msg.states.map(([id, entries]) => [id, new Map(entries)]));
  let outcomes: JobOutcome[];
  try {
    const jobs: ComputeJob[] = msg.jobs.map((j) => {
      const shard = shards.get(j.shard);
      if (!shard) throw new Error(`compute worker ${setup.index} was never sent shard ${j.shard}`);
      let states = maps.get(j.states);
      if (!states) maps.set(j.states, (states = new Map()));
      return { node: j.node, request: j.request, shard, rng: j.rngKey !== undefined ? new Rng(j.rngKey) : undefined, states };
    });
    outcomes = inner.runMany(jobs);
  } catch (e) {
    // Not one job's failure (those are outcomes already): every job of this share fails with it.
    const error = (e as Error).message;
    outcomes = msg.jobs.map(() => ({ ok: false, error }));
  }
  // Send back only the states the jobs replaced.
  const states: AnswerMessage['states'] = [];
  for (const [id, map] of maps) {
    const changed = [...map].filter(([key, state]) => sent.get(id)?.get(key) !== state);
    if (changed.length > 0) states.push([id, changed]);
  }
  return { kind: 'answer', call: msg.call, outcomes, states };
}

async function main(): Promise<void> {
  await useNodeBackend(setup.backend, setup.model);
  const inner = localExecutor(new Learner(setup.model, setup.features, setup.numClasses), setup.denseSgd);
  // Messages posted while the backend loaded wait in the port's queue until this listener starts it.
  parentPort!.on('message', (msg: JobsMessage) => {
    setup.port.postMessage(answer(inner, msg));
    Atomics.add(signal, 0, 1);
    Atomics.notify(signal, 0);
  });
}

// A failure to start reaches boot.mjs's unhandledRejection handler, which reports it.
void main();
