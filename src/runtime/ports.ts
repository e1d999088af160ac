import type { ComputeRequest, ComputeResult } from '../core/learn/compute.ts';
import type { KeyRequest, KeyResult } from '../core/secagg/keys.ts';
import type { NodeId } from '../protocols/protocol.ts';

/** Timers on whatever clock the driver keeps: the wall clock live, a virtual one in the simulator. */
export interface Clock {
  now(): number;
  setTimer(id: string, afterMs: number, fire: () => void): void;
  clearTimer(id: string): void;
}

/** A frame's lane on its sender's uplink: 'control' frames overtake queued 'bulk' ones (default 'bulk'). */
export type Lane = 'control' | 'bulk';

/**
 * Delivers whole frames between nodes. The simulator's in-memory network and the live
 * WebRTC transport both implement it, and one conformance suite tests both.
 */
export interface Transport {
  readonly self: NodeId;
  /**
   * Best effort: a frame to a vanished peer is dropped, never thrown. Frames of a lane leave in
   * order; a 'control' frame (MessageSchema.control) goes ahead of queued 'bulk' frames.
   */
  send(to: NodeId, frame: Uint8Array, lane?: Lane): void;
  onFrame(handler: (from: NodeId, frame: Uint8Array) => void): void;
  close(): void;
}

/**
 * Runs a node's compute requests on its own data: in a worker live, after virtual compute time
 * in the simulator. Answers later, never from inside `run`: with `done` and the result, or with
 * `fail` and a message (a request the learner refused, a backend that broke), at most once.
 */
export interface Compute {
  run(request: ComputeRequest, done: (result: ComputeResult) => void, fail: (message: string) => void): void;
}

/**
 * Key agreement for secure aggregation (src/core/secagg/keys.ts): P-256 key pairs, secret seeds
 * and ECDH + HKDF. Live it is WebCrypto with the OS's randomness (src/live/webCryptoKeys.ts);
 * in the simulator node:crypto with the node's seeded stream (src/sim/nodeKeys.ts), so runs
 * are reproducible. Answers later, never from inside `run`, at most once: `done` with the result
 * (inputs that cannot be served are a result, `op: 'error'`, since they may come from a peer),
 * or `fail` when the port itself cannot work (no WebCrypto on an insecure page).
 */
export interface KeyAgreement {
  run(request: KeyRequest, done: (result: KeyResult) => void, fail: (message: string) => void): void;
}
