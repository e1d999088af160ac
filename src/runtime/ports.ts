import type { NodeId } from '../protocols/protocol.ts';

/** Timers on whatever clock the driver keeps: the wall clock live, a virtual one in the simulator. */
export interface Clock {
  now(): number;
  setTimer(id: string, afterMs: number, fire: () => void): void;
  clearTimer(id: string): void;
}

/**
 * Delivers whole frames between nodes. The simulator's in-memory network and the live
 * WebRTC transport both implement it, and one conformance suite tests both.
 */
export interface Transport {
  readonly self: NodeId;
  /** Best effort: a frame to a vanished peer is dropped, never thrown. */
  send(to: NodeId, frame: Uint8Array): void;
  onFrame(handler: (from: NodeId, frame: Uint8Array) => void): void;
  close(): void;
}

export interface TrainOutcome {
  params: Float32Array;
  samples: number;
  loss: number;
}

/** Local training, possibly asynchronous (a worker live, virtual compute time in the simulator). */
export interface Trainer {
  train(round: number, params: Float32Array, done: (outcome: TrainOutcome) => void): void;
}
